//! The Markdown report (`--markdown FILE`), made for a CI job summary
//! (`$GITHUB_STEP_SUMMARY`, GitLab and Buildkite annotations): a headline, a
//! table of counts, then one collapsed `<details>` block per failing test.
//!
//! GitHub caps a step summary at 1 MiB, so failures beyond
//! [`MarkdownOptions::max_failures`] are only counted and every text block is
//! cut to [`MarkdownOptions::max_block_chars`], keeping its end (where a
//! traceback names the exception).

use crate::json::{RunReport, TestReport};
use crate::summary::summary_line;
use dbtest_model::{Outcome, Phase};
use std::fmt::Write;
use std::time::Duration;

/// Size limits of the Markdown report.
#[derive(Debug, Clone)]
pub struct MarkdownOptions {
    /// Failing tests shown in full; the rest are counted.
    pub max_failures: usize,
    /// Characters kept of each traceback or captured stream.
    pub max_block_chars: usize,
}

impl Default for MarkdownOptions {
    fn default() -> Self {
        MarkdownOptions {
            max_failures: 50,
            max_block_chars: 6000,
        }
    }
}

/// Text safe inside HTML (`<summary>`, `<code>`) on one line.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in strip_terminal_codes(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` without ANSI escape sequences (colours, cursor moves) and other
/// control characters, which a browser would show as garbage.
fn strip_terminal_codes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            match chars.peek() {
                // CSI: parameters, then one final byte in @..~.
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // Two-character sequences.
                Some(_) => {
                    chars.next();
                }
                None => {}
            }
        } else if !c.is_control() || matches!(c, '\n' | '\t') {
            out.push(c);
        }
    }
    out
}

/// The last `max` characters of `text`, marked when cut.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let skip = count - max;
    let kept: String = text.chars().skip(skip).collect();
    format!("[… {skip} characters cut …]\n{kept}")
}

/// A fenced code block that the content cannot close early: the fence is
/// longer than any run of backticks inside.
fn fenced(out: &mut String, text: &str) {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let text = strip_terminal_codes(text);
    let _ = writeln!(out, "{fence}text\n{}\n{fence}\n", text.trim_end());
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

fn label(test: &TestReport) -> String {
    let outcome = match test.outcome {
        Outcome::Error => "error",
        Outcome::Xpassed => "unexpectedly passed",
        _ => "failed",
    };
    let mut label = outcome.to_string();
    if test.phase != Phase::Call {
        let _ = write!(label, " in {}", test.phase.as_str());
    }
    if let Some(kind) = test.error_kind {
        let _ = write!(label, " ({})", kind.as_str());
    }
    if test.attempts > 1 {
        let _ = write!(label, ", {} attempts", test.attempts);
    }
    label
}

fn failure(out: &mut String, test: &TestReport, options: &MarkdownOptions) {
    let _ = write!(
        out,
        "<details>\n<summary><code>{}</code> — {}",
        html(&test.id),
        label(test)
    );
    if let Some(message) = test.message.as_deref().filter(|m| !m.trim().is_empty()) {
        let _ = write!(out, ": {}", html(&first_line(message, 200)));
    }
    if let Some(note) = dbtest_model::rerun_note(test.outcome, test.alone, test.rerun_after) {
        let _ = write!(out, " <em>({})</em>", html(&note));
    }
    out.push_str("</summary>\n\n");
    match (&test.traceback, &test.message) {
        (Some(traceback), _) => fenced(out, &tail(traceback, options.max_block_chars)),
        (None, Some(message)) => fenced(out, &tail(message, options.max_block_chars)),
        (None, None) => {}
    }
    for (name, text) in [("stdout", &test.stdout), ("stderr", &test.stderr)] {
        if let Some(text) = text.as_deref().filter(|t| !t.trim().is_empty()) {
            let _ = writeln!(out, "Captured {name}:\n");
            fenced(out, &tail(text, options.max_block_chars));
        }
    }
    out.push_str("</details>\n\n");
}

/// The report as Markdown, with the default limits.
pub fn markdown(report: &RunReport) -> String {
    markdown_with(report, &MarkdownOptions::default())
}

/// The report as Markdown.
pub fn markdown_with(report: &RunReport, options: &MarkdownOptions) -> String {
    let totals = &report.totals;
    let counts = totals.counts();
    let not_run = usize::try_from(report.run.not_run).unwrap_or(usize::MAX);
    let elapsed = Duration::try_from_secs_f64(report.run.duration).unwrap_or(Duration::ZERO);
    let failing = counts.any_failure(report.totals.flaky > 0 && report.run.flaky_fails);
    let icon = if report.run.interrupted {
        "⚠️"
    } else if failing {
        "❌"
    } else {
        "✅"
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {icon} dbtest: {}\n",
        summary_line(&counts, not_run, elapsed)
    );

    let mut columns: Vec<(&str, String)> = vec![
        ("passed", totals.passed.to_string()),
        ("failed", totals.failed.to_string()),
        ("errors", totals.errors.to_string()),
        ("skipped", totals.skipped.to_string()),
        ("xfailed", totals.xfailed.to_string()),
        ("xpassed", totals.xpassed.to_string()),
        ("flaky", totals.flaky.to_string()),
        ("not run", report.run.not_run.to_string()),
        ("duration", format!("{:.2} s", report.run.duration)),
        ("workers", report.run.workers.to_string()),
    ];
    if let Some(shard) = report.run.shard {
        columns.push(("shard", shard.to_string()));
    }
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let values: Vec<&str> = columns.iter().map(|c| c.1.as_str()).collect();
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let _ = writeln!(out, "|{}", "---:|".repeat(columns.len()));
    let _ = writeln!(out, "| {} |\n", values.join(" | "));

    if report.run.interrupted {
        out.push_str("> **Interrupted**: the results are partial.\n\n");
    }
    if let Some(why) = &report.run.stopped {
        let _ = writeln!(out, "> **Stopped early**: {}\n", html(why));
    }

    let failures: Vec<&TestReport> = report.failures().collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "### Failures ({})\n", failures.len());
        for test in failures.iter().take(options.max_failures) {
            failure(&mut out, test, options);
        }
        if failures.len() > options.max_failures {
            let _ = writeln!(
                out,
                "…and {} more; the JUnit and JSON reports list them all.\n",
                failures.len() - options.max_failures
            );
        }
    }

    let flaky: Vec<&TestReport> = report.tests.iter().filter(|t| t.flaky).collect();
    if !flaky.is_empty() {
        let _ = writeln!(out, "### Flaky tests ({})\n", flaky.len());
        for test in flaky.iter().take(options.max_failures) {
            let _ = writeln!(
                out,
                "- <code>{}</code> — passed on attempt {}",
                html(&test.id),
                test.attempts
            );
        }
        if flaky.len() > options.max_failures {
            let _ = writeln!(out, "- …and {} more", flaky.len() - options.max_failures);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tests::{result, sample};
    use crate::json::{RunInfo, RunReport};
    use std::time::SystemTime;

    #[test]
    fn summary_table_then_failures() {
        let report = sample(
            Some((2, 4)),
            &[
                ("tests/test_a.py::test_ok", Outcome::Passed),
                ("tests/test_a.py::TestX::test_bad", Outcome::Failed),
                ("tests/test_b.py::test_skip", Outcome::Skipped),
            ],
        );
        let text = markdown(&report);
        let expected_head = "\
## ❌ dbtest: 1 passed, 1 failed, 1 skipped in 1.50s

| passed | failed | errors | skipped | xfailed | xpassed | flaky | not run | duration | workers | shard |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| 1 | 1 | 0 | 1 | 0 | 0 | 0 | 0 | 1.50 s | 2 | 2/4 |

### Failures (1)

<details>
<summary><code>tests/test_a.py::TestX::test_bad</code> — failed: AssertionError: tests/test_a.py::TestX::test_bad &lt; &amp; &gt; &quot;boom&quot;</summary>

```text
Traceback (most recent call last):
  File \"t.py\", line 3
    assert a == b
AssertionError: 1 != 2
```

Captured stdout:

```text
printed <out>
```

</details>

";
        assert_eq!(text, expected_head, "{text}");
    }

    #[test]
    fn a_green_run_has_no_failures_section() {
        let report = sample(None, &[("a.py::t", Outcome::Passed)]);
        let text = markdown(&report);
        assert!(text.starts_with("## ✅ dbtest: 1 passed, 0 failed in 1.50s\n"));
        assert!(!text.contains("Failures"));
        assert!(!text.contains("shard"));
    }

    #[test]
    fn terminal_codes_are_stripped() {
        assert_eq!(
            strip_terminal_codes("\u{1b}[1;31mred\u{1b}[0m\u{7}\tok\r\n"),
            "red\tok\n"
        );
        assert_eq!(html("a\u{1b}[2Kb <c>"), "ab &lt;c&gt;");
    }

    #[test]
    fn fences_cannot_be_closed_by_the_content() {
        let mut out = String::new();
        fenced(&mut out, "a ``` b ```` c");
        assert_eq!(out, "`````text\na ``` b ```` c\n`````\n\n");
    }

    #[test]
    fn long_blocks_and_many_failures_are_cut() {
        let mut results: Vec<_> = (0..5)
            .map(|i| result(&format!("a.py::t{i}"), Outcome::Error))
            .collect();
        results[0].traceback = Some(format!("{}END", "x".repeat(100)));
        let mut report = RunReport::from_results(
            RunInfo::new(SystemTime::UNIX_EPOCH, Duration::ZERO, 1),
            results,
        );
        report.run.interrupted = true;
        let text = markdown_with(
            &report,
            &MarkdownOptions {
                max_failures: 2,
                max_block_chars: 10,
            },
        );
        assert!(text.starts_with("## ⚠️ dbtest:"));
        assert!(text.contains("> **Interrupted**"));
        assert!(
            text.contains("[… 93 characters cut …]\nxxxxxxxEND"),
            "{text}"
        );
        assert_eq!(text.matches("<details>").count(), 2);
        assert!(text.contains("…and 3 more"));
        assert!(text.contains("— error (exception)"));
    }

    #[test]
    fn flaky_tests_are_listed() {
        let report = RunReport::from_results(
            RunInfo::new(SystemTime::UNIX_EPOCH, Duration::ZERO, 1),
            [
                result("a.py::t", Outcome::Failed),
                result("a.py::t", Outcome::Passed),
            ],
        );
        let text = markdown(&report);
        assert!(text.starts_with("## ✅"), "{text}");
        assert!(
            text.contains("### Flaky tests (1)\n\n- <code>a.py::t</code> — passed on attempt 2\n")
        );
    }
}
