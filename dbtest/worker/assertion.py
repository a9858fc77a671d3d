"""Run-time support for rewritten ``assert`` statements (see ``rewrite_ast``).

A rewritten test module imports this module under a name user code cannot
spell. Passing assertions only read ``UNSET``; a failing one raises what
:func:`fail` returns: it fills the assert's description template in with the
values the rewritten expression kept in the frame's temporaries, and
:func:`message` turns the description (nested tuples holding those values)
into the ``AssertionError``'s text. Everything heavier is imported only then.

Description nodes; the second item is always the node's value:

- ``("v", value)``: any other expression, shown by its repr;
- ``("n", value, name)``: a name;
- ``("a", value, base, attr)``: ``base.attr``;
- ``("s", value, base, index)``: ``base[index]``;
- ``("c", value, func, ((prefix, arg), ...))``: a call, prefix ``""``, ``"*"``,
  ``"**"`` or ``"keyword="``;
- ``("cmp", value, operands, ops, results)``: a (chained) comparison with the
  result of each pair;
- ``("bool", value, "and" | "or", operands)``;
- ``("u", value, op, operand)`` and ``("b", value, op, left, right)``: unary and
  binary operators.

A value that was never computed (short-circuited away) is :data:`UNSET`.
"""

from __future__ import annotations

from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Unset:
    """Placeholder for a sub-expression that short-circuiting skipped."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not evaluated>"


UNSET: Any = _Unset()

# A rewritten assert raises this rather than the bare builtin, which a test
# module may shadow; a plain assert is immune to that too.
Failure = AssertionError

TEMP = "@dbtest_{}"  # the rewriter's temporaries (rewrite_ast.TEMP)

_NAMED = (FunctionType, BuiltinFunctionType, MethodType, ModuleType, type)

# (label, sub-explanations): a type alias for readers; `Any` exists only for type checkers.
Where = tuple[str, list]


def fail(template: tuple[Any, ...], msg: object = UNSET) -> AssertionError:
    """The exception for a failed assert, whose values are in its frame (the
    caller's): a function's locals, or a class or module namespace."""
    import sys

    frame = sys._getframe(1)
    try:
        description = _fill(template, frame.f_locals)
    finally:
        del frame
    return Failure(message(description, msg))


def _fill(template: tuple[Any, ...], values: Any) -> tuple[Any, ...]:
    """The description node for ``template``: each temporary's number replaced
    by its value (``UNSET`` if short-circuiting skipped it)."""
    kind = template[0]
    if kind == "k":
        return ("v", template[1])
    number = template[1]
    value = UNSET if number is None else values.get(TEMP.format(number), UNSET)
    if kind in ("v", "n"):
        return (kind, value, *template[2:])
    if kind == "a":
        return ("a", value, _fill(template[2], values), template[3])
    if kind == "s":
        return ("s", value, _fill(template[2], values), _fill(template[3], values))
    if kind == "c":
        parts = tuple((prefix, _fill(part, values)) for prefix, part in template[3])
        return ("c", value, _fill(template[2], values), parts)
    if kind == "cmp":
        operands = tuple(_fill(operand, values) for operand in template[2])
        if number is None:  # the whole test, and it failed
            value = False
        return ("cmp", value, operands, template[3], _pair_results(value, operands))
    if kind == "bool":
        return ("bool", value, template[2], tuple(_fill(operand, values) for operand in template[3]))
    if kind == "u":
        return ("u", value, template[2], _fill(template[3], values))
    if kind == "b":
        return ("b", value, template[2], _fill(template[3], values), _fill(template[4], values))
    raise ValueError(f"unknown assertion template {kind!r}")


def _pair_results(value: object, operands: tuple[Any, ...]) -> tuple[Any, ...]:
    """Each pair's result in a comparison chain whose outcome is ``value``.
    Python evaluated a pair's right operand only if every pair before it was
    true, and the chain's outcome is the last evaluated pair's result."""
    if value is UNSET:
        return (UNSET,) * (len(operands) - 1)
    evaluated = 1 + sum(1 for operand in operands[2:] if operand[1] is not UNSET)
    return (True,) * (evaluated - 1) + (value,) + (UNSET,) * (len(operands) - 1 - evaluated)


def message(tree: tuple[Any, ...], msg: object = UNSET) -> str:
    """The text of the ``AssertionError`` for a failed assertion: the user's
    message (if any) on the first line, then ``assert <values>``, the "where"
    lines that show where those values came from and a comparison diff."""
    try:
        text = _explanation(tree)
    except Exception as exc:  # a bug here must not replace the user's failure
        text = f"assert <dbtest could not explain the failure: {type(exc).__name__}: {exc}>"
    if msg is UNSET:
        return text
    try:
        head = msg if isinstance(msg, str) else str(msg)
    except Exception:
        from .explain import saferepr

        head = saferepr(msg)
    return f"{head}\n{text}"


def _explanation(tree: tuple[Any, ...]) -> str:
    inline, wheres, detail = _render(tree)
    lines = [f"assert {inline}"]
    lines.extend(_where_lines(wheres, 1))
    lines.extend(f"  {line}" for line in detail)
    return "\n".join(lines)


def _where_lines(wheres: list[Where], depth: int) -> list[str]:
    lines: list[str] = []
    for index, (text, nested) in enumerate(wheres):
        word = "where " if index == 0 else "and   "
        lines.append(" +" + "  " * depth + word + text)
        lines.extend(_where_lines(nested, depth + 1))
    return lines


def _repr(value: object) -> str:
    from .explain import saferepr

    return saferepr(value)


def _render(node: tuple[Any, ...]) -> tuple[str, list[Where], list[str]]:
    """(how the node reads inline, its "where" clauses, comparison detail)."""
    kind, value = node[0], node[1]
    if kind == "v":
        return _repr(value), [], []
    if kind == "n":
        return (node[2] if isinstance(value, _NAMED) else _repr(value)), [], []
    if kind == "a":
        base, base_wheres, _ = _render(node[2])
        access = f"{base}.{node[3]}"
        if isinstance(value, _NAMED):
            return access, base_wheres, []
        shown = _repr(value)
        return shown, [(f"{shown} = {access}", base_wheres)], []
    if kind == "s":
        base, nested, _ = _render(node[2])
        index, index_wheres, _ = _render(node[3])
        shown = _repr(value)
        return shown, [(f"{shown} = {base}[{index}]", nested + index_wheres)], []
    if kind == "c":
        func, nested, _ = _render(node[2])
        args = []
        for prefix, arg in node[3]:
            text, arg_wheres, _ = _render(arg)
            args.append(prefix + text)
            nested = nested + arg_wheres
        shown = _repr(value)
        return shown, [(f"{shown} = {func}({', '.join(args)})", nested)], []
    if kind == "cmp":
        return _render_compare(node)
    if kind == "bool":
        return _render_boolop(node)
    if kind == "u":
        text, wheres, _ = _render(node[3])
        op = node[2]
        return (f"{op} {text}" if op == "not" else f"{op}{text}"), wheres, []
    if kind == "b":
        left, left_wheres, _ = _render(node[3])
        right, right_wheres, _ = _render(node[4])
        return f"({left} {node[2]} {right})", left_wheres + right_wheres, []
    raise ValueError(f"unknown assertion node {kind!r}")


def _render_compare(node: tuple[Any, ...]) -> tuple[str, list[Where], list[str]]:
    _, _, operands, ops, results = node
    # The chain stopped at its first false pair; show that one.
    index = 0
    for position, result in enumerate(results):
        if result is UNSET:
            break
        index = position
        if not result:
            break
    left_node, right_node = operands[index], operands[index + 1]
    left, left_wheres, _ = _render(left_node)
    right, right_wheres, _ = _render(right_node)
    op = ops[index]
    from .explain import compare

    detail = compare(op, left_node[1], right_node[1])
    return f"{left} {op} {right}", left_wheres + right_wheres, detail


def _render_boolop(node: tuple[Any, ...]) -> tuple[str, list[Where], list[str]]:
    _, _, op, operands = node
    texts: list[str] = []
    wheres: list[Where] = []
    detail: list[str] = []
    for operand in operands:
        if operand[1] is UNSET:
            break
        text, operand_wheres, detail = _render(operand)
        texts.append(text)
        wheres.extend(operand_wheres)
    # The detail is that of the last operand evaluated: the one that decided.
    return f"({f' {op} '.join(texts)})", wheres, detail
