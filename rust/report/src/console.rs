//! The console: live progress while the run goes, then failures, a short
//! summary and the closing line.
//!
//! On a terminal, progress is one status line rewritten in place. Elsewhere (CI
//! logs, pipes) it is pytest's one character per test. `-v` prints a line per
//! test instead; `-q` prints neither.

use crate::summary::{summary_line, Counts, RunSummary};
use dbtest_model::{Outcome, TestResult};
use dbtest_model::{RunObserver, Running};
use std::io::Write;
use std::time::{Duration, Instant};

const WIDTH: usize = 80;

#[derive(Debug, Clone, Default)]
pub struct ConsoleOptions {
    pub verbose: u8,
    pub quiet: bool,
    pub color: bool,
    /// Output is a terminal: draw a status line instead of progress characters.
    pub terminal: bool,
    /// Show the N slowest tests.
    pub durations: Option<usize>,
}

pub struct ConsoleReporter<W: Write> {
    out: W,
    options: ConsoleOptions,
    counts: Counts,
    total: usize,
    started: Instant,
    /// Progress characters on the current line.
    column: usize,
    status_visible: bool,
}

fn style(color: bool, code: &str, text: &str) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

fn outcome_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "32",
        Outcome::Failed | Outcome::Error => "31",
        Outcome::Skipped | Outcome::Xfailed | Outcome::Xpassed => "33",
    }
}

fn progress_char(outcome: Outcome) -> char {
    match outcome {
        Outcome::Passed => '.',
        Outcome::Failed => 'F',
        Outcome::Error => 'E',
        Outcome::Skipped => 's',
        Outcome::Xfailed => 'x',
        Outcome::Xpassed => 'X',
    }
}

fn rule(title: &str, fill: char) -> String {
    let title = format!(" {title} ");
    let len = title.chars().count();
    if len + 2 >= WIDTH {
        return title.trim().to_string();
    }
    let left = (WIDTH - len) / 2;
    let right = WIDTH - len - left;
    format!(
        "{}{title}{}",
        fill.to_string().repeat(left),
        fill.to_string().repeat(right)
    )
}

impl<W: Write> ConsoleReporter<W> {
    pub fn new(out: W, options: ConsoleOptions) -> Self {
        ConsoleReporter {
            out,
            options,
            counts: Counts::default(),
            total: 0,
            started: Instant::now(),
            column: 0,
            status_visible: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn clear_status(&mut self) {
        if self.status_visible {
            let _ = write!(self.out, "\r\x1b[K");
            self.status_visible = false;
        }
    }

    fn end_progress_line(&mut self) {
        self.clear_status();
        if self.column > 0 {
            let _ = writeln!(self.out);
            self.column = 0;
        }
    }

    fn draw_status(&mut self, running: &[Running]) {
        let done = self.counts.total();
        let mut line = format!(
            "[{done}/{}] {} passed, {} failed",
            self.total,
            self.counts.passed,
            self.counts.failed + self.counts.errors
        );
        if self.counts.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.counts.skipped));
        }
        if let Some(slowest) = running.iter().max_by_key(|r| r.elapsed) {
            if slowest.elapsed >= Duration::from_secs(1) {
                line.push_str(&format!(
                    " · w{} {} ({:.0}s)",
                    slowest.slot,
                    slowest.id,
                    slowest.elapsed.as_secs_f64()
                ));
            }
        }
        let line: String = line.chars().take(WIDTH * 2).collect();
        let _ = write!(self.out, "\r\x1b[K{line}");
        self.status_visible = true;
        let _ = self.out.flush();
    }

    /// The failures, the short summary and the closing line.
    pub fn finish(&mut self, summary: &RunSummary) {
        self.end_progress_line();
        let color = self.options.color;
        let counts = Counts::of(summary.results);
        // As pytest: errors (set-up, teardown, collection, crashes) have a
        // section of their own before the failures; the short summary lists
        // failures first.
        let (errors, failures): (Vec<&TestResult>, Vec<&TestResult>) = summary
            .results
            .iter()
            .filter(|r| r.outcome.fails_run())
            .partition(|r| r.outcome == Outcome::Error);
        for (title, section) in [("ERRORS", &errors), ("FAILURES", &failures)] {
            if !section.is_empty() {
                let _ = writeln!(self.out, "{}", rule(title, '='));
                for result in section {
                    self.write_failure(result);
                }
            }
        }
        let failing: Vec<&TestResult> = failures.iter().chain(&errors).copied().collect();
        if let Some(n) = self.options.durations.filter(|n| *n > 0) {
            let mut by_time: Vec<&TestResult> = summary.results.iter().collect();
            by_time.sort_by(|a, b| b.duration.total_cmp(&a.duration));
            let _ = writeln!(
                self.out,
                "{}",
                rule(
                    &format!(
                        "slowest {}",
                        dbtest_model::counted(n as u64, "duration", "durations")
                    ),
                    '='
                )
            );
            for result in by_time.into_iter().take(n) {
                let _ = writeln!(self.out, "{:>8.2}s  {}", result.duration, result.id);
            }
        }
        if let Some(section) = summary.section {
            let _ = write!(self.out, "{section}");
            if !section.ends_with('\n') {
                let _ = writeln!(self.out);
            }
        }
        if !failing.is_empty() {
            let _ = writeln!(self.out, "{}", rule("short test summary info", '='));
            for result in &failing {
                let label = match result.outcome {
                    Outcome::Error => "ERROR",
                    Outcome::Xpassed => "XPASS",
                    _ => "FAILED",
                };
                let message = result.message.as_deref().unwrap_or("");
                let mut line = if message.is_empty() {
                    format!("{label} {}", result.id)
                } else {
                    format!(
                        "{label} {} - {}",
                        result.id,
                        message.lines().next().unwrap_or("")
                    )
                };
                if let Some(note) = result.rerun_note() {
                    line.push_str(&format!(" [{note}]"));
                }
                let _ = writeln!(
                    self.out,
                    "{}",
                    style(color, outcome_color(result.outcome), &line)
                );
            }
        }
        if summary.interrupted {
            let _ = writeln!(
                self.out,
                "{}",
                style(color, "31", "interrupted: results so far are shown")
            );
        } else if let Some(why) = summary.stopped {
            let _ = writeln!(self.out, "{}", style(color, "33", why));
        }
        let warned: Vec<&TestResult> = summary
            .results
            .iter()
            .filter(|r| !r.warnings.is_empty())
            .collect();
        if !warned.is_empty() {
            let _ = writeln!(self.out, "{}", rule("warnings summary", '='));
            for result in warned {
                for warning in &result.warnings {
                    let _ = writeln!(self.out, "{}: {warning}", result.id);
                }
            }
        }
        let flaky: Vec<&TestResult> = summary.results.iter().filter(|r| r.flaky).collect();
        if !flaky.is_empty() {
            let _ = writeln!(self.out, "{}", rule("flaky tests (passed on a retry)", '='));
            for result in flaky {
                let _ = writeln!(
                    self.out,
                    "FLAKY {} (attempt {})",
                    result.id, result.attempts
                );
            }
        }
        let line = summary_line(&counts, summary.not_run, summary.elapsed);
        let code = if counts.any_failure(summary.flaky_fails) || summary.interrupted {
            "31"
        } else {
            "32"
        };
        let _ = writeln!(self.out, "{}", style(color, code, &line));
        let _ = self.out.flush();
    }

    fn write_failure(&mut self, result: &TestResult) {
        let title = match result.phase {
            dbtest_model::Phase::Call => result.id.clone(),
            phase => format!("{} [{}]", result.id, phase.as_str()),
        };
        let _ = writeln!(
            self.out,
            "{}",
            style(self.options.color, "31", &rule(&title, '_'))
        );
        match (&result.traceback, &result.message) {
            (Some(traceback), _) => {
                let _ = writeln!(self.out, "{}", traceback.trim_end());
            }
            (None, Some(message)) => {
                let _ = writeln!(self.out, "{message}");
            }
            (None, None) => {}
        }
        if let (Some(_), Some(message)) = (&result.traceback, &result.message) {
            if matches!(
                result.error_kind,
                Some(
                    dbtest_model::ErrorKind::Timeout
                        | dbtest_model::ErrorKind::Crash
                        | dbtest_model::ErrorKind::Interrupted
                )
            ) {
                let _ = writeln!(self.out, "{message}");
            }
        }
        for (name, text) in [("stdout", &result.stdout), ("stderr", &result.stderr)] {
            if let Some(text) = text.as_deref().filter(|t| !t.is_empty()) {
                let _ = writeln!(self.out, "{}", rule(&format!("Captured {name}"), '-'));
                let _ = writeln!(self.out, "{}", text.trim_end());
            }
        }
        if let Some(note) = result.rerun_note() {
            let line = if result.rerun_after == 0 {
                format!(
                    "{note} (rerun alone in a fresh worker that had imported every selected test module, as pytest does, it passed: it may rely on what another test did or imported; see \"Import semantics\" in the user guide)"
                )
            } else {
                format!(
                    "{note} (in the run, they did not run before it in its worker; rerun after them in a fresh worker, as in pytest's order, it passed: it relies on what they do; see \"Import semantics\" in the user guide)"
                )
            };
            let _ = writeln!(self.out, "{}", style(self.options.color, "33", &line));
        }
    }
}

impl<W: Write> RunObserver for ConsoleReporter<W> {
    fn run_started(&mut self, tests: usize, workers: usize) {
        self.total += tests;
        self.started = Instant::now();
        if !self.options.quiet {
            let tests_word = if self.total == 1 { "test" } else { "tests" };
            let workers_word = if workers == 1 { "worker" } else { "workers" };
            let _ = writeln!(
                self.out,
                "running {} {tests_word} on {workers} {workers_word}",
                self.total
            );
        }
    }

    fn tests_added(&mut self, count: usize) {
        self.total += count;
    }

    fn test_withdrawn(&mut self, _id: &str) {
        self.total = self.total.saturating_sub(1);
    }

    fn test_retried(&mut self, result: &TestResult) {
        if self.options.verbose > 0 && !self.options.quiet {
            self.clear_status();
            let label = style(self.options.color, "33", "RETRY   ");
            let message = result.message.as_deref().unwrap_or("");
            let _ = writeln!(
                self.out,
                "{label} {} (attempt {}: {message})",
                result.id, result.attempts
            );
        }
    }

    fn test_finished(&mut self, result: &TestResult) {
        self.counts.add(result);
        if self.options.quiet {
            return;
        }
        if self.options.verbose > 0 {
            self.clear_status();
            let label = if result.flaky {
                "FLAKY".to_string()
            } else {
                result.outcome.as_str().to_uppercase()
            };
            let label = style(
                self.options.color,
                outcome_color(result.outcome),
                &format!("{label:<8}"),
            );
            let worker = if result.worker > 0 {
                format!(", w{}", result.worker)
            } else {
                String::new()
            };
            let _ = writeln!(
                self.out,
                "{label} {} ({:.3}s{worker})",
                result.id, result.duration
            );
            if result.outcome == Outcome::Skipped {
                if let Some(reason) = &result.message {
                    let _ = writeln!(self.out, "         skipped: {reason}");
                }
            }
        } else if !self.options.terminal {
            let c = if result.flaky {
                'f'
            } else {
                progress_char(result.outcome)
            };
            let _ = write!(self.out, "{c}");
            self.column += 1;
            if self.column >= WIDTH {
                let _ = writeln!(self.out);
                self.column = 0;
            }
        }
    }

    fn worker_output(&mut self, slot: u32, line: &str) {
        self.end_progress_line();
        let _ = writeln!(self.out, "[w{slot}] {line}");
    }

    fn tick(&mut self, running: &[Running]) {
        if self.options.quiet {
            return;
        }
        if self.options.terminal && self.options.verbose == 0 {
            self.draw_status(running);
        } else {
            let _ = self.out.flush();
        }
    }

    fn warning(&mut self, message: &str) {
        self.end_progress_line();
        let _ = writeln!(
            self.out,
            "{}",
            style(self.options.color, "33", &format!("warning: {message}"))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::{ErrorKind, Phase};

    fn result(id: &str, outcome: Outcome, duration: f64, worker: u32) -> TestResult {
        let mut result = TestResult::new(id, outcome, Phase::Call);
        result.duration = duration;
        result.worker = worker;
        result
    }

    fn failure() -> TestResult {
        let mut failed = result("test_a.py::test_bad", Outcome::Failed, 0.25, 1);
        failed.message = Some("AssertionError: assert 1 == 2\nmore detail".into());
        failed.traceback = Some(
            "Traceback (most recent call last):\n  File \"test_a.py\", line 4, in test_bad\nAssertionError: assert 1 == 2\n".into(),
        );
        failed.stdout = Some("printed by the test\n".into());
        failed.stderr = Some("warned by the test\n".into());
        failed
    }

    /// What the console prints for a run of `results` on two workers.
    fn render(options: ConsoleOptions, results: &[TestResult]) -> String {
        let mut console = ConsoleReporter::new(Vec::new(), options);
        console.run_started(results.len(), 2);
        for result in results {
            console.test_finished(result);
        }
        console.finish(&RunSummary {
            section: None,
            results,
            elapsed: Duration::from_millis(1500),
            not_run: 0,
            interrupted: false,
            stopped: None,
            flaky_fails: false,
        });
        String::from_utf8(console.into_inner()).unwrap()
    }

    fn three_results() -> Vec<TestResult> {
        let mut skipped = result("test_a.py::test_later", Outcome::Skipped, 0.0, 0);
        skipped.message = Some("not on CI".into());
        vec![
            result("test_a.py::test_ok", Outcome::Passed, 0.0123, 2),
            failure(),
            skipped,
        ]
    }

    #[test]
    fn a_run_prints_a_header_progress_and_the_summary_line_last() {
        let out = render(ConsoleOptions::default(), &three_results());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "running 3 tests on 2 workers");
        assert_eq!(lines[1], ".Fs", "one character per test off a terminal");
        assert_eq!(
            lines.last().copied(),
            Some("1 passed, 1 failed, 1 skipped in 1.50s")
        );
        assert!(!out.contains('\x1b'), "no colour unless asked: {out:?}");
    }

    #[test]
    fn verbose_lists_every_test_with_outcome_duration_and_worker() {
        let options = ConsoleOptions {
            verbose: 1,
            ..ConsoleOptions::default()
        };
        let out = render(options, &three_results());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "PASSED   test_a.py::test_ok (0.012s, w2)");
        assert_eq!(lines[2], "FAILED   test_a.py::test_bad (0.250s, w1)");
        // Never on a worker (a static skip): no worker named.
        assert_eq!(lines[3], "SKIPPED  test_a.py::test_later (0.000s)");
        assert_eq!(lines[4], "         skipped: not on CI");
    }

    #[test]
    fn quiet_shows_only_failures_and_the_summary() {
        let options = ConsoleOptions {
            quiet: true,
            ..ConsoleOptions::default()
        };
        let out = render(options, &three_results());
        assert!(!out.contains("running 3 tests"), "{out}");
        assert!(!out.contains(".Fs"), "{out}");
        assert!(out.starts_with(&rule("FAILURES", '=')), "{out}");
        assert!(out.contains("AssertionError: assert 1 == 2"), "{out}");
        assert!(
            out.ends_with("1 passed, 1 failed, 1 skipped in 1.50s\n"),
            "{out}"
        );
    }

    #[test]
    fn a_failure_shows_its_traceback_captured_output_and_a_short_summary() {
        let out = render(ConsoleOptions::default(), &[failure()]);
        let section = out
            .split_once(&rule("test_a.py::test_bad", '_'))
            .map(|(_, rest)| rest)
            .expect("a section titled with the failing test's id");
        let traceback = section.find("Traceback (most recent call last):").unwrap();
        let stdout = section.find(&rule("Captured stdout", '-')).unwrap();
        let printed = section.find("printed by the test").unwrap();
        let stderr = section.find(&rule("Captured stderr", '-')).unwrap();
        let warned = section.find("warned by the test").unwrap();
        assert!(traceback < stdout && stdout < printed && printed < stderr && stderr < warned);
        let summary = section.find(&rule("short test summary info", '=')).unwrap();
        assert!(warned < summary);
        // One line per failure, with the first line of its message.
        assert!(section.contains("\nFAILED test_a.py::test_bad - AssertionError: assert 1 == 2\n"));
    }

    #[test]
    fn errors_have_their_own_section_before_the_failures_as_in_pytest() {
        let mut error = result("test_a.py::test_setup", Outcome::Error, 0.0, 1);
        error.phase = Phase::Setup;
        error.message = Some("ValueError: no database".into());
        let out = render(ConsoleOptions::default(), &[failure(), error]);
        let errors = out.find(&rule("ERRORS", '=')).expect("an ERRORS section");
        let failures = out
            .find(&rule("FAILURES", '='))
            .expect("a FAILURES section");
        assert!(errors < failures, "{out}");
        let in_errors = &out[errors..failures];
        assert!(in_errors.contains("test_a.py::test_setup") && !in_errors.contains("test_bad"));
        let summary = out.find(&rule("short test summary info", '=')).unwrap();
        let failed = out[summary..].find("FAILED test_a.py::test_bad").unwrap();
        let errored = out[summary..].find("ERROR test_a.py::test_setup").unwrap();
        assert!(
            failed < errored,
            "failures first in the short summary: {out}"
        );
    }

    #[test]
    fn a_failure_outside_the_call_names_its_phase_and_a_timeout_its_limit() {
        let mut setup = result("test_a.py::test_setup", Outcome::Error, 0.0, 1);
        setup.phase = Phase::Setup;
        setup.message = Some("RuntimeError: no database".into());
        let mut timeout = result("test_a.py::test_hangs", Outcome::Error, 2.0, 2);
        timeout.error_kind = Some(ErrorKind::Timeout);
        timeout.message = Some("timed out after 2 s".into());
        timeout.traceback = Some("Thread 0x1 (most recent call first):\n  File \"t.py\"".into());
        let out = render(ConsoleOptions::default(), &[setup, timeout]);
        assert!(
            out.contains(&rule("test_a.py::test_setup [setup]", '_')),
            "{out}"
        );
        assert!(out.contains("\nRuntimeError: no database\n"), "{out}");
        // The thread dump, then why the test was stopped.
        let dump = out.find("Thread 0x1").unwrap();
        let why = out.find("\ntimed out after 2 s\n").unwrap();
        assert!(dump < why, "{out}");
        assert!(out.contains("ERROR test_a.py::test_hangs - timed out after 2 s"));
        assert!(
            out.ends_with("0 passed, 0 failed, 2 errors in 1.50s\n"),
            "{out}"
        );
    }

    #[test]
    fn durations_lists_the_slowest_tests_first() {
        let options = ConsoleOptions {
            durations: Some(2),
            ..ConsoleOptions::default()
        };
        let results = [
            result("test_a.py::test_quick", Outcome::Passed, 0.1, 1),
            result("test_a.py::test_slowest", Outcome::Passed, 2.5, 1),
            result("test_a.py::test_slow", Outcome::Passed, 1.0, 2),
        ];
        let out = render(options, &results);
        let section = out
            .split_once(&rule("slowest 2 durations", '='))
            .map(|(_, rest)| rest)
            .expect("a durations section");
        let lines: Vec<&str> = section.trim_start_matches('\n').lines().collect();
        assert_eq!(
            lines,
            [
                "    2.50s  test_a.py::test_slowest",
                "    1.00s  test_a.py::test_slow",
                "3 passed, 0 failed in 1.50s",
            ]
        );
    }

    #[test]
    fn an_interrupted_run_says_so_before_the_summary() {
        let mut console = ConsoleReporter::new(Vec::new(), ConsoleOptions::default());
        let results = [result("test_a.py::test_ok", Outcome::Passed, 0.1, 1)];
        console.run_started(3, 1);
        console.test_finished(&results[0]);
        console.finish(&RunSummary {
            section: None,
            results: &results,
            elapsed: Duration::from_secs(1),
            not_run: 2,
            interrupted: true,
            stopped: Some("interrupted"),
            flaky_fails: false,
        });
        let out = String::from_utf8(console.into_inner()).unwrap();
        assert!(
            out.ends_with(
                "interrupted: results so far are shown\n1 passed, 0 failed, 2 not run in 1.00s\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn colour_marks_a_failed_run_red_and_a_passed_one_green() {
        let color = ConsoleOptions {
            color: true,
            ..ConsoleOptions::default()
        };
        let passed = render(
            color.clone(),
            &[result("test_a.py::test_ok", Outcome::Passed, 0.1, 1)],
        );
        assert!(passed.ends_with("\x1b[32m1 passed, 0 failed in 1.50s\x1b[0m\n"));
        let failed = render(color, &[failure()]);
        assert!(failed.ends_with("\x1b[31m0 passed, 1 failed in 1.50s\x1b[0m\n"));
    }
}
