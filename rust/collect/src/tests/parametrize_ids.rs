//! Static `parametrize` expansion: pytest's ids from literals, and what is left
//! to the worker.

use super::*;
use crate::summary::Literal;

#[test]
fn literal_parametrize_expands_with_pytests_ids() {
    let c = collect(
        "test_p.py",
        r#"
import pytest
from pytest import param

@pytest.mark.parametrize("x", [1, -3, 2.5, 1.0, 1e16, True, None, "a b", "héllo", b"\xff", "x::y/z.w", "", 0x10, -0.0, (1, 2), [3], {"a": 1}])
def test_vals(x): pass

@pytest.mark.parametrize("a,b", [(1, "a"), (1, "a"), (2, "b")])
def test_dupes(a, b): pass

@pytest.mark.parametrize("x", [1, 2])
@pytest.mark.parametrize("y", ["p", "q"])
def test_stacked(x, y): pass

@pytest.mark.parametrize("x", [param(1, id="one"), pytest.param(2, marks=pytest.mark.skip), 3], ids=["i1", "i2", None])
def test_param(x): pass

@pytest.mark.parametrize("x", ["1", "1", "10", "1_0"])
def test_dupes2(x): pass

@pytest.mark.parametrize(["x"], [(1,), (2,)])
def test_listnames(x): pass

@pytest.mark.parametrize("x", [0, 1], ids=["dup", "dup"])
def test_iddupes(x): pass

@pytest.mark.parametrize("x", [])
def test_empty(x): pass

class TestC:
    pytestmark = pytest.mark.parametrize("c", ["k"])
    @pytest.mark.parametrize("f", [9])
    def test_m(self, f, c): pass

@pytest.fixture
def test_not_a_test(): pass
"#,
    );
    let names: Vec<&str> = c.items.iter().map(|i| i.name()).collect();
    assert_eq!(
        names,
        [
            "test_vals[1]",
            "test_vals[-3]",
            "test_vals[2.5]",
            "test_vals[1.0]",
            "test_vals[1e+16]",
            "test_vals[True]",
            "test_vals[None]",
            "test_vals[a b]",
            "test_vals[h\\xe9llo]",
            "test_vals[\\xff]",
            "test_vals[x::y/z.w]",
            "test_vals[]",
            "test_vals[16]",
            "test_vals[-0.0]",
            "test_vals[x14]",
            "test_vals[x15]",
            "test_vals[x16]",
            "test_dupes[1-a0]",
            "test_dupes[1-a1]",
            "test_dupes[2-b]",
            "test_stacked[p-1]",
            "test_stacked[p-2]",
            "test_stacked[q-1]",
            "test_stacked[q-2]",
            "test_param[one]",
            "test_param[i2]",
            "test_param[3]",
            "test_dupes2[1_1]",
            "test_dupes2[1_2]",
            "test_dupes2[10]",
            "test_dupes2[1_0]",
            "test_listnames[1]",
            "test_listnames[2]",
            "test_iddupes[dup0]",
            "test_iddupes[dup1]",
            "test_empty[NOTSET]",
            "TestC::test_m[9-k]",
        ]
    );
    let skip_of = |name: &str| {
        c.items
            .iter()
            .find(|i| i.name() == name)
            .and_then(|i| i.skip().map(str::to_string))
    };
    assert_eq!(
        skip_of("test_param[i2]").as_deref(),
        Some("unconditional skip")
    );
    assert_eq!(skip_of("test_param[one]"), None);
    assert_eq!(
        skip_of("test_empty[NOTSET]").as_deref(),
        Some("got empty parameter set for (x)")
    );
    assert_eq!(c.items[0].class(), None);
    assert_eq!(c.items.last().unwrap().class(), Some("TestC"));
    assert!(!c.dynamic);
}

#[test]
fn parametrize_that_needs_an_import_leaves_the_test_to_the_worker() {
    for source in [
        "import pytest\nCASES = [1]\n@pytest.mark.parametrize('x', CASES)\ndef test_a(x): pass\n",
        "import pytest\n@pytest.mark.parametrize('x', [len])\ndef test_a(x): pass\n",
        "import pytest\n@pytest.mark.parametrize('x', [1], ids=str)\ndef test_a(x): pass\n",
        // A name the function does not take may be a fixture's.
        "import pytest\n@pytest.mark.parametrize('db', [1])\ndef test_a(x): pass\n",
        "import pytest\n@pytest.mark.parametrize('x', [1j])\ndef test_a(x): pass\n",
        "import pytest\n@pytest.mark.parametrize(*ARGS)\ndef test_a(x): pass\n",
    ] {
        let c = collect("test_d.py", source);
        assert!(ids(&c).is_empty(), "{source}: {:?}", ids(&c));
        assert!(c.dynamic, "{source}");
    }
    // The module's other tests stay static.
    let c = collect(
        "test_d.py",
        "import pytest\n@pytest.mark.parametrize('x', CASES)\ndef test_a(x): pass\ndef test_b(): pass\n",
    );
    assert_eq!(ids(&c), ["test_d.py::test_b"]);
}

#[test]
fn literals_keep_what_ids_need() {
    let summary = crate::parse::summarize(
        "@d(1, 1.0, -3, (1,), [1], b'x', 10**30, 123456789012345678901234567890, x.y, f(2))\ndef f(): pass\n",
    )
    .unwrap();
    let args = &summary.functions[0].decorators[0].args;
    assert_eq!(args[0], Literal::Int(1));
    assert_eq!(args[1], Literal::Float(1.0));
    assert_eq!(args[2], Literal::Int(-3));
    assert_eq!(args[3], Literal::Tuple(vec![Literal::Int(1)]));
    assert_eq!(args[4], Literal::List(vec![Literal::Int(1)]));
    assert_eq!(args[5], Literal::Bytes(b"x".to_vec()));
    assert_eq!(args[6], Literal::Other);
    assert_eq!(args[7], Literal::Int(123456789012345678901234567890));
    assert_eq!(args[8], Literal::Name("x.y".into()));
    assert!(
        matches!(&args[9], Literal::Call(call) if call.path == "f" && call.args == [Literal::Int(2)])
    );
}
