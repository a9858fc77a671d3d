"""pytest's built-in fixtures, for the fixture engine: the lowest-priority
definitions (a plugin's, a conftest's, a module's or a class's fixture of the
same name wins over them).

Each is declared like a user's fixture (`dbtest.fixture`) and imports what it is
made of (`dbtest.worker.builtins`) only when a test requests it, so importing
this module costs next to nothing. ``request`` and ``pytestconfig`` are the
engine's own.

What the built-ins read of the engine's objects:

- ``request.node``: ``name``, and for ``record_property`` ``user_properties``
  (a list), for ``subtests`` ``subtests_passed`` (an int) and
  ``subtest_failures`` (a list of ``(description, Outcome)``);
- ``request.fixturename`` (the capture fixtures' error when a test requests
  two of them); ``request.raiseerror(msg)`` if the engine has it;
- ``request.config``: ``basetemp``, ``cache_dir``, ``getini(name)`` (for the
  logging settings; an unknown name may raise ``ValueError``), and if the
  engine has them ``getoption(name)``, ``cache`` and ``testsuite_properties``.

The engine may announce each phase of a test (`builtins.phases.enter_phase`)
so that ``caplog.get_records(when)`` and the capture fixtures behave per phase
as under pytest, and builds a result's subtests with `subtest_results`.
"""

from __future__ import annotations

from ..fixtures import fixture

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    from .builtins.cache import Cache
    from .builtins.capture import CaptureFixture
    from .builtins.logcapture import LogCaptureFixture
    from .builtins.monkeypatch import MonkeyPatch
    from .builtins.recwarn import WarningsRecorder
    from .builtins.subtests import Subtests
    from .builtins.tmp import TempdirFactory, TempPathFactory
    from .outcomes import Outcome

FIXTURES = (
    "benchmark",
    "cache",
    "capfd",
    "capfdbinary",
    "caplog",
    "capsys",
    "capsysbinary",
    "capteesys",
    "doctest_namespace",
    "monkeypatch",
    "record_property",
    "record_testsuite_property",
    "recwarn",
    "subtests",
    "tmp_path",
    "tmp_path_factory",
    "tmpdir",
    "tmpdir_factory",
)


def subtest_results(node: Any, outcome: Outcome) -> tuple[Outcome, int, list[dict[str, Any]]]:
    """What the ``result`` message says of a test's ``subtests`` blocks: its own
    outcome (failed if it passed with failed blocks, as in pytest 9), the
    blocks that passed, and the others (`protocol.subtest_failure`)."""
    passed = getattr(node, "subtests_passed", 0)
    failures = getattr(node, "subtest_failures", None)
    if not failures:
        return outcome, passed, []
    from . import protocol
    from .builtins.subtests import verdict

    sent = [protocol.subtest_failure(d, o.outcome, o.message, o.traceback) for d, o in failures]
    return verdict(outcome, failures), passed, sent


# -- temporary directories ------------------------------------------------------


@fixture(scope="session")
def tmp_path_factory(request: Any) -> TempPathFactory:
    """A factory of directories under the run's base temporary directory."""
    from .builtins.tmp import TempPathFactory

    return TempPathFactory(getattr(request.config, "basetemp", None))


@fixture
def tmp_path(request: Any, tmp_path_factory: TempPathFactory) -> Path:
    """A new directory for the test (``pathlib.Path``), named after it."""
    from .builtins.tmp import tmp_name

    return tmp_path_factory.mktemp(tmp_name(request.node.name), numbered=True)


@fixture(scope="session")
def tmpdir_factory(tmp_path_factory: TempPathFactory) -> TempdirFactory:
    """`tmp_path_factory` making ``py.path.local`` objects (``pathlib.Path`` where pytest is not loaded)."""
    from .builtins.tmp import TempdirFactory

    return TempdirFactory(tmp_path_factory)


@fixture
def tmpdir(tmp_path: Path) -> Any:
    """`tmp_path` as a ``py.path.local`` (a ``pathlib.Path`` where pytest is not loaded)."""
    from .builtins.tmp import legacy_path

    return legacy_path(tmp_path)


# -- monkeypatch ----------------------------------------------------------------


@fixture
def monkeypatch() -> Iterator[MonkeyPatch]:
    """Attributes, items, environment variables, ``sys.path`` and working
    directory changed for the test, and put back after it."""
    from .builtins.monkeypatch import MonkeyPatch

    patch = MonkeyPatch()
    try:
        yield patch
    finally:
        patch.undo()


# -- output capture -------------------------------------------------------------


def _capturing(request: Any, method: str, binary: bool, tee: bool = False) -> Iterator[CaptureFixture]:
    from .builtins import capture

    started = capture.start(method, binary, request, tee)
    try:
        yield started
    finally:
        capture.finish(started)


@fixture
def capsys(request: Any) -> Iterator[CaptureFixture]:
    """Captures what the test writes to ``sys.stdout``/``sys.stderr``, as text (``readouterr()``)."""
    yield from _capturing(request, "sys", False)


@fixture
def capsysbinary(request: Any) -> Iterator[CaptureFixture]:
    """`capsys`, as bytes."""
    yield from _capturing(request, "sys", True)


@fixture
def capteesys(request: Any) -> Iterator[CaptureFixture]:
    """`capsys` that also lets the output through to the test's output."""
    yield from _capturing(request, "sys", False, tee=True)


@fixture
def capfd(request: Any) -> Iterator[CaptureFixture]:
    """Captures what is written to file descriptors 1 and 2 (subprocesses
    included), as text (``readouterr()``)."""
    yield from _capturing(request, "fd", False)


@fixture
def capfdbinary(request: Any) -> Iterator[CaptureFixture]:
    """`capfd`, as bytes."""
    yield from _capturing(request, "fd", True)


# -- logs and warnings ------------------------------------------------------------


@fixture
def caplog(request: Any) -> Iterator[LogCaptureFixture]:
    """The log records the test emits (``records``, ``messages``, ``text``...), and their levels."""
    from .builtins.logcapture import LogCaptureFixture

    capture = LogCaptureFixture(request.config)
    capture._start()
    try:
        yield capture
    finally:
        capture._finalize()


@fixture
def recwarn() -> Iterator[WarningsRecorder]:
    """The warnings the test raises (a list of ``warnings.WarningMessage``)."""
    import warnings

    from .builtins.recwarn import WarningsRecorder

    with WarningsRecorder() as recorder:
        # pytest's own choice: each distinct warning once per location.
        warnings.simplefilter("default")
        yield recorder


# -- cache and report properties ------------------------------------------------------


@fixture(scope="session")
def cache(request: Any) -> Cache:
    """Values (``get``/``set``, JSON) and directories (``mkdir``) kept from one run to the next."""
    existing = getattr(request.config, "cache", None)
    if existing is not None:
        return existing
    from .builtins.cache import Cache

    return Cache.for_config(request.config)


@fixture
def record_property(request: Any) -> Callable[[str, object], None]:
    """``record_property(name, value)`` adds a property to the test's report (JUnit ``<property>``)."""
    node = request.node

    def append_property(name: str, value: object) -> None:
        node.user_properties.append((name, value))

    return append_property


@fixture(scope="session")
def record_testsuite_property(request: Any) -> Callable[[str, object], None]:
    """``record_testsuite_property(name, value)`` adds a property to the test suite's report."""
    __tracebackhide__ = True
    properties = getattr(request.config, "testsuite_properties", None)

    def record(name: str, value: object) -> None:
        __tracebackhide__ = True
        if not isinstance(name, str):
            raise TypeError(f"name parameter needs to be a string, but {type(name).__name__} given")
        if properties is not None:
            properties.append((name, str(value)))

    return record


# -- doctest_namespace -----------------------------------------------------------


@fixture(scope="session")
def doctest_namespace() -> dict[str, Any]:
    """pytest's names for doctests: conftests fill it (often from an autouse
    fixture). dbtest runs no doctests yet, so only such fixtures read it."""
    return {}


# -- subtests --------------------------------------------------------------------


@fixture
def subtests(request: Any) -> Subtests:
    """``with subtests.test(msg, **kwargs):`` blocks that pass or fail on their own."""
    from .builtins.subtests import Subtests

    return Subtests(request)


# -- benchmark (pytest-benchmark's) ---------------------------------------------------


@fixture
def benchmark(request: Any) -> Iterator[Any]:
    """pytest-benchmark's ``benchmark``: calls the function once in a test run,
    measures it under ``dbtest bench``."""
    from .builtins.benchmark import BenchmarkFixture

    fixture = BenchmarkFixture(request.node)
    yield fixture
    fixture.flush()
