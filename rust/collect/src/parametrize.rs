//! Static expansion of `@pytest.mark.parametrize`: the cases of a test and
//! their ids, exactly as pytest (and the worker, at run time) makes them, when
//! every id can be told from the source. When one cannot (values that are not
//! literals, an `ids=` callable, an argument name the function does not take,
//! which a fixture may supply), the test is left to the worker, which expands
//! it at import and reports the cases back.
//!
//! pytest's rules (its `Metafunc.parametrize` and `IdMaker`): each
//! `parametrize` call multiplies the cases so far by its parameter sets (the
//! first call is the outer loop) and appends its id to each case's, joined by
//! `-`. A parameter set's id is its `pytest.param(id=...)`, else its entry in
//! `ids=`, else its values' ids joined by `-`; a value's id is its text when it
//! is a string, bytes, number, bool or None (strings escaped to ASCII, over 100
//! characters replaced as below), else `<argname><index>`. Ids repeated within
//! one call get a counter.

use crate::pyrepr::{ascii_escaped_bytes, ascii_escaped_str, float_str};
use crate::summary::{Decorator, FunctionDef, Literal};
use std::collections::HashMap;

/// pytest settings that change ids (`[pytest]` ini options of the same names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdOptions {
    /// `disable_test_id_escaping_and_forfeit_all_rights_to_community_support`
    /// unset: non-ASCII and non-printable characters are escaped.
    pub escape: bool,
    /// `parametrize_long_str_id_strategy`.
    pub long_strings: LongStrings,
    /// `strict_parametrization_ids`: repeated ids are an error, not numbered.
    pub strict: bool,
    /// `empty_parameter_set_mark`.
    pub empty_set: EmptySet,
}

impl Default for IdOptions {
    fn default() -> Self {
        IdOptions {
            escape: true,
            long_strings: LongStrings::Short,
            strict: false,
            empty_set: EmptySet::Skip,
        }
    }
}

/// What an id becomes for a string or bytes value over 100 characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongStrings {
    /// `<argname><index>` (pytest 9's default).
    Short,
    /// The whole value.
    Legacy,
    /// Its SHA-256, or an error: left to the worker.
    Other,
}

/// What a `parametrize` with no parameter sets makes of its test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptySet {
    Skip,
    Xfail,
    /// `fail_at_collect`: a collection error, left to the worker.
    Fail,
}

/// One case of a parametrized test.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// What goes between the brackets of the id: `1-a`.
    pub id: String,
    /// Marks its parameter sets carry (`pytest.param(..., marks=...)`, and the
    /// skip or xfail pytest puts on an empty parameter set).
    pub marks: Vec<Decorator>,
}

/// What static collection can say of a test's parametrization.
#[derive(Debug, Clone, PartialEq)]
pub enum Expansion {
    /// Not parametrized: one test, no brackets.
    Plain,
    /// These cases, in pytest's order.
    Cases(Vec<Case>),
    /// Only an import can tell.
    AtImport,
}

/// One parameter set of one `parametrize` call.
struct ParameterSet<'a> {
    values: Vec<&'a Literal>,
    id: Option<&'a Literal>,
    marks: Vec<Decorator>,
}

/// Expands the `parametrize` marks of `function`, given in the order pytest
/// applies them (the function's own, closest decorator first, then its
/// class's, then the module's). `resolve` turns a dotted name as written into
/// what it was imported as (`param` → `pytest.param`). `is_method`: the
/// function's first parameter is `self`.
pub fn expand<'a>(
    marks: impl IntoIterator<Item = &'a Decorator>,
    function: &FunctionDef,
    is_method: bool,
    resolve: &dyn Fn(&str) -> String,
    options: &IdOptions,
) -> Expansion {
    let mut cases: Option<Vec<Case>> = None;
    let takes: &[String] = if is_method && !function.params.is_empty() {
        &function.params[1..]
    } else {
        &function.params
    };
    for mark in marks {
        let Some(call) = one_call(mark, takes, resolve, options) else {
            return Expansion::AtImport;
        };
        cases = Some(match cases {
            None => call,
            Some(outer) => outer
                .iter()
                .flat_map(|o| {
                    call.iter().map(move |inner| Case {
                        id: format!("{}-{}", o.id, inner.id),
                        marks: o.marks.iter().chain(&inner.marks).cloned().collect(),
                    })
                })
                .collect(),
        });
    }
    cases.map_or(Expansion::Plain, Expansion::Cases)
}

/// The cases one `parametrize(argnames, argvalues, ids=..., ...)` call makes,
/// or `None` if only an import can tell.
fn one_call(
    mark: &Decorator,
    takes: &[String],
    resolve: &dyn Fn(&str) -> String,
    options: &IdOptions,
) -> Option<Vec<Case>> {
    if !mark.called || mark.unpacks {
        return None;
    }
    let argument =
        |position: usize, name: &str| mark.args.get(position).or_else(|| mark.kwarg(name));
    let (argnames, force_tuple) = argnames(argument(0, "argnames")?)?;
    // A name the function does not take may be a fixture of its closure (or an
    // error): only the worker can tell.
    if argnames.is_empty() || !argnames.iter().all(|a| takes.contains(a) && a != "request") {
        return None;
    }
    let rows = match argument(1, "argvalues")? {
        Literal::List(rows) | Literal::Tuple(rows) => rows,
        _ => return None,
    };
    let ids = match mark.kwarg("ids").or_else(|| mark.args.get(3)) {
        None | Some(Literal::None) => None,
        Some(Literal::List(ids)) | Some(Literal::Tuple(ids)) => Some(ids),
        Some(_) => return None,
    };
    if rows.is_empty() {
        return empty_set(&argnames, options);
    }
    let sets = rows
        .iter()
        .map(|row| parameter_set(row, argnames.len(), force_tuple, resolve))
        .collect::<Option<Vec<_>>>()?;
    if ids.is_some_and(|ids| ids.len() != sets.len()) {
        return None; // pytest's "different number of ids" error
    }
    let mut resolved = Vec::with_capacity(sets.len());
    for (index, set) in sets.iter().enumerate() {
        let explicit = match set.id {
            Some(Literal::None) | None => ids.and_then(|ids| ids.get(index)),
            Some(id @ Literal::Str(_)) => Some(id),
            Some(_) => return None,
        };
        let id = match explicit {
            Some(Literal::None) | None => {
                let parts = set
                    .values
                    .iter()
                    .zip(&argnames)
                    .map(|(value, argname)| value_id(value, argname, index, options))
                    .collect::<Option<Vec<_>>>()?;
                parts.join("-")
            }
            Some(value) => explicit_id(value, options)?,
        };
        resolved.push(id);
    }
    let ids = make_unique(resolved, options)?;
    Some(
        ids.into_iter()
            .zip(sets)
            .map(|(id, set)| Case {
                id,
                marks: set.marks,
            })
            .collect(),
    )
}

/// `"a, b"` → `[a, b]`; a single name (without a trailing comma, which
/// means a tuple as in Python) takes each value whole. A list or tuple of
/// strings is taken as is, with rows always unpacked.
fn argnames(value: &Literal) -> Option<(Vec<String>, bool)> {
    match value {
        Literal::Str(text) => {
            let names: Vec<String> = text
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
            let single = names.len() == 1 && !text.trim_end().ends_with(',');
            Some((names, single))
        }
        Literal::List(items) | Literal::Tuple(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(|names| (names, false)),
        _ => None,
    }
}

fn parameter_set<'a>(
    row: &'a Literal,
    width: usize,
    force_tuple: bool,
    resolve: &dyn Fn(&str) -> String,
) -> Option<ParameterSet<'a>> {
    if let Literal::Call(call) = row {
        if is_param(&resolve(&call.path)) {
            if call.unpacks || call.args.len() != width {
                return None;
            }
            let marks = match call.kwargs.iter().find(|(k, _)| k == "marks") {
                None => Vec::new(),
                Some((_, Literal::List(marks))) | Some((_, Literal::Tuple(marks))) => marks
                    .iter()
                    .map(Decorator::from_literal)
                    .collect::<Option<Vec<_>>>()?,
                Some((_, mark)) => vec![Decorator::from_literal(mark)?],
            };
            let id = call.kwargs.iter().find(|(k, _)| k == "id").map(|(_, v)| v);
            if call.kwargs.iter().any(|(k, _)| k != "marks" && k != "id") {
                return None;
            }
            return Some(ParameterSet {
                values: call.args.iter().collect(),
                id,
                marks,
            });
        }
    }
    let values: Vec<&Literal> = if force_tuple {
        vec![row]
    } else {
        let items = row.as_sequence()?;
        if items.len() != width {
            return None;
        }
        items.iter().collect()
    };
    Some(ParameterSet {
        values,
        id: None,
        marks: Vec::new(),
    })
}

fn is_param(path: &str) -> bool {
    matches!(path, "pytest.param" | "_pytest.mark.param" | "dbtest.param")
}

/// The case pytest makes of an empty parameter list: `[NOTSET]`, skipped (or
/// xfailed) with its reason.
fn empty_set(argnames: &[String], options: &IdOptions) -> Option<Vec<Case>> {
    let reason = Literal::Str(format!(
        "got empty parameter set for ({})",
        argnames.join(", ")
    ));
    let (path, mut kwargs) = match options.empty_set {
        EmptySet::Skip => ("pytest.mark.skip", vec![("reason".to_string(), reason)]),
        EmptySet::Xfail => ("pytest.mark.xfail", vec![("reason".to_string(), reason)]),
        EmptySet::Fail => return None,
    };
    if options.empty_set == EmptySet::Xfail {
        kwargs.push(("run".into(), Literal::Bool(false)));
    }
    Some(vec![Case {
        id: "NOTSET".into(),
        marks: vec![Decorator {
            path: path.into(),
            called: true,
            args: Vec::new(),
            kwargs,
            unpacks: false,
            receiver: None,
        }],
    }])
}

fn escaped_str(text: &str, options: &IdOptions) -> String {
    if options.escape {
        ascii_escaped_str(text)
    } else {
        text.to_string()
    }
}

fn escaped_bytes(bytes: &[u8], options: &IdOptions) -> String {
    if options.escape {
        ascii_escaped_bytes(bytes)
    } else {
        // Without escaping pytest still has to make text of bytes: it decodes them.
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// A number's, bool's or None's `str()`; `None` for anything else.
fn scalar_text(value: &Literal) -> Option<String> {
    match value {
        Literal::Int(i) => Some(i.to_string()),
        Literal::BigInt(text) => Some(text.clone()),
        Literal::Float(f) => Some(float_str(*f)),
        Literal::Bool(true) => Some("True".into()),
        Literal::Bool(false) => Some("False".into()),
        Literal::None => Some("None".into()),
        _ => None,
    }
}

/// The id of one value of an automatically named parameter set.
fn value_id(value: &Literal, argname: &str, index: usize, options: &IdOptions) -> Option<String> {
    let by_name = || format!("{argname}{index}");
    let long = |length: usize| length > 100;
    match value {
        Literal::Str(text) if long(text.chars().count()) => match options.long_strings {
            LongStrings::Short => Some(by_name()),
            LongStrings::Legacy => Some(escaped_str(text, options)),
            LongStrings::Other => None,
        },
        Literal::Str(text) => Some(escaped_str(text, options)),
        Literal::Bytes(bytes) if long(bytes.len()) => match options.long_strings {
            LongStrings::Short => Some(by_name()),
            LongStrings::Legacy => Some(escaped_bytes(bytes, options)),
            LongStrings::Other => None,
        },
        Literal::Bytes(bytes) => Some(escaped_bytes(bytes, options)),
        // Containers have no `__name__`: pytest names them by argument.
        Literal::List(_) | Literal::Tuple(_) | Literal::Set(_) | Literal::Dict(_) => {
            Some(by_name())
        }
        // A name may be a class or function (`__name__`), an enum member...
        Literal::Name(_) | Literal::Call(_) | Literal::Other => None,
        scalar => scalar_text(scalar),
    }
}

/// An id given by `ids=[...]` or `pytest.param(id=...)`.
fn explicit_id(value: &Literal, options: &IdOptions) -> Option<String> {
    match value {
        Literal::Str(text) => Some(escaped_str(text, options)),
        Literal::Bytes(bytes) => Some(escaped_bytes(bytes, options)),
        other => scalar_text(other),
    }
}

/// pytest's `make_unique_parameterset_ids`: repeated ids get a counter (after
/// an `_` when they end in a digit), skipping any id the list holds at that
/// moment (renamed ones included).
fn make_unique(mut ids: Vec<String>, options: &IdOptions) -> Option<Vec<String>> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in &ids {
        *counts.entry(id.clone()).or_default() += 1;
    }
    if counts.values().all(|&n| n == 1) {
        return Some(ids);
    }
    if options.strict {
        return None;
    }
    let repeated: Vec<bool> = ids.iter().map(|id| counts[id] > 1).collect();
    let mut suffixes: HashMap<String, usize> = HashMap::new();
    for (id, repeated) in ids.iter_mut().zip(repeated) {
        if !repeated {
            continue;
        }
        let separator = if id.ends_with(|c: char| c.is_ascii_digit()) {
            "_"
        } else {
            ""
        };
        let next = suffixes.entry(id.clone()).or_default();
        let mut unique = format!("{id}{separator}{next}");
        while counts.get(&unique).is_some_and(|&n| n > 0) {
            *next += 1;
            unique = format!("{id}{separator}{next}");
        }
        *next += 1;
        if let Some(n) = counts.get_mut(id.as_str()) {
            *n -= 1;
        }
        *counts.entry(unique.clone()).or_default() += 1;
        *id = unique;
    }
    Some(ids)
}
