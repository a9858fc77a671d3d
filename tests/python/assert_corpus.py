"""A fixed corpus of failing (and passing) asserts whose messages are kept in
``data/assert_messages.json``: a change to how asserts are rewritten must give
the same message, byte for byte, for every one of them.

Regenerate the file only when a message is meant to change:
``python -m tests.python.assert_corpus --bless``.
"""

from __future__ import annotations

import json
import random
import re
import sys
import textwrap
from pathlib import Path

GOLDEN = Path(__file__).parent / "data" / "assert_messages.json"

PRELUDE = textwrap.dedent(
    """
    import collections

    log = []

    def t(label, *values, **named):
        log.append(label)
        return values[-1]

    class Box:
        def __init__(self, value):
            self.value = value
            self.items = [value, value + 1]
        def get(self, *args, **kwargs):
            return (self.value, args, tuple(sorted(kwargs.items())))
        def __repr__(self):
            return f"Box({self.value!r})"

    class BadRepr:
        def __repr__(self):
            raise RuntimeError("no repr")
        def __eq__(self, other):
            return False

    Point = collections.namedtuple("Point", "x y")
    box = Box(3)
    data = {"a": 1, "b": [1, 2, 3]}
    """
)

# Hand-written cases: the shapes a random generator rarely builds.
HAND = [
    "box.value == 4",
    "box.items[1] == 5",
    "box.get(1, 2, k=3) == 0",
    "box.get(*[1, 2], **{'k': 1}) == 0",
    "data['a'] == 2",
    "data['b'][1:] == [3]",
    "len(data) == 3",
    "not box",
    "-box.value == 3",
    "~box.value == 0",
    "box.value + 1 == 5 - 2",
    "box.value * 2 in [1, 2]",
    "data is None",
    "box.value is not 3",
    "Point(1, 2) == Point(1, 3)",
    "[1, 2, 3] == [1, 2, 4]",
    "{'a': 1, 'b': 2} == {'a': 1, 'b': 3}",
    "{1, 2} == {1, 3}",
    "'hello world' == 'hello wurld'",
    "'a' * 100 == 'a' * 99 + 'b'",
    "'x\\ny\\nz' == 'x\\nY\\nz'",
    "BadRepr() == 1",
    "[x for x in range(3)] == []",
    "(lambda: 1)() == 2",
    "(1 if box else 2) == 3",
    "f'{box.value}' == '4'",
    "box.value == 3 and data['a'] == 2",
    "box.value == 4 or data['a'] == 2",
    "0 < box.value < 2 < 9",
    "0 < box.value < 9 < 2",
    "not (0 < box.value < 9)",
    "isinstance(box, int)",
    "all([1, 0])",
    "any(x > 5 for x in [1, 2])",
    "(box.value, 1) == (3, 2)",
    "box.value == 3 == 4",
    "1 == 1 and (2 == 3 or 4 == 5)",
    "t(1, 0) and 1",
    "t(1, 1) and 0",
    "t(1, 0) or 0 or t(2, [])",
    "data.get('c', t(1, None)) is not None",
]

LEAVES = ["t({}, 0)", "t({}, 1)", "t({}, 2)", "0", "1", "t({}, 3)", "t({}, '')", "box.value", "data['a']", "t({}, [])"]


def _random_expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(LEAVES)
    a = _random_expression(rng, depth - 1)
    b = _random_expression(rng, depth - 1)
    shape = rng.randrange(9)
    if shape == 0:
        return f"(not {a})"
    if shape == 1:
        return f"({a} and {b})"
    if shape == 2:
        return f"({a} or {b})"
    if shape == 3:
        return f"({a} {rng.choice(['==', '!=', '<', '>', 'is', 'is not'])} {b})"
    if shape == 4:
        c = _random_expression(rng, depth - 1)
        return f"({a} {rng.choice(['!=', '<', '=='])} {b} {rng.choice(['==', '<=', '>'])} {c})"
    if shape == 5:
        return f"({a} + {b})"
    if shape == 6:
        return f"t({{}}, {a}, {b})"
    if shape == 7:
        return f"[{a}, {b}][{a} is {b}]"
    return f"t({{}}, {a}, k={b})"


def _label(expression: str) -> str:
    counter = iter(range(10_000))
    while "{}" in expression:
        expression = expression.replace("{}", str(next(counter)), 1)
    return expression


def expressions() -> list[str]:
    rng = random.Random(20261203)
    generated = [_label(_random_expression(rng, 4)) for _ in range(400)]
    return HAND + generated


def module_source(expressions: list[str]) -> str:
    """One module: a function per expression, plus loops that run an assert
    twice with different short-circuiting, and asserts at module and class level."""
    parts = [PRELUDE]
    for index, expression in enumerate(expressions):
        parts.append(f"def check_{index}():\n    assert {expression}\n")
        parts.append(f"def check_msg_{index}():\n    assert {expression}, ('message', {index})\n")
    parts.append("def check_loop():\n    for first in (1, 0):\n        assert t(1, first) or t(2, 0) < t(3, first)\n")
    return "\n".join(parts)


def _addressless(text: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x...", text)


def outcome(namespace: dict[str, object], name: str) -> str:
    log = namespace["log"]
    log.clear()  # type: ignore[attr-defined]
    try:
        namespace[name]()  # type: ignore[operator]
    except AssertionError as exc:
        return f"failed {log}\n{_addressless(str(exc))}"
    except Exception as exc:
        return f"{type(exc).__name__} {log}"
    return f"passed {log}"


def messages() -> dict[str, str]:
    import warnings

    from dbtest.worker import rewrite_ast

    corpus = expressions()
    source = module_source(corpus)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        code = rewrite_ast.compile_module(source, "corpus.py")
    namespace: dict[str, object] = {"__name__": "corpus"}
    exec(code, namespace)  # noqa: S102
    result = {}
    for index, expression in enumerate(corpus):
        result[expression] = outcome(namespace, f"check_{index}")
        result[f"{expression}, msg"] = outcome(namespace, f"check_msg_{index}")
    result["loop"] = outcome(namespace, "check_loop")
    for at in ("module", "class"):
        text = "x = 3\nassert x == 4\n" if at == "module" else "class C:\n    x = 3\n    assert x == 4\n"
        try:
            exec(rewrite_ast.compile_module(text, f"{at}.py"), {"__name__": at})  # noqa: S102
            result[at] = "passed"
        except AssertionError as exc:
            result[at] = str(exc)
    return result


if __name__ == "__main__":
    if "--bless" in sys.argv:
        GOLDEN.write_text(json.dumps(messages(), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {GOLDEN}")
