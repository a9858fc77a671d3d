"""The ``dbtest`` command's click commands: help, completion, error messages,
``merge``, and every command line `dbtest.fastcli` leaves to it. Then the Rust
coordinator (``dbtest._core.run``) does everything else (`dbtest.invoke`).

Usage errors exit with 4 (pytest's convention) after one line on stderr. Exit
codes are defined once, in the coordinator (``rust/coordinator/src/exit.rs``),
and read from the native module when needed (see `exit_code`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from dbtest import __version__
from dbtest.cli_options import OPTIONS, TEST_COMMANDS, Option
from dbtest.invoke import end_fork_server, exit_code, interrupt_on_sigterm, run_tests

# What an option whose value may be left out (`--cov`) gets without one.
_NO_VALUE = "\x00"
# (pid, socket fd) of a fork server started by `dbtest.launch`, until a run takes it.
_fork_server: tuple[int, int] | None = None
# What follows `--` on the command line: options of the project's conftests
# (their `pytest_addoption`), handed to the workers as they are.
_extra_args: list[str] = []
_pytest_args: list[str] = []


def _no_value_as_none(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str | None, ...]:
    return tuple(None if value == _NO_VALUE else value for value in values)


def _click_option(option: Option, listing: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The click option for one entry of `cli_options.OPTIONS` (``listing``:
    of `dbtest list`, whose help shows only the options that matter to it)."""
    text = (option.list_help or option.help) if listing else option.help
    kwargs: dict[str, Any] = {"help": text or None, "hidden": listing and not option.lists}
    if option.metavar:
        kwargs["metavar"] = option.metavar
    if option.kind == "flag":
        kwargs["is_flag"] = True
    elif option.kind == "count":
        kwargs["count"] = True
    elif option.kind == "int":
        kwargs["type"] = click.IntRange(min=option.minimum)
    elif option.kind == "float":
        kwargs["type"] = click.FloatRange(min=option.minimum, min_open=option.min_open)
    elif option.kind == "choice":
        kwargs["type"] = click.Choice(list(option.choices))
        kwargs["default"] = option.default
    elif option.kind == "texts":
        kwargs["multiple"] = True
    elif option.kind == "optional_texts":
        # click's optional value: the flag value stands for "given without one".
        kwargs.update(multiple=True, is_flag=False, flag_value=_NO_VALUE, callback=_no_value_as_none)
    elif option.kind == "optional":
        kwargs["is_flag"] = False
        kwargs["flag_value"] = option.flag_value
    elif option.kind == "path":
        kwargs["type"] = click.Path(file_okay=option.path_kind != "dir", dir_okay=option.path_kind != "file")
    if option.show_default:
        kwargs["show_default"] = True
    return click.option(*option.names, option.dest, **kwargs)


def _common_options(func: Callable[..., Any], command: str) -> Callable[..., Any]:
    # `dbtest list` accepts every option (as `--collect-only`, an option of a
    # run, does) but its help shows only those that change what it lists.
    options = (_click_option(o, listing=command == "list") for o in OPTIONS)
    decorators = [click.argument("paths", nargs=-1, type=click.Path()), *options]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def _invoke(command: str, kinds: list[str], params: dict[str, Any]) -> int:
    global _fork_server
    # Handed over: from here `run_tests` hands it to the coordinator or ends it.
    fork_server, _fork_server = _fork_server, None
    return run_tests(command, kinds, params, _extra_args, fork_server, _pytest_args)


def _test_command(name: str, command: str, kinds: list[str], summary: str) -> click.Command:
    def callback(**params: Any) -> int:
        return _invoke(command, kinds, params)

    return click.command(name, help=summary)(_common_options(callback, command))


def _merge_command() -> click.Command:
    @click.command("merge")
    @click.argument("reports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--json", "json_report", type=click.Path(dir_okay=False), help="Write the merged JSON report here.")
    @click.option("--junit-xml", type=click.Path(dir_okay=False), help="Write the merged JUnit XML report here.")
    @click.option(
        "--markdown", "markdown_report", type=click.Path(dir_okay=False), help="Write a Markdown summary here."
    )
    @click.option("--html", type=click.Path(dir_okay=False), help="Write a self-contained HTML report here.")
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


def _test_command_named(name: str) -> Callable[[], click.Command]:
    command, kinds, summary = TEST_COMMANDS[name]
    return lambda: _test_command(name, command, kinds, summary)


# Each subcommand is built when it is first asked for: building the four test
# commands' options up front costs some 4 ms of every invocation.
_COMMANDS: dict[str, Callable[[], click.Command]] = {
    **{name: _test_command_named(name) for name in TEST_COMMANDS},
    "merge": _merge_command,
}


class _DbtestGroup(click.Group):
    """Builds subcommands on demand; ``dbtest [OPTIONS] [PATHS]`` means
    ``dbtest run [OPTIONS] [PATHS]``, so the help shows ``run``'s options and
    completion offers the commands, paths and ``run``'s options."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMANDS:
            self.add_command(_COMMANDS[cmd_name](), cmd_name)
        return self.commands.get(cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Completing the first word: it may be a command, a path or an option.
        completing_first_word = ctx.resilient_parsing and not args
        if not completing_first_word and (
            not args or (args[0] not in _COMMANDS and args[0] not in ("--help", "-h", "--version"))
        ):
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def _run(self, ctx: click.Context) -> click.Command:
        run = self.get_command(ctx, "run")
        assert run is not None
        return run

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] [PATHS]...")
        formatter.write_usage(ctx.command_path, "COMMAND [OPTIONS] [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # `run`'s options (what `dbtest [OPTIONS]` takes), then the group's own.
        run = self._run(ctx)
        run_help = run.get_help_option(ctx)
        params = [p for p in run.get_params(ctx) if p is not run_help] + self.get_params(ctx)
        records = [
            record
            for param in params
            if isinstance(param, click.Option) and (record := param.get_help_record(ctx)) is not None
        ]
        with formatter.section("Options"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        results = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            return results + self._run(ctx).shell_complete(ctx, incomplete)
        return [*results, CompletionItem(incomplete, type="file")]


@click.group(cls=_DbtestGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbtest", message="%(prog)s %(version)s")
def cli() -> None:
    """Run Python tests (functions, unittest, dbtest suites) in parallel.

    `dbtest [PATHS]` runs every test under PATHS (default: the current
    directory). Paths may be node ids: tests/test_api.py::TestUsers::test_create.
    """


def main(
    argv: list[str] | None = None, fork_server: tuple[int, int] | None = None, pytest_args: list[str] | None = None
) -> None:
    """``pytest_args``: pytest's options taken out of the command line
    (`dbtest.pytest_args`), for the coordinator."""
    global _fork_server, _extra_args, _pytest_args
    _fork_server = fork_server
    _pytest_args = list(pytest_args or [])
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        cut = argv.index("--")
        argv, _extra_args = argv[:cut], argv[cut + 1 :]
    interrupt_on_sigterm()
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
            end_fork_server(_fork_server)
            _fork_server = None
    sys.exit(code if isinstance(code, int) else 0)
