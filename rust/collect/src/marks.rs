//! The literal decorator data collection puts on items: tags (mark names),
//! skip reasons and timeouts from dbtest's `@test`, `unittest.skip` and
//! `pytest.mark.*`.

use crate::resolve::{is_dbtest_test, Resolver};
use crate::summary::{Decorator, Literal};

/// Literal decorator data that ends up on items.
#[derive(Debug, Clone, Default)]
pub(crate) struct Marks {
    pub tags: Vec<String>,
    pub skip: Option<String>,
    pub timeout: Option<f64>,
    /// Decorated with dbtest's `@test` (makes a suite method a test whatever its name).
    pub dbtest_test: bool,
}

impl Marks {
    /// Adds an enclosing scope's marks: its tags after ours, its skip and
    /// timeout unless we have our own.
    pub(crate) fn merge(&mut self, other: &Marks) {
        for tag in &other.tags {
            if !self.tags.contains(tag) {
                self.tags.push(tag.clone());
            }
        }
        if self.skip.is_none() {
            self.skip.clone_from(&other.skip);
        }
        if self.timeout.is_none() {
            self.timeout = other.timeout;
        }
    }
}

pub(crate) fn marks_of(decorators: &[Decorator], resolver: &Resolver) -> Marks {
    let mut marks = Marks::default();
    for deco in decorators {
        let path = resolver.resolve(&deco.path);
        if is_dbtest_test(&path) {
            marks.dbtest_test = true;
            if let Some(tags) = deco.kwarg("tags").and_then(Literal::as_sequence) {
                marks
                    .tags
                    .extend(tags.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
            if let Some(t) = deco.kwarg("timeout").and_then(Literal::as_f64) {
                marks.timeout = Some(t);
            }
            match deco.kwarg("skip") {
                Some(Literal::Str(reason)) => marks.skip = Some(reason.clone()),
                Some(Literal::Bool(true)) => marks.skip = Some("skipped".into()),
                _ => {}
            }
        } else if path == "unittest.skip" && deco.called {
            if let Some(reason) = deco.args.first().and_then(Literal::as_str) {
                marks.skip = Some(reason.to_string());
            }
        } else if let Some(mark) = path.strip_prefix("pytest.mark.") {
            match mark {
                "skip" => {
                    let reason = deco
                        .kwarg("reason")
                        .or_else(|| deco.args.first())
                        .and_then(Literal::as_str)
                        .unwrap_or("unconditional skip");
                    marks.skip = Some(reason.to_string());
                }
                "timeout" => {
                    if let Some(t) = deco
                        .args
                        .first()
                        .or_else(|| deco.kwarg("timeout"))
                        .and_then(Literal::as_f64)
                    {
                        marks.timeout = Some(t);
                    }
                }
                _ => {}
            }
            let name = mark.split('.').next().unwrap_or(mark);
            if !marks.tags.iter().any(|t| t == name) {
                marks.tags.push(name.to_string());
            }
        }
    }
    marks
}
