//! `rewrite_asserts` and `restore_code`: the worker's way into `dbtest-rewrite`
//! (see `dbtest/worker/rewrite.py`, which falls back to its Python rewriter
//! whenever these give up).

use dbtest_rewrite::{linetable, placeholder_index, PositionMap, Rewrite, TemplateValue};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};

/// A rewritten module's map back to its original positions, and the
/// templates its placeholders stand for.
#[pyclass(frozen, module = "dbtest._core")]
pub struct RewriteMap {
    map: PositionMap,
    templates: Vec<TemplateValue>,
}

/// The asserts of a test module's `source` rewritten: `(rewritten source,
/// map, literals)`, where `literals` is the source of a tuple of the
/// source's literals the templates use (for the worker to evaluate and hand
/// to `restore_code`) or `None`; `False` when there is nothing to rewrite
/// (compile `source` as it is); `None` when this rewriter does not handle the
/// module exactly (use the Python rewriter).
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
        Ok(Rewrite::Rewritten {
            source,
            map,
            templates,
            constants,
        }) => {
            let map = Bound::new(py, RewriteMap { map, templates })?;
            let literals = if constants.is_empty() {
                py.None().into_bound(py)
            } else {
                PyString::new(py, &format!("({},)", constants.join(", "))).into_any()
            };
            PyTuple::new(
                py,
                [
                    PyString::new(py, &source).into_any(),
                    map.into_any(),
                    literals,
                ],
            )?
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

/// `code`, compiled from a rewritten source, with the positions, names and
/// templates the Python rewriter's code has (its nested code objects too);
/// `literals` are the values of the source's literals (see `rewrite_asserts`).
#[pyfunction]
#[pyo3(signature = (code, map, literals=None))]
pub fn restore_code<'py>(
    code: &Bound<'py, PyAny>,
    map: &Bound<'py, RewriteMap>,
    literals: Option<&Bound<'py, PyTuple>>,
) -> PyResult<Bound<'py, PyAny>> {
    let map = map.get();
    let templates = Templates {
        values: &map.templates,
        literals,
    };
    restore(code, &code.get_type(), &map.map, &templates, true)
}

/// The templates of a module, to build where their placeholders are.
struct Templates<'a, 'py> {
    values: &'a [TemplateValue],
    literals: Option<&'a Bound<'py, PyTuple>>,
}

impl<'py> Templates<'_, 'py> {
    /// The template a constant stands for, if it is a placeholder.
    fn for_placeholder(&self, item: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Ok(text) = item.cast::<PyString>() else {
            return Ok(None);
        };
        let Some(index) = text.to_str().ok().and_then(placeholder_index) else {
            return Ok(None);
        };
        let value = self
            .values
            .get(index)
            .ok_or_else(|| PyValueError::new_err("a placeholder without its template"))?;
        self.build(item.py(), value).map(Some)
    }

    fn build(&self, py: Python<'py>, value: &TemplateValue) -> PyResult<Bound<'py, PyAny>> {
        Ok(match value {
            TemplateValue::Str(text) => PyString::intern(py, text).into_any(),
            TemplateValue::Int(number) => number.into_pyobject(py)?.into_any(),
            TemplateValue::Bool(value) => value.into_pyobject(py)?.to_owned().into_any(),
            TemplateValue::None => py.None().into_bound(py),
            TemplateValue::Tuple(items) => {
                let items = items
                    .iter()
                    .map(|item| self.build(py, item))
                    .collect::<PyResult<Vec<_>>>()?;
                PyTuple::new(py, items)?.into_any()
            }
            TemplateValue::Constant(index) => self
                .literals
                .and_then(|literals| literals.get_item(*index).ok())
                .ok_or_else(|| PyValueError::new_err("a template's literal is missing"))?,
        })
    }
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
    templates: &Templates<'_, 'py>,
    module: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let py = code.py();
    let kwargs = PyDict::new(py);
    let consts = code.getattr("co_consts")?;
    let consts = consts.cast::<PyTuple>()?;
    let mut changed = false;
    let mut built = Vec::new();
    let mut items = Vec::with_capacity(consts.len());
    for item in consts.iter() {
        if item.is_instance(code_type)? {
            changed = true;
            items.push(restore(&item, code_type, map, templates, false)?);
        } else if let Some(template) = templates.for_placeholder(&item)? {
            changed = true;
            built.push(items.len());
            items.push(template);
        } else {
            items.push(item);
        }
    }
    // The compiler keeps one constant for equal tuples: had the templates been
    // written out, a template equal to another constant here would have been
    // that constant. Left to the Python rewriter (equal templates written with
    // different literals: `'a'` and `"a"`).
    for &index in &built {
        for (other, item) in items.iter().enumerate() {
            if other != index && item.is_instance_of::<PyTuple>() && item.eq(&items[index])? {
                return Err(PyValueError::new_err("a template equals another constant"));
            }
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
