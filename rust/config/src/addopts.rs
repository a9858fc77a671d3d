//! pytest's `addopts`: the options a project's pytest configuration adds to
//! every run. Those dbtest has an equivalent for are applied (below its own
//! `[tool.dbtest]` and the command line); those that only change pytest's
//! display are accepted silently; any other is named once in a warning, never
//! an error.

use crate::coverage::CoverageArgs;

/// The options of `addopts` dbtest applies.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddOpts {
    pub keyword: Option<String>,
    pub tags: Option<String>,
    pub maxfail: Option<usize>,
    pub verbose: u8,
    pub quiet: bool,
    pub capture: Option<bool>,
    pub strict_markers: bool,
    pub timeout: Option<f64>,
    /// `-n N` of pytest-xdist: `Some(None)` for `auto`.
    pub jobs: Option<Option<usize>>,
    pub last_failed: bool,
    pub failed_first: bool,
    pub durations: Option<usize>,
    pub junit_xml: Option<String>,
    /// `--ignore`, `--ignore-glob`, `--deselect`.
    pub ignore: Vec<String>,
    pub ignore_glob: Vec<String>,
    pub deselect: Vec<String>,
    /// `-W` filters (after the ini's `filterwarnings`, as pytest applies them).
    pub warning_filters: Vec<String>,
    /// `-o name=value`.
    pub overrides: Vec<(String, String)>,
    /// `--cov` and its kin (pytest-cov's options).
    pub coverage: CoverageArgs,
    /// Options dbtest does not apply, as written.
    pub ignored: Vec<String>,
}

/// Options that change only how pytest reports, not what runs or how it ends.
fn display_only(name: &str) -> bool {
    name.starts_with("-r")
        || matches!(
            name,
            "--tb"
                | "-l"
                | "--showlocals"
                | "--no-showlocals"
                | "--color"
                | "--code-highlight"
                | "--disable-warnings"
                | "--disable-pytest-warnings"
                | "--no-header"
                | "--no-summary"
                | "--show-capture"
                | "--full-trace"
                | "--strict-config"
                | "--instafail"
                | "--benchmark-disable"
                | "--benchmark-skip"
        )
        || name == "-p"
}

/// Options of pytest (and common plugins) whose value is the next word when
/// not joined with `=`.
fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "-k" | "-m"
            | "-p"
            | "-c"
            | "-o"
            | "-W"
            | "-n"
            | "--maxfail"
            | "--durations"
            | "--durations-min"
            | "--deselect"
            | "--ignore"
            | "--ignore-glob"
            | "--rootdir"
            | "--basetemp"
            | "--junitxml"
            | "--junit-xml"
            | "--junit-prefix"
            | "--tb"
            | "--color"
            | "--capture"
            | "--import-mode"
            | "--log-level"
            | "--log-cli-level"
            | "--log-format"
            | "--timeout"
            | "--numprocesses"
            | "--dist"
            | "--cov"
            | "--cov-report"
            | "--cov-config"
            | "--cov-fail-under"
            | "--override-ini"
            | "--pythonwarnings"
            | "--confcutdir"
            | "--show-capture"
            | "--code-highlight"
            | "--doctest-glob"
    )
}

impl AddOpts {
    /// Reads pytest's `addopts` words.
    pub fn parse(words: &[String]) -> AddOpts {
        let mut out = AddOpts::default();
        let mut i = 0;
        while i < words.len() {
            let word = &words[i];
            i += 1;
            // Short flags may be grouped (`-vvx`, `-ra`).
            if let Some(flags) = word.strip_prefix('-').filter(|f| !f.starts_with('-')) {
                if flags.chars().all(|c| matches!(c, 'v' | 'q' | 'x' | 's')) && !flags.is_empty() {
                    for flag in flags.chars() {
                        match flag {
                            'v' => out.verbose = out.verbose.saturating_add(1),
                            'q' => out.quiet = true,
                            'x' => out.maxfail = Some(1),
                            _ => out.capture = Some(false),
                        }
                    }
                    continue;
                }
            }
            let (name, joined) = match word.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
                _ => match word.get(..2) {
                    // `-kexpr`, `-n4`, `-ra`: a short option with its value attached.
                    Some(short)
                        if word.len() > 2 && short.starts_with('-') && !word.starts_with("--") =>
                    {
                        (short, Some(word[2..].to_string()))
                    }
                    _ => (word.as_str(), None),
                },
            };
            let mut value = || -> Option<String> {
                joined.clone().or_else(|| {
                    let next = words.get(i).cloned();
                    i += usize::from(next.is_some());
                    next
                })
            };
            match name {
                "-k" => out.keyword = value(),
                "-m" => out.tags = value(),
                "--exitfirst" => out.maxfail = Some(1),
                "--maxfail" => out.maxfail = value().and_then(|v| v.parse().ok()),
                "--verbose" => out.verbose = out.verbose.saturating_add(1),
                "--quiet" => out.quiet = true,
                "--capture" => out.capture = value().map(|v| v != "no"),
                "--strict-markers" | "--strict" => out.strict_markers = true,
                "--timeout" => out.timeout = value().and_then(|v| v.parse().ok()),
                "-n" | "--numprocesses" => {
                    let v = value().unwrap_or_default();
                    out.jobs = Some(v.parse().ok().filter(|n| *n > 0));
                }
                "--cov" => {
                    // pytest-cov's optional value: joined, or the next word
                    // unless it is an option.
                    let source = joined.clone().or_else(|| {
                        let next = words.get(i).filter(|w| !w.starts_with('-')).cloned();
                        i += usize::from(next.is_some());
                        next
                    });
                    out.coverage.sources.push(source);
                }
                name if out.coverage.take(name, &mut value) => {}
                "--lf" | "--last-failed" => out.last_failed = true,
                "--ff" | "--failed-first" => out.failed_first = true,
                "--durations" => out.durations = value().and_then(|v| v.parse().ok()),
                "--junitxml" | "--junit-xml" => out.junit_xml = value(),
                "--ignore" => out.ignore.extend(value()),
                "--ignore-glob" => out.ignore_glob.extend(value()),
                "--deselect" => out.deselect.extend(value()),
                "-W" | "--pythonwarnings" => out.warning_filters.extend(value()),
                "-o" | "--override-ini" => {
                    if let Some((key, v)) = value().as_deref().and_then(|v| v.split_once('=')) {
                        out.overrides.push((key.trim().to_string(), v.to_string()));
                    }
                }
                name if display_only(name) => {
                    if takes_value(name) && joined.is_none() && !name.starts_with("-r") {
                        value();
                    }
                }
                _ => {
                    let mut written = word.clone();
                    if takes_value(name) && joined.is_none() {
                        if let Some(v) = value() {
                            written = format!("{word} {v}");
                        }
                    }
                    out.ignored.push(written);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AddOpts {
        AddOpts::parse(
            &text
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn known_options_apply_and_display_options_pass_silently() {
        let opts = parse("-ra -vv -x --tb=short -p no:cacheprovider --strict-markers -k smoke --maxfail=3 -n auto");
        assert_eq!(opts.verbose, 2);
        assert_eq!(opts.maxfail, Some(3));
        assert!(opts.strict_markers);
        assert_eq!(opts.keyword.as_deref(), Some("smoke"));
        assert_eq!(opts.jobs, Some(None));
        assert!(opts.ignored.is_empty(), "{:?}", opts.ignored);
    }

    #[test]
    fn other_options_are_named_with_their_values() {
        let opts = parse("--cov-append --doctest-modules --import-mode=importlib -s --ignore=docs -W error -o xfail_strict=true");
        assert_eq!(
            opts.ignored,
            [
                "--cov-append",
                "--doctest-modules",
                "--import-mode=importlib"
            ]
        );
        assert_eq!(opts.capture, Some(false));
        assert_eq!(opts.ignore, ["docs"]);
        assert_eq!(opts.warning_filters, ["error"]);
        assert_eq!(
            opts.overrides,
            [("xfail_strict".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn coverage_options_are_read_as_pytest_cov_reads_them() {
        let opts = parse("--cov src --cov --cov-report=term-missing --cov-report xml:c.xml --cov-branch --cov-fail-under 80 --cov-config=setup.cfg --cov-context test -q");
        let cov = &opts.coverage;
        assert_eq!(cov.sources, [Some("src".to_string()), None]);
        assert_eq!(cov.reports, ["term-missing", "xml:c.xml"]);
        assert!(cov.branch);
        assert_eq!(cov.fail_under.as_deref(), Some("80"));
        assert_eq!(cov.config.as_deref(), Some("setup.cfg"));
        assert_eq!(cov.context.as_deref(), Some("test"));
        assert!(opts.quiet);
        assert!(opts.ignored.is_empty(), "{:?}", opts.ignored);
    }
}
