"""The native assertion rewriter (dbtest-rewrite through ``dbtest._core``)
against the Python one (``rewrite_ast``), the reference: for every module
here the native rewrite must compile to an equal code object (``==`` compares
bytecode, constants, names and the location table, so positions, line numbers
and ``co_firstlineno`` of every nested code object), or be left to the
Python rewriter; and failing asserts give the same message and traceback line."""

from __future__ import annotations

import re
import sys
import textwrap
import traceback
import warnings
from pathlib import Path
from types import CodeType

import pytest

from dbtest.worker import rewrite

from . import assert_corpus

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the native rewriter is used on 3.11 only")

FORMS = textwrap.dedent(
    '''\
    """A docstring, then a future import."""
    from __future__ import annotations
    import os

    def f(*args, **kwargs):
        return args[0] if args else 0

    class Box:
        value = 1
        items = [1, 2]

    box = Box()
    d = {"a": 1, "b": [1, 2]}

    def test_compare():
        assert f(1) == 2
    def test_chain():
        assert 1 < f(2) < f(0) <= 5
    def test_bool():
        assert f(0) and f(1) or not f(2)
    def test_call_forms():
        assert f(1, *[2], k=3, **{"z": 4}) == f(*(0,), **{})
    def test_attr_sub():
        assert box.items[0] == d["b"][1] and box.value.real == d["a"] + 1
    def test_in_is():
        assert 3 in box.items and box is not None and box.value is None
    def test_walrus():
        assert (y := f(5)) == 6, y
    def test_message():
        assert f(0), f"message {f(1)}"
    def test_multiline():
        assert f(
            1,
            2,
        ) == [
            3,
            4,
        ], (
            "a message "
            "on lines"
        )
    def test_multiline_string():
        assert f("""one
    two""") == """one
    three"""
    def test_tab_and_unicode():
    \tassert f("é\\tß") == "ü"  # è
    def test_nested():
        def inner():
            assert f(1) == 2
        class Inner:
            def method(self):
                assert (lambda: f(1))() == 2
        g = lambda x: x
        assert all(x > 1
                   for x in [1, 2]), [y for y in (1, 2) if y]
        assert {k: v for k, v in d.items()} == {}
        inner()
    def test_slices_and_unary():
        assert box.items[0:1] == -f(1) + ~f(2) * f(3) ** 2 // 1 % 5 @ 1 if False else f(0)
    def test_constants():
        assert 1.5e300 == 2j or b"x\\x00" == "y" or ... is None
    async def test_async():
        assert await f(1)
    def test_blocks():
        for i in range(2):
            if i:
                assert i == 2
            elif i < 0:
                assert i
            else:
                assert not i
        else:
            assert True
        while False:
            assert False
        with open(os.devnull) as handle:
            assert handle
        try:
            assert f(1)
        except ValueError:
            assert False
        else:
            assert True
        finally:
            assert f(1)
        match 1:
            case 1:
                assert f(1) == 1
    class TestClass:
        assert f(0) == 0
        def test_method(self):
            assert self.x == 1, "m"
    assert f(1) == 1
    '''
)

LEFT_TO_PYTHON = [
    "x = 1; assert x\n",
    "assert x; y = 1\n",
    "if x: assert x\n",
    "_dbtest_r_1 = 1\nassert _dbtest_r_1\n",
    "try:\n    assert x\nexcept Exception:\n    pass\n",
]


def _native(source: str) -> CodeType | None:
    return rewrite.native_code(source.encode(), "module.py")


def _native_despite_warnings(source: str) -> CodeType:
    """The native rewrite even where compiling warns (the worker then leaves
    the module to the Python rewriter, which warns with the original lines)."""
    from dbtest import _core

    text, positions, literals = _core.rewrite_asserts(source.encode())
    values = None if literals is None else eval(literals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return _core.restore_code(compile(text, "module.py", "exec", dont_inherit=True), positions, values)


def _reference(source: str) -> CodeType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return rewrite.python_code(source.encode(), "module.py")


def _codes(code: CodeType):
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _codes(constant)


def _assert_same_code(source: str) -> None:
    native = _native(source)
    assert native is not None, "left to the Python rewriter"
    reference = _reference(source)
    assert native == reference
    for ours, theirs in zip(_codes(native), _codes(reference), strict=True):
        assert ours.co_firstlineno == theirs.co_firstlineno
        assert list(ours.co_positions()) == list(theirs.co_positions())
        assert ours.co_names == theirs.co_names and ours.co_varnames == theirs.co_varnames


def test_every_assert_form_compiles_to_the_reference_code() -> None:
    _assert_same_code(FORMS)


def test_the_assert_corpus_compiles_to_the_reference_code() -> None:
    # One module per expression: a construct left to the Python rewriter
    # (`assert 1 or x` keeps a NOP the reference drops) leaves only its own.
    expressions = assert_corpus.expressions()
    compared = 0
    for expression in expressions:
        source = assert_corpus.module_source([expression])
        try:
            native = _native_despite_warnings(source)
        except ValueError:
            continue
        assert native == _reference(source), expression
        compared += 1
    assert compared >= 0.95 * len(expressions)


@pytest.mark.parametrize(
    ("source", "native_required"),
    [
        ("def test(x=1):\n    assert x == 'a'\n    assert x == 'a'\n", True),
        # Equal only as values: left to the Python rewriter, or equal to it.
        ("def test(x=1):\n    assert x == 'a'\n    assert x == \"a\"\n", False),
        ("def test(x=1):\n    y = ('k', 'a')\n    assert 'a'\n    assert x == 1.0 and x == 1\n", False),
        ("def test(x=1):\n    assert x\n\ndef test_other(x=1):\n    assert x\n", True),
    ],
    ids=["equal", "equal-other-quotes", "user-tuple", "two-functions"],
)
def test_equal_templates_are_one_constant_as_the_compiler_keeps_them(source: str, native_required: bool) -> None:
    # The templates are built where their placeholders are; the reference's
    # compile keeps one constant for equal tuples.
    native = _native(source)
    assert native is not None or not native_required
    assert native is None or native == _reference(source)


def _failures(code: CodeType) -> dict[str, str]:
    namespace: dict[str, object] = {"__name__": "module"}
    outcomes = {}
    try:
        exec(code, namespace)  # noqa: S102
    except AssertionError as exc:
        outcomes["module"] = str(exc)
    for name, value in sorted(namespace.items()):
        if not name.startswith("test_") or not callable(value):
            continue
        try:
            result = value()
            if hasattr(result, "close"):
                result.close()
        except BaseException as exc:  # noqa: BLE001 - every outcome is compared
            lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)][1:]
            outcomes[name] = re.sub(r"0x[0-9a-f]+", "0x...", f"{type(exc).__name__}: {exc} at {lines}")
        else:
            outcomes[name] = "passed"
    return outcomes


def test_failures_read_the_same_with_the_same_lines() -> None:
    source = FORMS.replace("assert f(1) == 1\n", "assert f(1) == 2\n")
    native = _native(source)
    assert native is not None
    assert _failures(native) == _failures(_reference(source))


@pytest.mark.parametrize("source", LEFT_TO_PYTHON)
def test_what_it_cannot_reproduce_is_left_to_the_python_rewriter(source: str) -> None:
    assert _native(source) is None


def test_a_module_without_asserts_to_rewrite_compiles_plainly() -> None:
    source = '"""PYTEST_DONT_REWRITE"""\nassert 1 == 2\n'
    assert _native(source) == compile(source, "module.py", "exec", dont_inherit=True)


def test_this_repository_s_test_modules_compile_to_the_reference_code() -> None:
    root = Path(__file__).parents[1]
    compared = 0
    for path in sorted(root.rglob("*.py")):
        source = path.read_bytes()
        if not rewrite.may_assert(source):
            continue
        try:
            reference = rewrite.python_code(source, str(path))
        except SyntaxError:
            continue
        native = rewrite.native_code(source, str(path))
        if native is not None:
            assert native == reference, path
            compared += 1
    assert compared > 40
