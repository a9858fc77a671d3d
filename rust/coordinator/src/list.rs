//! `dbtest list`: the selected ids, one per line or as a JSON document. Files
//! whose tests only an import shows are imported by the worker pool (see
//! `list_import`), unless `--static`.

use crate::error::CoordinatorError;
use crate::exit;
use crate::list_import::{files_to_import, list_with_imports, Listed, Listing};
use crate::pipeline::{Collected, Selection};
use dbtest_config::{Format, Settings};
use std::io::Write;

pub(crate) fn list(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    interrupted: &dyn Fn() -> bool,
) -> Result<i32, CoordinatorError> {
    if matches!(settings.format, Format::Markdown | Format::Junit) {
        return Err(CoordinatorError::Usage(
            "dbtest list prints --format console or json".into(),
        ));
    }
    let to_import = files_to_import(collected, selection);
    let listing = if settings.static_list || to_import.is_empty() {
        Listing::static_only(selection)
    } else {
        list_with_imports(settings, collected, selection, &to_import, interrupted)?
    };
    if listing.interrupted {
        eprintln!("dbtest: interrupted while importing test files");
        return Ok(exit::INTERRUPTED);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match settings.format {
        Format::Json => writeln!(
            out,
            "{}",
            list_json(settings, collected, selection, &listing)
        ),
        _ => listing.tests.iter().try_for_each(|listed| {
            let (id, file) = listed_id(collected, listed);
            match selection
                .changed
                .as_ref()
                .filter(|_| settings.changed.explain)
            {
                Some(traced) => writeln!(out, "{id}  ({})", traced.because(file)),
                None => writeln!(out, "{id}"),
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
        for failure in &listing.failures {
            eprintln!("ERROR collecting {}: {}", failure.rel, failure.message);
            if let Some(traceback) = failure.traceback.as_deref().filter(|t| !t.is_empty()) {
                eprintln!("{}", traceback.trim_end());
            }
        }
        if settings.static_list && !to_import.is_empty() {
            let dynamic = to_import.len();
            let files = if dynamic == 1 { "file" } else { "files" };
            eprintln!(
                "note: {dynamic} {files} may define tests this list cannot show (made at import: \
                 loops, type(), load_tests...); without --static they are imported and listed"
            );
        }
    }
    if let Some(traced) = &selection.changed {
        if settings.format == Format::Console && !settings.quiet {
            eprintln!("{}", traced.summary(selected_files(collected, selection)));
        }
    }
    Ok(if !listing.failures.is_empty() {
        // pytest: "Interrupted: N errors during collection".
        exit::INTERRUPTED
    } else if !collected.errors.is_empty() {
        exit::TESTS_FAILED
    } else if listing.tests.is_empty() && nothing_affected(selection) {
        // `--changed` after changes no selected test depends on: nothing to
        // do, which a pre-commit hook must not take for a failure.
        exit::OK
    } else if listing.tests.is_empty()
        && (selection.shard().is_none() || selection.whole.is_empty())
    {
        // An empty shard of a non-empty selection is normal in a CI matrix.
        exit::NO_TESTS
    } else {
        exit::OK
    })
}

/// A listed test's id and the index of its file.
fn listed_id<'a>(
    collected: &'a Collected,
    listed: &'a Listed,
) -> (std::borrow::Cow<'a, str>, usize) {
    match listed {
        Listed::Static(i) => {
            let item = &collected.items[*i];
            (std::borrow::Cow::Borrowed(&*item.id), item.file)
        }
        Listed::Imported { file, name, .. } => (
            std::borrow::Cow::Owned(format!("{}::{name}", collected.files[*file].rel)),
            *file,
        ),
    }
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

pub(crate) fn list_json(
    settings: &Settings,
    collected: &Collected,
    selection: &Selection,
    listing: &Listing,
) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = listing
        .tests
        .iter()
        .map(|listed| {
            let mut test = match listed {
                Listed::Static(i) => {
                    let item = &collected.items[*i];
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
                }
                // Found at import: what the static pass would say of it is unknown.
                Listed::Imported { file, name, tags } => {
                    let rel = &collected.files[*file].rel;
                    let id = format!("{rel}::{name}");
                    serde_json::json!({
                        "id": id,
                        "file": rel,
                        "name": name,
                        "line": null,
                        "style": null,
                        "kind": dbtest_model::Kind::of_test(&id, tags).as_str(),
                        "async": null,
                        "tags": tags,
                        "skip": null,
                        "timeout": null,
                        "found_at_import": true,
                    })
                }
            };
            if let Some(traced) = &selection.changed {
                test["because"] = traced.because(listed_id(collected, listed).1).into();
            }
            test
        })
        .collect();
    let errors: Vec<serde_json::Value> = collected
        .errors
        .iter()
        .map(|e| serde_json::json!({"file": e.rel, "line": e.line, "column": e.column, "message": e.message}))
        .chain(listing.failures.iter().map(|f| {
            serde_json::json!({"file": f.rel, "line": null, "column": null, "message": f.message, "traceback": f.traceback})
        }))
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
