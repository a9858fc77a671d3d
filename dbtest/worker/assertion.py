"""Run-time support for rewritten ``assert`` statements (see ``rewrite_ast``).

A rewritten test module imports this module under a name user code cannot
spell. Passing assertions only read ``UNSET``; a failing one calls
:func:`message` with a description of the expression (nested tuples holding the
values computed while evaluating it) and raises ``AssertionError`` with the
result. Everything heavier is imported only then.

Description nodes, built by the rewritten code; the second item is always the
node's value:

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

# The rewritten code raises this name rather than the bare builtin, which a test
# module may shadow; a plain assert is immune to that too.
Failure = AssertionError

_NAMED = (FunctionType, BuiltinFunctionType, MethodType, ModuleType, type)

# (label, sub-explanations): a type alias for readers; `Any` exists only for type checkers.
Where = tuple[str, list]


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
