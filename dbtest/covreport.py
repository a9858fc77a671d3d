"""The end of a ``--cov`` run: ``python -P -m dbtest.covreport`` (run by the
coordinator once every worker has ended).

It reads the run's coverage settings as JSON on stdin, combines the data files
the workers (and the processes the tests started) wrote into the run's
coverage directory into the project's data file (``.coverage``, or what the
configuration's ``[run] data_file`` says), and writes the reports
``--cov-report`` asks for, as pytest-cov does: the terminal report (and what
was written where) on stdout, which the coordinator shows before its summary.

Exit status: 0, or 1 when the total is below ``--cov-fail-under`` (or the
configuration's ``[report] fail_under``), or 2 when coverage.py itself failed
(the reason on stderr).
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

_ORDER = ("term", "term-missing", "annotate", "html", "xml", "json", "markdown", "markdown-append", "lcov")


def _rule(text: str, char: str, width: int) -> str:
    """pytest's section rule: ``____ text ____`` across the width."""
    text = f" {text} "
    left = max(2, (width - len(text)) // 2)
    right = max(2, width - len(text) - left)
    return char * left + text + char * right


def _platform() -> str:
    version = ".".join(str(part) for part in sys.version_info[:3])
    release = sys.version_info.releaselevel
    return f"platform {sys.platform}, python {version}-{release}-{sys.version_info.serial}"


def combine(settings: dict[str, Any]) -> Any:
    """The project's data file, made anew from the run's data files."""
    import coverage

    cov = coverage.Coverage(
        source=settings["source"],
        branch=settings["branch"],
        config_file=settings["config_file"],
    )
    cov._warn_unimported_source = False
    data_dir = settings["data_dir"]
    files = sorted(
        os.path.join(data_dir, name) for name in os.listdir(data_dir) if not name.endswith((".lock", "-journal"))
    )
    # As pytest-cov does before a run: what an earlier run left is not this one's.
    cov.erase()
    if files:
        cov.combine(files, keep=False)
    cov.save()
    return cov


def report(settings: dict[str, Any], out: io.TextIOBase) -> int:
    from coverage.exceptions import CoverageException
    from coverage.results import display_covered, should_fail_under

    width = int(os.environ.get("COLUMNS", "") or 80)
    cov = combine(settings)
    precision = int(cov.get_option("report:precision") or 0)
    fail_under = settings["fail_under"]
    if fail_under is None:
        fail_under = float(cov.get_option("report:fail_under") or 0.0)
    reports = {entry["kind"]: entry["target"] for entry in settings["reports"]}
    body = io.StringIO()
    try:
        total = cov.report(ignore_errors=True, output_format="total", precision=precision, file=io.StringIO())
        for kind in sorted(reports, key=lambda k: _ORDER.index(k) if k in _ORDER else len(_ORDER)):
            _one_report(cov, kind, reports[kind], precision, settings, body)
    except CoverageException as exc:
        body.write(f"WARNING: Failed to generate report: {exc}\n")
        total = 0.0
    text = body.getvalue()
    lines = []
    if text or fail_under > 0:
        lines.append(_rule("tests coverage", "=", width))
    if text:
        lines.append(_rule(f"coverage: {_platform()}", "_", width))
        lines.append("")
        lines.append(text.rstrip("\n"))
    failed = fail_under > 0 and should_fail_under(total, fail_under, precision)
    if fail_under > 0:
        if failed:
            lines.append(
                f"FAIL Required test coverage of {fail_under:g}% not reached. Total coverage: {total:.2f}%\n"
                f"ERROR: Coverage failure: total of {display_covered(total, precision)} is less than "
                f"fail-under={fail_under:.{precision}f}"
            )
        else:
            lines.append(f"Required test coverage of {fail_under:g}% reached. Total coverage: {total:.2f}%")
    if lines:
        out.write("\n".join(lines) + "\n")
    return 1 if failed else 0


def _one_report(cov: Any, kind: str, target: str | None, precision: int, settings: dict[str, Any], out: Any) -> None:
    if kind in ("term", "term-missing"):
        cov.report(
            show_missing=kind == "term-missing" or None,
            ignore_errors=True,
            file=out,
            precision=precision,
            skip_covered=target == "skip-covered" or None,
        )
    elif kind == "annotate":
        cov.annotate(ignore_errors=True, directory=target)
        out.write(f"Coverage annotated source written to dir {target}\n" if target else "")
    elif kind == "html":
        contexts = settings["context"] == "test" or None
        cov.html_report(ignore_errors=True, directory=target, show_contexts=contexts)
        out.write(f"Coverage HTML written to dir {target or cov.config.html_dir}\n")
    elif kind == "xml":
        cov.xml_report(ignore_errors=True, outfile=target)
        out.write(f"Coverage XML written to file {target or cov.config.xml_output}\n")
    elif kind == "json":
        cov.json_report(ignore_errors=True, outfile=target, show_contexts=settings["context"] == "test" or None)
        out.write(f"Coverage JSON written to file {target or cov.config.json_output}\n")
    elif kind in ("markdown", "markdown-append"):
        path = target or "coverage.md"
        with open(path, "a" if kind == "markdown-append" else "w") as stream:
            cov.report(ignore_errors=True, file=stream, output_format="markdown", precision=precision)
        verb = "appended to" if kind == "markdown-append" else "written to"
        out.write(f"Coverage Markdown information {verb} file {path}\n")
    elif kind == "lcov":
        cov.lcov_report(ignore_errors=True, outfile=target)
        out.write(f"Coverage LCOV written to file {target or cov.config.lcov_output}\n")


def main() -> int:
    settings = json.loads(sys.stdin.read())
    try:
        return report(settings, sys.stdout)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - coverage.py's failure, said in one line
        sys.stderr.write(f"coverage: {type(exc).__name__}: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
