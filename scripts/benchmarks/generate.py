"""The synthetic suites and corpora, written as project directories. Each
generator returns the number of tests it wrote; CPU-bound ones take the number
of busy-loop iterations (calibrated at start-up, see `Context.spins`).

The corpora of the pytest-feature suites (g: `gen_parametrized`, h:
`gen_fixtures`) and their baseline of plain tests (`gen_flat`) share one layout
and depend on nothing but the generator's arguments, so that any comparison
(other runners included) can write the same corpus by calling its generator."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# The busy loop of CPU-bound tests and heavy imports.
SPIN_SOURCE = """\
def _spin(n):
    x = 0
    for i in range(n):
        x += i
    return x
"""

SLEEP_FILES, SLEEP_TESTS_PER_FILE, SLEEP_SECONDS, SLEEP_WORKERS = 8, 10, 0.05, 8
# Suite c's sleep per worker when spread evenly: no runner's wall time is shorter.
SLEEP_FLOOR = SLEEP_FILES * SLEEP_TESTS_PER_FILE * SLEEP_SECONDS / SLEEP_WORKERS

NEEDLE = "test_needle"  # suite d's one selected test
IMPORT_LOG = "imports.log"  # where suite d's modules note their import


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def project(root: Path, async_plugin: bool = False) -> None:
    """A project root: pyproject.toml (dbtest's rootdir marker) with pytest's settings.
    pytest-asyncio is installed in the environment; it is switched off where no
    test needs it so that pytest does not pay for importing asyncio."""
    if async_plugin:
        pytest_options = 'asyncio_mode = "auto"\nasyncio_default_fixture_loop_scope = "function"\n'
    else:
        pytest_options = 'addopts = "-p no:asyncio"\n'
    write(
        root / "pyproject.toml",
        f'[project]\nname = "{root.name}"\nversion = "0"\n\n[tool.pytest.ini_options]\n{pytest_options}',
    )


def functions(names: Iterable[str], body: str, keyword: str = "def", params: str = "") -> str:
    """Test functions of one line each, a blank line pair before every one."""
    return "".join(f"\n\n{keyword} {name}({params}):\n    {body}\n" for name in names)


def trivial_tests(count: int, prefix: str, start: int = 0) -> str:
    return "".join(f"\n\ndef test_{prefix}{i}():\n    assert {i} + 1 == {i + 1}\n" for i in range(start, start + count))


def write_test_modules(
    root: Path, stem: str, files: int, per_file: int, header: str, body: str, keyword: str = "def"
) -> int:
    """``files`` modules test_STEM_F.py of ``per_file`` tests test_STEM_F_I running ``body``."""
    for f in range(files):
        names = (f"test_{stem}_{f}_{i}" for i in range(per_file))
        write(root / f"test_{stem}_{f}.py", header + functions(names, body, keyword))
    return files * per_file


def gen_trivial_packages(root: Path) -> int:
    """Suite a: 10 packages x 4 subpackages x 5 modules x 25 tests = 5,000 in 200 files."""
    project(root)
    for p in range(10):
        write(root / f"pkg{p}" / "__init__.py", "")
        for s in range(4):
            write(root / f"pkg{p}" / f"sub{s}" / "__init__.py", "")
            for m in range(5):
                body = f'"""Generated: trivial tests."""{trivial_tests(25, f"p{p}s{s}m{m}_")}'
                write(root / f"pkg{p}" / f"sub{s}" / f"test_p{p}_s{s}_m{m}.py", body)
    return 5000


def flat_module(root: Path, stem: str, index: int) -> Path:
    """Module ``index`` of a flat tree: loose modules (no packages), 50 per directory."""
    return root / f"d{index // 50}" / f"test_{stem}_{index}.py"


def gen_flat(root: Path, files: int, per_file: int) -> int:
    """Trivial tests in ``files`` loose modules (no packages), 50 per directory.
    With FEATURE_FILES x FEATURE_PER_FILE, the baseline of suites g and h."""
    project(root)
    for f in range(files):
        write(flat_module(root, "flat", f), '"""Generated."""' + trivial_tests(per_file, f"f{f}_"))
    return files * per_file


# The shape of the pytest-feature corpora and of their baseline: 5,000 tests.
FEATURE_FILES, FEATURE_PER_FILE = 50, 100


def gen_parametrized(root: Path, files: int = FEATURE_FILES, cases: int = FEATURE_PER_FILE) -> int:
    """Suite g: ``files`` modules laid out as gen_flat's, each one test function
    parametrized over a literal list of ``cases`` integers (test_param_F[0] ...),
    which dbtest expands statically."""
    project(root)
    values = ", ".join(str(i) for i in range(cases))
    for f in range(files):
        decorator = f'@pytest.mark.parametrize("x", [{values}])'
        text = f'"""Generated: parametrized cases."""\n\nimport pytest\n\n\n{decorator}\n'
        write(flat_module(root, "param", f), text + f"def test_param_{f}(x):\n    assert x + 1 > x\n")
    return files * cases


# Suite h's fixtures: two function-scoped (one of them a yield fixture, so that
# teardown is paid too) and one module-scoped, as a conftest.py defines them.
FIXTURES_CONFTEST = '''\
"""Generated: the fixtures every test of the suite uses."""

import pytest


@pytest.fixture(scope="module")
def table():
    return {"offset": 1}


@pytest.fixture
def number():
    return 41


@pytest.fixture
def resource():
    box = [1]
    yield box
    box.clear()
'''


def gen_fixtures(root: Path, files: int = FEATURE_FILES, per_file: int = FEATURE_PER_FILE) -> int:
    """Suite h: ``files`` modules laid out as gen_flat's, of ``per_file`` tests
    that each use the three fixtures of the root's conftest.py."""
    project(root)
    write(root / "conftest.py", FIXTURES_CONFTEST)
    body = 'assert number + resource[0] + table["offset"] == 43'
    for f in range(files):
        tests = functions((f"test_fix_{f}_{i}" for i in range(per_file)), body, params="number, resource, table")
        write(flat_module(root, "fix", f), '"""Generated: tests using conftest fixtures."""' + tests)
    return files * per_file


def gen_cpu(root: Path, spin: int) -> int:
    """Suite b: 5 files x 10 tests, each a busy loop of ``spin`` iterations (~60 ms)."""
    project(root)
    return write_test_modules(root, "cpu", 5, 10, SPIN_SOURCE, f"_spin({spin})")


def gen_sleep(root: Path) -> int:
    """Suite c: 8 files x 10 tests that sleep 50 ms."""
    project(root)
    body = f"time.sleep({SLEEP_SECONDS})"
    return write_test_modules(root, "sleep", SLEEP_FILES, SLEEP_TESTS_PER_FILE, "import time\n", body)


def gen_heavy_imports(root: Path, spin: int) -> int:
    """Suite d: 60 modules that spin ``spin`` iterations (~40 ms) at import, 5 tests
    each; one is the needle. Each module notes its import in imports.log beside it."""
    project(root)
    note = f"import os\n\nwith open(os.path.join(os.path.dirname(__file__), {IMPORT_LOG!r}), 'a') as _log:\n"
    note += "    _log.write(__name__ + '\\n')\n"
    for m in range(60):
        names = [f"test_m{m}_{i}" for i in range(5)]
        if m == 37:
            names[2] = NEEDLE
        write(root / f"test_heavy_{m}.py", f"{note}\n{SPIN_SOURCE}\n_spin({spin})\n{functions(names, 'assert True')}")
    return 300


def gen_skewed(root: Path, short: int, long: int) -> int:
    """Suite e: one file, 200 tests of ``short`` iterations (~5 ms) then 4 of
    ``long`` (~1.5 s): last, the worst case for in-order runs."""
    project(root)
    tests = functions((f"test_short_{i}" for i in range(200)), f"_spin({short})")
    tests += functions((f"test_long_{i}" for i in range(4)), f"_spin({long})")
    write(root / "test_skewed.py", SPIN_SOURCE + tests)
    return 204


def gen_generated_module(root: Path, spin: int, count: int = 400) -> int:
    """Suite j: one module whose ``count`` tests (~10 ms of CPU each) are made at
    import in a loop: the static pass sees none of them, so only spreading what
    the import shows over the workers runs them in parallel."""
    project(root)
    body = (
        f"{SPIN_SOURCE}\n\ndef _make(i):\n    def test():\n        _spin({spin})\n\n    return test\n\n\n"
        f"for _i in range({count}):\n    globals()[f'test_made_{{_i}}'] = _make(_i)\n"
    )
    write(root / "test_generated.py", body)
    return count


def gen_async(root: Path) -> int:
    """Suite f: 4 files x 25 ``async def`` tests."""
    project(root, async_plugin=True)
    return write_test_modules(root, "async", 4, 25, "import asyncio\n", "await asyncio.sleep(0)", keyword="async def")


def gen_small(root: Path) -> int:
    """A one-test project: start-up figures."""
    project(root)
    write(root / "test_one.py", "def test_one():\n    assert True\n")
    return 1
