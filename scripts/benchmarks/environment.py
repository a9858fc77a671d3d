"""The benchmark's own environment: by default a virtualenv under .bench/ in the
clone with dbtest built from the clone plus pytest, pytest-xdist,
pytest-asyncio and the peers karva and rustest (pinned), rebuilt only when
dbtest's sources change."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .formatting import log

REPO = Path(__file__).resolve().parents[2]
BENCH_SCRIPT = REPO / "scripts" / "bench"
DEFAULT_VENV = REPO / ".bench" / "venv"
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
STAMP_NAME = "dbtest-source.sha256"
SOURCE_PATHS = ("dbtest", "rust", "Cargo.toml", "Cargo.lock", "pyproject.toml")
# The peers (karva, rustest) are pinned: their versions are part of what is measured.
PEERS = ("karva==0.0.1a13", "rustest==0.18.0")
THIRD_PARTY = ("pytest", "pytest-xdist", "pytest-asyncio", *PEERS)


@dataclass
class Env:
    python: Path
    scripts: Path
    origin: str  # how dbtest got there, for the report

    @property
    def dbtest(self) -> str:
        return str(self.scripts / "dbtest")

    @property
    def pytest(self) -> str:
        return str(self.scripts / "pytest")


def git(*args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def source_digest() -> str:
    """A hash of dbtest's sources in the clone, to know when a rebuild is due."""
    listed = git("ls-files", "-z", "--", *SOURCE_PATHS)
    files = sorted(p for p in listed.split("\0") if p) if listed else []
    if not files:
        files = sorted(str(p.relative_to(REPO)) for s in SOURCE_PATHS for p in (REPO / s).rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for rel in files:
        path = REPO / rel
        if path.is_file():
            digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def interpreter_of_script(script: Path) -> Path:
    """The interpreter named on a console script's ``#!`` line."""
    with script.open("rb") as handle:
        first = handle.readline().decode(errors="replace").strip()
    if not first.startswith("#!"):
        raise SystemExit(f"bench: {script} has no #! line; pass its environment's interpreter with --python")
    words = first[2:].split()
    if not words:
        raise SystemExit(f"bench: cannot read the interpreter of {script}")
    if Path(words[0]).name == "env" and len(words) > 1:
        found = shutil.which(words[1])
        if found is None:
            raise SystemExit(f"bench: {words[1]} (from {script}) is not on PATH")
        return Path(found)
    return Path(words[0])


def scripts_dir(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def missing_modules(python: Path) -> list[str]:
    code = (
        "import importlib.util as u\n"
        "names = {'dbtest._core': 'dbtest', 'pytest': 'pytest', 'xdist': 'pytest-xdist',"
        " 'pytest_asyncio': 'pytest-asyncio', 'karva': %r, 'rustest': %r}\n"
        "print(' '.join(p for m, p in names.items() if u.find_spec(m.split('.')[0]) is None"
        " or (m == 'dbtest._core' and u.find_spec(m) is None)))\n"
    )
    code = code % PEERS
    out = subprocess.run([str(python), "-P", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def pip_install(python: Path, *requirements: str) -> None:
    log(f"   pip install {' '.join(requirements)}")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
    )


def prepare_env(dbtest: str | None, python: str | None, venv: str, rebuild: bool) -> Env:
    """The environment to benchmark: that of ``dbtest`` (an executable) or of
    ``python`` when given, else ``venv``, created and built from the clone as needed.
    Missing pytest plugins are installed into it."""
    if dbtest:
        interpreter = interpreter_of_script(Path(os.path.abspath(dbtest)))
        origin = f"existing environment of {dbtest}"
    elif python:
        interpreter = Path(os.path.abspath(python))  # not resolve(): a venv's python is a symlink
        origin = f"existing environment of {python}"
    else:
        interpreter = create_venv(Path(os.path.abspath(venv)), rebuild)
        origin = f"built from this clone into {venv}"
    if not interpreter.exists():
        raise SystemExit(f"bench: no interpreter at {interpreter}")
    missing = missing_modules(interpreter)
    if "dbtest" in missing:
        raise SystemExit(f"bench: dbtest is not installed for {interpreter}")
    if missing:
        pip_install(interpreter, *missing)
    env = Env(python=interpreter, scripts=scripts_dir(interpreter), origin=origin)
    for tool in (env.dbtest, env.pytest):
        if not Path(tool).exists():
            raise SystemExit(f"bench: {tool} not found (console scripts of {interpreter})")
    return env


def create_venv(venv: Path, rebuild: bool) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"== creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    stamp = venv / STAMP_NAME
    digest = source_digest()
    installed = stamp.read_text().strip() if stamp.exists() else ""
    if rebuild or installed != digest:
        log("== installing dbtest from the clone (compiles the Rust coordinator)")
        pip_install(python, str(REPO), *THIRD_PARTY)
        stamp.write_text(digest + "\n")
    else:
        log(f"== reusing the dbtest build in {venv} (sources unchanged)")
    return python


def run_environment() -> dict[str, str]:
    """The environment of every timed command: a developer's default (bytecode is
    written, so both tools' second runs read cached .pyc files), no colours, no
    options smuggled in through the environment."""
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP"):
        env.pop(name, None)
    env["NO_COLOR"] = "1"
    env["PY_COLORS"] = "0"
    return env
