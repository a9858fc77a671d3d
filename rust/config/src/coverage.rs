//! Coverage options (`--cov` and its kin), read as pytest-cov reads them, so
//! that a project's pytest `addopts` with `--cov` options works unchanged:
//! `addopts` come first and the command line after, repeatable options
//! accumulate, the last value of the others wins, and `--no-cov` anywhere
//! turns coverage off.

use crate::ConfigError;

/// The coverage options of one command line (or of `addopts`), as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoverageArgs {
    /// `--cov` (`None`: no source given) and `--cov=SOURCE`, in order.
    pub sources: Vec<Option<String>>,
    /// `--cov-report TYPE[:DEST]`, in order.
    pub reports: Vec<String>,
    pub fail_under: Option<String>,
    pub branch: bool,
    pub config: Option<String>,
    pub no_cov: bool,
    pub context: Option<String>,
}

impl CoverageArgs {
    /// Reads one coverage option (`name` without its value) and its value,
    /// if it is one; `false` if it is not a coverage option.
    pub fn take(&mut self, name: &str, value: impl FnOnce() -> Option<String>) -> bool {
        match name {
            "--cov-report" => self.reports.extend(value()),
            "--cov-fail-under" => self.fail_under = value().or(self.fail_under.take()),
            "--cov-config" => self.config = value().or(self.config.take()),
            "--cov-context" => self.context = value().or(self.context.take()),
            "--cov-branch" => self.branch = true,
            "--no-cov" => self.no_cov = true,
            _ => return false,
        }
        true
    }

    fn then(&self, later: &CoverageArgs) -> CoverageArgs {
        CoverageArgs {
            sources: self.sources.iter().chain(&later.sources).cloned().collect(),
            reports: self.reports.iter().chain(&later.reports).cloned().collect(),
            fail_under: later.fail_under.clone().or(self.fail_under.clone()),
            branch: self.branch || later.branch,
            config: later.config.clone().or(self.config.clone()),
            no_cov: self.no_cov || later.no_cov,
            context: later.context.clone().or(self.context.clone()),
        }
    }
}

/// The report kinds that write a file or directory (`TYPE:DEST`).
const FILE_REPORTS: [&str; 7] = [
    "annotate",
    "html",
    "xml",
    "json",
    "markdown",
    "markdown-append",
    "lcov",
];

/// One `--cov-report`: its kind and what follows the colon (a destination,
/// or `skip-covered` for the terminal reports).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CoverageReport {
    pub kind: String,
    pub target: Option<String>,
}

/// What a run measures and reports, resolved.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CoverageSettings {
    /// `None`: no `--cov=SOURCE` (a bare `--cov` among them): the
    /// configuration's `[run] source`, else everything.
    pub source: Option<Vec<String>>,
    /// By kind, each kind once (a later one replaces an earlier one's
    /// destination); `term` when none is given, nothing for `--cov-report=`.
    pub reports: Vec<CoverageReport>,
    pub fail_under: Option<f64>,
    /// `Some(true)` for `--cov-branch`; `None`: the configuration decides.
    pub branch: Option<bool>,
    /// `.coveragerc` unless `--cov-config` says otherwise.
    pub config_file: String,
    pub context: Option<String>,
}

impl CoverageSettings {
    /// `None` when the run does not measure coverage (no `--cov`, or `--no-cov`).
    pub fn resolve(
        addopts: &CoverageArgs,
        cli: &CoverageArgs,
    ) -> Result<Option<CoverageSettings>, ConfigError> {
        let args = addopts.then(cli);
        if args.sources.is_empty() || args.no_cov {
            return Ok(None);
        }
        let source = if args.sources.iter().any(Option::is_none) {
            None
        } else {
            Some(args.sources.iter().flatten().cloned().collect())
        };
        let mut reports: Vec<CoverageReport> = Vec::new();
        for written in &args.reports {
            let report = parse_report(written)?;
            match reports.iter_mut().find(|r| r.kind == report.kind) {
                Some(known) => known.target = report.target,
                None => reports.push(report),
            }
        }
        if args.reports.is_empty() {
            reports.push(CoverageReport {
                kind: "term".into(),
                target: None,
            });
        }
        let fail_under = match &args.fail_under {
            Some(text) => Some(parse_fail_under(text)?),
            None => None,
        };
        if let Some(context) = args.context.as_deref().filter(|c| *c != "test") {
            return Err(ConfigError::Invalid(format!(
                "--cov-context must be test (the only dynamic context supported), not {context}"
            )));
        }
        Ok(Some(CoverageSettings {
            source,
            reports,
            fail_under,
            branch: args.branch.then_some(true),
            config_file: args.config.unwrap_or_else(|| ".coveragerc".into()),
            context: args.context,
        }))
    }
}

fn parse_report(written: &str) -> Result<CoverageReport, ConfigError> {
    let (kind, target) = match written.split_once(':') {
        Some((kind, target)) => (kind, Some(target.to_string())),
        None => (written, None),
    };
    let terminal = matches!(kind, "term" | "term-missing");
    if !(terminal || kind.is_empty() || FILE_REPORTS.contains(&kind)) {
        return Err(ConfigError::Invalid(format!(
            "--cov-report must be term, term-missing, {} (or empty for none), not {written}",
            FILE_REPORTS.join(", ")
        )));
    }
    if let Some(target) = &target {
        if terminal && target != "skip-covered" {
            return Err(ConfigError::Invalid(format!(
                "--cov-report {kind} takes no destination (only :skip-covered), not {written}"
            )));
        }
        if kind.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "--cov-report: a destination needs a report type, not {written}"
            )));
        }
    }
    Ok(CoverageReport {
        kind: kind.to_string(),
        target,
    })
}

fn parse_fail_under(text: &str) -> Result<f64, ConfigError> {
    match text.trim().parse::<f64>() {
        Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
        _ => Err(ConfigError::Invalid(format!(
            "--cov-fail-under must be a percentage from 0 to 100, not {text}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(sources: &[Option<&str>], reports: &[&str]) -> CoverageArgs {
        CoverageArgs {
            sources: sources.iter().map(|s| s.map(String::from)).collect(),
            reports: reports.iter().map(|s| s.to_string()).collect(),
            ..CoverageArgs::default()
        }
    }

    #[test]
    fn no_cov_option_means_no_coverage() {
        let none = CoverageArgs::default();
        assert_eq!(CoverageSettings::resolve(&none, &none).unwrap(), None);
        let mut off = args(&[Some("pkg")], &[]);
        off.no_cov = true;
        assert_eq!(CoverageSettings::resolve(&none, &off).unwrap(), None);
    }

    #[test]
    fn addopts_and_command_line_accumulate_as_under_pytest_cov() {
        let addopts = args(&[Some("pkg")], &["term-missing", "xml:old.xml"]);
        let cli = args(&[Some("other")], &["xml:cov.xml", "html"]);
        let settings = CoverageSettings::resolve(&addopts, &cli).unwrap().unwrap();
        assert_eq!(settings.source, Some(vec!["pkg".into(), "other".into()]));
        let kinds: Vec<_> = settings
            .reports
            .iter()
            .map(|r| (r.kind.as_str(), r.target.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("term-missing", None),
                ("xml", Some("cov.xml")),
                ("html", None)
            ]
        );
        assert_eq!(settings.config_file, ".coveragerc");
        assert_eq!(settings.branch, None);
    }

    #[test]
    fn a_bare_cov_measures_without_a_source_filter_and_term_is_the_default_report() {
        let settings =
            CoverageSettings::resolve(&CoverageArgs::default(), &args(&[Some("pkg"), None], &[]))
                .unwrap()
                .unwrap();
        assert_eq!(settings.source, None);
        assert_eq!(settings.reports.len(), 1);
        assert_eq!(settings.reports[0].kind, "term");
    }

    #[test]
    fn bad_values_are_one_line_errors() {
        let none = CoverageArgs::default();
        for (report, needle) in [
            ("bogus", "--cov-report must be"),
            ("term:out.txt", "takes no destination"),
        ] {
            let err = CoverageSettings::resolve(&none, &args(&[None], &[report])).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
        let mut high = args(&[None], &[]);
        high.fail_under = Some("101".into());
        let err = CoverageSettings::resolve(&none, &high).unwrap_err();
        assert!(err.to_string().contains("from 0 to 100"), "{err}");
        let mut context = args(&[None], &[]);
        context.context = Some("function".into());
        assert!(CoverageSettings::resolve(&none, &context).is_err());
    }
}
