"""The assertion rewriter proper: an AST pass over a test module that turns each
``assert`` into code which keeps the values of its sub-expressions and, if the
assertion fails, raises ``AssertionError`` with an explanation built from them.

``assert f(x) == y, msg`` becomes, in effect::

    if not (t3 := (t1 := f)((t2 := x))) == (t4 := y):
        raise fail(("cmp", None, (("c", 3, ("n", 1, "f"), (("", ("n", 2, "x")),)), ("n", 4, "y")), ("==",)), msg)
    del t1, t2, t3, t4

The expression stays Python's own, so each sub-expression is evaluated once, in
Python's order, and short-circuiting (``and``, ``or``, chained comparisons) is
kept: temporaries that may be skipped are set to ``UNSET`` first. On failure
``assertion.fail`` reads the temporaries from the frame into the template. The
temporaries are deleted afterwards so that they do not keep objects alive.
The expression's own nodes keep their source positions and generated ones take
those of what they wrap, so tracebacks point at the original source.

This module imports ``ast``: the loader imports it only when a module has to be
compiled, never when its rewritten bytecode is cached.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from itertools import count
from types import CodeType

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


# Statements that hold blocks of statements, and the fields those blocks are in
# (``handlers`` and ``cases`` hold handlers and cases, which hold blocks).
_COMPOUND = frozenset(
    {
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.If,
        ast.For,
        ast.AsyncFor,
        ast.While,
        ast.With,
        ast.AsyncWith,
        ast.Try,
        ast.TryStar,
        ast.Match,
    }
)
_BLOCKS = ("body", "orelse", "finalbody")


class _ModuleRewriter:
    """Finds asserts by walking statements only: expressions can nest deeper
    than a recursive walk over every node (ast.NodeTransformer) survives."""

    def __init__(self) -> None:
        self.names = count(1)
        self.rewritten = 0

    def block(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        result: list[ast.stmt] = []
        for statement in statements:
            kind = type(statement)
            if kind is ast.Assert:
                result.extend(self.assertion(statement))  # type: ignore[arg-type]
            else:
                if kind in _COMPOUND:
                    self.descend(statement)
                result.append(statement)
        return result

    def descend(self, node: ast.AST) -> None:
        """Rewrites the statement blocks inside a compound statement, an
        ``except`` handler or a ``match`` case."""
        for field in _BLOCKS:
            value = getattr(node, field, None)
            if value:
                setattr(node, field, self.block(value))
        for item in getattr(node, "handlers", ()) or getattr(node, "cases", ()):
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

# A description template: the shape of `assertion`'s description nodes, with
# each value replaced by the number of the temporary that holds it (None where
# the value is not kept); constants are ("k", value). One tuple constant in the
# code object, filled in from the frame's variables on failure only.
Template = tuple


def _spot(origin: ast.AST) -> Spot:
    """The position generated nodes take from ``origin``, their nearest positioned
    ancestor, as ``ast.fix_missing_locations`` would give them (a missing or zero
    end takes the start). Every generated node is built with its position, so no
    walk over the rewritten statements is needed."""
    lineno, col = origin.lineno, origin.col_offset  # type: ignore[attr-defined]
    end_lineno = getattr(origin, "end_lineno", None) or lineno
    end_col = getattr(origin, "end_col_offset", None) or col
    return {"lineno": lineno, "col_offset": col, "end_lineno": end_lineno, "end_col_offset": end_col}


def _runtime(attr: str, at: Spot) -> ast.Attribute:
    return ast.Attribute(value=ast.Name(id=RUNTIME, ctx=ast.Load(), **at), attr=attr, ctx=ast.Load(), **at)


class _AssertRewriter:
    """Rewrites one ``assert`` in place, keeping its expression: each
    sub-expression whose value an explanation shows is wrapped in an assignment
    expression to a temporary, ``(t2 := (t1 := f)(x)) == y``, so Python's own
    evaluation order and short-circuiting are kept as they are. The failure
    branch holds one constant, the description template, which
    ``assertion.fail`` fills in from the frame's variables. Compared with
    statements that compute each part and build the description inline, the
    code is a third of the size, which is what a first (uncached) run pays for
    in rewriting and compiling.

    ``visit`` methods return (expression to put in the tree, template)."""

    def __init__(self, names: Iterator[int]) -> None:
        self.names = names
        self.temps: list[str] = []
        self.maybe_unset: list[str] = []  # temporaries short-circuiting may skip
        self.depth = 0

    def rewrite(self, node: ast.Assert) -> list[ast.stmt]:
        at = _spot(node)
        test, template = self.visit(node.test, root=True)
        args: list[ast.expr] = [ast.Constant(value=template, **at)]
        if node.msg is not None:
            args.append(node.msg)  # evaluated on failure only, as in a plain assert
        failure = ast.Call(func=_runtime("fail", at), args=args, keywords=[], **at)
        fail = ast.Raise(exc=failure, cause=None, **at)
        check = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=test, **at), body=[fail], orelse=[], **at)
        statements: list[ast.stmt] = []
        if self.maybe_unset:
            targets: list[ast.expr] = [ast.Name(id=n, ctx=ast.Store(), **at) for n in self.maybe_unset]
            statements.append(ast.Assign(targets=targets, value=_runtime("UNSET", at), **at))
        statements.append(check)
        if self.temps:
            statements.append(ast.Delete(targets=[ast.Name(id=n, ctx=ast.Del(), **at) for n in self.temps], **at))
        return statements

    # -- plumbing ----------------------------------------------------------------

    def keep(self, value: ast.expr) -> tuple[ast.NamedExpr, int]:
        """``(<temp> := value)``, positioned as ``value``, and the temporary's number."""
        number = next(self.names)
        name = TEMP.format(number)
        self.temps.append(name)
        if self.depth:
            self.maybe_unset.append(name)
        here = _spot(value)
        target = ast.Name(id=name, ctx=ast.Store(), **here)
        return ast.NamedExpr(target=target, value=value, **here), number

    def visit(self, node: ast.expr, root: bool = False) -> tuple[ast.expr, Template]:
        method = _VISITORS.get(type(node))
        if method is None:
            return self.generic(node)
        if root and type(node) in (ast.Compare, ast.BoolOp):
            # The outcome of the whole test needs no temporary: it failed.
            return method(self, node, True)
        return method(self, node)

    def visit_later(self, node: ast.expr) -> tuple[ast.expr, Template]:
        """Visits a part that short-circuiting may skip. A constant there gets a
        temporary too: the explanation tells skipped parts by their unset value."""
        self.depth += 1
        try:
            expression, template = self.visit(node)
            if template[0] == "k":
                expression, number = self.keep(expression)
                template = ("v", number)
            return expression, template
        finally:
            self.depth -= 1

    # -- expressions -------------------------------------------------------------

    def generic(self, node: ast.expr) -> tuple[ast.expr, Template]:
        expression, number = self.keep(node)
        return expression, ("v", number)

    def visit_Constant(self, node: ast.Constant) -> tuple[ast.expr, Template]:
        return node, ("k", node.value)

    def visit_Name(self, node: ast.Name) -> tuple[ast.expr, Template]:
        expression, number = self.keep(node)
        return expression, ("n", number, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> tuple[ast.expr, Template]:
        node.value, base = self.visit(node.value)
        expression, number = self.keep(node)
        return expression, ("a", number, base, node.attr)

    def visit_Subscript(self, node: ast.Subscript) -> tuple[ast.expr, Template]:
        if isinstance(node.slice, ast.Slice):  # a slice is not an expression of its own
            return self.generic(node)
        node.value, base = self.visit(node.value)
        node.slice, index = self.visit(node.slice)
        expression, number = self.keep(node)
        return expression, ("s", number, base, index)

    def visit_Call(self, node: ast.Call) -> tuple[ast.expr, Template]:
        node.func, func = self.visit(node.func)
        parts: list[Template] = []
        args: list[ast.expr] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                arg.value, description = self.visit(arg.value)
                args.append(arg)
                parts.append(("*", description))
            else:
                value, description = self.visit(arg)
                args.append(value)
                parts.append(("", description))
        node.args = args
        for keyword in node.keywords:
            keyword.value, description = self.visit(keyword.value)
            parts.append(("**" if keyword.arg is None else f"{keyword.arg}=", description))
        expression, number = self.keep(node)
        return expression, ("c", number, func, tuple(parts))

    def visit_Compare(self, node: ast.Compare, root: bool = False) -> tuple[ast.expr, Template]:
        node.left, left = self.visit(node.left)
        operands = [left]
        comparators: list[ast.expr] = []
        for index, comparator in enumerate(node.comparators):
            # Python stops a chain at its first false pair: what follows may be skipped.
            value, description = self.visit_later(comparator) if index else self.visit(comparator)
            comparators.append(value)
            operands.append(description)
        node.comparators = comparators
        ops = tuple(_COMPARE[type(op)] for op in node.ops)
        if root:
            return node, ("cmp", None, tuple(operands), ops)
        expression, number = self.keep(node)
        return expression, ("cmp", number, tuple(operands), ops)

    def visit_BoolOp(self, node: ast.BoolOp, root: bool = False) -> tuple[ast.expr, Template]:
        values: list[ast.expr] = []
        operands: list[Template] = []
        for index, operand in enumerate(node.values):
            value, description = self.visit_later(operand) if index else self.visit(operand)
            values.append(value)
            operands.append(description)
        node.values = values
        op = "and" if isinstance(node.op, ast.And) else "or"
        if root:
            return node, ("bool", None, op, tuple(operands))
        expression, number = self.keep(node)
        return expression, ("bool", number, op, tuple(operands))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> tuple[ast.expr, Template]:
        node.operand, operand = self.visit(node.operand)
        expression, number = self.keep(node)
        return expression, ("u", number, _UNARY[type(node.op)], operand)

    def visit_BinOp(self, node: ast.BinOp) -> tuple[ast.expr, Template]:
        node.left, left = self.visit(node.left)
        node.right, right = self.visit(node.right)
        expression, number = self.keep(node)
        return expression, ("b", number, _BINARY[type(node.op)], left, right)


_VISITORS = {
    getattr(ast, name[len("visit_") :]): method
    for name, method in vars(_AssertRewriter).items()
    if name.startswith("visit_") and name != "visit_later"
}
