//! JUnit XML (`--junit-xml FILE`): what GitLab, Jenkins, Buildkite, CircleCI
//! and Bazel import. Written with `quick-junit`, which escapes text and drops
//! the control characters XML cannot hold (ANSI colour codes in captured
//! output); the two noncharacters it lets through, U+FFFE and U+FFFF, are
//! replaced here (U+FFFD), so the document is always well-formed.
//!
//! Conventions follow pytest's JUnit output, which those importers already
//! understand: one `<testsuite name="dbtest">`; a test's `classname` is its
//! file as a dotted module path plus its class (`tests.test_api.TestLogin`),
//! its `name` the rest of the id, and `file` the file's path. xfailed tests
//! are `<skipped type="xfail">`, xpassed ones pass (as in pytest: a non-strict
//! xfail that passes does not fail the run). A test that passed on a retry carries its failed attempts as
//! `<flakyFailure>`/`<flakyError>`; one that failed on every attempt carries
//! the earlier ones as `<rerunFailure>`/`<rerunError>` (Surefire's names).

use crate::json::{Attempt, RunReport, TestReport};
use dbtest_model::{Outcome, Phase};
use quick_junit::{
    FlakyOrRerun, NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite,
};
use std::time::Duration;

/// The JUnit document could not be produced.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JUnit report: {0}")]
pub struct JunitError(String);

/// Extras for the `<testsuite>` element.
#[derive(Debug, Clone, Default)]
pub struct JunitOptions {
    /// The `hostname` attribute, when known (see [`local_hostname`]).
    pub hostname: Option<String>,
}

/// This machine's name, read from the kernel (no subprocess, no libc call):
/// `/proc/sys/kernel/hostname`, then `/etc/hostname`, then `$HOSTNAME`.
pub fn local_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

fn seconds(duration: f64) -> Duration {
    Duration::try_from_secs_f64(duration).unwrap_or(Duration::ZERO)
}

/// `tests/api/test_login.py::TestLogin::test_ok[a::b]` →
/// (`tests/api/test_login.py`, `["TestLogin"]`, `test_ok[a::b]`). Parameter
/// brackets may hold `::`, so the name is split off before the first `[`.
fn split_id(id: &str) -> (&str, Vec<&str>, &str) {
    let Some((file, rest)) = id.split_once("::") else {
        return (id, Vec::new(), id);
    };
    let plain_end = rest.find('[').unwrap_or(rest.len());
    match rest[..plain_end].rfind("::") {
        Some(cut) => (file, rest[..cut].split("::").collect(), &rest[cut + 2..]),
        None => (file, Vec::new(), rest),
    }
}

/// pytest's classname: `tests/api/test_login.py` + `TestLogin` →
/// `tests.api.test_login.TestLogin`.
fn classname(file: &str, classes: &[&str]) -> String {
    let module = file.strip_suffix(".py").unwrap_or(file).replace('/', ".");
    std::iter::once(module.as_str())
        .chain(classes.iter().copied())
        .collect::<Vec<_>>()
        .join(".")
}

fn kind_of(outcome: Outcome) -> NonSuccessKind {
    match outcome {
        Outcome::Error => NonSuccessKind::Error,
        _ => NonSuccessKind::Failure,
    }
}

/// `type` attribute: why it ended as it did, in the report's words.
fn type_of(outcome: Outcome, phase: Phase, error_kind: Option<dbtest_model::ErrorKind>) -> String {
    match (outcome, error_kind) {
        (_, Some(kind)) => kind.as_str().to_string(),
        (_, None) if phase != Phase::Call => format!("{}_failure", phase.as_str()),
        _ => "assertion".to_string(),
    }
}

fn rerun(attempt: &Attempt) -> TestRerun {
    let mut rerun = TestRerun::new(kind_of(attempt.outcome));
    rerun.set_time(seconds(attempt.duration));
    rerun.set_type(type_of(attempt.outcome, attempt.phase, attempt.error_kind));
    if let Some(message) = &attempt.message {
        rerun.set_message(message.as_str());
    }
    if let Some(traceback) = &attempt.traceback {
        rerun.set_stack_trace(traceback.as_str());
    }
    if let Some(out) = attempt.stdout.as_deref().filter(|s| !s.is_empty()) {
        rerun.set_system_out(out);
    }
    if let Some(err) = attempt.stderr.as_deref().filter(|s| !s.is_empty()) {
        rerun.set_system_err(err);
    }
    rerun
}

fn test_case(test: &TestReport) -> TestCase {
    let mut status = match test.outcome {
        Outcome::Passed | Outcome::Xpassed => TestCaseStatus::success(),
        Outcome::Skipped | Outcome::Xfailed => {
            let mut status = TestCaseStatus::skipped();
            if test.outcome == Outcome::Xfailed {
                status.set_type("xfail");
            }
            if let Some(message) = &test.message {
                status.set_message(message.as_str());
            }
            status
        }
        Outcome::Failed | Outcome::Error => {
            let mut status = TestCaseStatus::non_success(kind_of(test.outcome));
            status.set_type(type_of(test.outcome, test.phase, test.error_kind));
            if let Some(message) = &test.message {
                status.set_message(message.as_str());
            }
            if let Some(traceback) = &test.traceback {
                status.set_description(traceback.as_str());
            }
            status.set_rerun_kind(FlakyOrRerun::Rerun);
            status
        }
    };
    // Earlier attempts: flaky runs of a success, reruns of a failure. (A
    // skipped final attempt has nowhere to put them; the JSON report keeps them.)
    status.add_reruns(
        test.previous_attempts
            .iter()
            .filter(|a| a.outcome.fails_run())
            .map(rerun),
    );

    let (file, classes, name) = split_id(&test.id);
    let mut case = TestCase::new(name, status);
    case.set_classname(classname(file, &classes));
    case.set_time(seconds(test.duration));
    case.extra.insert("file".into(), file.into());
    if let Some(out) = test.stdout.as_deref().filter(|s| !s.is_empty()) {
        case.set_system_out(out);
    }
    if let Some(err) = test.stderr.as_deref().filter(|s| !s.is_empty()) {
        case.set_system_err(err);
    }
    case
}

/// The report as a JUnit XML document.
pub fn junit_xml(report: &RunReport, options: &JunitOptions) -> Result<String, JunitError> {
    let started = chrono::DateTime::parse_from_rfc3339(&report.run.started_at).ok();
    let mut suite = TestSuite::new("dbtest");
    if let Some(started) = started {
        suite.set_timestamp(started);
    }
    suite.set_time(seconds(report.run.duration));
    if let Some(hostname) = &options.hostname {
        suite.extra.insert("hostname".into(), hostname.into());
    }
    let mut properties = vec![Property::new("dbtest_version", &report.run.dbtest_version)];
    if let Some(shard) = report.run.shard {
        properties.push(Property::new("shard", shard.to_string()));
    }
    if let Some(python) = &report.run.python {
        properties.push(Property::new("python", python));
    }
    if report.run.interrupted {
        properties.push(Property::new("interrupted", "true"));
    }
    if report.run.not_run > 0 {
        properties.push(Property::new("not_run", report.run.not_run.to_string()));
    }
    if report.totals.flaky > 0 {
        properties.push(Property::new("flaky", report.totals.flaky.to_string()));
    }
    suite.add_properties(properties);
    suite.add_test_cases(report.tests.iter().map(test_case));

    let mut document = Report::new("dbtest");
    if let Some(started) = started {
        document.set_timestamp(started);
    }
    document.set_time(seconds(report.run.duration));
    document.add_test_suite(suite);
    let xml = document
        .to_string()
        .map_err(|e| JunitError(e.to_string()))?;
    Ok(without_noncharacters(xml))
}

/// XML 1.0 (`Char`) excludes U+FFFE and U+FFFF; only text from the tests can
/// hold them, never the markup, so replacing them in the document is enough.
fn without_noncharacters(xml: String) -> String {
    if xml.contains(['\u{FFFE}', '\u{FFFF}']) {
        xml.replace(['\u{FFFE}', '\u{FFFF}'], "\u{FFFD}")
    } else {
        xml
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{result, sample};
    use crate::json::RunInfo;
    use std::time::SystemTime;

    #[test]
    fn ids_split_into_classname_and_name() {
        assert_eq!(
            split_id("tests/api/test_a.py::TestX::test_y"),
            ("tests/api/test_a.py", vec!["TestX"], "test_y")
        );
        assert_eq!(split_id("t.py::test_f"), ("t.py", vec![], "test_f"));
        assert_eq!(
            split_id("t.py::Outer::Inner::test[a::b]"),
            ("t.py", vec!["Outer", "Inner"], "test[a::b]")
        );
        assert_eq!(split_id("t.py"), ("t.py", vec![], "t.py"));
        assert_eq!(
            classname("tests/api/test_a.py", &["TestX"]),
            "tests.api.test_a.TestX"
        );
    }

    fn attribute<'a>(element: &'a str, name: &str) -> &'a str {
        let start = element.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        let end = start + element[start..].find('"').unwrap();
        &element[start..end]
    }

    #[test]
    fn parses_back_with_the_counts_importers_read() {
        let mut report = sample(
            Some((2, 4)),
            &[
                ("tests/test_a.py::test_ok", Outcome::Passed),
                ("tests/test_a.py::TestX::test_bad", Outcome::Failed),
                ("tests/test_b.py::test_skip", Outcome::Skipped),
                ("tests/test_b.py::test_err", Outcome::Error),
                ("tests/test_b.py::test_xfail", Outcome::Xfailed),
                ("tests/test_b.py::test_xpass", Outcome::Xpassed),
            ],
        );
        report.tests[0].stdout = Some("\u{1b}[31mred\u{1b}[0m & <tags>\u{0}".into());
        let xml = junit_xml(
            &report,
            &JunitOptions {
                hostname: Some("ci-7".into()),
            },
        )
        .unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");

        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.test_suites.len(), 1);
        let suite = &parsed.test_suites[0];
        assert_eq!(suite.name.as_str(), "dbtest");
        // The xpassed test passes (a non-strict xfail), as in pytest's JUnit output.
        assert_eq!(
            (suite.tests, suite.failures, suite.errors, suite.skipped),
            (6, 1, 1, 2)
        );
        let case = &suite.test_cases[1];
        assert_eq!(case.name.as_str(), "test_bad");
        assert_eq!(
            case.classname.as_ref().unwrap().as_str(),
            "tests.test_a.TestX"
        );
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind,
                message,
                description,
                ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert!(message.as_ref().unwrap().contains("< & >"));
                assert!(description
                    .as_ref()
                    .unwrap()
                    .contains("AssertionError: 1 != 2"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            suite.test_cases[0].system_out.as_ref().unwrap().as_str(),
            "red & <tags>"
        );
        assert!(suite
            .properties
            .iter()
            .any(|p| p.name.as_str() == "shard" && p.value.as_str() == "2/4"));

        // The attributes themselves, as an importer reads them.
        let suite_tag = &xml[xml.find("<testsuite ").unwrap()..];
        let suite_tag = &suite_tag[..suite_tag.find('>').unwrap()];
        assert_eq!(attribute(suite_tag, "tests"), "6");
        assert_eq!(attribute(suite_tag, "failures"), "1");
        assert_eq!(attribute(suite_tag, "errors"), "1");
        assert_eq!(attribute(suite_tag, "skipped"), "2");
        assert_eq!(attribute(suite_tag, "hostname"), "ci-7");
        assert_eq!(xml.matches("<testcase ").count(), 6);
        assert!(xml.contains("file=\"tests/test_b.py\""));
    }

    #[test]
    fn flaky_and_rerun_attempts() {
        let report = crate::json::RunReport::from_results(
            RunInfo::new(SystemTime::UNIX_EPOCH, Duration::ZERO, 1),
            [
                result("t.py::test_flaky", Outcome::Failed),
                result("t.py::test_flaky", Outcome::Passed),
                result("t.py::test_bad", Outcome::Error),
                result("t.py::test_bad", Outcome::Failed),
            ],
        );
        let xml = junit_xml(&report, &JunitOptions::default()).unwrap();
        assert_eq!(xml.matches("<flakyFailure").count(), 1, "{xml}");
        assert_eq!(xml.matches("<rerunError").count(), 1, "{xml}");
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        let suite = &parsed.test_suites[0];
        assert_eq!((suite.tests, suite.failures, suite.errors), (2, 1, 0));
        match &suite.test_cases[0].status {
            TestCaseStatus::Success { flaky_runs } => {
                assert_eq!(flaky_runs.len(), 1);
                assert!(flaky_runs[0]
                    .stack_trace
                    .as_ref()
                    .unwrap()
                    .contains("Traceback"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn noncharacters_xml_forbids_are_replaced() {
        assert_eq!(
            without_noncharacters("<a b=\"x\u{FFFE}\">y\u{FFFF}\u{1FFFE}</a>".into()),
            "<a b=\"x\u{FFFD}\">y\u{FFFD}\u{1FFFE}</a>"
        );
    }

    #[test]
    fn an_empty_run_is_still_a_document() {
        let report = sample(None, &[]);
        let xml = junit_xml(&report, &JunitOptions::default()).unwrap();
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.test_suites[0].tests, 0);
    }
}
