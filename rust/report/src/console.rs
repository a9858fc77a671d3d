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
        let failing: Vec<&TestResult> = summary
            .results
            .iter()
            .filter(|r| r.outcome.fails_run())
            .collect();

        if !failing.is_empty() {
            let _ = writeln!(self.out, "{}", rule("FAILURES", '='));
            for result in &failing {
                self.write_failure(result);
            }
        }
        if let Some(n) = self.options.durations.filter(|n| *n > 0) {
            let mut by_time: Vec<&TestResult> = summary.results.iter().collect();
            by_time.sort_by(|a, b| b.duration.total_cmp(&a.duration));
            let _ = writeln!(self.out, "{}", rule(&format!("slowest {n} durations"), '='));
            for result in by_time.into_iter().take(n) {
                let _ = writeln!(self.out, "{:>8.2}s  {}", result.duration, result.id);
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
                let line = if message.is_empty() {
                    format!("{label} {}", result.id)
                } else {
                    format!(
                        "{label} {} - {}",
                        result.id,
                        message.lines().next().unwrap_or("")
                    )
                };
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
                Some(dbtest_model::ErrorKind::Timeout | dbtest_model::ErrorKind::Crash)
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
