"""Assertion rewriting (`dbtest.worker.rewrite`): messages, evaluation semantics,
import behaviour and the bytecode cache."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import marshal
import os
import re
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from importlib.util import cache_from_source
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbtest.worker import rewrite, rewrite_ast

from .conftest import REPO

Loader = Callable[..., ModuleType]


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    """``load(source, name="sample", **helpers)`` writes ``name.py`` (and helper
    modules) into a fresh directory and imports it the way the worker does. The
    names avoid ``test_*`` so that pytest's own rewriting stays out of the way."""
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded: list[str] = []

    def load(source: str, name: str = "sample", **helpers: str) -> ModuleType:
        for helper, text in helpers.items():
            (tmp_path / f"{helper}.py").write_text(textwrap.dedent(text))
            loaded.append(helper)
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        rewrite.claim(name, str(path))
        importlib.invalidate_caches()
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
        rewrite._finder.claimed.pop(name, None)


def failure(function: Callable[[], object]) -> AssertionError:
    with pytest.raises(AssertionError) as info:
        function()
    return info.value


# -- what a failure says -----------------------------------------------------------

CASES = [
    ("a, b = 3, 4\nassert a == b", "assert 3 == 4"),
    ("a = 3\nassert a != 3", "assert 3 != 3"),
    ("a = 5\nassert a < 2", "assert 5 < 2"),
    ("a = 1\nassert a > 2", "assert 1 > 2"),
    ("assert 4 in [1, 2, 3]", "assert 4 in [1, 2, 3]"),
    ("items = [1, 2]\nassert 2 not in items", "assert 2 not in [1, 2]"),
    ("x = None\nassert x is not None", "assert None is not None"),
    ("x = 0\nassert x is False", "assert 0 is False"),
    ("a, b = 1, 0\nassert a and b", "assert (1 and 0)"),
    ("a, b = 0, ''\nassert a or b", "assert (0 or '')"),
    ("x = [1]\nassert not x", "assert not [1]"),
    ("x = 20\nassert 0 < x < 10", "assert 20 < 10"),
    ("x = -1\nassert 0 < x < 10", "assert 0 < -1"),
    ("x = [1, 2]\nassert len(x) + 1 == 4", "assert (2 + 1) == 4\n +  where 2 = len([1, 2])"),
    ("assert False", "assert False"),
]


@pytest.mark.parametrize(("body", "expected"), CASES, ids=[c[1].splitlines()[0] for c in CASES])
def test_failure_message_shows_the_values(load: Loader, body: str, expected: str) -> None:
    module = load("def check():\n" + textwrap.indent(body, "    ") + "\n")
    assert str(failure(module.check)) == expected


def test_calls_and_attributes_get_where_lines(load: Loader) -> None:
    module = load(
        """
        def double(x):
            return 2 * x

        class Box:
            size = 3

            def grow(self, by):
                return self.size + by

        def plain_call():
            assert double(3) == 7

        def nested_call():
            assert double(double(1)) > 10

        def attribute():
            box = Box()
            assert box.size == 4

        def subscript():
            table = {"size": [1, 2]}
            key = "size"
            assert table[key][1] == 3

        def method_with_keyword():
            box = Box()
            args = [1]
            assert box.grow(by=1) == max(*args, 0, **{})
        """
    )
    assert str(failure(module.plain_call)) == "assert 6 == 7\n +  where 6 = double(3)"
    assert str(failure(module.nested_call)) == "assert 4 > 10\n +  where 4 = double(2)\n +    where 2 = double(1)"
    message = str(failure(module.attribute))
    assert message.startswith("assert 3 == 4\n +  where 3 = <sample.Box object at ")
    assert message.endswith(">.size")
    assert str(failure(module.subscript)) == (
        "assert 2 == 3\n +  where 2 = [1, 2][1]\n +    where [1, 2] = {'size': [1, 2]}['size']"
    )
    lines = str(failure(module.method_with_keyword)).splitlines()
    assert lines[0] == "assert 4 == 1"
    assert lines[1].startswith(" +  where 4 = <sample.Box object at ") and lines[1].endswith(">.grow(by=1)")
    assert lines[2] == " +  and   1 = max(*[1], 0, **{})"


def test_custom_message_comes_first_and_keeps_the_explanation(load: Loader) -> None:
    module = load(
        """
        def with_text():
            x = 0
            assert x, "x must be set"

        def with_object():
            assert 1 == 2, {"code": 7}
        """
    )
    assert str(failure(module.with_text)) == "x must be set\nassert 0"
    assert str(failure(module.with_object)) == "{'code': 7}\nassert 1 == 2"


def test_containers_and_long_strings_get_a_diff(load: Loader) -> None:
    module = load(
        """
        def lists():
            assert [1, 2, 3] == [1, 2, 4, 5]

        def dicts():
            assert {"a": 1, "b": 2} == {"a": 1, "b": 3, "c": 4}

        def sets():
            assert {1, 2} == {2, 3}

        def text():
            assert "first line\\nsecond line\\n" == "first line\\nsecond LINE\\n"
        """
    )
    lists = str(failure(module.lists))
    assert "At index 2: 3 != 4" in lists
    assert "Right has 1 more item, first extra item: 5" in lists
    assert "  - [1, 2, 4, 5]" in lists and "  + [1, 2, 3]" in lists
    dicts = str(failure(module.dicts))
    assert "Omitting 1 identical item" in dicts
    assert "'b': 2 != 3" in dicts
    assert "Right has 1 more key:\n    'c': 4" in dicts
    sets = str(failure(module.sets))
    assert "Extra items in left:\n    1" in sets and "Extra items in right:\n    3" in sets
    text = str(failure(module.text))
    assert "\n  - second LINE\n  + second line" in text


def test_a_broken_repr_does_not_hide_the_failure(load: Loader) -> None:
    module = load(
        """
        class Ugly:
            def __repr__(self):
                raise RuntimeError("no repr")

        def check():
            assert Ugly() == 1
        """
    )
    message = str(failure(module.check))
    assert message.startswith("assert <Ugly object at ")
    assert "repr() raised RuntimeError" in message


# -- evaluation semantics ------------------------------------------------------------


def test_each_sub_expression_is_evaluated_once(load: Loader) -> None:
    module = load(
        """
        calls = []

        def tick(name, value):
            calls.append(name)
            return value

        def passing():
            assert tick("left", 1) == tick("right", 1)

        def failing():
            assert tick("left", 1) == tick("right", 2), tick("message", "boom")
        """
    )
    module.passing()
    assert module.calls == ["left", "right"]
    module.calls.clear()
    expected = "boom\nassert 1 == 2\n +  where 1 = tick('left', 1)\n +  and   2 = tick('right', 2)"
    assert str(failure(module.failing)) == expected
    assert module.calls == ["left", "right", "message"]


def test_short_circuiting_is_kept(load: Loader) -> None:
    module = load(
        """
        calls = []

        def tick(name, value):
            calls.append(name)
            return value

        def and_stops():
            assert tick("a", 0) and tick("b", 1)

        def or_stops():
            assert tick("a", 1) or tick("b", 0)

        def chain_stops():
            assert tick("a", 5) < tick("b", 1) < tick("c", 9)

        def message_only_on_failure():
            assert tick("a", 1), tick("message", "never")
        """
    )
    assert str(failure(module.and_stops)) == "assert (0)\n +  where 0 = tick('a', 0)"
    assert module.calls == ["a"]
    module.calls.clear()
    module.or_stops()
    assert module.calls == ["a"]
    module.calls.clear()
    assert str(failure(module.chain_stops)).splitlines()[0] == "assert 5 < 1"
    assert module.calls == ["a", "b"]
    module.calls.clear()
    module.message_only_on_failure()
    assert module.calls == ["a"]


def test_async_generators_walrus_and_super(load: Loader) -> None:
    module = load(
        """
        import asyncio

        async def fetch():
            return 3

        async def awaiting():
            assert await fetch() == 4

        def generating():
            assert (yield 1) == "sent"
            yield 2

        def walrus():
            assert (n := 3) == 3 and n == 3
            assert (m := 5) == 6

        class Base:
            def size(self):
                return 1

        class Child(Base):
            def check(self):
                assert super().size() == 2
        """
    )
    assert str(failure(lambda: asyncio.run(module.awaiting()))) == "assert 3 == 4"
    generator = module.generating()
    assert next(generator) == 1
    assert generator.send("sent") == 2
    assert str(failure(module.walrus)) == "assert 5 == 6"
    expected = "assert 1 == 2\n +  where 1 = <super: <class 'Child'>, <Child object>>.size()"
    assert str(failure(module.Child().check)).startswith(expected)


def test_temporaries_do_not_leak_or_keep_objects_alive(load: Loader) -> None:
    module = load(
        """
        import gc
        import weakref

        class Thing:
            pass

        assert len([1]) == 1

        class Holder:
            assert Thing is not None

        def check():
            thing = Thing()
            ref = weakref.ref(thing)
            assert ref() is thing
            del thing
            gc.collect()
            return ref() is None
        """
    )
    assert module.check() is True
    assert not [name for name in vars(module) if name.startswith("@dbtest_") and name != rewrite_ast.RUNTIME]
    assert not [name for name in vars(module.Holder) if name.startswith("@")]


# -- import behaviour ----------------------------------------------------------------


def test_module_attributes_and_tracebacks_match_a_plain_import(load: Loader, tmp_path: Path) -> None:
    module = load(
        '''
        """Docstring first."""
        from __future__ import annotations

        def check():
            value = 1
            assert value == 2  # the line shown
        '''
    )
    path = str(tmp_path / "sample.py")
    assert module.__file__ == path
    assert module.__spec__.origin == path
    assert module.__cached__ == cache_from_source(path)
    assert isinstance(module.__loader__, rewrite.RewritingLoader)
    assert module.__doc__ == "Docstring first."
    assert "assert value == 2" in inspect.getsource(module.check)
    error = failure(module.check)
    frame = traceback.extract_tb(error.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.line) == (path, 7, "assert value == 2  # the line shown")


def test_only_the_claimed_module_is_rewritten(load: Loader) -> None:
    module = load(
        """
        from helper import check_positive

        def check():
            check_positive(-1)
        """,
        helper="""
        def check_positive(value):
            assert value > 0
        """,
    )
    assert str(failure(module.check)) == ""
    assert not isinstance(sys.modules["helper"].__loader__, rewrite.RewritingLoader)


@pytest.mark.parametrize("marker", ["DBTEST_DONT_REWRITE", "PYTEST_DONT_REWRITE"])
def test_docstring_marker_opts_out(load: Loader, marker: str) -> None:
    module = load(f'"""Plain asserts here: {marker}."""\n\ndef check():\n    a = 1\n    assert a == 2\n')
    assert str(failure(module.check)) == ""


def test_a_namesake_in_another_file_is_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "namesake.py").write_text("def check():\n    assert 1 == 2\n")
    rewrite.claim("namesake", str(tmp_path / "elsewhere.py"))
    try:
        module = importlib.import_module("namesake")
        assert str(failure(module.check)) == ""
    finally:
        sys.modules.pop("namesake", None)
        rewrite._finder.claimed.pop("namesake", None)


def test_syntax_errors_name_the_file_and_line(load: Loader, tmp_path: Path) -> None:
    with pytest.raises(SyntaxError) as info:
        load("def check():\n    assert (1 ==\n")
    assert info.value.filename == str(tmp_path / "sample.py")
    assert info.value.lineno == 2


def test_optimized_mode_keeps_asserts_stripped(tmp_path: Path) -> None:
    (tmp_path / "sample.py").write_text("def check():\n    assert 1 == 2\n")
    script = textwrap.dedent(
        f"""
        import importlib, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from dbtest.worker import rewrite
        rewrite.claim("sample", {str(tmp_path / "sample.py")!r})
        importlib.import_module("sample").check()
        print("stripped")
        """
    )
    assert _python("-O", "-c", script).stdout.strip() == "stripped"


# -- the bytecode cache ------------------------------------------------------------


@pytest.fixture
def writable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test environment may set PYTHONDONTWRITEBYTECODE, and a dbtest worker
    running these tests caches in its own directory; these tests need writes
    beside the source."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(rewrite, "_cache_dir", None)
    monkeypatch.setattr(rewrite, "_user_dir", None)


SOURCE = b"def check():\n    value = 1\n    assert value == 2\n"


def run_check(code: object) -> str:
    namespace: dict[str, object] = {"__name__": "cached"}
    exec(code, namespace)  # noqa: S102
    return str(failure(namespace["check"]))  # type: ignore[arg-type]


def test_cache_file_has_a_dbtest_tag_beside_the_standard_pyc(tmp_path: Path, writable: None) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    path = rewrite.cache_path(str(source))
    assert path is not None
    assert Path(path).parent == tmp_path / "__pycache__"
    assert Path(path).name == f"cached.{sys.implementation.cache_tag}-dbtest-{rewrite.FORMAT_VERSION}.pyc"
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert os.listdir(tmp_path / "__pycache__") == [Path(path).name], "written atomically, no temporaries left"


def test_a_cache_hit_does_not_rewrite_again(tmp_path: Path, writable: None, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(source))

    def refuse(*args: object) -> None:
        raise AssertionError("the source was rewritten again despite a fresh cache")

    monkeypatch.setattr(rewrite_ast, "compile_module", refuse)
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"


def _rewrite_in_a_new_process(source: Path, env: dict[str, str], then: str = "") -> list[str]:
    """Whether `ast` was imported once ``source`` was rewritten (or read from
    the cache) in a fresh interpreter, and what ``then`` prints after that."""
    script = textwrap.dedent(
        f"""
        import sys
        from dbtest.worker import rewrite
        source = open({str(source)!r}, "rb").read()
        code = rewrite.code_for(source, {str(source)!r})
        print("ast" in sys.modules)
        """
    )
    return _python("-P", "-c", script + then, env=env).stdout.split()


def test_a_cache_hit_does_not_import_ast(tmp_path: Path) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    # The Python rewriter imports `ast` (the native one never does).
    env = {"PYTHONDONTWRITEBYTECODE": "", "DBTEST_REWRITER": "python"}
    assert _rewrite_in_a_new_process(source, env) == ["True"], "the first run rewrites"
    assert _rewrite_in_a_new_process(source, env) == ["False"], "the second loads the cache"


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the native rewriter is used on 3.11 only")
def test_on_3_11_the_native_rewriter_rewrites_without_a_python_ast(tmp_path: Path) -> None:
    source = tmp_path / "native.py"
    source.write_bytes(SOURCE)
    # The rewrite, then the reference it must equal (which imports ast). The
    # installed dbtest, not the clone's sources: those have no `_core` unless
    # built in place, and without it the Python rewriter is used.
    then = "print(code == rewrite.python_code(source, source_path))\n"
    then = f"source_path = {str(source)!r}\n" + then
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": ""}
    assert _rewrite_in_a_new_process(source, env, then) == ["False", "True"]


def test_a_stale_cache_is_not_used_even_with_the_same_size_and_mtime(tmp_path: Path, writable: None) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    stat = source.stat()
    rewrite.code_for(SOURCE, str(source))
    edited = SOURCE.replace(b"value == 2", b"value == 3")
    assert len(edited) == len(SOURCE)
    source.write_bytes(edited)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert run_check(rewrite.code_for(edited, str(source))) == "assert 1 == 3"
    # ... and the cache now holds the new version.
    path = rewrite.cache_path(str(source))
    assert path is not None and rewrite.read_cache(path, edited) is not None
    assert rewrite.read_cache(path, SOURCE) is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-5],  # truncated
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # flipped payload byte
        lambda data: b"",  # empty
        lambda data: b"\x00" * len(data),  # garbage
    ],
    ids=["truncated", "flipped", "empty", "zeroed"],
)
def test_a_corrupt_cache_is_not_used(tmp_path: Path, writable: None, damage: Callable[[bytes], bytes]) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(source))
    path = Path(rewrite.cache_path(str(source)) or "")
    path.write_bytes(damage(path.read_bytes()))
    assert rewrite.read_cache(str(path), SOURCE) is None
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert rewrite.read_cache(str(path), SOURCE) is not None, "replaced by a good one"


def test_an_unwritable_cache_directory_only_disables_caching(tmp_path: Path, writable: None) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    (tmp_path / "__pycache__").write_text("a file where the directory should be")
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert (tmp_path / "__pycache__").read_text() == "a file where the directory should be"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_a_read_only_directory_only_disables_caching(tmp_path: Path, writable: None) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    tmp_path.chmod(0o555)
    try:
        assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
        assert not (tmp_path / "__pycache__").exists()
    finally:
        tmp_path.chmod(0o755)


def test_dont_write_bytecode_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert not (tmp_path / "__pycache__").exists()


def test_a_moved_project_reports_its_new_path(tmp_path: Path, writable: None) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    (old / "cached.py").write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(old / "cached.py"))
    old.rename(new)
    code = rewrite.code_for(SOURCE, str(new / "cached.py"))
    assert code.co_filename == str(new / "cached.py")


def test_a_module_without_assert_is_compiled_without_the_rewriter(
    tmp_path: Path, writable: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = b"import unittest\n\nclass T(unittest.TestCase):\n    def test_it(self):\n        self.assertEqual(1, 2)\n"
    source = tmp_path / "plain.py"
    source.write_bytes(plain)

    def refuse(*args: object) -> None:
        raise AssertionError("a module without assert went through the rewriter")

    monkeypatch.setattr(rewrite_ast, "compile_module", refuse)
    code = rewrite.code_for(plain, str(source))
    assert marshal.dumps(code) == marshal.dumps(compile(plain, str(source), "exec", dont_inherit=True))
    path = rewrite.cache_path(str(source))
    assert path is not None and rewrite.read_cache(path, plain) is not None, "cached like any other"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"assert x\n", True),
        (b"if y: assert(x)\n", True),
        (b"def f():\n\tassert x;pass\n", True),
        (b"x = 1; assert\\\n x\n", True),
        (b"# assert in a comment\n", True),  # conservative: rewritten, unchanged
        (b"\xc3\xa9assert = 1\n", True),  # a non-ASCII neighbour: conservative too
        (b"assert", True),
        (b"self.assertEqual(a, b)\nmock.assert_called()\n", False),
        (b"reassert = 1\nassert2 = 2\n", False),
        (b"", False),
    ],
)
def test_may_assert_never_misses_an_assert(text: bytes, expected: bool) -> None:
    assert rewrite.may_assert(text) is expected


def test_the_word_assert_anywhere_still_means_a_rewrite(tmp_path: Path, writable: None) -> None:
    # Only an assert statement is rewritten; a module with the word elsewhere
    # takes the rewriter's path and comes out the same as before.
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    mention = b"def check():\n    return 'assert'\n"
    other = tmp_path / "mention.py"
    other.write_bytes(mention)
    code = rewrite.code_for(mention, str(other))
    assert marshal.dumps(code) == marshal.dumps(compile(mention, str(other), "exec", dont_inherit=True))


def test_the_collector_is_off_during_a_rewrite_only(
    tmp_path: Path, writable: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    monkeypatch.setattr(rewrite, "_native", False)  # the Python rewriter's collections
    seen: list[bool] = []
    real = rewrite_ast.compile_module

    def spy(source: bytes, filename: str) -> object:
        seen.append(gc.isenabled())
        if b"broken" in source:
            raise SyntaxError("broken")
        return real(source, filename)

    monkeypatch.setattr(rewrite_ast, "compile_module", spy)
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    assert gc.isenabled()
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert gc.isenabled()
    with pytest.raises(SyntaxError):
        rewrite.code_for(b"assert broken\n", str(tmp_path / "broken.py"))
    assert gc.isenabled(), "back on after a failed rewrite too"
    assert seen == [False, False]
    gc.disable()
    try:
        rewrite.code_for(SOURCE.replace(b"2", b"3"), str(source))
        assert not gc.isenabled(), "left off when it was off"
    finally:
        gc.enable()


# -- the user-level cache, keyed by content -------------------------------------------


def test_the_user_cache_directory_follows_xdg_and_can_be_turned_off() -> None:
    assert rewrite.user_cache_dir({"XDG_CACHE_HOME": "/x/cache", "HOME": "/h"}) == "/x/cache/dbtest"
    assert rewrite.user_cache_dir({"HOME": "/h"}) == "/h/.cache/dbtest"
    # A relative XDG_CACHE_HOME is ignored, as the XDG spec says.
    assert rewrite.user_cache_dir({"XDG_CACHE_HOME": "rel", "HOME": "/h"}) == "/h/.cache/dbtest"
    assert rewrite.user_cache_dir({"XDG_CACHE_HOME": "/x", "DBTEST_NO_USER_CACHE": "0"}) == "/x/dbtest"
    assert rewrite.user_cache_dir({"XDG_CACHE_HOME": "/x", "DBTEST_NO_USER_CACHE": "1"}) is None


@pytest.fixture
def user_cache(tmp_path: Path, writable: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user-level cache under tmp_path/user, and no project cache beside the sources."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    rewrite.set_user_cache_dir(str(tmp_path / "user"))  # `writable` puts back None
    version = f"{sys.implementation.cache_tag}-{rewrite.TAG}-{rewrite.rewriter_fingerprint()}"
    return tmp_path / "user" / "rewrite" / version


def test_the_user_cache_is_per_version_of_the_rewriter(tmp_path: Path, writable: None) -> None:
    # Entries shared across projects must not survive a change to the rewriter.
    fingerprint = rewrite.rewriter_fingerprint()
    expected = rewrite.source_hash((Path(rewrite_ast.__file__)).read_bytes()).hex()
    assert fingerprint == expected
    rewrite.set_user_cache_dir(str(tmp_path))
    path = rewrite.user_cache_path(SOURCE)
    assert path is not None and Path(path).parent.name.endswith(f"-{rewrite.TAG}-{fingerprint}")


def test_a_rewrite_is_kept_by_content_in_the_user_cache(tmp_path: Path, user_cache: Path) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    expected = f"{rewrite.source_hash(SOURCE).hex()}-{len(SOURCE)}.pyc"
    assert os.listdir(user_cache) == [expected], "written atomically, no temporaries left"
    assert rewrite.read_cache(str(user_cache / expected), SOURCE) is not None


def test_a_fresh_clone_is_served_by_the_user_cache(
    tmp_path: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, clone = tmp_path / "first" / "cached.py", tmp_path / "clone" / "cached.py"
    for path in (first, clone):
        path.parent.mkdir()
        path.write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(first))

    def refuse(*args: object) -> None:
        raise AssertionError("the source was rewritten again despite the user-level cache")

    monkeypatch.setattr(rewrite_ast, "compile_module", refuse)
    code = rewrite.code_for(SOURCE, str(clone))
    assert code.co_filename == str(clone), "the clone's own path, not the first project's"
    assert run_check(code) == "assert 1 == 2"


def test_an_edit_misses_the_user_cache(tmp_path: Path, user_cache: Path) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(source))
    edited = SOURCE.replace(b"value == 2", b"value == 3")
    source.write_bytes(edited)
    assert run_check(rewrite.code_for(edited, str(source))) == "assert 1 == 3"
    assert len(os.listdir(user_cache)) == 2, "one entry per content"


def test_a_corrupt_user_cache_entry_is_not_used(tmp_path: Path, user_cache: Path) -> None:
    source = tmp_path / "cached.py"
    source.write_bytes(SOURCE)
    rewrite.code_for(SOURCE, str(source))
    (entry,) = user_cache.iterdir()
    entry.write_bytes(entry.read_bytes()[:-5])
    assert run_check(rewrite.code_for(SOURCE, str(source))) == "assert 1 == 2"
    assert rewrite.read_cache(str(entry), SOURCE) is not None, "replaced by a good one"


def _python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=full_env, cwd=REPO, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc


# -- same behaviour as a plain assert, for generated expressions ------------------------

_LEAVES = st.sampled_from(["t(0)", "t(1)", "t(2)", "0", "1", "t([1])", "t([])"])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(children, children)
    return st.one_of(
        children.map(lambda e: f"(not {e})"),
        pair.map(lambda p: f"({p[0]} and {p[1]})"),
        pair.map(lambda p: f"({p[0]} or {p[1]})"),
        st.tuples(children, st.sampled_from(["==", "!=", "<", ">", "is", "is not"]), children).map(
            lambda p: f"({p[0]} {p[1]} {p[2]})"
        ),
        st.tuples(children, children, children).map(lambda p: f"({p[0]} != {p[1]} == {p[2]})"),
        pair.map(lambda p: f"({p[0]} + {p[1]})"),
        pair.map(lambda p: f"t({p[0]}, {p[1]})"),
        pair.map(lambda p: f"[{p[0]}, {p[1]}][{p[0]} is {p[1]}]"),
    )


def _label(expression: str) -> str:
    """Numbers every t(...) call so that the log tells the calls apart."""
    counter = iter(range(10_000))
    return re.sub(r"\bt\(", lambda _: f"t({next(counter)}, ", expression)


def _outcome(code: object) -> tuple[str, list[int]]:
    log: list[int] = []

    def t(label: int, *values: object) -> object:
        log.append(label)
        return values[-1]

    namespace: dict[str, object] = {"t": t}
    exec(code, namespace)  # noqa: S102
    try:
        namespace["check"]()  # type: ignore[operator]
    except AssertionError:
        return "failed", log
    except TypeError:  # e.g. [1] < 0: must happen at the same point in both
        return "TypeError", log
    return "passed", log


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # `1 is 0` and the like, on purpose
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_LEAVES, _combine, max_leaves=12))
def test_rewritten_asserts_behave_like_plain_ones(expression: str) -> None:
    source = f"def check():\n    assert {_label(expression)}\n"
    plain = compile(source, "plain.py", "exec", dont_inherit=True)
    rewritten = rewrite_ast.compile_module(source, "rewritten.py")
    assert _outcome(rewritten) == _outcome(plain)


def test_may_assert_finds_every_module_with_an_assert_in_this_repository() -> None:
    import ast

    checked = 0
    for path in sorted((REPO / "tests").rglob("*.py")) + sorted((REPO / "dbtest").rglob("*.py")):
        source = path.read_bytes()
        try:
            tree = ast.parse(source)
        except SyntaxError:  # fixtures that are broken on purpose
            continue
        if any(isinstance(node, ast.Assert) for node in ast.walk(tree)):
            checked += 1
            assert rewrite.may_assert(source), path
    assert checked > 30


def test_every_message_of_the_corpus_stays_the_same() -> None:
    """721 asserts (hand-written shapes and 400 generated expressions, each also
    with a message, in a loop, at module and class level): outcome, evaluation
    order and message equal to the recorded ones, byte for byte."""
    import json

    from . import assert_corpus

    expected = json.loads(assert_corpus.GOLDEN.read_text())
    actual = assert_corpus.messages()
    assert list(actual) == list(expected)
    different = [key for key in expected if actual[key] != expected[key]]
    assert not different, (different[:3], [actual[key] for key in different[:3]])
