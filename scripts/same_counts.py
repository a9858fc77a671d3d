"""Checks that dbtest's JSON report counts what pytest's summary line says.

    python scripts/same_counts.py REPORT.json "479 passed, 1 skipped in 46.0s"

Used by scripts/test, which runs dbtest's own suite under both runners.
"""

from __future__ import annotations

import json
import re
import sys

# pytest's summary words -> the JSON report's totals keys.
WORDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "errors": "errors",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}


def pytest_counts(summary: str) -> dict[str, int]:
    counts = dict.fromkeys(set(WORDS.values()), 0)
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)\b", summary):
        counts[WORDS[word]] += int(number)
    return counts


def main(report_path: str, summary: str) -> int:
    with open(report_path) as report:
        totals = json.load(report)["totals"]
    theirs = pytest_counts(summary)
    ours = {key: totals.get(key, 0) for key in theirs}
    if ours != theirs:
        print(f"same_counts: dbtest counted {ours}, pytest {theirs} ({summary.strip()})", file=sys.stderr)
        return 1
    print(f"same_counts: dbtest and pytest agree: {ours}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
