//! Benchmark statistics for Python (`dbtest.bench`'s script entry points and the
//! tests that check them against numpy/scipy): the same `dbtest_benchstats` code
//! the coordinator uses, with JSON documents across the boundary.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The statistics of `samples` (seconds per operation) as a JSON object
/// (`dbtest_benchstats::Summary`). Raises `ValueError` for no samples or a
/// sample that is not a finite time.
#[pyfunction]
fn bench_summary(samples: Vec<f64>) -> PyResult<String> {
    let summary = dbtest_benchstats::Summary::of(&samples)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_json(&summary)
}

/// `candidate` against `reference` as a JSON object: the ratio with its
/// interval, Mann-Whitney's U and p-value, and the verdict for a change
/// beyond `min_change` (relative).
#[pyfunction]
#[pyo3(signature = (reference, candidate, min_change=0.0))]
fn bench_compare(reference: Vec<f64>, candidate: Vec<f64>, min_change: f64) -> PyResult<String> {
    let comparison = dbtest_benchstats::compare(&reference, &candidate)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_json(&serde_json::json!({
        "comparison": comparison,
        "verdict": comparison.verdict(min_change),
    }))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bench_summary, m)?)?;
    m.add_function(wrap_pyfunction!(bench_compare, m)?)?;
    Ok(())
}
