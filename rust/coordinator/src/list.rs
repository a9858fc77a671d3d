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
        _ => selection
            .items
            .iter()
            .try_for_each(|&i| writeln!(out, "{}", collected.items[i].id)),
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
    Ok(if !collected.errors.is_empty() {
        exit::TESTS_FAILED
    } else if selection.items.is_empty()
        && (selection.shard().is_none() || selection.whole.is_empty())
    {
        // An empty shard of a non-empty selection is normal in a CI matrix.
        exit::NO_TESTS
    } else {
        exit::OK
    })
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
            serde_json::json!({
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
            })
        })
        .collect();
    let errors: Vec<serde_json::Value> = collected
        .errors
        .iter()
        .map(|e| serde_json::json!({"file": e.rel, "line": e.line, "column": e.column, "message": e.message}))
        .collect();
    // Ids and files are relative to the rootdir (found as pytest finds it).
    serde_json::json!({
        "version": 1,
        "rootdir": settings.rootdir.to_string_lossy(),
        "tests": tests,
        "errors": errors,
    })
}
