"""Test names, read the one way pytest reads them.

A test's name within its module is ``Class::Inner::function[params]``: the
enclosing classes and the test, each after ``::``, then, for a parametrized
case, its parameter id in square brackets. The parameter id is free text
(``test_x[a::b/c d]`` is a valid case), so a name is never split on ``::`` as
a whole: the parameters start at the first ``[`` (class and function names are
identifiers, which hold no ``[``), and only the part before it is split. A full
id is the file's path, ``::``, and the name. ``rust/model/src/id.rs`` is the
Rust twin; both are checked against ``workers/golden/ids.json``.
"""

from __future__ import annotations


class TestName:
    """``Class::method[params]`` taken apart."""

    __slots__ = ("classes", "function", "params", "text")
    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, text: str) -> None:
        self.text = text
        base, bracket, rest = text.partition("[")
        self.params: str | None = rest[:-1] if bracket and rest.endswith("]") else (rest if bracket else None)
        *classes, self.function = base.split("::")
        self.classes: list[str] = classes

    @property
    def base(self) -> str:
        """The name without its parameters: ``Class::method``."""
        return self.text.partition("[")[0]

    @property
    def class_path(self) -> str | None:
        """The enclosing classes joined by ``::`` (``Outer::Inner``), if any."""
        return "::".join(self.classes) if self.classes else None


def class_path(name: str) -> str:
    """``Outer::Inner`` for ``Outer::Inner::test_x[params]``; ``""`` for a
    function. (`TestName` without taking the whole name apart.)"""
    return name.partition("[")[0].rpartition("::")[0]


def path_of(test_id: str) -> str:
    """The file part of a full id (the whole text when it names no test)."""
    return test_id.partition("::")[0]
