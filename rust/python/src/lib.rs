//! `dbtest._core`: the native module the Python shim calls into. The whole run
//! happens in [`run`] with the GIL released; Ctrl-C is noticed by polling
//! Python's signal handlers from the dispatcher loop.

use dbtest_coordinator::ForkServer;
use pyo3::exceptions::PyValueError;
use std::os::fd::{FromRawFd, OwnedFd};

// Parsing thousands of test files is allocation-heavy; mimalloc roughly halves
// static collection time against the system allocator. Only Rust's own
// allocations use it: Python objects are made by Python's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use pyo3::prelude::*;

mod bench;
mod rewrite;

/// Runs dbtest with the shim's JSON arguments; returns the exit code.
/// `fork_server`: `(pid, socket fd)` of the workers' fork server the command
/// started (see `dbtest/launch.py`); the coordinator takes both over.
#[pyfunction]
#[pyo3(signature = (args_json, fork_server=None))]
fn run(py: Python<'_>, args_json: &str, fork_server: Option<(u32, i32)>) -> i32 {
    let args = args_json.to_owned();
    let fork_server = fork_server.and_then(|(pid, fd)| {
        // SAFETY: the shim hands over a socket it detached and never touches again.
        let control = unsafe { OwnedFd::from_raw_fd(fd) };
        ForkServer::adopt(pid, control).ok()
    });
    py.detach(move || {
        let interrupted = || Python::attach(|py| py.check_signals().is_err());
        dbtest_coordinator::run_json(&args, fork_server, &interrupted)
    })
}

/// Collects and selects without running: the JSON document `dbtest list
/// --format json` prints. Raises `ValueError` on bad input.
#[pyfunction]
fn collect(py: Python<'_>, args_json: &str) -> PyResult<String> {
    let args = args_json.to_owned();
    py.detach(move || dbtest_coordinator::list_document(&args))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Indices of the tests a `-k` expression and a `-m` expression select among
/// `ids` (with their `tags`). Raises `ValueError` for a malformed expression.
#[pyfunction]
#[pyo3(signature = (ids, tags, keyword=None, markers=None))]
fn select(
    ids: Vec<String>,
    tags: Vec<Vec<String>>,
    keyword: Option<&str>,
    markers: Option<&str>,
) -> PyResult<Vec<usize>> {
    if ids.len() != tags.len() {
        return Err(PyValueError::new_err(
            "ids and tags must have the same length",
        ));
    }
    let parse = |text: Option<&str>| {
        text.map(dbtest_select::Expression::parse)
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))
    };
    let keyword = parse(keyword)?;
    let markers = parse(markers)?;
    Ok(ids
        .iter()
        .zip(&tags)
        .enumerate()
        .filter(|(_, (id, tags))| {
            keyword.as_ref().is_none_or(|k| k.matches_id(id))
                && markers.as_ref().is_none_or(|m| m.matches_tags(tags))
        })
        .map(|(i, _)| i)
        .collect())
}

/// The indices (ascending) of the units that shard `spec` (`"K/N"`) holds
/// when units with these `keys` and recorded `durations` (seconds or `None`)
/// are partitioned in `mode` (`duration`, `hash`, `slice`). Exposed so that
/// property tests can check the partition; raises `ValueError` on bad input.
#[pyfunction]
fn shard(
    keys: Vec<String>,
    durations: Vec<Option<f64>>,
    spec: &str,
    mode: &str,
) -> PyResult<Vec<usize>> {
    if keys.len() != durations.len() {
        return Err(PyValueError::new_err(
            "keys and durations must have the same length",
        ));
    }
    let value_error = |e: dbtest_select::ShardError| PyValueError::new_err(e.to_string());
    let spec: dbtest_select::ShardSpec = spec.parse().map_err(value_error)?;
    let mode: dbtest_select::ShardMode = mode.parse().map_err(value_error)?;
    let units: Vec<dbtest_select::ShardUnit> = keys
        .into_iter()
        .zip(durations)
        .map(|(key, duration)| dbtest_select::ShardUnit { key, duration })
        .collect();
    Ok(dbtest_select::partition(&units, spec, mode))
}

fn parse_reports(json_documents: &[String]) -> PyResult<Vec<dbtest_report::RunReport>> {
    json_documents
        .iter()
        .enumerate()
        .map(|(i, text)| {
            dbtest_report::RunReport::from_json(text)
                .map_err(|e| PyValueError::new_err(format!("report {}: {e}", i + 1)))
        })
        .collect()
}

/// Merges JSON run reports (one per shard) into one JSON report, as `dbtest
/// merge` does. Raises `ValueError` for a document that is not a report, a
/// test in two reports, a missing shard or shards of different totals.
#[pyfunction]
fn merge_reports(py: Python<'_>, json_documents: Vec<String>) -> PyResult<String> {
    py.detach(move || {
        let reports = parse_reports(&json_documents)?;
        dbtest_report::merge(reports)
            .map(|merged| merged.to_json())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    })
}

/// Renders a JSON run report as `json`, `junit` (XML) or `markdown`. Raises
/// `ValueError` for a document that is not a report or an unknown format.
#[pyfunction]
fn render_report(json_document: &str, format: &str) -> PyResult<String> {
    let report = parse_reports(&[json_document.to_owned()])?.remove(0);
    match format {
        "json" => Ok(report.to_json()),
        "junit" => dbtest_report::junit_xml(
            &report,
            &dbtest_report::JunitOptions {
                hostname: dbtest_report::local_hostname(),
            },
        )
        .map_err(|e| PyValueError::new_err(e.to_string())),
        "markdown" => Ok(dbtest_report::markdown(&report)),
        other => Err(PyValueError::new_err(format!(
            "unknown report format {other:?}: expected json, junit or markdown"
        ))),
    }
}

/// Merges durations files (JSON text, later ones winning for a test that
/// several hold) into one durations document. Raises `ValueError` for a
/// document that is not a durations file of this version.
#[pyfunction]
fn merge_durations(json_documents: Vec<String>) -> PyResult<String> {
    let files = json_documents
        .iter()
        .enumerate()
        .map(|(i, text)| {
            dbtest_durations::Durations::from_slice(text.as_bytes())
                .map_err(|e| PyValueError::new_err(format!("durations file {}: {e}", i + 1)))
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(dbtest_durations::Durations::merge(files).to_json())
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(rewrite::rewrite_asserts, m)?)?;
    m.add_function(wrap_pyfunction!(rewrite::restore_code, m)?)?;
    m.add_class::<rewrite::RewriteMap>()?;
    m.add_function(wrap_pyfunction!(collect, m)?)?;
    m.add_function(wrap_pyfunction!(select, m)?)?;
    m.add_function(wrap_pyfunction!(shard, m)?)?;
    m.add_function(wrap_pyfunction!(merge_reports, m)?)?;
    m.add_function(wrap_pyfunction!(render_report, m)?)?;
    m.add_function(wrap_pyfunction!(merge_durations, m)?)?;
    bench::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The exit codes, defined once (`dbtest_coordinator::exit`); the shim
    // reads them from here.
    for (name, code) in dbtest_coordinator::exit::ALL {
        m.add(format!("EXIT_{name}"), code)?;
    }
    Ok(())
}
