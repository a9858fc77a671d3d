"""The assertion rewriter proper: an AST pass over a test module that turns each
``assert`` into code which keeps the values of its sub-expressions and, if the
assertion fails, raises ``AssertionError`` with an explanation built from them.

``assert f(x) == y, msg`` becomes, in effect::

    t1 = f; t2 = x; t3 = t1(t2); t4 = y; t5 = t3 == t4
    if not t5:
        raise AssertionError(message(("cmp", t5, (("c", t3, ...), ("n", t4, "y")), ...), msg))
    del t1, t2, t3, t4, t5

Each sub-expression is evaluated once, in Python's order, and short-circuiting
(``and``, ``or``, chained comparisons) is kept: the skipped parts stay unset.
The temporaries are deleted afterwards so that they do not keep objects alive.
Generated code carries the source positions of the ``assert`` and of the
sub-expressions it came from, so tracebacks point at the original source.

This module imports ``ast``: the loader imports it only when a module has to be
compiled, never when its rewritten bytecode is cached.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import count
from types import CodeType
from typing import TypeVar

N = TypeVar("N", bound=ast.AST)

# Names with '@' cannot be written in Python source, so they never clash.
RUNTIME = "@dbtest_assert"
RUNTIME_MODULE = "dbtest.worker.assertion"
TEMP = "@dbtest_{}"
OPT_OUT = ("DBTEST_DONT_REWRITE", "PYTEST_DONT_REWRITE")

_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
_BINARY = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
}
_UNARY = {ast.Not: "not", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}


def compile_module(source: bytes | str, filename: str) -> CodeType:
    """Compiles a test module with its asserts rewritten (unless it opts out)."""
    tree = ast.parse(source, filename=filename)
    rewrite_module(tree)
    # dont_inherit: this module's own `from __future__` imports must not leak in.
    return compile(tree, filename, "exec", dont_inherit=True)


def rewrite_module(tree: ast.Module) -> bool:
    """Rewrites the asserts of ``tree`` in place. False if there were none or
    the module docstring opts out (``DBTEST_DONT_REWRITE``/``PYTEST_DONT_REWRITE``)."""
    docstring = ast.get_docstring(tree, clean=False)
    if docstring and any(marker in docstring for marker in OPT_OUT):
        return False
    rewriter = _ModuleRewriter()
    tree.body = rewriter.block(tree.body)
    if not rewriter.rewritten:
        return False
    _import_runtime(tree)
    return True


class _ModuleRewriter:
    """Finds asserts by walking statements only: expressions can nest deeper
    than a recursive walk over every node (ast.NodeTransformer) survives."""

    def __init__(self) -> None:
        self.names = count(1)
        self.rewritten = 0

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            if isinstance(statement, ast.Assert):
                result.extend(self.assertion(statement))
            else:
                self.descend(statement)
                result.append(statement)
        return result

    def descend(self, node: ast.AST) -> None:
        """Rewrites the statement blocks inside a compound statement."""
        for field, value in ast.iter_fields(node):
            if not isinstance(value, list) or not value:
                continue
            if isinstance(value[0], ast.stmt):
                setattr(node, field, self.block(value))
            else:  # except handlers, match cases
                for item in value:
                    if isinstance(item, (ast.excepthandler, ast.match_case)):
                        self.descend(item)

    def assertion(self, node: ast.Assert) -> list[ast.stmt]:
        try:
            statements = _AssertRewriter(self.names).rewrite(node)
        except RecursionError:  # an absurdly deep expression: keep the plain assert
            return [node]
        self.rewritten += 1
        return statements


def _import_runtime(tree: ast.Module) -> None:
    body = tree.body
    position = 0
    if ast.get_docstring(tree, clean=False) is not None:
        position = 1
    while position < len(body) and isinstance(body[position], ast.ImportFrom) and body[position].module == "__future__":
        position += 1
    lineno = body[position].lineno if position < len(body) else 1
    statement = ast.Import(names=[ast.alias(name=RUNTIME_MODULE, asname=RUNTIME)])
    for node in (statement, statement.names[0]):
        node.lineno = node.end_lineno = lineno
        node.col_offset = node.end_col_offset = 0
    body.insert(position, statement)


# Where a generated node sits: the keyword arguments that give it a position.
Spot = dict[str, int]


def _spot(origin: ast.AST) -> Spot:
    """The position generated nodes take from ``origin``, their nearest positioned
    ancestor, as ``ast.fix_missing_locations`` would give them (a missing or zero
    end takes the start). Every generated node is built with its position, so no
    walk over the rewritten statements is needed."""
    lineno, col = origin.lineno, origin.col_offset  # type: ignore[attr-defined]
    end_lineno = getattr(origin, "end_lineno", None) or lineno
    end_col = getattr(origin, "end_col_offset", None) or col
    return {"lineno": lineno, "col_offset": col, "end_lineno": end_lineno, "end_col_offset": end_col}


def _load(name: str, at: Spot) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load(), **at)


def _store(name: str, at: Spot) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store(), **at)


def _runtime(attr: str, at: Spot) -> ast.Attribute:
    return ast.Attribute(value=_load(RUNTIME, at), attr=attr, ctx=ast.Load(), **at)


def _constant(value: object, at: Spot) -> ast.Constant:
    return ast.Constant(value=value, **at)


def _node(kind: str, at: Spot, *parts: ast.expr) -> ast.Tuple:
    """A description node for ``dbtest.worker.assertion``, built on failure only."""
    return ast.Tuple(elts=[_constant(kind, at), *parts], ctx=ast.Load(), **at)


def _tuple(items: list[ast.expr], at: Spot) -> ast.Tuple:
    return ast.Tuple(elts=items, ctx=ast.Load(), **at)


def _fresh(value: ast.expr, at: Spot) -> ast.expr:
    """Another reference to a temporary or constant (AST nodes are not shared).
    The values ``visit`` returns are never placed in the tree themselves, only
    such copies, each with the position of where it goes."""
    if isinstance(value, ast.Name):
        return _load(value.id, at)
    if isinstance(value, ast.Constant):
        return _constant(value.value, at)
    raise TypeError(f"not a simple value: {ast.dump(value)}")


def _located(new: N, origin: ast.AST) -> N:
    return ast.copy_location(new, origin)


class _AssertRewriter:
    """Rewrites one ``assert``. ``visit`` methods return (value, description):
    an expression for the already computed value (a temporary or a constant)
    and the expression that builds its description node on failure. Descriptions
    and the final check sit under the ``assert``'s position (``self.at``); the
    statements computing a sub-expression under that sub-expression's."""

    def __init__(self, names: Iterator[int]) -> None:
        self.names = names
        self.statements: list[ast.stmt] = []
        self.temps: list[str] = []
        self.maybe_unset: list[str] = []  # temporaries short-circuiting may skip
        self.depth = 0
        self.at: Spot = {}

    def rewrite(self, node: ast.Assert) -> list[ast.stmt]:
        at = self.at = _spot(node)
        evaluation = self.statements
        value, description = self.visit(node.test)
        args: list[ast.expr] = [description]
        if node.msg is not None:
            args.append(node.msg)  # evaluated on failure only, as in a plain assert
        explanation = ast.Call(func=_runtime("message", at), args=args, keywords=[], **at)
        failure = ast.Call(func=_runtime("Failure", at), args=[explanation], keywords=[], **at)
        fail = ast.Raise(exc=failure, cause=None, **at)
        check = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=_fresh(value, at), **at), body=[fail], orelse=[])
        statements: list[ast.stmt] = []
        if self.maybe_unset:
            targets: list[ast.expr] = [_store(n, at) for n in self.maybe_unset]
            statements.append(ast.Assign(targets=targets, value=_runtime("UNSET", at)))
        statements.extend(evaluation)
        statements.append(check)
        if self.temps:
            statements.append(ast.Delete(targets=[ast.Name(id=n, ctx=ast.Del(), **at) for n in self.temps]))
        for statement in statements:
            if not hasattr(statement, "lineno"):
                _located(statement, node)
        return statements

    # -- plumbing ----------------------------------------------------------------

    def temp(self) -> str:
        name = TEMP.format(next(self.names))
        self.temps.append(name)
        if self.depth:
            self.maybe_unset.append(name)
        return name

    def assign(self, value: ast.expr, origin: ast.AST, name: str | None = None) -> ast.Name:
        """Appends ``<temp> = value`` (``value`` positioned by the caller) and
        returns the temporary (not placed: callers place copies of it)."""
        name = name or self.temp()
        statement = ast.Assign(targets=[_store(name, _spot(origin))], value=value)
        self.statements.append(_located(statement, origin))
        return ast.Name(id=name, ctx=ast.Load())

    def enter_if(self, test: ast.expr, origin: ast.AST) -> None:
        """Continues inside ``if test:``; undone by resetting ``statements``/``depth``."""
        block: list[ast.stmt] = []
        self.statements.append(_located(ast.If(test=test, body=block, orelse=[]), origin))
        self.statements = block
        self.depth += 1

    def visit(self, node: ast.expr) -> tuple[ast.expr, ast.expr]:
        method = getattr(self, f"visit_{type(node).__name__}", None)
        if method is None:
            return self.generic(node)
        return method(node)

    # -- expressions -------------------------------------------------------------

    def generic(self, node: ast.expr) -> tuple[ast.expr, ast.expr]:
        value = self.assign(node, node)
        return value, _node("v", self.at, _fresh(value, self.at))

    def visit_Constant(self, node: ast.Constant) -> tuple[ast.expr, ast.expr]:
        return ast.Constant(value=node.value), _node("v", self.at, _constant(node.value, self.at))

    def visit_Name(self, node: ast.Name) -> tuple[ast.expr, ast.expr]:
        value = self.assign(node, node)
        at = self.at
        return value, _node("n", at, _fresh(value, at), _constant(node.id, at))

    def visit_Attribute(self, node: ast.Attribute) -> tuple[ast.expr, ast.expr]:
        base, base_description = self.visit(node.value)
        here = _spot(node)
        access = _located(ast.Attribute(value=_fresh(base, here), attr=node.attr, ctx=ast.Load()), node)
        value = self.assign(access, node)
        at = self.at
        return value, _node("a", at, _fresh(value, at), base_description, _constant(node.attr, at))

    def visit_Subscript(self, node: ast.Subscript) -> tuple[ast.expr, ast.expr]:
        if isinstance(node.slice, ast.Slice):  # a slice is not an expression of its own
            return self.generic(node)
        base, base_description = self.visit(node.value)
        index, index_description = self.visit(node.slice)
        here = _spot(node)
        item = _located(ast.Subscript(value=_fresh(base, here), slice=_fresh(index, here), ctx=ast.Load()), node)
        value = self.assign(item, node)
        return value, _node("s", self.at, _fresh(value, self.at), base_description, index_description)

    def visit_Call(self, node: ast.Call) -> tuple[ast.expr, ast.expr]:
        at = self.at
        func, func_description = self.visit(node.func)
        here = _spot(node)
        args: list[ast.expr] = []
        parts: list[ast.expr] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                value, description = self.visit(arg.value)
                starred = ast.Starred(value=_fresh(value, _spot(arg)), ctx=ast.Load())
                args.append(_located(starred, arg))
                parts.append(_tuple([_constant("*", at), description], at))
            else:
                value, description = self.visit(arg)
                args.append(_fresh(value, here))
                parts.append(_tuple([_constant("", at), description], at))
        keywords: list[ast.keyword] = []
        for keyword in node.keywords:
            value, description = self.visit(keyword.value)
            keywords.append(_located(ast.keyword(arg=keyword.arg, value=_fresh(value, _spot(keyword))), keyword))
            prefix = "**" if keyword.arg is None else f"{keyword.arg}="
            parts.append(_tuple([_constant(prefix, at), description], at))
        call = _located(ast.Call(func=_fresh(func, here), args=args, keywords=keywords), node)
        value = self.assign(call, node)
        return value, _node("c", at, _fresh(value, at), func_description, _tuple(parts, at))

    def visit_Compare(self, node: ast.Compare) -> tuple[ast.expr, ast.expr]:
        at = self.at
        left, left_description = self.visit(node.left)
        here = _spot(node)
        operands = [left_description]
        ops: list[ast.expr] = []
        results: list[ast.Name] = []
        chained = len(node.ops) > 1
        overall = self.temp() if chained else None
        outer, depth = self.statements, self.depth
        for index, (op, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            if index:
                self.enter_if(_fresh(results[-1], here), node)  # Python stops at the first false pair
            right, right_description = self.visit(comparator)
            pair = _located(ast.Compare(left=_fresh(left, here), ops=[op], comparators=[_fresh(right, here)]), node)
            result = self.assign(pair, node)
            if overall is not None:
                self.assign(_fresh(result, here), node, overall)
            results.append(result)
            operands.append(right_description)
            ops.append(_constant(_COMPARE[type(op)], at))
            left = right
        self.statements, self.depth = outer, depth
        value = ast.Name(id=overall, ctx=ast.Load()) if overall is not None else results[0]
        checks = _tuple([_fresh(r, at) for r in results], at)
        description = _node("cmp", at, _fresh(value, at), _tuple(operands, at), _tuple(ops, at), checks)
        return value, description

    def visit_BoolOp(self, node: ast.BoolOp) -> tuple[ast.expr, ast.expr]:
        at = self.at
        is_and = isinstance(node.op, ast.And)
        result = self.temp()
        operands: list[ast.expr] = []
        outer, depth = self.statements, self.depth
        for index, operand in enumerate(node.values):
            here = _spot(operand)
            if index:
                test: ast.expr = _load(result, here)
                if not is_and:
                    test = ast.UnaryOp(op=ast.Not(), operand=test, **here)
                self.enter_if(test, operand)
            value, description = self.visit(operand)
            if index and isinstance(value, ast.Constant):
                # The renderer tells skipped operands by their unset value, so a
                # constant after the first operand needs a temporary as well.
                value = self.assign(_fresh(value, here), operand)
                description = _node("v", at, _fresh(value, at))
            self.assign(_fresh(value, here), operand, result)
            operands.append(description)
        self.statements, self.depth = outer, depth
        op = _constant("and" if is_and else "or", at)
        return ast.Name(id=result, ctx=ast.Load()), _node("bool", at, _load(result, at), op, _tuple(operands, at))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> tuple[ast.expr, ast.expr]:
        operand, description = self.visit(node.operand)
        operation = _located(ast.UnaryOp(op=node.op, operand=_fresh(operand, _spot(node))), node)
        value = self.assign(operation, node)
        at = self.at
        return value, _node("u", at, _fresh(value, at), _constant(_UNARY[type(node.op)], at), description)

    def visit_BinOp(self, node: ast.BinOp) -> tuple[ast.expr, ast.expr]:
        left, left_description = self.visit(node.left)
        right, right_description = self.visit(node.right)
        here = _spot(node)
        operation = _located(ast.BinOp(left=_fresh(left, here), op=node.op, right=_fresh(right, here)), node)
        value = self.assign(operation, node)
        at = self.at
        symbol = _constant(_BINARY[type(node.op)], at)
        return value, _node("b", at, _fresh(value, at), symbol, left_description, right_description)
