//! The pytest settings dbtest honours, typed, with pytest's defaults.

use crate::{PytestConfig, PytestConfigError};

/// `parametrize_long_str_id_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Short,
    Legacy,
    Sha256,
    Disallow,
}

/// What pytest's configuration says about collecting and running tests.
#[derive(Debug, Clone, PartialEq)]
pub struct PytestSettings {
    /// Where to look when no path is given (relative to the rootdir; globs allowed).
    pub testpaths: Vec<String>,
    /// Test file name patterns.
    pub python_files: Vec<String>,
    /// Test class name prefixes or globs.
    pub python_classes: Vec<String>,
    /// Test function name prefixes or globs.
    pub python_functions: Vec<String>,
    /// Directory name patterns not to recurse into.
    pub norecursedirs: Vec<String>,
    /// Directories put on `sys.path` (relative to the rootdir).
    pub pythonpath: Vec<String>,
    /// Registered marks: the names of the `markers` lines.
    pub markers: Vec<String>,
    /// `strict_markers` (or `strict`): an unregistered mark is an error.
    pub strict_markers: bool,
    /// `strict_xfail` / `xfail_strict` (or `strict`).
    pub xfail_strict: bool,
    /// `filterwarnings` lines, in order (later lines take precedence).
    pub filterwarnings: Vec<String>,
    pub usefixtures: Vec<String>,
    /// Command-line options the file adds to every run.
    pub addopts: Vec<String>,
    /// `empty_parameter_set_mark`: `skip`, `xfail` or `fail_at_collect`.
    pub empty_parameter_set_mark: String,
    pub strict_parametrization_ids: bool,
    pub long_str_strategy: Strategy,
    /// Test ids escape non-ASCII characters (the default).
    pub escape_ids: bool,
}

impl Default for PytestSettings {
    fn default() -> Self {
        PytestSettings {
            testpaths: Vec::new(),
            python_files: vec!["test_*.py".into(), "*_test.py".into()],
            python_classes: vec!["Test".into()],
            python_functions: vec!["test".into()],
            norecursedirs: [
                "*.egg",
                ".*",
                "_darcs",
                "build",
                "CVS",
                "dist",
                "node_modules",
                "venv",
                "{arch}",
            ]
            .map(String::from)
            .to_vec(),
            pythonpath: Vec::new(),
            markers: Vec::new(),
            strict_markers: false,
            xfail_strict: false,
            filterwarnings: Vec::new(),
            usefixtures: Vec::new(),
            addopts: Vec::new(),
            empty_parameter_set_mark: "skip".into(),
            strict_parametrization_ids: false,
            long_str_strategy: Strategy::Short,
            escape_ids: true,
        }
    }
}

/// The name a `markers` line registers: `slow: marks slow tests` → `slow`,
/// `timeout(seconds)` → `timeout`.
pub fn marker_name(line: &str) -> &str {
    let end = line.find([':', '(']).unwrap_or(line.len());
    line[..end].trim()
}

impl PytestSettings {
    pub fn from_config(config: &PytestConfig) -> Result<PytestSettings, PytestConfigError> {
        let defaults = PytestSettings::default();
        let strict = config.boolean(&["strict"])?.unwrap_or(false);
        let long_str_strategy = match config.text("parametrize_long_str_id_strategy")?.as_deref() {
            None | Some("short") => Strategy::Short,
            Some("legacy") => Strategy::Legacy,
            Some("sha256") => Strategy::Sha256,
            Some("disallow") => Strategy::Disallow,
            Some(other) => {
                return Err(config.value_error(
                    &["parametrize_long_str_id_strategy"],
                    format!("must be short, sha256, legacy or disallow, not {other:?}"),
                ))
            }
        };
        let empty_parameter_set_mark = match config.text("empty_parameter_set_mark")? {
            None => defaults.empty_parameter_set_mark,
            Some(mark) if mark.is_empty() => "skip".into(),
            Some(mark) if matches!(mark.as_str(), "skip" | "xfail" | "fail_at_collect") => mark,
            Some(other) => {
                return Err(config.value_error(
                    &["empty_parameter_set_mark"],
                    format!("must be skip, xfail or fail_at_collect, not {other:?}"),
                ))
            }
        };
        Ok(PytestSettings {
            testpaths: config.args("testpaths")?.unwrap_or(defaults.testpaths),
            python_files: config
                .args("python_files")?
                .unwrap_or(defaults.python_files),
            python_classes: config
                .args("python_classes")?
                .unwrap_or(defaults.python_classes),
            python_functions: config
                .args("python_functions")?
                .unwrap_or(defaults.python_functions),
            norecursedirs: config
                .args("norecursedirs")?
                .unwrap_or(defaults.norecursedirs),
            pythonpath: config.args("pythonpath")?.unwrap_or_default(),
            markers: config
                .lines("markers")?
                .unwrap_or_default()
                .iter()
                .map(|line| marker_name(line).to_string())
                .filter(|name| !name.is_empty())
                .collect(),
            strict_markers: config.boolean(&["strict_markers"])?.unwrap_or(strict),
            xfail_strict: config
                .boolean(&["strict_xfail", "xfail_strict"])?
                .unwrap_or(strict),
            filterwarnings: config.lines("filterwarnings")?.unwrap_or_default(),
            usefixtures: config.args("usefixtures")?.unwrap_or_default(),
            addopts: config.args("addopts")?.unwrap_or_default(),
            empty_parameter_set_mark,
            strict_parametrization_ids: config
                .boolean(&["strict_parametrization_ids"])?
                .unwrap_or(strict),
            long_str_strategy,
            escape_ids: !config
                .boolean(&["disable_test_id_escaping_and_forfeit_all_rights_to_community_support"])?
                .unwrap_or(false),
        })
    }
}
