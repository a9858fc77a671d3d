//! `dbtest list`: the selected ids, one per line or as a JSON document.

use crate::error::CoordinatorError;
use crate::exit;
use crate::pipeline::{Collected, Selection};
use dbtest_config::{Format, Settings};
use std::io::Write;

pub(crate) fn list(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
) -> Result<i32, CoordinatorError> {
    if matches!(settings.format, Format::Markdown | Format::Junit) {
        return Err(CoordinatorError::Usage(
            "dbtest list prints --format console or json".into(),
        ));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match settings.format {
        Format::Json => writeln!(out, "{}", list_json(settings, collected, selection)),
        _ => selection.items.iter().try_for_each(|&i| {
            let item = &collected.items[i];
            match selection
                .changed
                .as_ref()
                .filter(|_| settings.changed.explain)
            {
                Some(traced) => writeln!(out, "{}  ({})", item.id, traced.because(item.file)),
                None => writeln!(out, "{}", item.id),
            }
        }),
    }
    .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        // `dbtest list | head`: the reader has what it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(exit::OK),
        Err(e) => {
            return Err(CoordinatorError::Internal(format!(
                "cannot write to stdout: {e}"
            )))
        }
    }
    drop(out);
    if settings.format == Format::Console {
        for err in &collected.errors {
            eprintln!("ERROR {err}");
        }
        let dynamic = files_with_unlisted_tests(collected, selection);
        if dynamic > 0 {
            let files = if dynamic == 1 { "file" } else { "files" };
            eprintln!(
                "note: {dynamic} {files} may define tests this list cannot show (made at import: \
                 loops, type(), load_tests...); a run imports them and runs those too"
            );
        }
    }
    if let Some(traced) = &selection.changed {
        if settings.format == Format::Console && !settings.quiet {
            eprintln!("{}", traced.summary(selected_files(collected, selection)));
        }
    }
    Ok(if !collected.errors.is_empty() {
        exit::TESTS_FAILED
    } else if selection.items.is_empty() && nothing_affected(selection) {
        // `--changed` after changes no selected test depends on: nothing to
        // do, which a pre-commit hook must not take for a failure.
        exit::OK
    } else if selection.items.is_empty()
        && (selection.shard().is_none() || selection.whole.is_empty())
    {
        // An empty shard of a non-empty selection is normal in a CI matrix.
        exit::NO_TESTS
    } else {
        exit::OK
    })
}

/// Under `--changed`: the other selection options select tests, but the
/// changes reach none of them. That is a success with nothing to do (exit 0):
/// a pre-commit hook must not block a commit that touches no tested code.
/// Options that select no test at all (`-k` with a typo, an empty project)
/// are exit 5 as without `--changed`.
pub(crate) fn nothing_affected(selection: &Selection) -> bool {
    selection.changed.as_ref().is_some_and(|t| t.reaches_none)
}

/// Test files the selection holds tests of.
pub(crate) fn selected_files(collected: &Collected, selection: &Selection) -> usize {
    let mut files: Vec<usize> = selection
        .items
        .iter()
        .map(|&i| collected.items[i].file)
        .collect();
    files.dedup();
    files.len()
}

/// Files among the selected ones that may define tests only an import reveals.
fn files_with_unlisted_tests(collected: &Collected, selection: &Selection) -> usize {
    if selection.exact {
        return 0; // a node id named the test: nothing more is looked for
    }
    let mut files: Vec<usize> = selection
        .items
        .iter()
        .map(|&i| collected.items[i].file)
        .chain(selection.probes.iter().copied())
        .filter(|&f| collected.dynamic.get(f).copied().unwrap_or(false))
        .collect();
    files.sort_unstable();
    files.dedup();
    files.len()
}

pub(crate) fn list_json(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = selection
        .items
        .iter()
        .map(|&i| {
            let item = &collected.items[i];
            let mut test = serde_json::json!({
                "id": item.id,
                "file": collected.files[item.file].rel,
                "name": item.name(),
                "line": item.line,
                "style": item.style.as_str(),
                "kind": item.kind.as_str(),
                "async": item.is_async,
                "tags": item.tags(),
                "skip": item.skip(),
                "timeout": item.timeout(),
            });
            if let Some(traced) = &selection.changed {
                test["because"] = traced.because(item.file).into();
            }
            test
        })
        .collect();
    let errors: Vec<serde_json::Value> = collected
        .errors
        .iter()
        .map(|e| serde_json::json!({"file": e.rel, "line": e.line, "column": e.column, "message": e.message}))
        .collect();
    // Ids and files are relative to the rootdir (found as pytest finds it).
    let mut document = serde_json::json!({
        "version": 1,
        "rootdir": settings.rootdir.to_string_lossy(),
        "tests": tests,
        "errors": errors,
    });
    if let Some(traced) = &selection.changed {
        document["changed"] = serde_json::json!({
            "revision": traced.revision,
            "everything": traced.everything,
        });
    }
    document
}
