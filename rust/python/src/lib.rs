//! `dbtest._core`: the native module the Python shim calls into. The whole run
//! happens in [`run`] with the GIL released; Ctrl-C is noticed by polling
//! Python's signal handlers from the dispatcher loop.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Runs dbtest with the shim's JSON arguments; returns the exit code.
#[pyfunction]
fn run(py: Python<'_>, args_json: &str) -> i32 {
    let args = args_json.to_owned();
    py.detach(move || {
        let interrupted = || Python::attach(|py| py.check_signals().is_err());
        dbtest_coordinator::run_json(&args, &interrupted)
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

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(collect, m)?)?;
    m.add_function(wrap_pyfunction!(select, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
