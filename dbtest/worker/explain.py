"""Why a comparison is false, in words: short reprs of both sides and, for
containers and long strings, where they differ and a diff.

Shared by rewritten ``assert`` statements and by ``expect``
(``dbtest.expectations``). It runs only after something has failed, so it may
take its time, but it imports its helpers (difflib, pprint) lazily: a worker
that never fails never loads them.
"""

from __future__ import annotations

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Longest repr of one value in a one-line summary.
MAX_REPR = 240
# A diff longer than this is cut: past that point nobody reads it.
MAX_DIFF_LINES = 80
# Strings at least this long get a diff when they differ.
LONG_STRING = 40
# Above this many lines, difflib.ndiff (quadratic) gives way to unified_diff.
NDIFF_LIMIT = 2000


def saferepr(obj: object, maxsize: int | None = MAX_REPR) -> str:
    """``repr(obj)``, cut in the middle beyond ``maxsize``; never raises."""
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not hide the real failure
        text = f"<{type(obj).__name__} object at {id(obj):#x} (repr() raised {type(exc).__name__})>"
    if maxsize is not None and len(text) > maxsize:
        head = (maxsize - 3) // 2
        tail = maxsize - 3 - head
        text = text[:head] + "..." + text[len(text) - tail :]
    return text


def compare(op: str, left: Any, right: Any, *, left_label: str = "left", right_label: str = "right") -> list[str]:
    """Lines that explain why ``left <op> right`` is false; empty if the
    summary line says it all. In diffs ``-`` marks the right side (the
    reference) and ``+`` the left one."""
    try:
        if op == "==":
            return _explain_equal(left, right, left_label, right_label)
        if op == "is":
            return _explain_identity(left, right)
        if op == "in":
            return _explain_in(left, right)
        if op == "not in":
            return _explain_not_in(left, right)
    except Exception as exc:  # user __eq__/__iter__ may raise; the failure itself matters more
        return [f"(dbtest could not explain the difference: {type(exc).__name__}: {exc})"]
    return []


def _is_sequence(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _explain_equal(left: Any, right: Any, left_label: str, right_label: str) -> list[str]:
    if isinstance(left, str) and isinstance(right, str):
        return _explain_strings(left, right, left_label, right_label)
    lines: list[str] = []
    if _is_sequence(left) and _is_sequence(right):
        lines = _explain_sequences(left, right, left_label, right_label)
    elif isinstance(left, dict) and isinstance(right, dict):
        lines = _explain_dicts(left, right, left_label, right_label)
    elif isinstance(left, (set, frozenset)) and isinstance(right, (set, frozenset)):
        lines = _explain_sets(left, right, left_label, right_label)
    elif type(left) is type(right) and hasattr(type(left), "__dataclass_fields__"):
        lines = _explain_dataclasses(left, right)
    elif not _truncated(left) and not _truncated(right):
        return []
    return lines + _full_diff(left, right, left_label, right_label)


def _truncated(value: object) -> bool:
    text = saferepr(value, None)
    return len(text) > MAX_REPR or "\n" in text


def _explain_strings(left: str, right: str, left_label: str, right_label: str) -> list[str]:
    if max(len(left), len(right)) < LONG_STRING and "\n" not in left and "\n" not in right:
        return []
    if left.splitlines() == right.splitlines():
        return ["Strings differ only in line endings:", f"{left_label}:  {left!r}", f"{right_label}: {right!r}"]
    lines: list[str] = []
    if "\n" not in left and "\n" not in right:
        left, right, note = _trim_common(left, right)
        lines.extend(note)
        old, new = [right], [left]
    else:
        old, new = right.splitlines(), left.splitlines()
    lines.append(f"Diff (- {right_label}, + {left_label}):")
    return lines + _cut(_diff(old, new))


def _trim_common(left: str, right: str, keep: int = 10) -> tuple[str, str, list[str]]:
    """Drops the long identical start and end of two one-line strings."""
    note: list[str] = []
    prefix = 0
    limit = min(len(left), len(right))
    while prefix < limit and left[prefix] == right[prefix]:
        prefix += 1
    if prefix > 2 * keep:
        skip = prefix - keep
        left, right = left[skip:], right[skip:]
        note.append(f"Skipping {skip} identical leading characters")
    suffix = 0
    limit = min(len(left), len(right))
    while suffix < limit and left[-1 - suffix] == right[-1 - suffix]:
        suffix += 1
    if suffix > 2 * keep:
        skip = suffix - keep
        left, right = left[:-skip], right[:-skip]
        note.append(f"Skipping {skip} identical trailing characters")
    return left, right, note


def _explain_sequences(left: Any, right: Any, left_label: str, right_label: str) -> list[str]:
    lines: list[str] = []
    if type(left) is not type(right):
        lines.append(f"{_capital(left_label)} is a {type(left).__name__}, {right_label} is a {type(right).__name__}")
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            lines.append(f"At index {index}: {saferepr(a)} != {saferepr(b)}")
            break
    extra = len(left) - len(right)
    if extra:
        longer, label = (left, left_label) if extra > 0 else (right, right_label)
        count = abs(extra)
        first = longer[len(longer) - count]
        noun = "item" if count == 1 else "items"
        lines.append(f"{_capital(label)} has {count} more {noun}, first extra item: {saferepr(first)}")
    return lines


def _explain_dicts(left: dict[Any, Any], right: dict[Any, Any], left_label: str, right_label: str) -> list[str]:
    lines: list[str] = []
    common = [k for k in left if k in right]
    same = sum(1 for k in common if left[k] == right[k])
    if same:
        lines.append(f"Omitting {same} identical item{'s' if same != 1 else ''}")
    differing = [k for k in common if left[k] != right[k]]
    if differing:
        lines.append("Differing items:")
        lines.extend(f"  {saferepr(k)}: {saferepr(left[k])} != {saferepr(right[k])}" for k in differing)
    for label, mine, other in ((left_label, left, right), (right_label, right, left)):
        only = [k for k in mine if k not in other]
        if only:
            lines.append(f"{_capital(label)} has {len(only)} more key{'s' if len(only) != 1 else ''}:")
            lines.extend(f"  {saferepr(k)}: {saferepr(mine[k])}" for k in only)
    return lines


def _explain_sets(left: Any, right: Any, left_label: str, right_label: str) -> list[str]:
    lines: list[str] = []
    for label, extra in ((left_label, left - right), (right_label, right - left)):
        if extra:
            lines.append(f"Extra items in {label}:")
            lines.extend(f"  {saferepr(item)}" for item in _sorted(extra))
    return lines


def _explain_dataclasses(left: Any, right: Any) -> list[str]:
    differing = [
        name
        for name, spec in type(left).__dataclass_fields__.items()
        if getattr(spec, "compare", True) and getattr(left, name) != getattr(right, name)
    ]
    return [
        f"Differing field {name}: {saferepr(getattr(left, name))} != {saferepr(getattr(right, name))}"
        for name in differing
    ]


def _explain_identity(left: Any, right: Any) -> list[str]:
    if left is not right and type(left) is type(right) and left == right:
        return ["The values are equal but are different objects"]
    return []


def _explain_in(item: Any, container: Any) -> list[str]:
    if isinstance(container, str) and (len(container) > MAX_REPR or "\n" in container):
        return ["Searched in:", *_cut(container.splitlines())]
    return []


def _explain_not_in(item: Any, container: Any) -> list[str]:
    if isinstance(item, str) and isinstance(container, str) and item:
        at = container.find(item)
        if at < 0:
            return []
        line_start = container.rfind("\n", 0, at) + 1
        line_end = container.find("\n", at)
        line = container[line_start : line_end if line_end != -1 else len(container)]
        start = at - line_start
        marker = " " * start + "^" * len(item)
        return [f"Found at index {at}:", f"  {line}", f"  {marker}"]
    return []


def _capital(label: str) -> str:
    return label[:1].upper() + label[1:]


def _sorted(items: Any) -> list[Any]:
    try:
        return sorted(items)
    except TypeError:
        return list(items)


def _full_diff(left: Any, right: Any, left_label: str, right_label: str) -> list[str]:
    import pprint

    old = pprint.pformat(right, width=80).splitlines()
    new = pprint.pformat(left, width=80).splitlines()
    if old == new:  # different values with the same repr: a diff would be noise
        return []
    return [f"Full diff (- {right_label}, + {left_label}):", *_cut(_diff(old, new))]


def _diff(old: list[str], new: list[str]) -> list[str]:
    import difflib

    if len(old) + len(new) > NDIFF_LIMIT:
        return [line.rstrip("\n") for line in difflib.unified_diff(old, new, lineterm="", n=2)][2:]
    return [line.rstrip("\n") for line in difflib.ndiff(old, new)]


def _cut(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_DIFF_LINES:
        return lines
    hidden = len(lines) - MAX_DIFF_LINES
    return [*lines[:MAX_DIFF_LINES], f"... ({hidden} more lines)"]
