//! pytest's configuration, found and read as pytest 9 does, so that a project
//! configured for pytest runs under dbtest with the same tests, ids and rules.
//!
//! Finding it (pytest's `determine_setup`): from the common ancestor of the
//! paths given (or the invocation directory), walk up; in each directory the
//! first of `pytest.toml`, `.pytest.toml`, `pytest.ini`, `.pytest.ini`,
//! `pyproject.toml` (with `[tool.pytest]` or `[tool.pytest.ini_options]`),
//! `tox.ini` (with `[pytest]`), `setup.cfg` (with `[tool:pytest]`) that holds
//! pytest configuration is the inifile and its directory the rootdir. Failing
//! that, the first `pyproject.toml` found on the way up roots the project
//! (without configuration), then the first directory with a `setup.py`, then
//! the common ancestor of the invocation directory and the paths.
//!
//! Values keep their form: INI values are text (`args` are split as a shell
//! would, `linelist` by lines), native TOML ones stay lists and booleans.

mod ini;
mod settings;

pub use settings::{PytestSettings, Strategy};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PytestConfigError {
    /// A configuration file pytest would refuse to read.
    #[error("{path}:{line}: {message}")]
    File {
        path: String,
        line: usize,
        message: String,
    },
    /// A value of the wrong kind (`xfail_strict = maybe`): where it is set
    /// (`FILE:LINE`, or the file when the line cannot be found), the key, and
    /// what the key takes, in words.
    #[error("{location}: {key} {message}")]
    Value {
        location: String,
        key: String,
        message: String,
    },
}

/// A configuration value as the file wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An INI value, or a TOML scalar in `[tool.pytest.ini_options]`.
    Text(String),
    /// A TOML array (of strings, for every setting dbtest reads).
    List(Vec<String>),
    /// A native TOML boolean (`[tool.pytest]`, `pytest.toml`).
    Bool(bool),
    /// A native TOML integer.
    Int(i64),
}

impl Value {
    /// As the file wrote it, for messages: `"maybe"`, `["a", "b"]`, `true`, `3`.
    pub fn described(&self) -> String {
        match self {
            Value::Text(text) => format!("{text:?}"),
            Value::List(items) => format!("{items:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
        }
    }
}

/// The 1-based line of `path` that sets `key` (`key = ...` or `key: ...`, as
/// INI and TOML files write it), if one does.
pub fn line_of(path: &Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(['=', ':']))
        })
        .map(|index| index + 1)
}

/// Where pytest's configuration is, and what it says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PytestConfig {
    pub rootdir: PathBuf,
    /// The file the values come from, if any.
    pub inifile: Option<PathBuf>,
    values: HashMap<String, Value>,
}

/// The file names pytest looks for, in the order it prefers them within one directory.
const CONFIG_NAMES: &[&str] = &[
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
];

impl PytestConfig {
    /// Finds the rootdir and configuration for a run started in `invocation_dir`
    /// with `args` (files, directories and node ids as given; `[]` for none).
    pub fn locate(
        invocation_dir: &Path,
        args: &[String],
    ) -> Result<PytestConfig, PytestConfigError> {
        let dirs: Vec<PathBuf> = args
            .iter()
            .map(|arg| absolute(invocation_dir, arg.split("::").next().unwrap_or(arg)))
            .filter(|p| p.exists())
            .map(|p| if p.is_dir() { p } else { parent_of(&p) })
            .collect();
        let ancestor = common_ancestor(invocation_dir, &dirs);
        if let Some(found) = find_config(std::slice::from_ref(&ancestor))? {
            return Ok(found);
        }
        for dir in ancestor.ancestors() {
            if dir.join("setup.py").is_file() {
                return Ok(PytestConfig::without_file(dir.to_path_buf()));
            }
        }
        if dirs != [ancestor.clone()] {
            if let Some(found) = find_config(&dirs)? {
                return Ok(found);
            }
        }
        let mut rootdir = common_ancestor(
            invocation_dir,
            &[invocation_dir.to_path_buf(), ancestor.clone()],
        );
        if rootdir.parent().is_none() {
            rootdir = ancestor;
        }
        Ok(PytestConfig::without_file(rootdir))
    }

    fn without_file(rootdir: PathBuf) -> PytestConfig {
        PytestConfig {
            rootdir,
            inifile: None,
            values: HashMap::new(),
        }
    }

    /// Reads the pytest configuration in `path` (any of the files pytest
    /// reads); `None` when the file holds none.
    pub fn read_file(path: &Path) -> Result<Option<HashMap<String, Value>>, PytestConfigError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let file_error = |line: usize, message: String| PytestConfigError::File {
            path: path.display().to_string(),
            line,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(0, e.to_string()))?;
        match name {
            "pytest.toml" | ".pytest.toml" | "pyproject.toml" => {
                let document: toml::Table = toml::from_str(&text).map_err(|e| {
                    let line = e
                        .span()
                        .map_or(0, |s| text[..s.start].matches('\n').count() + 1);
                    file_error(line, e.message().trim().to_string())
                })?;
                if name == "pyproject.toml" {
                    tool_pytest(&document).map_err(|m| file_error(0, m))
                } else {
                    Ok(Some(match document.get("pytest") {
                        Some(toml::Value::Table(table)) => native_values(table),
                        _ => HashMap::new(),
                    }))
                }
            }
            _ => {
                let sections = ini::parse(&text).map_err(|e| file_error(e.line, e.message))?;
                let section = match name {
                    "setup.cfg" => "tool:pytest",
                    _ => "pytest",
                };
                let dedicated = matches!(name, "pytest.ini" | ".pytest.ini");
                match sections.get(section) {
                    Some(values) => Ok(Some(
                        values
                            .iter()
                            .map(|(k, (v, _))| (k.clone(), Value::Text(v.clone())))
                            .collect(),
                    )),
                    None if dedicated => Ok(Some(HashMap::new())),
                    None => Ok(None),
                }
            }
        }
    }

    /// Sets a value as `-o name=value` does, over the file's.
    pub fn set(&mut self, name: &str, value: &str) {
        self.values
            .insert(name.to_string(), Value::Text(value.to_string()));
    }

    /// The raw value of a setting (under any of its names).
    pub fn value(&self, names: &[&str]) -> Option<&Value> {
        names.iter().find_map(|n| self.values.get(*n))
    }

    /// Every setting the file sets.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// Every setting with its value as written.
    pub fn values(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// `key` (the name the file used, of `names`) has a value it does not
    /// take: `message` says what it takes ("must be ..., not ...").
    fn value_error(&self, names: &[&str], message: String) -> PytestConfigError {
        let key = names
            .iter()
            .find(|name| self.values.contains_key(**name))
            .or(names.first())
            .copied()
            .unwrap_or_default();
        let location = match &self.inifile {
            Some(path) => match line_of(path, key) {
                Some(line) => format!("{}:{line}", path.display()),
                None => path.display().to_string(),
            },
            None => "the command line".into(),
        };
        PytestConfigError::Value {
            location,
            key: key.to_string(),
            message,
        }
    }

    /// An `args` setting: a list, or text split as a shell would.
    pub fn args(&self, name: &str) -> Result<Option<Vec<String>>, PytestConfigError> {
        match self.value(&[name]) {
            None => Ok(None),
            Some(Value::List(items)) => Ok(Some(items.clone())),
            Some(Value::Text(text)) => shlex::split(text).map(Some).ok_or_else(|| {
                self.value_error(
                    &[name],
                    format!("must be words with balanced quotes, not {text:?}"),
                )
            }),
            Some(other) => Err(self.value_error(
                &[name],
                format!(
                    "must be a list of strings or space-separated words, not {}",
                    other.described()
                ),
            )),
        }
    }

    /// A `linelist` setting: a list, or the non-empty lines of a text.
    pub fn lines(&self, name: &str) -> Result<Option<Vec<String>>, PytestConfigError> {
        match self.value(&[name]) {
            None => Ok(None),
            Some(Value::List(items)) => Ok(Some(items.clone())),
            Some(Value::Text(text)) => Ok(Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            )),
            Some(other) => Err(self.value_error(
                &[name],
                format!(
                    "must be a list of strings or one per line, not {}",
                    other.described()
                ),
            )),
        }
    }

    /// A `bool` setting, under any of its names (`strict_xfail`, `xfail_strict`).
    pub fn boolean(&self, names: &[&str]) -> Result<Option<bool>, PytestConfigError> {
        let value = self.value(names);
        let truth = match value {
            None => return Ok(None),
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Text(text)) => str_to_bool(text),
            Some(_) => None,
        };
        truth.map(Some).ok_or_else(|| {
            let shown = value.map_or_else(String::new, Value::described);
            self.value_error(
                names,
                format!("must be true or false (or yes/no, on/off, 1/0), not {shown}"),
            )
        })
    }

    /// A `string` setting.
    pub fn text(&self, name: &str) -> Result<Option<String>, PytestConfigError> {
        match self.value(&[name]) {
            None => Ok(None),
            Some(Value::Text(text)) => Ok(Some(text.clone())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "true" } else { "false" }.into())),
            Some(Value::Int(i)) => Ok(Some(i.to_string())),
            Some(other) => {
                Err(self.value_error(&[name], format!("must be text, not {}", other.described())))
            }
        }
    }
}

/// pytest's `_strtobool`.
fn str_to_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Some(true),
        "n" | "no" | "f" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `[tool.pytest]` (native TOML) or `[tool.pytest.ini_options]` (INI-style:
/// scalars become text) of a `pyproject.toml`; not both.
fn tool_pytest(document: &toml::Table) -> Result<Option<HashMap<String, Value>>, String> {
    let Some(toml::Value::Table(tool_pytest)) = document
        .get("tool")
        .and_then(|t| t.as_table())
        .and_then(|t| t.get("pytest"))
    else {
        return Ok(None);
    };
    let native: toml::Table = tool_pytest
        .iter()
        .filter(|(k, _)| *k != "ini_options")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let ini_options = tool_pytest.get("ini_options").and_then(|v| v.as_table());
    match (native.is_empty(), ini_options) {
        (false, Some(_)) => Err(
            "Cannot use both [tool.pytest] (native TOML types) and [tool.pytest.ini_options] (string-based INI format) simultaneously"
                .into(),
        ),
        (false, None) => Ok(Some(native_values(&native))),
        (true, Some(options)) => Ok(Some(
            options
                .iter()
                .map(|(k, v)| {
                    let value = match v {
                        toml::Value::Array(items) => Value::List(items.iter().map(toml_text).collect()),
                        scalar => Value::Text(toml_scalar_as_python_str(scalar)),
                    };
                    (k.clone(), value)
                })
                .collect(),
        )),
        (true, None) => Ok(None),
    }
}

fn native_values(table: &toml::Table) -> HashMap<String, Value> {
    table
        .iter()
        .map(|(k, v)| {
            let value = match v {
                toml::Value::Array(items) => Value::List(items.iter().map(toml_text).collect()),
                toml::Value::Boolean(b) => Value::Bool(*b),
                toml::Value::Integer(i) => Value::Int(*i),
                other => Value::Text(toml_text(other)),
            };
            (k.clone(), value)
        })
        .collect()
}

fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => toml_scalar_as_python_str(other),
    }
}

/// What Python's `str()` makes of a TOML scalar pytest read with `tomllib`.
fn toml_scalar_as_python_str(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Boolean(true) => "True".into(),
        toml::Value::Boolean(false) => "False".into(),
        other => other.to_string(),
    }
}

/// The first directory, walking up from each of `starts`, with a file holding
/// pytest configuration; else the first `pyproject.toml` seen on the way.
fn find_config(starts: &[PathBuf]) -> Result<Option<PytestConfig>, PytestConfigError> {
    let mut first_pyproject: Option<PathBuf> = None;
    for start in starts {
        for dir in start.ancestors() {
            for name in CONFIG_NAMES {
                let path = dir.join(name);
                if !path.is_file() {
                    continue;
                }
                if *name == "pyproject.toml" && first_pyproject.is_none() {
                    first_pyproject = Some(path.clone());
                }
                if let Some(values) = PytestConfig::read_file(&path)? {
                    return Ok(Some(PytestConfig {
                        rootdir: dir.to_path_buf(),
                        inifile: Some(path),
                        values,
                    }));
                }
            }
        }
    }
    Ok(first_pyproject.map(|path| PytestConfig {
        rootdir: parent_of(&path),
        inifile: Some(path),
        values: HashMap::new(),
    }))
}

fn parent_of(path: &Path) -> PathBuf {
    path.parent()
        .map_or_else(|| path.to_path_buf(), Path::to_path_buf)
}

/// `path` made absolute against `base`, with `.` and `..` resolved as text.
fn absolute(base: &Path, path: &str) -> PathBuf {
    normalize(&base.join(path))
}

/// Removes `.` and `..` components without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// pytest's `get_common_ancestor`: the deepest directory holding every path.
fn common_ancestor(invocation_dir: &Path, paths: &[PathBuf]) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for path in paths {
        common = Some(match common {
            None => path.clone(),
            Some(current) => {
                let mut shared = current;
                while !path.starts_with(&shared) {
                    if !shared.pop() {
                        break;
                    }
                }
                shared
            }
        });
    }
    match common {
        None => invocation_dir.to_path_buf(),
        Some(path) if path.is_file() => parent_of(&path),
        Some(path) => path,
    }
}

#[cfg(test)]
mod tests;
