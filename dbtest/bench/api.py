"""Benchmark groups and their members (`BenchmarkGroup`), the registry groups
join when their module is imported, and the names members are known by.

A member is a function, sync or async, timed alone: its ``setup`` (called once
with the member's parameters, untimed) returns a value passed to it as its first
argument. ``params={"size": [10, 1000]}`` makes one member per value (per
combination, for several parameters), named ``member[size=10]`` as the static
collector (`rust/collect/src/benchparams.rs`) names them.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Iterator
from typing import Any

# Groups by the module that defined them, in definition order.
_REGISTRY: dict[str, list[BenchmarkGroup]] = {}


def value_id(value: Any, key: str, index: int) -> str:
    if isinstance(value, str):
        return value.encode("unicode_escape").decode("ascii")
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return f"{key}{index}"


class Member:
    """One benchmark: a function with its parameters and set-up."""

    def __init__(
        self,
        group: BenchmarkGroup,
        name: str,
        function: Callable[..., Any],
        params: dict[str, Any],
        setup: Callable[..., Any] | None,
    ) -> None:
        self.group = group
        self.name = name
        self.function = function
        self.params = params
        self.setup = setup
        self.is_async = inspect.iscoroutinefunction(function)

    @property
    def full_name(self) -> str:
        """``group::member[params]``: the id without its file."""
        return f"{self.group.name}::{self.name}"

    def bound(self) -> Callable[[], Any]:
        """The member ready to call: set up (untimed) and its arguments bound."""
        args: tuple[Any, ...] = ()
        if self.setup is not None:
            args = (self.setup(**self.params),)
        if not args and not self.params:
            return self.function
        return functools.partial(self.function, *args, **self.params)

    def smoke(self) -> Any:
        """One call, as a test (plain ``dbtest``): an awaitable for an async member."""
        return self.bound()()


class BenchmarkGroup:
    """Benchmarks compared with one another (``baseline``: the member the others
    are a ratio of; the fastest if None). Registers itself with the module
    that creates it."""

    def __init__(self, name: str, baseline: str | None = None, *, register: bool = True) -> None:
        self.name = name
        self.baseline = baseline
        self.members: list[Member] = []
        # Members whose parameters are expanded here, by their unexpanded name.
        self.families: dict[str, list[Member]] = {}
        if register:
            register_group(self, _caller_module())

    def add(
        self,
        name: str | Callable[..., Any] | None = None,
        *,
        params: dict[str, list[Any]] | None = None,
        setup: Callable[..., Any] | None = None,
    ) -> Any:
        """``@group.add("name")``, ``@group.add`` or ``@group.add("name", params=..., setup=...)``."""
        if callable(name):
            return self._add(name.__name__, name, params, setup)

        def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
            return self._add(name or function.__name__, function, params, setup)

        return decorate

    def _add(
        self,
        name: str,
        function: Callable[..., Any],
        params: dict[str, list[Any]] | None,
        setup: Callable[..., Any] | None,
    ) -> Callable[..., Any]:
        family: list[Member] = []
        if params:
            keys = list(params)
            for values in itertools.product(*(list(params[k]) for k in keys)):
                combo = dict(zip(keys, values, strict=True))
                member_name = f"{name}[{param_id_indexed(combo, params)}]"
                family.append(Member(self, member_name, function, combo, setup))
        else:
            family.append(Member(self, name, function, {}, setup))
        self.members.extend(family)
        self.families[name] = family
        return function

    def find(self, name: str) -> list[Member]:
        """The members called ``name``: one, or a whole family for a
        parametrized member's unexpanded name (its parameters were not literal)."""
        for member in self.members:
            if member.name == name:
                return [member]
        return list(self.families.get(name, []))

    def run(self, **options: Any) -> Any:
        """Measures every member here, in this process (for a script); see `dbtest.bench.script`."""
        from .script import run_group

        return run_group(self, **options)

    def report(self, **options: Any) -> str:
        """The last `run`'s comparison table (running it first if needed)."""
        from .script import report_group

        return report_group(self, **options)


def param_id_indexed(combo: dict[str, Any], params: dict[str, list[Any]]) -> str:
    parts = []
    for key, value in combo.items():
        index = next((i for i, v in enumerate(params[key]) if v is value), 0)
        parts.append(f"{key}={value_id(value, key, index)}")
    return "-".join(parts)


def _caller_module() -> str:
    frame = inspect.currentframe()
    # _caller_module ← BenchmarkGroup.__init__ ← the module's code.
    caller = frame.f_back.f_back if frame is not None and frame.f_back is not None else None
    return caller.f_globals.get("__name__", "__main__") if caller is not None else "__main__"


def register_group(group: BenchmarkGroup, module: str | None = None) -> BenchmarkGroup:
    """Adds ``group`` to the registry under ``module`` (the caller's by default);
    registering a group twice keeps one."""
    if module is None:
        frame = inspect.currentframe()
        module = frame.f_back.f_globals.get("__name__", "__main__") if frame and frame.f_back else "__main__"
    groups = _REGISTRY.setdefault(module, [])
    if all(g is not group for g in groups):
        groups.append(group)
    return group


def groups_of(module: str) -> list[BenchmarkGroup]:
    return list(_REGISTRY.get(module, []))


def all_groups() -> Iterator[BenchmarkGroup]:
    for groups in _REGISTRY.values():
        yield from groups


def resolve(module_name: str, name: str) -> list[Member] | None:
    """The members ``group::member`` names in a module, or None."""
    group_name, sep, member = name.partition("::")
    if not sep:
        return None
    for group in groups_of(module_name):
        if group.name == group_name:
            found = group.find(member)
            return found or None
    return None


def smoke(members: list[Member]) -> Callable[[], Any]:
    """One call of each of ``members`` (set up first, untimed), as a test."""
    if len(members) == 1:
        return members[0].smoke
    if any(m.is_async for m in members):

        async def run_all_async() -> None:
            for member in members:
                result = member.smoke()
                if inspect.isawaitable(result):
                    await result

        return run_all_async

    def run_all() -> None:
        for member in members:
            member.smoke()

    return run_all
