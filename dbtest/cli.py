"""The ``dbtest`` command: parses the command line with click, then hands over to
the Rust coordinator (``dbtest._core.run``), which does everything else.

Usage errors exit with 4 (pytest's convention) after one line on stderr. Exit
codes are defined once, in the coordinator (``rust/coordinator/src/exit.rs``),
and read from the native module when needed (see `exit_code`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from dbtest import __version__


def exit_code(name: str) -> int:
    """The exit code called ``name`` (``USAGE_ERROR``, ``INTERRUPTED``, ...), from the
    coordinator's definition. Read on the way out only: loading the native module
    would add to every ``dbtest --version``."""
    from dbtest import _core

    return int(getattr(_core, f"EXIT_{name}"))


# (pid, socket fd) of a fork server started by `dbtest.launch`, until a run takes it.
_fork_server: tuple[int, int] | None = None
# What follows `--` on the command line: options of the project's conftests
# (their `pytest_addoption`), handed to the workers as they are.
_extra_args: list[str] = []


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("paths", nargs=-1, type=click.Path()),
        click.option(
            "-j", "--jobs", type=click.IntRange(min=1), help="Number of worker processes (default: usable CPUs)."
        ),
        click.option(
            "-k",
            "--pattern",
            "--keyword",
            "keyword",
            metavar="EXPR",
            help="Select tests whose id matches EXPR (substrings, globs, and/or/not).",
        ),
        click.option(
            "-m", "--tags", "--markers", "tags", metavar="EXPR", help="Select tests whose tags/marks match EXPR."
        ),
        click.option(
            "-s", "no_capture", is_flag=True, help="Do not capture output; stream it live (same as --capture=no)."
        ),
        click.option("--capture", type=click.Choice(["fd", "no"]), default=None, help="Per-test output capture."),
        click.option("-v", "--verbose", count=True, help="List every test with outcome, duration and worker."),
        click.option("-q", "--quiet", is_flag=True, help="Show only failures and the summary."),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Per-test timeout; a test past it is ended and reported as an error.",
        ),
        click.option(
            "-x", "--fail-fast", "--exitfirst", "fail_fast", is_flag=True, help="Stop after the first failure."
        ),
        click.option("--maxfail", type=click.IntRange(min=1), metavar="N", help="Stop after N failures."),
        click.option("--color", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True),
        click.option(
            "--cache-dir", type=click.Path(file_okay=False), help="Where durations are kept (default: .dbtest)."
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the cache."),
        click.option("--durations", type=click.IntRange(min=0), metavar="N", help="Show the N slowest tests."),
        click.option(
            "--max-worker-restart",
            type=click.IntRange(min=0),
            metavar="N",
            help="Worker replacements allowed before the run stops (default: 4 per worker).",
        ),
        click.option(
            "--lf",
            "--last-failed",
            "last_failed",
            is_flag=True,
            help="Run only the tests that failed last time (all if none did).",
        ),
        click.option(
            "--ff",
            "--failed-first",
            "failed_first",
            is_flag=True,
            help="Run the tests that failed last time first, then the rest.",
        ),
        click.option(
            "--retries",
            type=click.IntRange(min=0),
            metavar="N",
            help="Rerun a failing test up to N times; one that then passes is reported flaky.",
        ),
        click.option(
            "--flaky-result",
            type=click.Choice(["pass", "fail"]),
            default=None,
            help="Whether flaky tests fail the run (default: pass).",
        ),
        click.option(
            "--max-tests-per-worker",
            type=click.IntRange(min=1),
            metavar="N",
            help="Replace each worker after it has run N tests.",
        ),
        click.option(
            "--max-worker-rss", metavar="SIZE", help="Replace a worker whose memory grows above SIZE (e.g. 512M, 2G)."
        ),
        click.option(
            "--shard",
            metavar="K/N|auto",
            help="Run shard K of N (1-based); `auto` reads it from the CI environment "
            "(GitLab, CircleCI, Buildkite, Bazel).",
        ),
        click.option(
            "--shard-mode",
            type=click.Choice(["duration", "hash", "slice"]),
            default=None,
            help="How tests are split: by recorded duration (default when durations exist), stable hash, or slices.",
        ),
        click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write a JUnit XML report to this file."),
        click.option(
            "--json", "json_report", type=click.Path(dir_okay=False), help="Write the JSON report to this file."
        ),
        click.option(
            "--markdown",
            "markdown_report",
            type=click.Path(dir_okay=False),
            help="Write a Markdown summary (for CI job summaries) to this file.",
        ),
        click.option("--collect-only", is_flag=True, help="Alias of `dbtest list`."),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(["console", "json", "markdown", "junit"]),
            default=None,
            help="What goes to stdout: the console report (default) or a report document "
            "(the console then uses stderr).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _invoke(command: str, kinds: list[str], params: dict[str, Any]) -> int:
    if params.pop("collect_only"):
        command = "list"
    no_capture = params.pop("no_capture")
    capture = params.pop("capture")
    fail_fast = params.pop("fail_fast")
    maxfail = params.pop("maxfail")
    flaky_result = params.pop("flaky_result")
    args = {
        "command": command,
        "kinds": kinds,
        "paths": list(params.pop("paths")),
        "cwd": os.getcwd(),
        "python": sys.executable,
        "capture": not (no_capture or capture == "no"),
        "maxfail": 1 if fail_fast else maxfail,
        "format": params.pop("output_format"),
        "flaky_fails": None if flaky_result is None else flaky_result == "fail",
        "extra_args": list(_extra_args),
        **params,
    }
    from dbtest import _core

    global _fork_server
    fork_server = None
    if command == "run":
        # Handed over: from here the coordinator uses it or ends it.
        fork_server, _fork_server = _fork_server, None
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return _core.run(json.dumps(args), fork_server)
    except KeyboardInterrupt:
        return exit_code("INTERRUPTED")


def _test_command(name: str, command: str, kinds: list[str], summary: str) -> click.Command:
    def callback(**params: Any) -> int:
        return _invoke(command, kinds, params)

    return click.command(name, help=summary)(_common_options(callback))


def _merge_command() -> click.Command:
    @click.command("merge")
    @click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--json", "json_report", type=click.Path(dir_okay=False), help="Write the merged JSON report here.")
    @click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write the merged JUnit XML report here.")
    @click.option(
        "--markdown", "markdown_report", type=click.Path(dir_okay=False), help="Write a Markdown summary here."
    )
    @click.option(
        "--durations",
        "durations_out",
        type=click.Path(dir_okay=False),
        help="Write the combined durations file here (from the reports and any durations files given).",
    )
    def merge(reports: tuple[str, ...], **outputs: Any) -> int:
        """Combine shard reports (JSON) and durations files into one report and one durations file."""
        args = {"command": "merge", "paths": list(reports), "cwd": os.getcwd(), "python": sys.executable, **outputs}
        from dbtest import _core

        return _core.run(json.dumps(args))

    return merge


# Each subcommand is built when it is first asked for: building the four test
# commands' options up front costs some 4 ms of every invocation.
_COMMANDS: dict[str, Callable[[], click.Command]] = {
    "run": lambda: _test_command("run", "run", [], "Run all tests (the default command)."),
    "unit": lambda: _test_command(
        "unit", "run", ["unit"], "Run unit tests only (not tagged or placed under `integration`)."
    ),
    "integration": lambda: _test_command(
        "integration",
        "run",
        ["integration"],
        "Run integration tests only (tagged `integration` or under an `integration` directory).",
    ),
    "list": lambda: _test_command(
        "list", "list", [], "Print the selected test ids without running (or importing) anything."
    ),
    "merge": _merge_command,
}


class _DbtestGroup(click.Group):
    """Builds subcommands on demand; ``dbtest [OPTIONS] [PATHS]`` means
    ``dbtest run [OPTIONS] [PATHS]``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            self.add_command(_COMMANDS[cmd_name](), cmd_name)
        return self.commands.get(cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in _COMMANDS and args[0] not in ("--help", "-h", "--version")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DbtestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbtest", message="%(prog)s %(version)s")
def cli() -> None:
    """Run Python tests (functions, unittest, dbtest suites) in parallel.

    `dbtest [PATHS]` runs every test under PATHS (default: the current
    directory). Paths may be node ids: tests/test_api.py::TestUsers::test_create.
    """


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM (a CI job cancelled, `timeout`) ends the run as Ctrl-C does: the
    # coordinator stops dispatching, ends the workers, reports what finished and
    # cleans up, instead of dying where it stands.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None, fork_server: tuple[int, int] | None = None) -> None:
    global _fork_server, _extra_args
    _fork_server = fork_server
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        cut = argv.index("--")
        argv, _extra_args = argv[:cut], argv[cut + 1 :]
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (dbtest called from a thread): leave it be
        pass
    try:
        code = cli.main(args=argv, prog_name="dbtest", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"dbtest: error: {message} (see dbtest --help)\n")
        code = exit_code("USAGE_ERROR")
    except click.exceptions.Abort:
        code = exit_code("INTERRUPTED")
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except KeyboardInterrupt:
        code = exit_code("INTERRUPTED")
    finally:
        if _fork_server is not None:
            from dbtest.launch import end_fork_server

            end_fork_server(_fork_server)
            _fork_server = None
    sys.exit(code if isinstance(code, int) else 0)
