"""pytest's command-line options that dbtest has no option of its own for.

A pytest user types ``dbtest -ra -p no:cacheprovider -W error tests``: those
options must not stop the run with "no such option". Before the command line is
parsed, :func:`split` takes pytest's options out of it. A few become dbtest's
own (``--co`` is ``--collect-only``, pytest-xdist's ``-n 4`` is ``-j 4``,
``--junitxml`` is ``--junit-xml``); the rest go to the coordinator, which reads
them as it reads pytest's ``addopts`` (``rust/config/src/addopts.rs``): those it
applies (``-W``, ``--strict-markers``, ``--ignore``, ``--deselect``,
``--override-ini``...) take effect, those that only change pytest's display pass
silently, and any other is named in one note. A word that is neither dbtest's
nor pytest's stays, so that click still says it is unknown.
"""

from __future__ import annotations

# pytest's (and its common plugins') options whose value is the next word when
# not joined to them; `-o` is not among them: it is dbtest's output option.
_VALUED = frozenset(
    {
        "-r",
        "-p",
        "-c",
        "-W",
        "-n",
        "--numprocesses",
        "--maxprocesses",
        "--dist",
        "--tx",
        "--rsyncdir",
        "--pythonwarnings",
        "--override-ini",
        "--tb",
        "--show-capture",
        "--code-highlight",
        "--rootdir",
        "--basetemp",
        "--confcutdir",
        "--config-file",
        "--inifile",
        "--import-mode",
        "--ignore",
        "--ignore-glob",
        "--deselect",
        "--durations-min",
        "--junitxml",
        "--junit-prefix",
        "--log-level",
        "--log-format",
        "--log-date-format",
        "--log-cli-level",
        "--log-cli-format",
        "--log-cli-date-format",
        "--log-file",
        "--log-file-level",
        "--log-file-format",
        "--log-file-date-format",
        "--doctest-glob",
        "--doctest-report",
        "--timeout-method",
        "--reruns",
        "--reruns-delay",
        "-P",
        "--randomly-seed",
        "--benchmark-min-rounds",
        "--benchmark-max-time",
        "--benchmark-json",
        "--benchmark-save",
        "--benchmark-compare",
    }
)

# pytest's options that take no value.
_FLAGS = frozenset(
    {
        "-l",
        "--co",
        "--showlocals",
        "--no-showlocals",
        "--disable-warnings",
        "--disable-pytest-warnings",
        "--no-header",
        "--no-summary",
        "--full-trace",
        "--strict-config",
        "--strict-markers",
        "--strict",
        "--runxfail",
        "--sw",
        "--stepwise",
        "--sw-skip",
        "--stepwise-skip",
        "--nf",
        "--new-first",
        "--cache-clear",
        "--setup-show",
        "--continue-on-collection-errors",
        "--noconftest",
        "--keep-duplicates",
        "--doctest-modules",
        "--doctest-continue-on-failure",
        "--pdb",
        "--trace",
        "--instafail",
        "--no-cov-on-fail",
        "--cov-append",
        "--benchmark-disable",
        "--benchmark-skip",
        "--benchmark-only",
        "--forked",
    }
)


def _is_pytest_option(name: str) -> bool:
    return name in _VALUED or name in _FLAGS


def split(argv: list[str], own_names: frozenset[str]) -> tuple[list[str], list[str]]:
    """(the command line without pytest's options, with the ones that are
    dbtest's own translated; pytest's other options, for the coordinator).
    ``own_names``: dbtest's option names (``-k``, ``--jobs``...)."""
    own: list[str] = []
    pytest: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if not word.startswith("-") or word == "-":
            own.append(word)
            continue
        if word.startswith("--"):
            name, equals, joined = word.partition("=")
        else:
            # `-ra`, `-n4`, `-Werror`: a short option with its value attached.
            name, equals, joined = word[:2], "", word[2:]
            if joined:
                equals = "="
        if name in own_names or not _is_pytest_option(name):
            own.append(word)
            continue
        value: str | None = None
        if name in _VALUED:
            if equals:
                value = joined
            elif i < len(argv):
                value, i = argv[i], i + 1
        elif equals:  # a flag with a value: not pytest's either
            own.append(word)
            continue
        _translate(name, value, own, pytest)
    return own, pytest


def _translate(name: str, value: str | None, own: list[str], pytest: list[str]) -> None:
    if name == "--co":
        own.append("--collect-only")
    elif name in ("-n", "--numprocesses"):
        # pytest-xdist's worker count; `auto` and `logical` are dbtest's default
        # (one worker per CPU), 0 means no parallelism.
        if value is not None and value.isdigit():
            own.extend(["-j", str(max(int(value), 1))])
    elif name == "--junitxml" and value is not None:
        own.extend(["--junit-xml", value])
    elif value is None:
        pytest.append(name)
    elif name.startswith("--"):
        pytest.append(f"{name}={value}")
    elif name == "-r":  # its characters stay attached, as the coordinator reads them
        pytest.append(name + value)
    else:
        pytest.extend([name, value])
