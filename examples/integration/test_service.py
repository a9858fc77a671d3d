"""Tests under a directory named `integration` are integration tests:
`dbtest integration` runs only these, `dbtest unit` everything else."""

import json


def test_round_trip():
    payload = {"user": "ada", "roles": ["admin"]}
    assert json.loads(json.dumps(payload)) == payload
