"""Benchmarks: `dbtest examples` calls each member once (a smoke test);
`dbtest bench examples` measures them and compares them with the baseline."""

import json

from dbtest import BenchmarkGroup

DATA = {"users": [{"id": i, "name": f"user{i}", "tags": ["a", "b"]} for i in range(200)]}

group = BenchmarkGroup("json encode", baseline="stdlib")


@group.add("stdlib")
def _():
    json.dumps(DATA)


@group.add("compact")
def _():
    json.dumps(DATA, separators=(",", ":"))


@group.add("sorted keys", params={"indent": [None, 2]})
def _(indent):
    json.dumps(DATA, sort_keys=True, indent=indent)
