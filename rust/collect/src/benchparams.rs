//! The members a benchmark's literal `params={"size": [10, 1000]}` makes: one
//! per combination of values (the cartesian product, in the dict's order), named
//! `member[size=10]` or, for several parameters, `member[size=10-kind=a]`.
//! `dbtest/bench/api.py` (`param_id`) names them the same way at run time.

use crate::pyrepr::{ascii_escaped_str, float_str};
use crate::summary::Literal;

/// A value's text in a member's id, when it is a literal that has one.
fn value_id(value: &Literal) -> Option<String> {
    Some(match value {
        Literal::Str(s) => ascii_escaped_str(s),
        Literal::Int(i) => i.to_string(),
        Literal::BigInt(s) => s.clone(),
        Literal::Float(f) => float_str(*f),
        Literal::Bool(true) => "True".into(),
        Literal::Bool(false) => "False".into(),
        Literal::None => "None".into(),
        _ => return None,
    })
}

/// The names of `member` under `params`, or `None` when the parameters are not
/// all literal (the member is then one item, expanded at run time).
pub fn member_names(member: &str, params: Option<&Literal>) -> Option<Vec<String>> {
    let Some(params) = params else {
        return Some(vec![member.to_string()]);
    };
    let Literal::Dict(entries) = params else {
        return None;
    };
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for (key, values) in entries {
        let key = key.as_str()?;
        let values = values.as_sequence()?;
        let texts = values
            .iter()
            .map(|v| value_id(v).map(|t| format!("{key}={t}")))
            .collect::<Option<Vec<_>>>()?;
        combos = combos
            .iter()
            .flat_map(|done| {
                texts.iter().map(move |t| {
                    let mut next = done.clone();
                    next.push(t.clone());
                    next
                })
            })
            .collect();
    }
    if entries.is_empty() {
        return Some(vec![member.to_string()]);
    }
    Some(
        combos
            .into_iter()
            .map(|parts| format!("{member}[{}]", parts.join("-")))
            .collect(),
    )
}

/// The group every `@benchmark_decorator` without `group=` joins.
pub const DEFAULT_GROUP: &str = "benchmarks";

/// `@benchmark_decorator(name=..., group=...)`, possibly followed by
/// `.parametrize(name, values)` calls: (group, member names), when
/// `is_decorator` says the innermost call is dbtest's `benchmark_decorator`.
pub fn decorated_members(
    deco: &crate::summary::Decorator,
    function_name: &str,
    is_decorator: impl Fn(&str) -> bool,
) -> Option<(String, Vec<String>)> {
    let mut params: Vec<(Literal, Literal)> = Vec::new();
    let mut current = deco;
    while let (Some(inner), Some(("", "parametrize")) | Some((_, "parametrize"))) =
        (current.receiver.as_deref(), current.path.rsplit_once('.'))
    {
        let entry = match (current.args.first(), current.args.get(1)) {
            (Some(name), Some(values)) => (name.clone(), values.clone()),
            _ => (Literal::Other, Literal::Other),
        };
        params.insert(0, entry);
        current = inner;
    }
    if !current.called || !is_decorator(&current.path) {
        return None;
    }
    let text = |key: &str| {
        current
            .kwarg(key)
            .and_then(Literal::as_str)
            .map(str::to_string)
    };
    let group = text("group").unwrap_or_else(|| DEFAULT_GROUP.to_string());
    let member = text("name")
        .or_else(|| {
            current
                .args
                .first()
                .and_then(Literal::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| function_name.to_string());
    let dict = (!params.is_empty()).then_some(Literal::Dict(params));
    let names = member_names(&member, dict.as_ref()).unwrap_or_else(|| vec![member.clone()]);
    Some((group, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Literal {
        Literal::Str(text.into())
    }

    #[test]
    fn every_combination_in_order() {
        let params = Literal::Dict(vec![
            (
                s("size"),
                Literal::List(vec![Literal::Int(10), Literal::Int(1000)]),
            ),
            (s("kind"), Literal::Tuple(vec![s("a"), Literal::Float(0.5)])),
        ]);
        assert_eq!(
            member_names("m", Some(&params)).unwrap(),
            [
                "m[size=10-kind=a]",
                "m[size=10-kind=0.5]",
                "m[size=1000-kind=a]",
                "m[size=1000-kind=0.5]"
            ]
        );
        assert_eq!(member_names("m", None).unwrap(), ["m"]);
    }

    #[test]
    fn values_that_are_not_literals_leave_it_to_run_time() {
        let params = Literal::Dict(vec![(s("size"), Literal::Name("SIZES".into()))]);
        assert_eq!(member_names("m", Some(&params)), None);
        assert_eq!(member_names("m", Some(&Literal::Name("P".into()))), None);
    }
}
