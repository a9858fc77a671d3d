use super::*;
use crate::linetable::{decode, encode, Location};

fn rewritten(source: &str) -> String {
    match rewrite(source) {
        Ok(Rewrite::Rewritten { source, .. }) => source,
        other => panic!("not rewritten: {other:?}"),
    }
}

#[test]
fn an_assert_becomes_an_if_on_its_own_lines() {
    let out = rewritten("def test():\n    assert f(x) == 1, 'm'\n    return 2\n");
    assert_eq!(
        out,
        "import dbtest.worker.assertion as _dbtest_r_assert\n\
         def test():\n    \
         if not ( (_dbtest_r_3 := ((_dbtest_r_1 := (f))((_dbtest_r_2 := (x))))) == 1): raise \
         _dbtest_r_assert.fail('_dbtest_r_t0', 'm')\n    \
         del _dbtest_r_1, _dbtest_r_2, _dbtest_r_3\n    return 2\n"
    );
}

#[test]
fn templates_stand_apart_from_the_text_with_the_source_s_literals() {
    let source =
        "def test():\n    assert f(x) == 0x1\n    assert f(x) == 0x1\n    assert g == 'a'\n";
    let Ok(Rewrite::Rewritten {
        source: out,
        templates,
        constants,
        ..
    }) = rewrite(source)
    else {
        panic!("not rewritten")
    };
    use TemplateValue::{Constant, Int, Str, Tuple};
    let s = |text: &str| Str(text.into());
    let first = Tuple(vec![
        s("cmp"),
        TemplateValue::None,
        Tuple(vec![
            Tuple(vec![
                s("c"),
                Int(3),
                Tuple(vec![s("n"), Int(1), s("f")]),
                Tuple(vec![Tuple(vec![
                    s(""),
                    Tuple(vec![s("n"), Int(2), s("x")]),
                ])]),
            ]),
            Tuple(vec![s("k"), Constant(0)]),
        ]),
        Tuple(vec![s("==")]),
    ]);
    // The second assert numbers its temporaries on: another template.
    assert_eq!(templates.len(), 3);
    assert_eq!(templates[0], first);
    // Plain literals are built natively; the others are evaluated.
    assert_eq!(constants, ["0x1"]);
    let TemplateValue::Tuple(last) = &templates[2] else {
        panic!()
    };
    let TemplateValue::Tuple(operands) = &last[2] else {
        panic!()
    };
    assert_eq!(operands[1], Tuple(vec![s("k"), s("a")]));
    assert_eq!(out.matches("fail('_dbtest_r_t").count(), 3);
    assert_eq!(placeholder_index("_dbtest_r_t2"), Some(2));
    assert_eq!(placeholder_index("_dbtest_r_2"), None);
}

#[test]
fn modules_without_asserts_or_opting_out_are_plain() {
    assert!(matches!(rewrite("x = 1\n"), Ok(Rewrite::Plain)));
    assert!(matches!(
        rewrite("'''PYTEST_DONT_REWRITE'''\nassert x\n"),
        Ok(Rewrite::Plain)
    ));
}

#[test]
fn what_it_cannot_do_exactly_is_left_to_python() {
    assert_eq!(
        rewrite("x = 1; assert x\n").err(),
        Some(Unsupported::SharedLine)
    );
    assert_eq!(
        rewrite("assert x; y = 1\n").err(),
        Some(Unsupported::SharedLine)
    );
    assert_eq!(
        rewrite("_dbtest_r_1 = 1\n").err(),
        Some(Unsupported::Prefix)
    );
    assert!(matches!(rewrite("assert (\n"), Err(Unsupported::Syntax(_))));
}

#[test]
fn positions_map_back_to_the_original() {
    let source = "def test():\n    assert a == b\n";
    let Ok(Rewrite::Rewritten {
        source: out, map, ..
    }) = rewrite(source)
    else {
        panic!()
    };
    let line = out.lines().nth(2).unwrap();
    let column = line.find("a))").unwrap() as i32;
    // `a` keeps its place; the generated `if` takes the assert's.
    assert_eq!(map.map_start((3, column)), Some((2, 11)));
    assert_eq!(map.map_end((3, column + 1)), Some((2, 12)));
    assert_eq!(map.map_start((3, 4)), Some((2, 4)));
    assert_eq!(map.map_end((4, 10)), Some((2, 17)));
}

#[test]
fn location_tables_round_trip() {
    let entries = vec![
        (
            1,
            Location {
                line: 1,
                end_line: 1,
                column: -1,
                end_column: -1,
            },
        ),
        (
            2,
            Location {
                line: 3,
                end_line: 3,
                column: 4,
                end_column: 9,
            },
        ),
        (
            8,
            Location {
                line: 3,
                end_line: 5,
                column: 100,
                end_column: 2,
            },
        ),
        (
            3,
            Location {
                line: -1,
                end_line: -1,
                column: -1,
                end_column: -1,
            },
        ),
        (
            1,
            Location {
                line: 2,
                end_line: 2,
                column: 130,
                end_column: 140,
            },
        ),
    ];
    let table = encode(&entries, 1);
    assert_eq!(decode(&table, 1).unwrap(), entries);
}

#[test]
fn only_plain_literals_are_built_without_evaluating() {
    use TemplateValue::{Bool, Int, Str};
    assert_eq!(plain_literal("12"), Some(Int(12)));
    assert_eq!(plain_literal("0"), Some(Int(0)));
    assert_eq!(plain_literal("True"), Some(Bool(true)));
    assert_eq!(plain_literal("None"), Some(TemplateValue::None));
    assert_eq!(plain_literal("'a b'"), Some(Str("a b".into())));
    assert_eq!(plain_literal("\"\""), Some(Str(String::new())));
    assert_eq!(plain_literal("\"é\""), Some(Str("é".into())));
    for evaluated in [
        "1_000",
        "0x1",
        "1.5",
        "1j",
        "99999999999999999999",
        "b'a'",
        "r'a'",
        "'a\\n'",
        "'a' 'b'",
        "'a' \"b\"",
        "'''a'''",
        "...",
    ] {
        assert_eq!(plain_literal(evaluated), None, "{evaluated}");
    }
}
