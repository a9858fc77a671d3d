//! INI files as pytest reads them (the `iniconfig` package): `[section]`
//! headers, `name = value` or `name: value`, indented continuation lines
//! joined with newlines, whole-line comments starting with `#` or `;`. A `#`
//! inside a value is part of the value.

use std::collections::HashMap;

/// One section's values, with the 1-based line each name was set on.
pub(crate) type Section = HashMap<String, (String, usize)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Every section of an INI text, by name.
pub(crate) fn parse(text: &str) -> Result<HashMap<String, Section>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    // The value being continued: (section, name).
    let mut open: Option<(String, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_number = index + 1;
        let error = |message: String| ParseError {
            line: line_number,
            message,
        };
        let first = raw.trim_start().chars().next();
        if matches!(first, Some('#' | ';')) {
            continue;
        }
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            let header = line.split(['#', ';']).next().unwrap_or(line).trim_end();
            if let Some(name) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
                if name.is_empty() {
                    return Err(error("empty section name".into()));
                }
                if sections.contains_key(name) {
                    return Err(error(format!("duplicate section '{name}'")));
                }
                sections.insert(name.to_string(), Section::new());
                current = Some(name.to_string());
                open = None;
                continue;
            }
            // Not a header after all: a continuation line in iniconfig's eyes.
        }
        if !line.starts_with(char::is_whitespace) && !line.starts_with('[') {
            let (name, value) = split_assignment(line)
                .ok_or_else(|| error(format!("unexpected line: '{line}'")))?;
            let Some(section) = &current else {
                return Err(error("no section header defined".into()));
            };
            let values = sections.entry(section.clone()).or_default();
            if values.contains_key(name) {
                return Err(error(format!("duplicate name '{name}'")));
            }
            values.insert(name.to_string(), (value.to_string(), line_number));
            open = Some((section.clone(), name.to_string()));
            continue;
        }
        let Some((section, name)) = &open else {
            return Err(error("unexpected value continuation".into()));
        };
        if let Some((value, _)) = sections.get_mut(section).and_then(|s| s.get_mut(name)) {
            if !value.is_empty() {
                value.push('\n');
            }
            value.push_str(line.trim());
        }
    }
    Ok(sections)
}

/// `name = value` (the first `=`, unless a `:` comes before it) or `name: value`.
fn split_assignment(line: &str) -> Option<(&str, &str)> {
    let by_equals = line.split_once('=').filter(|(name, _)| !name.contains(':'));
    let (name, value) = by_equals.or_else(|| line.split_once(':'))?;
    Some((name.trim(), value.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_continuations_and_comments() {
        let sections = parse(
            "# top\n[pytest]\naddopts = -ra  # not a comment\nmarkers =\n    slow: slow tests\n    net: network\n; comment\ntestpaths: tests\n[other]\nx=1\n",
        )
        .unwrap();
        let pytest = &sections["pytest"];
        assert_eq!(pytest["addopts"].0, "-ra  # not a comment");
        assert_eq!(pytest["markers"].0, "slow: slow tests\nnet: network");
        assert_eq!(pytest["markers"].1, 4);
        assert_eq!(pytest["testpaths"].0, "tests");
        assert_eq!(sections["other"]["x"].0, "1");
    }

    #[test]
    fn malformed_files_name_the_line() {
        assert_eq!(parse("x = 1\n").unwrap_err().line, 1);
        assert_eq!(parse("[a]\nnonsense\n").unwrap_err().line, 2);
        assert_eq!(parse("[a]\nx=1\nx=2\n").unwrap_err().line, 3);
        assert_eq!(parse("[a]\n[a]\n").unwrap_err().line, 2);
    }
}
