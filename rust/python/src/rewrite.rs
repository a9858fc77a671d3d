//! `rewrite_asserts` and `restore_code`: the worker's way into `dbtest-rewrite`
//! (see `dbtest/worker/rewrite.py`, which falls back to its Python rewriter
//! whenever these give up).

use dbtest_rewrite::{linetable, PositionMap, Rewrite};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};

/// A rewritten module's map back to its original positions.
#[pyclass(frozen, module = "dbtest._core")]
pub struct RewriteMap {
    map: PositionMap,
}

/// The asserts of a test module's `source` rewritten: `(rewritten source,
/// map)`; `False` when there is nothing to rewrite (compile `source` as it
/// is); `None` when this rewriter does not handle the module exactly (use the
/// Python rewriter).
#[pyfunction]
pub fn rewrite_asserts(py: Python<'_>, source: &[u8]) -> PyResult<Py<PyAny>> {
    let Ok(text) = std::str::from_utf8(source) else {
        return Ok(py.None());
    };
    // A BOM or a coding declaration other than UTF-8's: left to Python.
    if text.starts_with('\u{feff}') || declares_other_encoding(text) {
        return Ok(py.None());
    }
    let result = py.detach(|| dbtest_rewrite::rewrite(text));
    Ok(match result {
        Err(_) => py.None(),
        Ok(Rewrite::Plain) => false.into_pyobject(py)?.to_owned().into_any().unbind(),
        Ok(Rewrite::Rewritten { source, map }) => {
            let map = Bound::new(py, RewriteMap { map })?;
            PyTuple::new(py, [PyString::new(py, &source).into_any(), map.into_any()])?
                .into_any()
                .unbind()
        }
    })
}

/// A coding declaration (PEP 263) in the first two lines naming anything but UTF-8.
fn declares_other_encoding(text: &str) -> bool {
    for line in text.lines().take(2) {
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            continue;
        }
        if let Some(index) = trimmed.find("coding") {
            let rest = &trimmed[index + 6..];
            if let Some(rest) = rest.strip_prefix([':', '=']) {
                let name: String = rest
                    .trim_start()
                    .chars()
                    .take_while(|c| {
                        c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.'
                    })
                    .collect::<String>()
                    .to_ascii_lowercase()
                    .replace('_', "-");
                return !(name == "utf-8" || name == "utf8" || name.starts_with("utf-8-"));
            }
        }
    }
    false
}

/// `code`, compiled from a rewritten source, with the positions and names the
/// Python rewriter's code has (its nested code objects too).
#[pyfunction]
pub fn restore_code<'py>(
    code: &Bound<'py, PyAny>,
    map: &Bound<'py, RewriteMap>,
) -> PyResult<Bound<'py, PyAny>> {
    restore(code, &code.get_type(), &map.get().map, true)
}

fn names<'py>(tuple: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let py = tuple.py();
    let tuple = tuple.cast::<PyTuple>()?;
    let mut changed = false;
    let mut items = Vec::with_capacity(tuple.len());
    for item in tuple.iter() {
        let renamed = item
            .cast::<PyString>()
            .ok()
            .and_then(|name| name.to_str().ok().and_then(linetable::restored_name));
        match renamed {
            Some(name) => {
                changed = true;
                items.push(PyString::intern(py, &name).into_any());
            }
            None => items.push(item),
        }
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(PyTuple::new(py, items)?))
}

fn restore<'py>(
    code: &Bound<'py, PyAny>,
    code_type: &Bound<'py, PyType>,
    map: &PositionMap,
    module: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = code.py();
    let kwargs = PyDict::new(py);
    let consts = code.getattr("co_consts")?;
    let consts = consts.cast::<PyTuple>()?;
    let mut changed = false;
    let mut items = Vec::with_capacity(consts.len());
    for item in consts.iter() {
        if item.is_instance(code_type)? {
            changed = true;
            items.push(restore(&item, code_type, map, false)?);
        } else {
            items.push(item);
        }
    }
    if changed {
        kwargs.set_item("co_consts", PyTuple::new(py, items)?)?;
    }
    let table = code.getattr("co_linetable")?;
    let table = table.cast::<PyBytes>()?;
    let first_line: i32 = code.getattr("co_firstlineno")?.extract()?;
    let bytecode = code.getattr("co_code")?;
    let bytecode = bytecode.cast::<PyBytes>()?;
    let (table, first_line) = map
        .restore(table.as_bytes(), first_line, module, bytecode.as_bytes())
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    kwargs.set_item("co_linetable", PyBytes::new(py, &table))?;
    kwargs.set_item("co_firstlineno", first_line)?;
    for field in ["co_names", "co_varnames"] {
        if let Some(renamed) = names(&code.getattr(field)?)? {
            kwargs.set_item(field, renamed)?;
        }
    }
    code.call_method("replace", (), Some(&kwargs))
}
