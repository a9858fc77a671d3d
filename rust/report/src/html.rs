//! The HTML report (`--html FILE`, `dbtest merge --html`): one self-contained
//! file, readable from disk without a server or network. The page holds the
//! JSON report (`json.rs`) and a small script that renders it: counts,
//! filters by outcome and a search by id, a timeline of the workers (a lane
//! per worker, a bar per test), failures with their traceback and captured
//! output, flaky and retried tests marked, the slowest tests.
//!
//! Nothing a test wrote is ever markup: the data is JSON inside a
//! `<script type="application/json">` element with `<`, `>` and `&` escaped
//! (so no `</script>` can end it), and the script puts every string on the
//! page as text.

use crate::json::RunReport;

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// The report as one HTML document.
pub fn html(report: &RunReport) -> String {
    let data = script_safe_json(&serde_json::to_string(report).unwrap_or_else(|_| "{}".into()));
    let t = &report.totals;
    let summary = format!(
        "{} tests: {} passed, {} failed, {} errors, {} skipped, {} xfailed, {} xpassed, {} flaky \
         (turn on JavaScript to see the tests).",
        t.tests(),
        t.passed,
        t.failed,
        t.errors,
        t.skipped,
        t.xfailed,
        t.xpassed,
        t.flaky
    );
    let mut page = String::with_capacity(data.len() + STYLE.len() + SCRIPT.len() + 1024);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>dbtest report</title>\n<style>\n");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<div id=\"app\"><noscript>");
    page.push_str(&escape_text(&summary));
    page.push_str("</noscript></div>\n<script id=\"dbtest-data\" type=\"application/json\">");
    page.push_str(&data);
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// JSON that can sit inside a `<script>` element: `<`, `>` and `&` (which
/// appear only inside strings) as `\u` escapes, which JSON reads back alike.
fn script_safe_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn escape_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{tests::result, RunInfo};
    use dbtest_model::Outcome;
    use std::time::{Duration, SystemTime};

    fn report_with_output(stdout: &str) -> RunReport {
        let mut failed = result("tests/test_a.py::test_x", Outcome::Failed);
        failed.stdout = Some(stdout.to_string());
        failed.message = Some("AssertionError: </script><b>".into());
        RunReport::from_results(
            RunInfo::new(SystemTime::UNIX_EPOCH, Duration::from_secs(1), 1),
            [failed],
        )
    }

    #[test]
    fn output_of_tests_cannot_end_the_data_element_or_become_markup() {
        let page = html(&report_with_output("<script>alert(1)</script> & done"));
        // The only script elements are the page's own two.
        assert_eq!(page.matches("<script").count(), 2, "{page}");
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(page.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e \\u0026 done"));
        // And the data reads back as the same report.
        let start = page.find("type=\"application/json\">").unwrap() + 24;
        let end = start + page[start..].find("</script>").unwrap();
        let back = RunReport::from_json(&page[start..end]).unwrap();
        assert_eq!(
            back.tests[0].stdout.as_deref(),
            Some("<script>alert(1)</script> & done")
        );
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = html(&report_with_output(""));
        for remote in ["http://", "https://", "src=", "href="] {
            assert!(!page.contains(remote), "{remote} in the page");
        }
        assert!(page.contains("1 tests: 0 passed, 1 failed"));
    }
}
