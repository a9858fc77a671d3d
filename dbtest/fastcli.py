"""The common command lines, parsed without click.

Importing click costs some 35 ms, more than the rest of a small run's start-up
(``dbtest list`` on a project, a pre-commit hook's run of a few files). A
command line made only of a test command (or none), paths and the options of
`dbtest.cli_options`, each well formed, is parsed here into exactly what
click would make of it. Anything else (help, a typo, a value click would
refuse, ``merge``) is left to click (`dbtest.cli`), which says what is wrong.
"""

from __future__ import annotations

from dbtest.cli_options import OPTIONS, OTHER_COMMANDS, TEST_COMMANDS

# typing costs milliseconds of start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dbtest.cli_options import Option

_BY_NAME = {name: option for option in OPTIONS for name in option.names}


def parse(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """(test command, parameters as click would give them) or None: click's turn."""
    args = list(argv)
    name = "run"
    if args and args[0] in TEST_COMMANDS:
        name = args.pop(0)
    elif args and args[0] in OTHER_COMMANDS:  # only click runs them: not a path
        return None
    params: dict[str, Any] = {option.dest: option.default for option in OPTIONS}
    paths: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            paths.append(arg)
            continue
        if arg.startswith("--"):
            option_name, equals, inline = arg.partition("=")
            option = _BY_NAME.get(option_name)
            if option is None:
                return None
            if not option.takes_value:
                if equals:
                    return None
                _set_flag(params, option)
                continue
            if option.kind == "optional_texts" and not equals:
                # pytest-cov's `--cov [SOURCE]`: the next argument unless it is an option.
                value = args[i] if i < len(args) and not args[i].startswith("-") else None
                i += value is not None
                params[option.dest] = (*params[option.dest], value)
                continue
            if option.kind == "optional" and not equals:
                # As click: the next argument is the value unless it is an option.
                if i < len(args) and not args[i].startswith("-"):
                    params[option.dest], i = args[i], i + 1
                else:
                    params[option.dest] = option.flag_value
                continue
            text, i = (inline, i) if equals else _next(args, i)
            if text is None or not _set_value(params, option, text):
                return None
            continue
        # Short options, possibly grouped (`-vv`, `-xq`) or with a value attached (`-j4`).
        letters = arg[1:]
        while letters:
            option = _BY_NAME.get("-" + letters[0])
            if option is None:
                return None
            letters = letters[1:]
            if not option.takes_value:
                _set_flag(params, option)
                continue
            if option.kind == "optional":
                return None  # no short spelling: left to click
            if letters:
                text, letters = letters, ""
            else:
                text, i = _next(args, i)
            if text is None or not _set_value(params, option, text):
                return None
    params["paths"] = tuple(paths)
    return name, params


def _next(args: list[str], i: int) -> tuple[str | None, int]:
    """An option's value given as the next argument, and where parsing goes on."""
    return (args[i], i + 1) if i < len(args) else (None, i)


def _set_flag(params: dict[str, Any], option: Option) -> None:
    if option.kind == "count":
        params[option.dest] += 1
    else:
        params[option.dest] = True


def _set_value(params: dict[str, Any], option: Option, text: str) -> bool:
    """Converts ``text`` as click would; False when click would refuse it."""
    kind = option.kind
    value: Any = text
    if kind in ("int", "float"):
        try:
            value = int(text) if kind == "int" else float(text)
        except ValueError:
            return False
        minimum = option.minimum
        if minimum is not None and (value < minimum or (option.min_open and value == minimum)):
            return False
    elif kind == "choice" and text not in option.choices:
        return False
    elif kind in ("texts", "optional_texts"):
        value = (*params[option.dest], text)
    elif kind == "path" and option.path_kind:
        import os.path

        if (option.path_kind == "file" and os.path.isdir(text)) or (option.path_kind == "dir" and os.path.isfile(text)):
            return False
    params[option.dest] = value
    return True
