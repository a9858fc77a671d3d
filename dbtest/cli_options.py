"""The options of dbtest's test commands (``run``, ``unit``, ``integration``,
``list``): the one table both command-line parsers read. `dbtest.cli` builds
click options from it (help, completion, error messages); `dbtest.fastcli`
parses the common command lines with it without importing click, which costs
more than a small run's whole start-up.
"""

from __future__ import annotations

# typing costs milliseconds of start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Option:
    """One option: its spellings, where its value goes, what values it takes.

    ``kind`` is ``flag`` (true when given), ``count`` (how many times),
    ``int``/``float`` (with an inclusive ``minimum``, exclusive when
    ``min_open``), ``choice`` (one of ``choices``), ``text``, ``path``, or
    ``optional`` (text whose value may be left out: ``flag_value`` then; the
    next argument is its value unless it starts with ``-``); ``texts`` is a
    repeatable ``text`` (a tuple of its values), and ``optional_texts`` a
    repeatable ``optional``, as pytest-cov's ``--cov`` (left out, the value is
    None in the tuple).
    ``lists``: it matters to ``dbtest list`` too (selection, output), where
    ``list_help`` describes it if ``help`` speaks of a run; the others only
    matter to a run, and ``dbtest list --help`` does not show them.
    """

    __slots__ = (
        "choices",
        "default",
        "flag_value",
        "dest",
        "help",
        "kind",
        "list_help",
        "lists",
        "metavar",
        "min_open",
        "minimum",
        "names",
        "path_kind",
        "show_default",
    )

    def __init__(
        self,
        names: tuple[str, ...],
        dest: str,
        kind: str,
        help: str,
        *,
        minimum: float | None = None,
        min_open: bool = False,
        choices: tuple[str, ...] = (),
        default: Any = None,
        metavar: str | None = None,
        path_kind: str = "",
        show_default: bool = False,
        lists: bool = False,
        list_help: str = "",
        flag_value: str | None = None,
    ) -> None:
        self.names = names
        self.dest = dest
        self.kind = kind
        self.help = help
        self.minimum = minimum
        self.min_open = min_open
        self.choices = choices
        if default is None:
            default = {"flag": False, "count": 0, "texts": (), "optional_texts": ()}.get(kind)
        self.default = default
        self.metavar = metavar
        # For paths: "file" (not a directory) or "dir" (not a file), else either.
        self.path_kind = path_kind
        self.show_default = show_default
        self.lists = lists
        self.list_help = list_help
        self.flag_value = flag_value

    @property
    def takes_value(self) -> bool:
        return self.kind not in ("flag", "count")


OPTIONS: tuple[Option, ...] = (
    Option(("-j", "--jobs"), "jobs", "int", "Number of worker processes (default: usable CPUs).", minimum=1),
    Option(
        ("-k", "--pattern", "--keyword"),
        "keyword",
        "text",
        "Select tests whose id matches EXPR (substrings, globs, and/or/not).",
        metavar="EXPR",
        lists=True,
    ),
    Option(
        ("-m", "--tags", "--markers"),
        "tags",
        "text",
        "Select tests whose tags/marks match EXPR.",
        metavar="EXPR",
        lists=True,
    ),
    Option(("-s",), "no_capture", "flag", "Do not capture output; stream it live (same as --capture=no)."),
    Option(("--capture",), "capture", "choice", "Per-test output capture.", choices=("fd", "no")),
    Option(("-v", "--verbose"), "verbose", "count", "List every test with outcome, duration and worker."),
    Option(
        ("-q", "--quiet"),
        "quiet",
        "flag",
        "Show only failures and the summary.",
        lists=True,
        list_help="Do not print notes about the configuration.",
    ),
    Option(
        ("--timeout",),
        "timeout",
        "float",
        "Per-test timeout; a test past it is ended and reported as an error.",
        minimum=0,
        min_open=True,
        metavar="SECONDS",
    ),
    Option(("-x", "--fail-fast", "--exitfirst"), "fail_fast", "flag", "Stop after the first failure."),
    Option(("--maxfail",), "maxfail", "int", "Stop after N failures.", minimum=1, metavar="N"),
    Option(("--color",), "color", "choice", "", choices=("auto", "yes", "no"), default="auto", show_default=True),
    Option(
        ("--cache-dir",),
        "cache_dir",
        "path",
        "Where durations are kept (default: .dbtest).",
        path_kind="dir",
        lists=True,
    ),
    Option(("--no-cache",), "no_cache", "flag", "Neither read nor write the cache.", lists=True),
    Option(("--durations",), "durations", "int", "Show the N slowest tests.", minimum=0, metavar="N"),
    Option(
        ("--max-worker-restart",),
        "max_worker_restart",
        "int",
        "Worker replacements allowed before the run stops (default: 4 per worker).",
        minimum=0,
        metavar="N",
    ),
    Option(
        ("--lf", "--last-failed"),
        "last_failed",
        "flag",
        "Run only the tests that failed last time (all if none did).",
    ),
    Option(
        ("--ff", "--failed-first"),
        "failed_first",
        "flag",
        "Run the tests that failed last time first, then the rest.",
    ),
    Option(
        ("--retries",),
        "retries",
        "int",
        "Rerun a failing test up to N times; one that then passes is reported flaky.",
        minimum=0,
        metavar="N",
    ),
    Option(
        ("--flaky-result",),
        "flaky_result",
        "choice",
        "Whether flaky tests fail the run (default: pass).",
        choices=("pass", "fail"),
    ),
    Option(
        ("--rerun-alone",),
        "rerun_alone",
        "int",
        "Rerun up to N failing tests alone in a fresh worker, to tell whether they depend on other tests "
        "(default: 10; 0: never).",
        minimum=0,
        metavar="N",
    ),
    Option(
        ("--shuffle",),
        "shuffle",
        "flag",
        "Run the tests in a random order (its seed is printed) to find tests that depend on others.",
    ),
    Option(
        ("--seed",),
        "seed",
        "int",
        "The seed of --shuffle's order: the same seed gives the same order (implies --shuffle).",
        minimum=0,
        metavar="N",
    ),
    Option(
        ("--import-all",),
        "import_all",
        "flag",
        "Import every selected test module before any test runs, as pytest does (once, before workers start).",
    ),
    Option(
        ("--max-tests-per-worker",),
        "max_tests_per_worker",
        "int",
        "Replace each worker after it has run N tests.",
        minimum=1,
        metavar="N",
    ),
    Option(
        ("--max-worker-rss",),
        "max_worker_rss",
        "text",
        "Replace a worker whose memory grows above SIZE (e.g. 512M, 2G).",
        metavar="SIZE",
    ),
    Option(
        ("--shard",),
        "shard",
        "text",
        "Run shard K of N (1-based); `auto` reads it from the CI environment (GitLab, CircleCI, Buildkite, Bazel).",
        metavar="K/N|auto",
        lists=True,
        list_help="List shard K of N (1-based); `auto` reads it from the CI environment.",
    ),
    Option(
        ("--shard-mode",),
        "shard_mode",
        "choice",
        "How tests are split: by recorded duration (default when durations exist), stable hash, or slices.",
        choices=("duration", "hash", "slice"),
        lists=True,
    ),
    Option(("--junit-xml",), "junit_xml", "path", "Write a JUnit XML report to this file.", path_kind="file"),
    Option(("--json",), "json_report", "path", "Write the JSON report to this file.", path_kind="file"),
    Option(
        ("--markdown",),
        "markdown_report",
        "path",
        "Write a Markdown summary (for CI job summaries) to this file.",
        path_kind="file",
    ),
    Option(("--html",), "html", "path", "Write a self-contained HTML report to this file.", path_kind="file"),
    # Coverage, with pytest-cov's option names (so pytest's addopts work unchanged).
    Option(
        ("--cov",),
        "cov",
        "optional_texts",
        "Measure coverage of SOURCE (a path or package; repeatable); `--cov` alone: no source filter.",
        metavar="SOURCE",
    ),
    Option(
        ("--cov-report",),
        "cov_report",
        "texts",
        "Coverage report: term, term-missing[:skip-covered], html[:DIR], xml[:FILE], json[:FILE], "
        "lcov[:FILE], annotate[:DIR], markdown[:FILE] (repeatable; empty: none).",
        metavar="TYPE",
    ),
    Option(
        ("--cov-fail-under",),
        "cov_fail_under",
        "float",
        "Fail the run if the total coverage is below MIN percent.",
        minimum=0,
        metavar="MIN",
    ),
    Option(("--cov-branch",), "cov_branch", "flag", "Measure branch coverage."),
    Option(
        ("--cov-config",),
        "cov_config",
        "text",
        "coverage.py's configuration file (default: .coveragerc, setup.cfg, tox.ini, pyproject.toml).",
        metavar="PATH",
    ),
    Option(("--no-cov",), "no_cov", "flag", "Do not measure coverage, whatever other --cov options say."),
    Option(
        ("--cov-context",),
        "cov_context",
        "choice",
        "Record which tests ran each line (coverage.py's dynamic contexts).",
        choices=("test",),
    ),
    Option(("--collect-only",), "collect_only", "flag", "Alias of `dbtest list`."),
    Option(
        ("--static",),
        "static_list",
        "flag",
        "list: only what the static pass sees (fast, imports nothing; tests made at import are not shown).",
        lists=True,
    ),
    # `dbtest bench` only (the coordinator refuses them elsewhere).
    Option(
        ("--bench-time",),
        "bench_time",
        "float",
        "bench: seconds each benchmark may take once it has 5 rounds (default: 5).",
        minimum=0,
        min_open=True,
        metavar="SECONDS",
    ),
    Option(("--save",), "save", "text", "bench: save this run under NAME (in the cache dir).", metavar="NAME"),
    Option(("--compare",), "compare", "text", "bench: compare with the run saved as NAME.", metavar="NAME"),
    Option(
        ("--fail-on-regression",),
        "fail_on_regression",
        "float",
        "bench: exit 1 if a benchmark is slower than in --compare's run by more than PCT percent, significantly.",
        minimum=0,
        metavar="PCT",
    ),
    Option(
        ("--changed",),
        "changed",
        "optional",
        "Only the tests affected by what changed in the git work tree since REF (default HEAD): "
        "tests in changed files and tests importing a changed module; last failures first, then shortest.",
        metavar="[REF]",
        flag_value="HEAD",
        lists=True,
        list_help="List only the tests affected by what changed in the git work tree since REF (default HEAD).",
    ),
    Option(("--explain",), "explain", "flag", "With --changed: say why each test was selected.", lists=True),
    Option(
        ("--budget",),
        "budget",
        "float",
        "Stop dispatching tests once SECONDS have passed and name those not run (not a failure).",
        minimum=0,
        min_open=True,
        metavar="SECONDS",
    ),
    Option(("--budget-strict",), "budget_strict", "flag", "Tests that --budget left unrun fail the run."),
    Option(
        ("--watch",),
        "watch",
        "flag",
        "Keep running: after project files change, run the affected tests again (Ctrl-C leaves).",
    ),
    Option(
        ("--format",),
        "output_format",
        "choice",
        "What goes to stdout: the console report (default) or a report document (the console then uses stderr).",
        choices=("console", "json", "markdown", "junit"),
        lists=True,
        list_help="What goes to stdout: ids one per line (console, the default) or a JSON document (json).",
    ),
)

# The test commands: (command sent to the coordinator, kinds selected, help).
TEST_COMMANDS: dict[str, tuple[str, list[str], str]] = {
    "run": ("run", [], "Run all tests (the default command)."),
    "unit": ("run", ["unit"], "Run unit tests only (not tagged or placed under `integration`)."),
    "integration": (
        "run",
        ["integration"],
        "Run integration tests only (tagged `integration` or under an `integration` directory).",
    ),
    "list": ("list", [], "Print the selected test ids without running (or importing) anything."),
    "bench": (
        "bench",
        ["benchmark"],
        "Measure the benchmarks (bench_*.py) in an exclusive lane: one benchmark process, no tests.",
    ),
}

# Commands besides the test commands; only click parses them (`dbtest.fastcli`
# leaves them to it).
OTHER_COMMANDS = frozenset({"merge"})

# Every option name of dbtest's test commands (and help): what pytest's options
# are told apart from (`dbtest.pytest_args`).
OWN_NAMES = frozenset({name for option in OPTIONS for name in option.names} | {"-h", "--help", "--version"})

# Words that mean no test will run, so no worker starts: the ``dbtest`` command
# starts no fork server when one is among its arguments (a path with one of
# these names is merely not sped up).
NO_WORKER_WORDS = frozenset(
    {name for name, (command, _, _) in TEST_COMMANDS.items() if command != "run"}
    | OTHER_COMMANDS
    | {"--collect-only", "--help", "-h", "--version"}
)
