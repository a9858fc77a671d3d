"""The built-in fixtures (`dbtest.worker.builtin_fixtures`), each set up and torn
down as the engine will (`builtin_harness`), and compared with pytest running
the same small test files where pytest's behaviour can be observed."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from dbtest.worker import builtin_fixtures
from dbtest.worker.builtins import phases
from dbtest.worker.outcomes import FAILED, PASS, PASSED, SKIPPED, XFAILED, Outcome

from .builtin_harness import Config, Harness, Node, RealOutput, import_path, run_module_tests

HERE = Path(__file__).resolve().parent


@pytest.fixture
def harness(tmp_path: Path):
    basetemp = tmp_path / "basetemp"
    basetemp.mkdir()
    made = Harness(Config(basetemp=basetemp, cache_dir=tmp_path / ".dbtest", rootpath=tmp_path))
    yield made
    assert made.close() == []


def run_script(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` in a fresh interpreter that sees the installed dbtest and `builtin_harness`."""
    preamble = f"import sys\nsys.path.append({str(HERE)!r})\n"
    return subprocess.run(
        [sys.executable, "-P", "-c", preamble + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


# -- the module itself ------------------------------------------------------------


def test_every_builtin_is_a_fixture_of_the_documented_scope():
    session = {"tmp_path_factory", "tmpdir_factory", "cache", "record_testsuite_property", "doctest_namespace"}
    for name in builtin_fixtures.FIXTURES:
        spec = getattr(builtin_fixtures, name).__dbtest_fixture__
        assert spec.scope == ("session" if name in session else "function"), name
        assert not spec.autouse and spec.params is None


def test_importing_the_builtins_loads_nothing_heavy():
    result = run_script(
        """
        import dbtest.worker.protocol, dbtest.worker.outcomes
        before = set(sys.modules)
        import dbtest.worker.builtin_fixtures
        print(" ".join(sorted(set(sys.modules) - before)))
        """
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert loaded <= {"dbtest.fixtures", "dbtest.worker.builtin_fixtures"}, loaded


def test_phases_are_checked():
    before = phases.current_phase
    with pytest.raises(ValueError, match="unknown phase 'run'"):
        phases.enter_phase("run")
    assert phases.current_phase == before


# -- tmp_path, tmp_path_factory, tmpdir, tmpdir_factory ------------------------------


def test_tmp_path_is_a_fresh_numbered_directory_named_after_the_test(harness):
    seen = []

    def test_x(tmp_path, tmp_path_factory):
        assert tmp_path.is_dir() and list(tmp_path.iterdir()) == []
        assert tmp_path.parent == tmp_path_factory.getbasetemp()
        seen.append(tmp_path)

    for name in ("test_x[1-a]", "test_x[1-a]", "test_x[1-a]"):
        assert harness.run(test_x, name=name)[1] is None
    assert [p.name for p in seen] == ["test_x_1_a_0", "test_x_1_a_1", "test_x_1_a_2"]
    assert (seen[0].parent / "test_x_1_a_current").resolve() == seen[2]


def test_tmp_path_names_are_cut_to_thirty_characters(harness):
    def test_y(tmp_path):
        assert tmp_path.name == "test_a_name_that_is_longer_tha0"

    assert harness.run(test_y, name="test_a_name_that_is_longer_than_thirty[x]")[1] is None


def test_the_base_is_the_runs_and_is_resolved(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    harness = Harness(Config(basetemp=tmp_path / "link", cache_dir=None))

    def test_z(tmp_path_factory):
        assert tmp_path_factory.getbasetemp() == real.resolve()

    assert harness.run(test_z)[1] is None


def test_mktemp_numbers_unless_told_not_to_and_stays_inside_the_base(harness):
    def test_m(tmp_path_factory):
        assert [tmp_path_factory.mktemp("data").name for _ in range(3)] == ["data0", "data1", "data2"]
        assert tmp_path_factory.mktemp("plain", numbered=False).name == "plain"
        with pytest.raises(FileExistsError):
            tmp_path_factory.mktemp("plain", numbered=False)
        for bad in ("../out", "/abs", "a/b"):
            with pytest.raises(ValueError, match="is not a normalized and relative path"):
                tmp_path_factory.mktemp(bad)

    assert harness.run(test_m)[1] is None


def test_the_factory_is_made_once_per_session(harness):
    factories = []

    def test_f(tmp_path_factory, tmpdir_factory):
        factories.append(tmp_path_factory)
        assert tmpdir_factory._tmppath_factory is tmp_path_factory

    harness.run(test_f)
    harness.run(test_f)
    assert factories[0] is factories[1]


def test_workers_in_parallel_never_share_a_directory(tmp_path):
    code = """
        from pathlib import Path
        from dbtest.worker.builtins.tmp import TempPathFactory
        factory = TempPathFactory(Path(sys.argv[1]))
        print(" ".join(factory.mktemp("test_same_").name for _ in range(25)))
    """
    script = ["-P", "-c", f"import sys\nsys.path.append({str(HERE)!r})\n" + textwrap.dedent(code), str(tmp_path)]
    procs = [subprocess.Popen([sys.executable, *script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    names = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        names.extend(out.split())
    assert sorted(names) == sorted(f"test_same_{n}" for n in range(100))


def test_tmpdir_is_py_path_local_once_pytest_is_loaded(harness):
    import _pytest.compat

    def test_t(tmpdir, tmp_path, tmpdir_factory):
        assert isinstance(tmpdir, _pytest.compat.LEGACY_PATH)
        assert str(tmpdir) == str(tmp_path)
        made = tmpdir_factory.mktemp("legacy")
        assert isinstance(made, _pytest.compat.LEGACY_PATH) and made.basename == "legacy0"
        assert isinstance(tmpdir_factory.getbasetemp(), _pytest.compat.LEGACY_PATH)

    assert harness.run(test_t)[1] is None


def test_tmpdir_is_a_plain_path_without_pytest(tmp_path):
    result = run_script(
        """
        from pathlib import Path
        from builtin_harness import Config, Harness
        harness = Harness(Config(basetemp=Path(sys.argv[1]), cache_dir=None))
        def test_t(tmpdir, tmpdir_factory, tmp_path):
            assert type(tmpdir) is type(tmp_path) and tmpdir == tmp_path
            assert type(tmpdir_factory.mktemp("x")) is type(tmp_path)
        print(harness.run(test_t)[1], "pytest" in sys.modules, "py" in sys.modules)
        """,
        str(tmp_path),
    )
    assert result.stdout.split() == ["None", "False", "False"], result.stderr


# -- monkeypatch -------------------------------------------------------------------


class Thing:
    attr = 1

    @staticmethod
    def static() -> str:
        return "static"

    @classmethod
    def klass(cls) -> str:
        return cls.__name__


def test_monkeypatch_undoes_everything_at_teardown(harness, tmp_path):
    os.environ.pop("DBTEST_MP_NEW", None)
    os.environ["DBTEST_MP_OLD"] = "old"
    cwd, path = os.getcwd(), list(sys.path)
    mapping = {"keep": 1, "gone": 2}

    def test_mp(monkeypatch):
        monkeypatch.setattr(Thing, "attr", 2)
        monkeypatch.setattr(Thing, "attr", 3)
        monkeypatch.setattr(Thing, "static", lambda: "patched")
        monkeypatch.setattr(Thing, "klass", "patched")
        monkeypatch.setattr(Thing, "new_attr", 1, raising=False)
        monkeypatch.delattr(Thing, "attr")
        monkeypatch.setattr(f"{__name__}.Thing.attr", 9, raising=False)
        monkeypatch.setitem(mapping, "keep", 10)
        monkeypatch.setitem(mapping, "keep", 11)
        monkeypatch.setitem(mapping, "added", 3)
        monkeypatch.delitem(mapping, "gone")
        monkeypatch.delitem(mapping, "never", raising=False)
        monkeypatch.setenv("DBTEST_MP_NEW", "new")
        monkeypatch.setenv("DBTEST_MP_OLD", "pre", prepend=":")
        monkeypatch.delenv("DBTEST_MP_NEVER", raising=False)
        monkeypatch.syspath_prepend(tmp_path)
        monkeypatch.chdir(tmp_path)
        assert Thing.attr == 9 and Thing.static() == "patched" and Thing.klass == "patched"
        assert mapping == {"keep": 11, "added": 3}
        assert os.environ["DBTEST_MP_OLD"] == "pre:old"
        assert sys.path[0] == str(tmp_path) and os.getcwd() == str(tmp_path)

    assert harness.run(test_mp)[1] is None
    assert Thing.attr == 1 and Thing.static() == "static" and Thing.klass() == "Thing"
    assert isinstance(Thing.__dict__["static"], staticmethod) and isinstance(Thing.__dict__["klass"], classmethod)
    assert not hasattr(Thing, "new_attr")
    assert mapping == {"keep": 1, "gone": 2}
    assert "DBTEST_MP_NEW" not in os.environ and os.environ["DBTEST_MP_OLD"] == "old"
    assert os.getcwd() == cwd and sys.path == path
    del os.environ["DBTEST_MP_OLD"]


def test_monkeypatch_undo_and_context():
    from dbtest.worker.builtins.monkeypatch import MonkeyPatch

    mp = MonkeyPatch()
    mp.setattr(Thing, "attr", 5)
    mp.undo()
    assert Thing.attr == 1
    mp.undo()  # consumed: nothing left to undo
    assert Thing.attr == 1
    with MonkeyPatch.context() as inner:
        assert isinstance(inner, MonkeyPatch)
        inner.setattr(Thing, "attr", 6)
        assert Thing.attr == 6
    assert Thing.attr == 1


def test_syspath_prepend_lets_new_modules_be_imported_at_once(harness, tmp_path):
    def test_s(monkeypatch):
        monkeypatch.syspath_prepend(tmp_path)
        (tmp_path / "dbtest_fresh_module.py").write_text("VALUE = 42\n")
        import dbtest_fresh_module  # type: ignore[import-not-found]

        assert dbtest_fresh_module.VALUE == 42

    # A cached listing of the directory that predates the file must not hide it.
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        importlib.util.find_spec("dbtest_not_there")
    finally:
        sys.path.remove(str(tmp_path))
    try:
        assert harness.run(test_s)[1] is None
    finally:
        sys.modules.pop("dbtest_fresh_module", None)


def test_setenv_warns_about_values_that_are_not_strings(harness):
    def test_w(monkeypatch):
        with pytest.warns(pytest.PytestWarning, match="should be str, but got 1 .type: int.; converted"):
            monkeypatch.setenv("DBTEST_MP_INT", 1)  # type: ignore[arg-type]
        assert os.environ["DBTEST_MP_INT"] == "1"

    assert harness.run(test_w)[1] is None
    assert "DBTEST_MP_INT" not in os.environ


# -- capsys, capsysbinary, capteesys, capfd, capfdbinary -------------------------------


def test_capsys_reads_and_resets(harness):
    def test_c(capsys):
        print("hello")
        sys.stderr.write("oops\n")
        result = capsys.readouterr()
        assert result == ("hello\n", "oops\n") and (result.out, result.err) == ("hello\n", "oops\n")
        assert type(result).__name__ == "CaptureResult"
        assert capsys.readouterr() == ("", "")

    assert harness.run(test_c)[1] is None


def test_capsysbinary_and_capfdbinary_read_bytes(harness):
    def test_b(capsysbinary):
        print("text")
        sys.stdout.buffer.write(b"\xffraw\n")
        assert capsysbinary.readouterr() == (b"text\n\xffraw\n", b"")

    def test_fb(capfdbinary):
        os.write(1, b"\xfe\n")
        os.write(2, b"two\n")
        assert capfdbinary.readouterr() == (b"\xfe\n", b"two\n")

    assert harness.run(test_b)[1] is None
    assert harness.run(test_fb)[1] is None


def test_capfd_sees_descriptors_and_subprocesses(harness):
    def test_f(capfd):
        os.write(1, b"fd1\n")
        print("python")
        os.write(2, b"fd2\n")
        subprocess.run([sys.executable, "-c", "print('child')"], check=True)
        assert capfd.readouterr() == ("fd1\npython\nchild\n", "fd2\n")
        os.write(1, b"\xff\n")
        assert capfd.readouterr().out == "\ufffd\n"

    assert harness.run(test_f)[1] is None


def test_disabled_lets_output_through(harness):
    def test_d(capsys):
        print("captured")
        with capsys.disabled():
            print("through")
        print("again")
        assert capsys.readouterr().out == "captured\nagain\n"

    with RealOutput() as output:
        assert harness.run(test_d)[1] is None
        assert output.readouterr()[0] == "through\n"


def test_capteesys_captures_and_lets_through(harness):
    def test_t(capteesys):
        print("both")
        assert capteesys.readouterr().out == "both\n"

    with RealOutput() as output:
        assert harness.run(test_t)[1] is None
        assert output.readouterr()[0] == "both\n"


def test_two_capture_fixtures_in_one_test_are_an_error(harness):
    def test_two(capsys, capfd):
        pass

    error = harness.run(test_two)[1]
    assert isinstance(error, LookupError) and str(error) == "cannot use capfd and capsys at the same time"
    # The first one was torn down with the failed set-up: the next test may capture.
    assert builtin_fixtures_capture_active() is None


def builtin_fixtures_capture_active() -> Any:
    from dbtest.worker.builtins import capture

    return capture.active()


def test_a_capture_fixture_a_test_left_behind_does_not_block_the_next(harness):
    import io

    out = sys.stdout
    left = harness.setup(Node("test_left", "x::test_left"), ["capsys"])
    print("left behind")
    # No teardown (an engine that lost track of it), and since then someone
    # else has put their own stream in place: the next test's fixture ends the
    # abandoned one and leaves that stream be.
    theirs = io.StringIO()
    sys.stdout = theirs
    try:

        def test_next(capsys):
            print("next")
            assert capsys.readouterr().out == "next\n"

        assert harness.run(test_next)[1] is None
        assert sys.stdout is theirs
    finally:
        sys.stdout = out
    assert builtin_fixtures_capture_active() is None
    assert left.values["capsys"].readouterr().out == "left behind\n"


def test_streams_and_descriptors_are_put_back(harness):
    out, err = sys.stdout, sys.stderr
    stats = [os.fstat(fd) for fd in (1, 2)]

    def test_p(capfd):
        assert sys.stdout is not out and os.fstat(1).st_ino != stats[0].st_ino

    assert harness.run(test_p)[1] is None
    assert sys.stdout is out and sys.stderr is err
    assert [(s.st_dev, s.st_ino) for s in (os.fstat(1), os.fstat(2))] == [(s.st_dev, s.st_ino) for s in stats]


def test_capfd_works_on_a_descriptor_the_test_closed(tmp_path):
    result = run_script(
        """
        import os
        from pathlib import Path
        from builtin_harness import Config, Harness
        harness = Harness(Config(basetemp=Path(sys.argv[1]), cache_dir=None))
        saved = os.dup(1)
        os.close(1)

        def test_closed(capfd):
            os.write(1, b"to a closed fd\\n")
            assert capfd.readouterr().out == "to a closed fd\\n"
            assert sys.stdout.mode == "r+" and isinstance(sys.stdout.name, str)

        error = harness.run(test_closed)[1]
        try:
            os.fstat(1)
            still_closed = False
        except OSError:
            still_closed = True
        os.dup2(saved, 1)
        print(error, still_closed)
        """,
        str(tmp_path),
    )
    assert result.stdout.split() == ["None", "True"], result.stderr


WORKER_CAPTURE = """
    import json, os, subprocess
    from pathlib import Path
    from dbtest.worker.capture import FdCapture, NoCapture
    from builtin_harness import Config, Harness
    mode, base, report = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    capture = FdCapture(1 << 20) if mode == "capture" else NoCapture()
    harness = Harness(Config(basetemp=base, cache_dir=None))

    def test_sys(capsys):
        print("seen by capsys")
        sys.stderr.write("seen by capsys too\\n")
        assert capsys.readouterr() == ("seen by capsys\\n", "seen by capsys too\\n")
        print("left unread by capsys")

    def test_fd(capfd):
        os.write(1, b"seen by capfd\\n")
        subprocess.run([sys.executable, "-c", "print('child seen by capfd')"], check=True)
        out = capfd.readouterr().out
        assert out == "seen by capfd\\nchild seen by capfd\\n", out
        os.write(2, b"left unread by capfd\\n")

    results = {}
    print("before", flush=True)
    capture.take()
    for test in (test_sys, test_fd):
        # Still in the stream's buffer when the fixture starts: not the fixture's.
        print(f"buffered before {test.__name__}", end="")
        error = harness.run(test)[1]
        out, err = capture.take()
        results[test.__name__] = [repr(error) if error else None, out, err]
    Path(report).write_text(json.dumps(results))
"""


@pytest.mark.parametrize("mode", ["capture", "no-capture"])
def test_what_a_capture_fixture_read_is_not_the_tests_output(tmp_path, mode):
    report = tmp_path / "report.json"
    result = run_script(WORKER_CAPTURE, mode, str(tmp_path), str(report))
    assert result.returncode == 0, result.stderr
    results = json.loads(report.read_text())
    assert results["test_sys"][0] is None and results["test_fd"][0] is None
    if mode == "capture":
        # Printed under capture: the test's output is what the fixture left unread.
        assert results["test_sys"][1:] == ["buffered before test_sysleft unread by capsys\n", ""]
        assert results["test_fd"][1:] == ["buffered before test_fd", "left unread by capfd\n"]
        assert result.stdout == "" and result.stderr == ""
    else:
        # -s: output goes straight through, except what the fixtures read.
        assert results["test_sys"][1:] == ["", ""] and results["test_fd"][1:] == ["", ""]
        assert "seen by" not in result.stdout and "seen by" not in result.stderr
        assert "left unread by capsys\n" in result.stdout and "left unread by capfd\n" in result.stderr
        assert "buffered before test_sys" in result.stdout and "buffered before test_fd" in result.stdout


def test_unread_output_goes_to_the_tests_output_at_each_phase_end(harness):
    with RealOutput() as output:
        run = harness.setup(Node("test_phases", "x::test_phases"), ["capsys"])
        try:
            fixture = run.values["capsys"]
            print("in setup")
            phases.enter_phase("call")
            # pytest hands what the setup phase left unread over to the test's
            # output, and it can still be read.
            assert output.readouterr()[0] == "in setup\n"
            print("in call")
            assert fixture.readouterr().out == "in setup\nin call\n"
            print("unread")
        finally:
            assert harness.teardown(run) == []
        assert output.readouterr()[0] == "unread\n"


# -- caplog ------------------------------------------------------------------------

LOG = logging.getLogger("dbtest.tests.caplog")


def test_caplog_records_what_passes_the_levels(harness):
    def test_l(caplog):
        LOG.info("hidden: the root logger is at WARNING")
        LOG.warning("shown %s", "here")
        assert caplog.messages == ["shown here"]
        assert caplog.record_tuples == [("dbtest.tests.caplog", logging.WARNING, "shown here")]
        assert caplog.records[0].getMessage() == "shown here"
        line = caplog.records[0].lineno
        assert caplog.text == f"WARNING  dbtest.tests.caplog:test_builtin_fixtures.py:{line} shown here\n"
        caplog.clear()
        assert caplog.records == [] and caplog.text == ""
        assert caplog.handler in logging.getLogger().handlers

    assert harness.run(test_l)[1] is None


def test_set_level_is_restored_at_teardown(harness):
    root = logging.getLogger()
    before = (root.level, LOG.level)

    def test_s(caplog):
        caplog.set_level(logging.INFO)
        LOG.info("info")
        LOG.debug("debug")
        caplog.set_level(logging.DEBUG, logger=LOG.name)
        LOG.debug("debug now")
        assert caplog.messages == ["info", "debug now"]
        assert caplog.handler.level == logging.DEBUG

    node, error = harness.run(test_s)
    assert error is None
    assert (root.level, LOG.level) == before
    assert not [h for h in root.handlers if h.__module__ == "dbtest.worker.builtins.logcapture"]


def test_at_level_and_filtering(harness):
    def test_a(caplog):
        with caplog.at_level(logging.DEBUG, logger=LOG.name):
            LOG.debug("inside")
        LOG.debug("outside")

        class NoSecrets(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                return "secret" not in record.getMessage()

        with caplog.filtering(NoSecrets()):
            LOG.warning("a secret")
            LOG.warning("public")
        LOG.warning("secret again")
        assert caplog.messages == ["inside", "public", "secret again"]

    assert harness.run(test_a)[1] is None
    assert LOG.level == logging.NOTSET


def test_set_level_lifts_logging_disable_until_teardown(harness):
    logging.disable(logging.WARNING)
    try:

        def test_d(caplog):
            caplog.set_level(logging.WARNING)
            LOG.warning("despite disable")
            assert caplog.messages == ["despite disable"]

        assert harness.run(test_d)[1] is None
        assert logging.root.manager.disable == logging.WARNING
    finally:
        logging.disable(logging.NOTSET)


def test_records_are_kept_per_phase(harness):
    node = Node("test_p", "x::test_p")
    run = harness.setup(node, ["caplog"])
    caplog = run.values["caplog"]
    LOG.warning("setting up")
    phases.enter_phase("call")
    LOG.warning("calling")
    assert caplog.messages == ["calling"]
    assert [r.getMessage() for r in caplog.get_records("setup")] == ["setting up"]
    phases.enter_phase("teardown")
    LOG.warning("tearing down")
    assert [r.getMessage() for r in caplog.get_records("call")] == ["calling"]
    assert [r.getMessage() for r in caplog.get_records("teardown")] == ["tearing down"]
    assert harness.teardown(run) == []


def test_without_phases_everything_is_the_call(tmp_path):
    # An engine that does not announce phases: caplog still works.
    from dbtest.worker.builtins.logcapture import LogCaptureFixture

    caplog = LogCaptureFixture(Config(basetemp=tmp_path, cache_dir=None))
    caplog._start()
    try:
        LOG.warning("one")
        assert caplog.get_records("call") == caplog.records and caplog.get_records("setup") == []
    finally:
        caplog._finalize()


def test_logging_settings_are_read(tmp_path):
    from dbtest.worker.builtins.logcapture import LogCaptureFixture

    ini = {
        "log_level": "info",
        "log_format": "%(levelname)s|%(message)s",
        "log_auto_indent": "true",
    }
    caplog = LogCaptureFixture(Config(basetemp=tmp_path, cache_dir=None, ini=ini))
    caplog._start()
    try:
        LOG.info("first\nsecond")
        assert caplog.text == "INFO|first\n     second\n"
    finally:
        caplog._finalize()
    with pytest.raises(ValueError, match="'LOUD' is not recognized as a logging level name for 'log_level'"):
        LogCaptureFixture(Config(basetemp=tmp_path, cache_dir=None, ini={"log_level": "loud"}))


def test_a_log_call_that_cannot_be_formatted_fails_the_test(harness):
    def test_bad(caplog):
        LOG.warning("%d", "not a number")

    error = harness.run(test_bad)[1]
    assert isinstance(error, TypeError)


# -- recwarn -----------------------------------------------------------------------


def test_recwarn_records_each_warning_once_per_place(harness):
    def test_r(recwarn):
        for _ in range(3):
            warnings.warn("same", UserWarning, stacklevel=1)
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
        warnings.warn("other", UserWarning, stacklevel=1)
        assert [str(w.message) for w in recwarn] == ["same", "deprecated", "other"]
        assert len(recwarn) == 3 and recwarn[1].category is DeprecationWarning
        assert recwarn.list is recwarn.list
        assert str(recwarn.pop(DeprecationWarning).message) == "deprecated"
        assert str(recwarn.pop().message) == "same"
        with pytest.raises(AssertionError, match="<class 'FutureWarning'> not found in warning list"):
            recwarn.pop(FutureWarning)
        recwarn.clear()
        assert len(recwarn) == 0

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # what recwarn records never reaches the outer filters
        assert harness.run(test_r)[1] is None


def test_pop_chooses_as_pytest_does():
    from _pytest.recwarn import WarningsRecorder as PytestRecorder

    from dbtest.worker.builtins.recwarn import WarningsRecorder

    class Child(UserWarning):
        pass

    popped = []
    for recorder in (WarningsRecorder(), PytestRecorder(_ispytest=True)):
        with recorder:
            for message, category in [("child", Child), ("parent", UserWarning), ("runtime", RuntimeWarning)] * 2:
                warnings.warn(message, category, stacklevel=1)
            warnings.warn("grandchild", type("Grandchild", (Child,), {}), stacklevel=1)
        seen = []
        for cls in (Child, UserWarning, Warning, Child, UserWarning, Warning, Child, Warning, Warning):
            try:
                seen.append(str(recorder.pop(cls).message))
            except AssertionError as exc:
                seen.append(f"AssertionError: {exc}")
        popped.append(seen)
    assert popped[0] == popped[1]
    with pytest.raises(RuntimeError, match="Cannot exit"):
        WarningsRecorder().__exit__(None, None, None)


def test_recwarn_puts_the_filters_back(harness):
    filters = list(warnings.filters)

    def test_r(recwarn):
        warnings.simplefilter("ignore")

    assert harness.run(test_r)[1] is None
    assert warnings.filters == filters


# -- cache -------------------------------------------------------------------------


def test_cache_stores_json_values_and_directories(harness, tmp_path):
    def test_c(cache):
        assert cache.get("project/missing", "default") == "default"
        cache.set("project/value", {"a": [1, 2], "é": None})
        assert cache.get("project/value", None) == {"a": [1, 2], "é": None}
        made = cache.mkdir("project_dir")
        assert made.is_dir() and made == tmp_path / ".dbtest" / "cache" / "d" / "project_dir"
        with pytest.raises(ValueError, match="name is not allowed to contain path separators"):
            cache.mkdir("a/b")
        for bad in ("../escape", "/absolute"):
            with pytest.raises(ValueError, match="is not allowed to escape the cache directory"):
                cache.set(bad, 1)
        assert cache.get("project/../project/value", None) == {"a": [1, 2], "é": None}

    assert harness.run(test_c)[1] is None
    stored = tmp_path / ".dbtest" / "cache" / "v" / "project" / "value"
    assert stored.read_text(encoding="utf-8") == '{\n  "a": [\n    1,\n    2\n  ],\n  "é": null\n}'
    assert [p.name for p in stored.parent.iterdir()] == ["value"]


def test_an_unreadable_value_is_the_default(harness, tmp_path):
    def test_u(cache):
        cache.set("k", 1)
        (tmp_path / ".dbtest" / "cache" / "v" / "k").write_text("{not json")
        assert cache.get("k", "default") == "default"

    assert harness.run(test_u)[1] is None


def test_without_a_cache_directory_the_cache_lives_with_the_run(tmp_path):
    harness = Harness(Config(basetemp=tmp_path, cache_dir=None))

    def test_n(cache):
        cache.set("k", [1])
        assert cache.get("k", None) == [1]

    assert harness.run(test_n)[1] is None
    assert (tmp_path / "dbtest-cache" / "v" / "k").is_file()


def test_the_engines_cache_object_is_used_if_it_has_one(harness):
    marker = object()
    harness.config.cache = marker  # type: ignore[attr-defined]

    def test_e(cache):
        assert cache is marker

    assert harness.run(test_e)[1] is None


CACHE_WRITER = """
    from pathlib import Path
    from dbtest.worker.builtins.cache import Cache
    cache = Cache(Path(sys.argv[1]))
    role = sys.argv[2]
    if role == "write":
        for n in range(150):
            cache.set("shared/key", {"writer": sys.argv[3], "n": n, "pad": "x" * 20000})
    else:
        seen = bad = 0
        for _ in range(600):
            value = cache.get("shared/key", None)
            if value is None:
                bad += seen > 0  # once there is a value, there always is one
            else:
                seen += 1
                bad += not (isinstance(value, dict) and len(value["pad"]) == 20000)
        print(bad)
"""


def test_workers_writing_at_once_never_leave_half_a_value(tmp_path):
    code = f"import sys\nsys.path.append({str(HERE)!r})\n" + textwrap.dedent(CACHE_WRITER)
    Path(tmp_path / "v" / "shared").mkdir(parents=True)
    writers = [subprocess.Popen([sys.executable, "-P", "-c", code, str(tmp_path), "write", str(i)]) for i in range(3)]
    reader = subprocess.run(
        [sys.executable, "-P", "-c", code, str(tmp_path), "read"], capture_output=True, text=True, timeout=120
    )
    for writer in writers:
        assert writer.wait(timeout=120) == 0
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.split() == ["0"]
    assert [p.name for p in (tmp_path / "v" / "shared").iterdir()] == ["key"]


def test_doctest_namespace_is_one_dict_for_the_session(harness):
    seen = []

    def test_n(doctest_namespace):
        doctest_namespace.setdefault("count", 0)
        doctest_namespace["count"] += 1
        seen.append(doctest_namespace)

    assert harness.run(test_n)[1] is None
    assert harness.run(test_n)[1] is None
    assert seen[0] is seen[1] and seen[0] == {"count": 2}


# -- record_property, record_testsuite_property ----------------------------------------


def test_record_property_appends_to_the_tests_node(harness):
    def test_p(record_property):
        record_property("example_key", 1)
        record_property("other", "two")

    node, error = harness.run(test_p)
    assert error is None
    assert node.user_properties == [("example_key", 1), ("other", "two")]


def test_record_testsuite_property_checks_names_and_records_where_the_engine_keeps_them(harness):
    harness.config.testsuite_properties = []  # type: ignore[attr-defined]

    def test_s(record_testsuite_property):
        record_testsuite_property("ARCH", "PPC")
        record_testsuite_property("COUNT", 3)
        with pytest.raises(TypeError, match="name parameter needs to be a string, but int given"):
            record_testsuite_property(1, "x")  # type: ignore[arg-type]

    assert harness.run(test_s)[1] is None
    assert harness.config.testsuite_properties == [("ARCH", "PPC"), ("COUNT", "3")]  # type: ignore[attr-defined]


# -- subtests ----------------------------------------------------------------------


def test_subtests_count_passes_and_keep_failures(harness):
    def test_s(subtests):
        for i in range(3):
            with subtests.test(i=i):
                assert i != 1
        with subtests.test("message", s="x", n=[1, 2]):
            pass
        with subtests.test("boom"):
            raise ValueError("v")
        with subtests.test():
            pytest.skip("skipped block")
        with subtests.test(msg="xf"):
            pytest.xfail("expected")

    node, error = harness.run(test_s)
    assert error is None
    assert node.subtests_passed == 3
    described = [(d, o.outcome, o.message) for d, o in node.subtest_failures]
    assert described[0][2].startswith("AssertionError")
    assert described[1:] == [
        ("[boom]", FAILED, "ValueError: v"),
        ("(<subtest>)", SKIPPED, "skipped block"),
        ("[xf]", XFAILED, "expected"),
    ]
    assert "ValueError: v" in node.subtest_failures[1][1].traceback

    outcome, passed, sent = builtin_fixtures.subtest_results(node, PASS)
    assert (outcome.outcome, outcome.message) == (FAILED, "contains 2 failed subtests")
    assert passed == 3
    assert sent[1] == {
        "description": "[boom]",
        "outcome": FAILED,
        "message": "ValueError: v",
        "traceback": node.subtest_failures[1][1].traceback,
    }


def test_a_test_without_failed_blocks_keeps_its_outcome():
    node = Node("t", "t")
    assert builtin_fixtures.subtest_results(node, PASS) == (PASS, 0, [])
    node.subtest_failures.append(("(<subtest>)", Outcome(SKIPPED, "call", None, "why")))
    outcome, _, sent = builtin_fixtures.subtest_results(node, PASS)
    assert outcome is PASS and len(sent) == 1
    failed = Outcome(FAILED, "call", None, "own failure")
    node.subtest_failures.append(("[x]", Outcome(FAILED, "call", None, "m")))
    assert builtin_fixtures.subtest_results(node, failed)[0] is failed
    assert builtin_fixtures.subtest_results(node, PASS)[0].message == "contains 1 failed subtest"


def test_an_interrupt_in_a_block_ends_the_test(harness):
    def test_i(subtests):
        with subtests.test("interrupted"):
            raise KeyboardInterrupt

    node, error = harness.run(test_i)
    assert isinstance(error, KeyboardInterrupt) and node.subtest_failures == []


def test_subtest_descriptions_use_pytests_short_reprs():
    from _pytest._io.saferepr import saferepr as pytest_saferepr

    from dbtest.worker.builtins.subtests import description

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert description(None, {}) == "(<subtest>)"
    assert description("m", {"a": 1, "b": "s"}) == "[m] (a=1, b='s')"
    assert description(None, {"items": list(range(10))}) == "(items=[0, 1, 2, 3, 4, 5, ...])"
    values = [
        {"z": 1, "a": 2, "c": 3, "b": 4, "e": 5},
        "x" * 300,
        [[[[[[[1]]]]]]],
        (1,),
        {1, 2, 3, 4, 5, 6, 7, 8},
        Broken(),
        b"bytes" * 100,
        3.5,
        None,
    ]
    for value in values:
        assert description(None, {"v": value}) == f"(v={pytest_saferepr(value)})"


# -- compared with pytest ------------------------------------------------------------

OBSERVE = """
import json, os, sys

def record(key, value):
    test = sys._getframe(1).f_code.co_name
    with open(os.environ["OBSERVATIONS"], "a") as log:
        log.write(json.dumps([test, key, value]) + "\\n")

def error_text(call):
    try:
        call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
"""

COMPARE_TMP = """
import pytest
from _observe import record, error_text

def test_simple(tmp_path, tmp_path_factory):
    record("name", tmp_path.name)
    record("under the base", tmp_path.parent == tmp_path_factory.getbasetemp())
    record("empty", list(tmp_path.iterdir()) == [])

@pytest.mark.parametrize("n, s", [(1, "a"), (2, "b c"), (3, "d/e")])
def test_param(tmp_path, n, s):
    record(f"name {n}", tmp_path.name)

def test_a_very_long_name_that_goes_well_beyond_thirty_characters(tmp_path):
    record("name", tmp_path.name)

def test_factory(tmp_path_factory):
    record("numbered", [tmp_path_factory.mktemp("data").name for _ in range(2)])
    record("current", (tmp_path_factory.getbasetemp() / "datacurrent").resolve().name)
    record("plain", tmp_path_factory.mktemp("plain", numbered=False).name)
    for bad in ("../out", "/abs", "a/b", "a/../b"):
        record(f"mktemp {bad}", error_text(lambda: tmp_path_factory.mktemp(bad)))

def test_tmpdir(tmpdir, tmp_path, tmpdir_factory):
    record("type", type(tmpdir).__module__ + "." + type(tmpdir).__name__)
    record("same", str(tmpdir) == str(tmp_path))
    record("factory", tmpdir_factory.mktemp("legacy").basename)
"""

COMPARE_MONKEYPATCH = """
import os, sys, warnings
from _observe import record, error_text

class Thing:
    attr = 1

def test_errors(monkeypatch):
    calls = {
        "missing attribute": lambda: monkeypatch.setattr(Thing, "nope", 1),
        "missing by name": lambda: monkeypatch.setattr("os.nope_attr", 1),
        "no dots": lambda: monkeypatch.setattr("nodots", 1),
        "not a string": lambda: monkeypatch.setattr(Thing, 1),
        "name not a string": lambda: monkeypatch.setattr(Thing, 1, 2),
        "not a package": lambda: monkeypatch.setattr("os.path.nope.deeper", 1),
        "no module": lambda: monkeypatch.setattr("dbtest_no_such_module.attr", 1),
        "nested missing": lambda: monkeypatch.setattr("os.path.nope_x", 1),
        "delattr missing": lambda: monkeypatch.delattr(Thing, "nope"),
        "delattr by name": lambda: monkeypatch.delattr("os.nope_attr"),
        "delattr no name": lambda: monkeypatch.delattr(Thing),
        "delitem missing": lambda: monkeypatch.delitem({}, "k"),
        "delenv missing": lambda: monkeypatch.delenv("DBTEST_NEVER_SET_VARIABLE"),
    }
    for key, call in calls.items():
        record(key, error_text(call))

def test_setenv_not_a_string(monkeypatch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkeypatch.setenv("DBTEST_CMP_INT", 3)
    record("warning", [(type(w.message).__name__, str(w.message)) for w in caught])
    record("value", os.environ["DBTEST_CMP_INT"])

def test_prepend_and_undo(monkeypatch, tmp_path):
    monkeypatch.setenv("DBTEST_CMP_PATH", "a")
    monkeypatch.setenv("DBTEST_CMP_PATH", "b", prepend=os.pathsep)
    record("prepended", os.environ["DBTEST_CMP_PATH"])
    with monkeypatch.context() as m:
        m.setattr(Thing, "attr", 2)
        m.syspath_prepend(tmp_path)
        m.chdir(tmp_path)
        record("inside", [Thing.attr, sys.path[0] == str(tmp_path), os.getcwd() == str(tmp_path)])
    record("after", [Thing.attr, sys.path[0] == str(tmp_path), os.getcwd() == str(tmp_path)])
    d = {"k": 1}
    monkeypatch.setitem(d, "k", 2)
    monkeypatch.setitem(d, "k", 3)
    monkeypatch.delitem(d, "k")
    monkeypatch.undo()
    record("undone", [d, "DBTEST_CMP_PATH" in os.environ])
"""

COMPARE_CAPTURE = """
import os, subprocess, sys
from _observe import record

def test_capsys(capsys):
    print("hello")
    sys.stderr.write("err\\n")
    record("first", list(capsys.readouterr()))
    record("second", list(capsys.readouterr()))
    print("more", end="")
    result = capsys.readouterr()
    record("result", [result.out, result.err, type(result).__name__, isinstance(result, tuple)])
    with capsys.disabled():
        print("not captured by the fixture")
    record("after disabled", list(capsys.readouterr()))

def test_capsysbinary(capsysbinary):
    print("hi")
    sys.stdout.buffer.write(b"\\xff raw\\n")
    record("bytes", [repr(part) for part in capsysbinary.readouterr()])

def test_capfd(capfd):
    os.write(1, b"fd1\\n")
    print("py")
    os.write(2, b"fd2\\n")
    subprocess.run([sys.executable, "-c", "print('child')"], check=True)
    os.write(1, b"\\xff\\n")
    record("text", list(capfd.readouterr()))

def test_capfdbinary(capfdbinary):
    os.write(1, b"\\xfe\\n")
    print("py")
    record("bytes", [repr(part) for part in capfdbinary.readouterr()])

def test_capteesys(capteesys):
    print("tee")
    record("text", list(capteesys.readouterr()))
"""

COMPARE_CAPLOG = """
import logging
from _observe import record

log = logging.getLogger("compare.caplog")

def test_default_level(caplog):
    log.info("info hidden")
    log.warning("warn %s", "shown")
    record("messages", caplog.messages)
    record("tuples", [list(t) for t in caplog.record_tuples])
    record("text", caplog.text)

def test_set_level(caplog):
    caplog.set_level(logging.INFO)
    log.info("now")
    log.debug("not yet")
    caplog.set_level(logging.DEBUG, logger="compare.caplog")
    log.debug("debug now")
    record("messages", caplog.messages)

def test_levels_are_back():
    record("levels", [logging.getLogger().level, log.level])

def test_at_level_and_clear(caplog):
    with caplog.at_level(logging.DEBUG, logger="compare.caplog"):
        log.debug("inside")
    log.debug("outside")
    record("messages", caplog.messages)
    caplog.clear()
    log.error("after clear")
    record("after clear", [caplog.messages, caplog.text])

def test_multiline(caplog):
    log.warning("one\\ntwo")
    log.warning("three\\nfour", extra={"auto_indent": True})
    record("text", caplog.text)
"""

COMPARE_RECWARN = """
import warnings
from _observe import record, error_text

def test_loop(recwarn):
    for _ in range(3):
        warnings.warn("same", UserWarning)
    warnings.warn("dep", DeprecationWarning)
    warnings.warn("pending", PendingDeprecationWarning)
    record("recorded", [[str(w.message), w.category.__name__] for w in recwarn])

def test_pop(recwarn):
    warnings.warn("u", UserWarning)
    warnings.warn("d", DeprecationWarning)
    warnings.warn("r", RuntimeWarning)
    record("pop deprecation", str(recwarn.pop(DeprecationWarning).message))
    record("pop any", str(recwarn.pop().message))
    record("pop missing", error_text(lambda: recwarn.pop(FutureWarning)))
    recwarn.clear()
    record("cleared", len(recwarn))
"""

COMPARE_CACHE = """
from _observe import record, error_text

def test_cache(cache):
    record("missing", cache.get("compare/missing", "dflt"))
    cache.set("compare/value", {"a": [1, 2], "é": "ü"})
    record("roundtrip", cache.get("compare/value", None))
    record("file", (cache._cachedir / "v" / "compare" / "value").read_text(encoding="utf-8"))
    made = cache.mkdir("compare_dir")
    record("mkdir", [made.name, made.parent.name, made.is_dir()])
    record("mkdir separators", error_text(lambda: cache.mkdir("a/b")))
    for bad in ("../escape", "/abs"):
        record(f"set {bad}", error_text(lambda: cache.set(bad, 1)))
"""

COMPARE_SUBTESTS = """
import pytest

def test_blocks(subtests):
    for i in range(3):
        with subtests.test(i=i):
            assert i != 1
    with subtests.test("message", s="x", n=[1, 2, 3, 4, 5, 6, 7, 8]):
        assert False
    with subtests.test("boom", d={"b": 1, "a": 2}):
        raise ValueError("v")
    with subtests.test():
        pytest.skip("sk")
    with subtests.test(msg="xf"):
        pytest.xfail("xfr")

def test_all_pass(subtests):
    with subtests.test("fine"):
        pass
"""

COMPARED = {
    "test_cmp_tmp.py": COMPARE_TMP,
    "test_cmp_monkeypatch.py": COMPARE_MONKEYPATCH,
    "test_cmp_capture.py": COMPARE_CAPTURE,
    "test_cmp_caplog.py": COMPARE_CAPLOG,
    "test_cmp_recwarn.py": COMPARE_RECWARN,
    "test_cmp_cache.py": COMPARE_CACHE,
}


def _observations(path: Path) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    for line in path.read_text().splitlines():
        test, key, value = json.loads(line)
        assert (test, key) not in found, (test, key)
        found[test, key] = value
    return found


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The same files run by pytest (a subprocess) and through the built-ins
    here: (pytest's observations and output, dbtest's observations and results)."""
    root = tmp_path_factory.mktemp("compared")
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "_observe.py").write_text(OBSERVE)
    for name, text in {**COMPARED, "test_cmp_subtests.py": COMPARE_SUBTESTS}.items():
        (root / name).write_text(text)

    by_pytest = root / "by_pytest.jsonl"
    base = tmp_path_factory.mktemp("pytest-base")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-rA", "-p", "no:randomly", f"--basetemp={base}",
         "-o", f"cache_dir={root / '.pytest_cache'}", *sorted(COMPARED), "test_cmp_subtests.py"],
        cwd=root, env={**os.environ, "OBSERVATIONS": str(by_pytest)}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    by_dbtest = root / "by_dbtest.jsonl"
    dbtest_base = root / "dbtest-base"
    dbtest_base.mkdir()
    harness = Harness(Config(basetemp=dbtest_base, cache_dir=root / ".dbtest", rootpath=root))
    results: dict[str, dict[str, tuple[Node, BaseException | None]]] = {}
    modules: dict[str, Any] = {}
    saved_path, saved_env = list(sys.path), os.environ.get("OBSERVATIONS")
    sys.path.insert(0, str(root))
    os.environ["OBSERVATIONS"] = str(by_dbtest)
    try:
        for name in [*sorted(COMPARED), "test_cmp_subtests.py"]:
            modules[name] = module = import_path(root / name)
            results[name] = run_module_tests(harness, module)
        assert harness.close() == []
    finally:
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("OBSERVATIONS", None)
        else:
            os.environ["OBSERVATIONS"] = saved_env
        for name in [*COMPARED, "test_cmp_subtests.py", "_observe.py"]:
            sys.modules.pop(name[:-3], None)
    return _observations(by_pytest), proc.stdout, _observations(by_dbtest), results, harness


@pytest.mark.parametrize("file", sorted(COMPARED))
def test_observations_match_pytest(compared, file):
    pytest_seen, output, dbtest_seen, results, _ = compared
    assert f"{file}::" in output, output
    assert all(error is None for _, error in results[file].values()), results[file]
    prefix = file[:-3]
    mine = {k: v for k, v in dbtest_seen.items() if _test_file(k[0], prefix)}
    theirs = {k: v for k, v in pytest_seen.items() if _test_file(k[0], prefix)}
    assert mine, "no observations"
    assert mine == theirs


def _test_file(test_name: str, prefix: str) -> bool:
    return test_name in _FUNCTIONS[prefix]


_FUNCTIONS = {
    name[:-3]: {line.split("(")[0][4:] for line in text.splitlines() if line.startswith("def test_")}
    for name, text in COMPARED.items()
}


def test_the_test_outcomes_match_pytest(compared):
    _, output, _, results, _ = compared
    for file, by_test in results.items():
        if file == "test_cmp_subtests.py":
            continue
        for test in by_test:
            # -rA's short summary (the -v line may be split by output let through).
            assert f"\nPASSED {file}::{test}\n" in output, (file, test, output)


_SUB_WORDS = {"PASSED": PASSED, "FAILED": FAILED, "SKIPPED": SKIPPED, "XFAIL": XFAILED}


def test_subtests_are_described_and_counted_as_by_pytest(compared):
    _, output, _, results, _ = compared
    # pytest -v: "<file>::<test> SUBFAILED<description>" (with " (reason)" after
    # a skip or xfail's description) for each block, then the test's own line.
    passed: dict[str, int] = {}
    others: dict[str, list[tuple[str, str]]] = {}
    for line in output.splitlines():
        if not line.startswith("test_cmp_subtests.py::") or " SUB" not in line:
            continue
        test, _, rest = line.partition(" SUB")
        name = test.split("::")[1]
        rest = re.sub(r"\s*\[\s*\d+%\]$", "", rest)
        word = re.match(r"[A-Z]+", rest).group()  # type: ignore[union-attr]
        if word == "PASSED":
            passed[name] = passed.get(name, 0) + 1
        else:
            others.setdefault(name, []).append((_SUB_WORDS[word], rest[len(word) :]))
    assert others, output

    for name, (node, error) in results["test_cmp_subtests.py"].items():
        assert error is None
        assert node.subtests_passed == passed.get(name, 0), name
        mine = [(o.outcome, d if o.outcome in (FAILED,) else f"{d} ({o.message})") for d, o in node.subtest_failures]
        assert mine == others.get(name, []), name
        outcome = builtin_fixtures.subtest_results(node, PASS)[0]
        if outcome.outcome == FAILED:
            assert f"FAILED test_cmp_subtests.py::{name} - {outcome.message}" in output
        else:
            assert f"test_cmp_subtests.py::{name} PASSED" in output


# -- through the engine, side by side with pytest ---------------------------------------

E2E_CONFTEST = """
import pytest

@pytest.fixture
def recwarn():
    return "the conftest's own"
"""

E2E_TESTS = """
import logging, os, subprocess, sys, warnings
import pytest

def log(line):
    with open(os.environ["E2E_LOG"], "a") as f:
        f.write(line + "\\n")

def test_tmp(tmp_path, tmp_path_factory, tmpdir):
    log(tmp_path.name)
    assert tmp_path.parent == tmp_path_factory.getbasetemp()
    assert str(tmpdir) == str(tmp_path)

@pytest.mark.parametrize("n", [1, 2])
def test_tmp_param(tmp_path, n):
    log(tmp_path.name)

def test_monkeypatch(monkeypatch):
    monkeypatch.setenv("DBTEST_E2E", "1")
    monkeypatch.setattr("os.getcwd", lambda: "/nowhere")
    assert os.getcwd() == "/nowhere"

def test_monkeypatch_undone():
    assert "DBTEST_E2E" not in os.environ and os.getcwd() != "/nowhere"

def test_capsys(capsys):
    print("seen by capsys")
    assert capsys.readouterr().out == "seen by capsys\\n"

def test_capfd_fails(capfd):
    subprocess.run([sys.executable, "-c", "print('child seen by capfd')"], check=True)
    assert capfd.readouterr().out == "child seen by capfd\\n"
    print("left unread by capfd")
    assert False

def test_caplog(caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("e2e").info("hi")
    assert caplog.messages == ["hi"]

def test_caplog_level_back():
    assert logging.getLogger().level == logging.WARNING

def test_cache(cache):
    cache.set("e2e/k", [1])
    assert cache.get("e2e/k", None) == [1]

def test_record_property(record_property):
    record_property("k", "v")

def test_recwarn_overridden(recwarn):
    assert recwarn == "the conftest's own"

def test_two_capture_fixtures(capsys, capfd):
    pass
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_builtins_through_the_engine_match_pytest(project, tmp_path, workers):
    from .conftest import run_dbtest
    from .test_fixtures_compat import LABEL, OUTCOME, WORDS

    root = project({"conftest.py": E2E_CONFTEST, "test_e2e.py": E2E_TESTS, "pytest.ini": "[pytest]\n"})
    theirs_log, ours_log = tmp_path / "pytest.log", tmp_path / "dbtest.log"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-o", f"cache_dir={tmp_path / 'pytest-cache'}", "test_e2e.py"],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "E2E_LOG": str(theirs_log)},
    )
    theirs = {m["id"]: m["outcome"] for m in map(OUTCOME.match, proc.stdout.splitlines()) if m and "::" in m["id"]}
    # Failures are not rerun alone: the log must hold one run of each test, as pytest's.
    args = ("-v", "--no-cache", "--rerun-alone", "0", "-j", workers, "test_e2e.py")
    run = run_dbtest(*args, cwd=root, env={"E2E_LOG": str(ours_log)})
    ours = {m["id"]: WORDS.get(m["outcome"], m["outcome"]) for m in map(LABEL.match, run.stdout.splitlines()) if m}
    assert ours == theirs and len(ours) == 13, (run, proc.stdout)
    assert sorted(ours_log.read_text().split()) == sorted(theirs_log.read_text().split())
    assert "left unread by capfd" in run.stdout and "seen by capfd" not in run.stdout, run
    assert "cannot use capfd and capsys at the same time" in run.stdout, run
