"""The order pytest runs parametrized tests in (its ``reorder_items``).

A parameter of broader than function scope (a module-scoped fixture with
``params``, ``parametrize(..., indirect=True)`` of one, ``scope="module"``) is
set up once per value when the tests sharing a value run together; in
definition order they would tear it down and set it up again for every test.
pytest therefore groups them, scope by scope from the broadest, keeping the
order otherwise; this is the same algorithm, applied to one module's tests.
"""

from __future__ import annotations

from collections import OrderedDict, deque

from .fixtures import SCOPES

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence
    from typing import Any

    from .parametrize import Case

# The scopes broader than the function, broadest first.
HIGH_SCOPES = SCOPES[:-1]


def _value_key(value: Any, index: int) -> Hashable:
    """pytest's ``ParamValueKey``: equal values of one type share a key; an
    unhashable value is known by its index in its parameter list."""
    try:
        hash(value)
    except TypeError:
        return ("index", index)
    return (type(value), value)


def _argkeys(case: Case | None, cls: Any, scope: str) -> dict[Hashable, None]:
    if case is None:
        return {}
    keys: dict[Hashable, None] = {}
    for argname, value in case.params.items():
        if case.scopes.get(argname) != scope:
            continue
        try:
            key = (argname, _value_key(value, case.indices.get(argname, 0)), cls if scope == "class" else None)
        except Exception:  # noqa: BLE001 - an odd __eq__/__hash__: by index
            key = (argname, ("index", case.indices.get(argname, 0)), cls if scope == "class" else None)
        keys[key] = None
    return keys


def reorder(items: Sequence[tuple[Any, Case | None, Any]]) -> list[Any]:
    """``items`` are (test, its case or None, its class or None) in definition
    order; the tests in pytest's run order."""
    if not any(case is not None and any(s != "function" for s in case.scopes.values()) for _, case, _ in items):
        return [test for test, _, _ in items]
    argkeys_by_item: dict[str, dict[int, dict[Hashable, None]]] = {}
    items_by_argkey: dict[str, dict[Hashable, OrderedDict[int, None]]] = {}
    for scope in HIGH_SCOPES:
        by_item = argkeys_by_item[scope] = {}
        by_key: dict[Hashable, OrderedDict[int, None]] = {}
        items_by_argkey[scope] = by_key
        for index, (_, case, cls) in enumerate(items):
            keys = _argkeys(case, cls, scope)
            if keys:
                by_item[index] = keys
                for key in keys:
                    by_key.setdefault(key, OrderedDict())[index] = None
    order = _at_scope(dict.fromkeys(range(len(items))), argkeys_by_item, items_by_argkey, 0)
    return [items[i][0] for i in order]


def _at_scope(
    items: dict[int, None],
    argkeys_by_item: dict[str, dict[int, dict[Hashable, None]]],
    items_by_argkey: dict[str, dict[Hashable, OrderedDict[int, None]]],
    level: int,
) -> dict[int, None]:
    if level >= len(HIGH_SCOPES) or len(items) < 3:
        return items
    scope = HIGH_SCOPES[level]
    scoped_items_by_argkey = items_by_argkey[scope]
    scoped_argkeys_by_item = argkeys_by_item[scope]
    ignore: set[Hashable] = set()
    pending = deque(items)
    done: dict[int, None] = {}
    while pending:
        without_argkey: dict[int, None] = {}
        slicing = None
        while pending:
            item = pending.popleft()
            if item in done or item in without_argkey:
                continue
            argkeys = dict.fromkeys(k for k in scoped_argkeys_by_item.get(item, ()) if k not in ignore)
            if not argkeys:
                without_argkey[item] = None
                continue
            slicing, _ = argkeys.popitem()
            matching = [i for i in scoped_items_by_argkey[slicing] if i in items]
            for i in reversed(matching):
                pending.appendleft(i)
                for other_scope in HIGH_SCOPES:
                    other = items_by_argkey[other_scope]
                    for argkey in argkeys_by_item[other_scope].get(i, ()):
                        other[argkey][i] = None
                        other[argkey].move_to_end(i, last=False)
            break
        if without_argkey:
            done.update(_at_scope(without_argkey, argkeys_by_item, items_by_argkey, level + 1))
        if slicing is not None:
            ignore.add(slicing)
    return done
