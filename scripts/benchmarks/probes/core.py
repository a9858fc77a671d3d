"""Static collection and selection in-process, through `dbtest._core`."""

from __future__ import annotations

import json
from pathlib import Path

from dbtest import _core

from ..stats import median_time

NO_MATCH = "zzz_selects_nothing"


def list_args(root: Path, paths: list[str], keyword: str | None = None) -> str:
    """The JSON arguments of `dbtest list PATHS [-k KEYWORD]` run in ``root``."""
    return json.dumps({"command": "list", "paths": paths, "cwd": str(root), "keyword": keyword})


def probe_core(argv: list[str]) -> None:
    """dbtest._core.collect and select on suite (a)'s tree argv[0], argv[1] times
    each. ``collect`` returns the JSON document of the selected tests; building it
    for 5,000 tests costs more than finding them, so discovery + collection is
    timed with a ``-k`` that selects nothing (every file is still walked and
    parsed, every id built and matched)."""
    root, reps = Path(argv[0]), int(argv[1])
    every = [str(root)]
    half = [str(root / f"pkg{p}") for p in range(5)]

    doc = json.loads(_core.collect(list_args(root, every)))
    files = {t["file"] for t in doc["tests"]}
    if len(doc["tests"]) != 5000 or len(files) != 200 or doc["errors"]:
        raise SystemExit(f"collect found {len(doc['tests'])} tests in {len(files)} files, errors {doc['errors']}")
    if len(json.loads(_core.collect(list_args(root, half)))["tests"]) != 2500:
        raise SystemExit("collect of 100 files did not find 2,500 tests")
    ids = [t["id"] for t in doc["tests"][:1000]]
    tags = [["slow"] if i % 3 == 0 else ["unit", "fast"] for i in range(len(ids))]
    keyword, markers = "(p0 or p1*) and not test_p0s0m0_1* or sub3", "not slow and (unit or integration)"
    chosen = _core.select(ids, tags, keyword, markers)
    if not 0 < len(chosen) < len(ids) or json.loads(_core.collect(list_args(root, every, NO_MATCH)))["tests"]:
        raise SystemExit("selection did not select what it should")
    print(
        json.dumps(
            {
                "collect_200": median_time(reps, lambda: _core.collect(list_args(root, every, NO_MATCH))),
                "collect_100": median_time(reps, lambda: _core.collect(list_args(root, half, NO_MATCH))),
                "document_200": median_time(reps, lambda: _core.collect(list_args(root, every))),
                "select_1000": median_time(reps * 5, lambda: _core.select(ids, tags, keyword, markers)),
                "select_note": f"-k '{keyword}' -m '{markers}' → {len(chosen)} of 1,000",
            }
        )
    )


def modules_of(root: Path) -> list[tuple[dict[str, str], list[str]]]:
    """The test modules of a tree of loose modules (no packages), as the module
    references of `run` messages, with their tests' names, as dbtest lists them."""
    doc = json.loads(_core.collect(list_args(root, [str(root)])))
    names: dict[str, list[str]] = {}
    for test in doc["tests"]:
        names.setdefault(test["file"], []).append(test["id"].split("::", 1)[1])
    out = []
    for rel, tests in names.items():
        path = root / rel
        out.append(({"path": str(path), "name": path.stem, "import_root": str(path.parent)}, tests))
    return out
