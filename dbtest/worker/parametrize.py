"""The cases of a parametrized test, with pytest's ids, made at import.

``@pytest.mark.parametrize`` (and ``dbtest.mark.parametrize``) multiply a test
into cases. The coordinator expands what it can statically
(`rust/collect/src/parametrize.rs`); this module is the run-time half of the
same rules (pytest's ``Metafunc.parametrize`` and ``IdMaker``), used to find the
case a coordinator names and to report cases only an import reveals. Both must
give the same ids, byte for byte: ``workers/golden/ids.json`` holds them to it.

The rules: each ``parametrize`` call, in the order pytest applies them (the
test's closest decorator first, then its class's marks, then its module's),
multiplies the cases so far by its parameter sets (the first call is the outer
loop) and appends its id to each case's, joined by ``-``. A parameter set's id
is its ``pytest.param(id=...)``, else its entry in ``ids=``, else its values'
ids joined by ``-``: a string, bytes, number, bool or None gives its text
(escaped to ASCII; strings over 100 characters fall back as below), an enum
member ``str(member)``, a regex its pattern, anything with a ``__name__`` that
name, and anything else ``<argname><index>``. Repeated ids within one call get
a counter.
"""

from __future__ import annotations

import sys

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any


class ParametrizeError(Exception):
    """A ``parametrize`` mark pytest would refuse: the test errors with this message."""


class IdOptions:
    """pytest settings that change ids (ini options of the same names)."""

    __slots__ = ("empty_set", "escape", "long_strings", "strict")

    def __init__(
        self, escape: bool = True, long_strings: str = "short", strict: bool = False, empty_set: str = "skip"
    ) -> None:
        # `disable_test_id_escaping_and_forfeit_all_rights_to_community_support` unset.
        self.escape = escape
        # `parametrize_long_str_id_strategy`: short, legacy, sha256 or disallow.
        self.long_strings = long_strings
        # `strict_parametrization_ids`.
        self.strict = strict
        # `empty_parameter_set_mark`: skip, xfail or fail_at_collect.
        self.empty_set = empty_set


DEFAULT_OPTIONS = IdOptions()


class EmptySetMark:
    """The skip (or xfail) pytest puts on the one case of an empty parameter list."""

    __slots__ = ("args", "kwargs", "name")

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {"reason": reason} if name == "skip" else {"reason": reason, "run": False}


class Case:
    """One case: its id (what goes between the brackets), its argument values
    (with each one's index in its parameter list), and the marks its parameter
    sets carry."""

    __slots__ = ("id", "indices", "indirect", "marks", "params", "scopes")

    def __init__(
        self,
        id: str,
        params: dict[str, Any],
        marks: list[Any],
        indirect: frozenset[str],
        indices: dict[str, int],
        scopes: dict[str, str] | None = None,
    ) -> None:
        self.id = id
        self.params = params
        self.marks = marks
        # Argument names whose values go to fixtures (`request.param`), not to the test.
        self.indirect = indirect
        self.indices = indices
        # The scope of each argument's parametrization (pytest's `_arg2scope`):
        # tests sharing a broader-scoped value are run together.
        self.scopes = scopes if scopes is not None else dict.fromkeys(params, "function")


_NON_PRINTABLE = {i: f"\\x{i:02x}" for i in range(128) if i not in range(32, 127)}
_NON_PRINTABLE.update({ord("\t"): "\\t", ord("\r"): "\\r", ord("\n"): "\\n"})


def ascii_escaped(value: str | bytes) -> str:
    """pytest's ``ascii_escaped``: bytes as ``\\xNN`` beyond ASCII, strings with
    ``unicode_escape``; then non-printable ASCII as ``\\xNN``."""
    if isinstance(value, bytes):
        text = value.decode("ascii", "backslashreplace")
    else:
        text = value.encode("unicode_escape").decode("ascii")
    return text.translate(_NON_PRINTABLE)


def _escaped(value: str | bytes, options: IdOptions) -> str:
    if options.escape:
        return ascii_escaped(value)
    return value if isinstance(value, str) else value.decode()


def _value_text(value: object, options: IdOptions) -> str | None:
    """The id pytest gives a value of a type it can render, else None."""
    if isinstance(value, (str, bytes)):
        return _escaped(value, options)
    if value is None or isinstance(value, (float, int, complex)):  # bool is an int
        return str(value)
    re = sys.modules.get("re")
    if re is not None and isinstance(value, re.Pattern):
        return ascii_escaped(value.pattern)
    enum = sys.modules.get("enum")
    if enum is not None and isinstance(value, enum.Enum):
        if type(value).__name__ == "NotSetType":  # pytest's NOTSET sentinel
            return None
        return str(value)
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) else None


def _value_id(value: object, argname: str, index: int, idfn: Callable[[Any], object] | None, options: IdOptions) -> str:
    if idfn is not None:
        try:
            made = idfn(value)
        except Exception as exc:
            raise ParametrizeError(
                f"error raised while trying to determine id of parameter '{argname}' at position {index}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if made is not None:
            text = _value_text(made, options)
            if text is not None:
                return text
    if isinstance(value, (str, bytes)):
        if len(value) <= 100 or options.long_strings == "legacy":
            return _escaped(value, options)
        if options.long_strings == "sha256":
            import hashlib

            return hashlib.sha256(value.encode() if isinstance(value, str) else value).hexdigest()
        if options.long_strings == "disallow":
            raise ParametrizeError(
                f"parametrize value for '{argname}' at index {index} is too long for an auto-generated ID "
                f"({len(value)} characters). Use pytest.param(..., id=...) or parametrize(..., ids=...) "
                "to set an explicit ID, or change parametrize_long_str_id_strategy."
            )
        return f"{argname}{index}"
    text = _value_text(value, options)
    return text if text is not None else f"{argname}{index}"


def make_unique(ids: list[str], strict: bool = False) -> list[str]:
    """pytest's ``make_unique_parameterset_ids``: repeated ids get a counter
    (after ``_`` when they end in a digit), skipping ids the list then holds."""
    counts: dict[str, int] = {}
    for id in ids:
        counts[id] = counts.get(id, 0) + 1
    if len(counts) == len(ids):
        return ids
    if strict:
        duplicates = ", ".join(id for id, n in counts.items() if n > 1)
        raise ParametrizeError(
            f"Duplicate parametrization IDs detected, but strict_parametrization_ids is set: {duplicates}"
        )
    repeated = [counts[id] > 1 for id in ids]
    current = dict(counts)
    suffixes: dict[str, int] = {}
    out = list(ids)
    for index, id in enumerate(ids):
        if not repeated[index]:
            continue
        separator = "_" if id and id[-1].isdigit() else ""
        number = suffixes.get(id, 0)
        unique = f"{id}{separator}{number}"
        while current.get(unique, 0) > 0:
            number += 1
            unique = f"{id}{separator}{number}"
        suffixes[id] = number + 1
        current[id] -= 1
        current[unique] = current.get(unique, 0) + 1
        out[index] = unique
    return out


def _parameter_set(row: Any, width: int, force_tuple: bool) -> tuple[Sequence[Any], list[Any], Any]:
    """(values, marks, explicit id) of one entry of ``argvalues``."""
    if _is_parameter_set(row):
        marks = [getattr(m, "mark", m) for m in row.marks]
        return tuple(row.values), marks, row.id
    if force_tuple:
        return (row,), [], None
    try:
        values = tuple(row)
    except TypeError:
        raise ParametrizeError(
            'in "parametrize" expected a sequence of values, for a single value use a one-element tuple like '
            f"('value',), got {type(row).__name__}:\n  {row!r}"
        ) from None
    return values, [], None


def _is_parameter_set(value: Any) -> bool:
    """``pytest.param(...)`` (or ``dbtest.param``), told apart by class, not name."""
    structures = sys.modules.get("_pytest.mark.structures")
    if structures is not None and isinstance(value, structures.ParameterSet):
        return True
    own = sys.modules.get("dbtest.marks")
    return own is not None and isinstance(value, own.ParameterSet)


def argnames_of(argnames: Any) -> tuple[list[str], bool]:
    """(names, whether a single name takes each value whole)."""
    if isinstance(argnames, str):
        names = [n.strip() for n in argnames.split(",") if n.strip()]
        return names, len(names) == 1 and not argnames.rstrip().endswith(",")
    return list(argnames), False


def _one_call(
    mark: Any, takes: Callable[[str], bool], options: IdOptions, scope_of: Callable[[str], str] | None
) -> list[Case]:
    args, kwargs = tuple(getattr(mark, "args", ())), dict(getattr(mark, "kwargs", {}))
    names = ("argnames", "argvalues")
    for position, value in enumerate(args[:2]):
        kwargs.setdefault(names[position], value)
    if "argnames" not in kwargs or "argvalues" not in kwargs:
        raise ParametrizeError("parametrize() needs argnames and argvalues")
    argnames, force_tuple = argnames_of(kwargs["argnames"])
    if "request" in argnames:
        raise ParametrizeError("'request' is a reserved name and cannot be used in @pytest.mark.parametrize")
    indirect_arg = kwargs.get("indirect", False)
    if isinstance(indirect_arg, (list, tuple)):
        indirect = frozenset(indirect_arg)
        unknown = indirect - set(argnames)
        if unknown:
            raise ParametrizeError(f"indirect fixture '{sorted(unknown)[0]}' doesn't exist")
    else:
        indirect = frozenset(argnames) if indirect_arg else frozenset()
    for name in argnames:
        if not takes(name):
            kind = "fixture" if name in indirect else "argument"
            raise ParametrizeError(f"function uses no {kind} '{name}'")
    scope = kwargs.get("scope")
    if scope is None:
        # pytest's `_infer_parametrize_scope`: all passed to fixtures -> the
        # narrowest of their scopes; else function.
        scope = "function"
        if scope_of is not None and indirect and len(indirect) == len(argnames):
            from .fixtures import SCOPE_RANK

            scope = max((scope_of(n) for n in argnames), key=SCOPE_RANK.__getitem__, default="function")
    rows = list(kwargs["argvalues"])
    if not rows:
        return [_empty_set(argnames, options)]
    sets = [_parameter_set(row, len(argnames), force_tuple) for row in rows]
    for values, _, _ in sets:
        if len(values) != len(argnames):
            raise ParametrizeError(
                f'in "parametrize" the number of names ({len(argnames)}):\n  {argnames}\n'
                f"must be equal to the number of values ({len(values)}):\n  {values}"
            )
    ids_arg = kwargs.get("ids")
    idfn = ids_arg if callable(ids_arg) else None
    ids: list[Any] | None = None
    if ids_arg is not None and idfn is None:
        if hasattr(ids_arg, "__len__") and len(ids_arg) != len(sets):
            raise ParametrizeError(
                f"{len(sets)} parameter sets specified, with different number of ids: {len(ids_arg)}"
            )
        import itertools

        ids = list(itertools.islice(ids_arg, len(sets)))
    made = []
    for index, (values, _, explicit) in enumerate(sets):
        if explicit is not None:
            made.append(_escaped(explicit, options))
        elif ids is not None and index < len(ids) and ids[index] is not None:
            text = _value_text(ids[index], options)
            if text is None:
                raise ParametrizeError(
                    f"ids contains unsupported value {ids[index]!r} (type: {type(ids[index])!r}) at index {index}. "
                    "Supported types are: str, bytes, int, float, complex, bool, enum, regex or anything with a "
                    "__name__."
                )
            made.append(text)
        else:
            made.append("-".join(_value_id(v, n, index, idfn, options) for v, n in zip(values, argnames, strict=True)))
    unique = make_unique(made, options.strict)
    return [
        Case(
            id,
            dict(zip(argnames, values, strict=True)),
            marks,
            indirect,
            dict.fromkeys(argnames, index),
            dict.fromkeys(argnames, scope),
        )
        for index, (id, (values, marks, _)) in enumerate(zip(unique, sets, strict=True))
    ]


def _empty_set(argnames: list[str], options: IdOptions) -> Case:
    if options.empty_set == "fail_at_collect":
        raise ParametrizeError("Empty parameter set")
    reason = f"got empty parameter set for ({', '.join(argnames)})"
    mark = EmptySetMark("xfail" if options.empty_set == "xfail" else "skip", reason)
    return Case("NOTSET", dict.fromkeys(argnames), [mark], frozenset(), dict.fromkeys(argnames, 0))


def expand(
    marks: Sequence[Any],
    takes: Callable[[str], bool],
    options: IdOptions = DEFAULT_OPTIONS,
    scope_of: Callable[[str], str] | None = None,
) -> list[Case]:
    """The cases ``parametrize`` ``marks`` (in pytest's order) make of a test.
    ``takes(name)``: whether the test (or, later, its fixtures) takes that argument.

    Raises `ParametrizeError` for what pytest would refuse at collection."""
    cases: list[Case] = []
    for mark in marks:
        call = _one_call(mark, takes, options, scope_of)
        if not cases:
            cases = call
            continue
        repeated = set(cases[0].params) & set(call[0].params)
        if repeated:
            raise ParametrizeError(f"duplicate parametrization of {sorted(repeated)[0]!r}")
        cases = [
            Case(
                f"{outer.id}-{inner.id}",
                {**outer.params, **inner.params},
                outer.marks + inner.marks,
                outer.indirect | inner.indirect,
                {**outer.indices, **inner.indices},
                {**outer.scopes, **inner.scopes},
            )
            for outer in cases
            for inner in call
        ]
    return cases


def mark_argnames(mark: Any) -> tuple[list[str], frozenset[str]]:
    """(argument names, those passed to fixtures) of one ``parametrize`` mark,
    without expanding it; empty for a malformed one (expanding reports it)."""
    args, kwargs = tuple(getattr(mark, "args", ())), getattr(mark, "kwargs", {}) or {}
    argnames = args[0] if args else kwargs.get("argnames")
    if argnames is None:
        return [], frozenset()
    try:
        names, _ = argnames_of(argnames)
    except TypeError:
        return [], frozenset()
    indirect = kwargs.get("indirect", False)
    if isinstance(indirect, (list, tuple)):
        return names, frozenset(indirect)
    return names, frozenset(names) if indirect else frozenset()


class Parametrization:
    """A ``parametrize`` call made by a ``pytest_generate_tests`` hook or for a
    parametrized fixture, read like a mark."""

    __slots__ = ("args", "kwargs", "name")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name = "parametrize"
        self.args = args
        self.kwargs = kwargs


def parametrize_marks(marks: Sequence[Any]) -> list[Any]:
    return [m for m in marks if getattr(m, "name", None) == "parametrize"]
