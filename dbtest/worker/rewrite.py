"""Assertion rewriting at import, for test modules only.

The worker :func:`claim`\\ s the module the coordinator asked for before
importing it. A finder at the front of ``sys.meta_path`` lets the usual finders
locate claimed modules and, when one is a plain source file (the test file
itself), swaps its loader for :class:`RewritingLoader`. Modules the test module
imports (helpers, conftest-like files, libraries) are never claimed, so they load
as usual. Under ``python -O`` nothing is claimed: asserts stay stripped.

The rewritten bytecode is cached in dbtest's cache directory when the run has
one (``.dbtest/pyc/<file>-<hash of its path>.<cache_tag>-dbtest-<FORMAT_VERSION>.pyc``,
see :func:`set_cache_dir`), written whatever ``PYTHONDONTWRITEBYTECODE`` says:
that variable keeps ``.pyc`` files out of source trees, and this directory is
dbtest's own, like ``.pytest_cache``. Without a cache directory (``--no-cache``)
it goes beside the standard bytecode, under a tag of its own:
``__pycache__/<module>.<cache_tag>-dbtest-<FORMAT_VERSION>.pyc`` (or under
``sys.pycache_prefix``), and only when bytecode may be written. Its layout::

    magic (4)  Python's bytecode magic number
    tag (4)    b"DBT" and FORMAT_VERSION
    hash (8)   importlib.util.source_hash of the source
    check (8)  importlib.util.source_hash of the payload
    payload    marshal.dumps(code)

A user-level cache keyed by the source's content alone (:func:`set_user_cache_dir`,
see :func:`user_cache_dir`), when there is one, takes the place of those: it
survives a fresh clone or a CI job without ``.dbtest/``: ``<dir>/rewrite/<cache_tag>-dbtest-<FORMAT_VERSION>-
<hash of rewrite_ast.py>/<source hash>-<source length>.pyc``, same layout. Each
rewrite is written to one cache and read from it.

The source hash decides freshness, so an edit is noticed even within the
resolution of file timestamps; the payload hash catches a corrupt file. Either
mismatch means a cache miss. Files are written to a temporary name and renamed,
so readers never see a partial one; an unwritable directory or
``PYTHONDONTWRITEBYTECODE`` only means no file is written. A cache hit costs a
read and two hashes and never imports ``ast``; so does a module without an
``assert`` (see :func:`may_assert`), which is compiled as it is.
"""

from __future__ import annotations

import _imp
import gc
import marshal
import os
import sys
from importlib.machinery import ModuleSpec, SourceFileLoader
from importlib.util import MAGIC_NUMBER, cache_from_source, source_hash
from types import CodeType

# typing costs milliseconds of worker start-up; it is only needed by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Bump whenever rewrite_ast or the node format of `assertion` changes: old
# caches then stop matching by name and header.
FORMAT_VERSION = 2
TAG = f"dbtest-{FORMAT_VERSION}"
_HEADER = MAGIC_NUMBER + b"DBT" + bytes([FORMAT_VERSION])
_PAYLOAD = len(_HEADER) + 16


def same_file(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


_cache_dir: str | None = None


def set_cache_dir(directory: str | None) -> None:
    """Keeps rewritten bytecode under ``directory/pyc`` (None: in ``__pycache__``)."""
    global _cache_dir
    _cache_dir = os.path.join(directory, "pyc") if directory else None


_user_dir: str | None = None


def user_cache_dir(environ: Any = os.environ) -> str | None:
    """dbtest's user-level cache directory: ``$XDG_CACHE_HOME/dbtest``, else
    ``~/.cache/dbtest`` (as ruff and mypy keep theirs); None when
    ``DBTEST_NO_USER_CACHE`` is set to anything but "" or "0", or no home is known."""
    if environ.get("DBTEST_NO_USER_CACHE", "") not in ("", "0"):
        return None
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is to be ignored
        home = environ.get("HOME") or os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "dbtest")


def rewriter_fingerprint() -> str:
    """A hash of the rewriter's own source: entries shared by every project must
    not outlive a change to it, even one that forgot to bump FORMAT_VERSION."""
    try:
        with open(os.path.join(os.path.dirname(__file__), "rewrite_ast.py"), "rb") as file:
            return source_hash(file.read()).hex()
    except OSError:
        return "unknown"


def set_user_cache_dir(directory: str | None) -> None:
    """Also keeps rewritten bytecode, by content, under ``directory/rewrite`` (None: not)."""
    global _user_dir
    tag = sys.implementation.cache_tag
    if not directory or not tag:
        _user_dir = None
        return
    _user_dir = os.path.join(directory, "rewrite", f"{tag}-{TAG}-{rewriter_fingerprint()}")


def user_cache_path(source: bytes) -> str | None:
    """Where the rewritten bytecode of ``source`` is kept for every project (None: nowhere)."""
    if _user_dir is None:
        return None
    return os.path.join(_user_dir, f"{source_hash(source).hex()}-{len(source)}.pyc")


def cache_path(source_path: str) -> str | None:
    """Where the rewritten bytecode of ``source_path`` is cached (None: nowhere)."""
    tag = sys.implementation.cache_tag
    if tag is None:
        return None
    if _cache_dir is not None:
        absolute = os.path.abspath(source_path)
        digest = source_hash(absolute.encode("utf-8", "surrogateescape")).hex()
        stem = os.path.splitext(os.path.basename(absolute))[0]
        return os.path.join(_cache_dir, f"{stem}-{digest}.{tag}-{TAG}.pyc")
    try:
        standard = cache_from_source(source_path)
    except NotImplementedError:  # no sys.implementation.cache_tag
        return None
    base, extension = os.path.splitext(standard)
    return f"{base}-{TAG}{extension}"


def may_write_cache() -> bool:
    return _cache_dir is not None or not sys.dont_write_bytecode


def read_cache(path: str, source: bytes) -> CodeType | None:
    """The code cached at ``path`` for exactly this ``source``, else None."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    if data[: len(_HEADER)] != _HEADER or data[len(_HEADER) : len(_HEADER) + 8] != source_hash(source):
        return None
    payload = data[_PAYLOAD:]
    if data[len(_HEADER) + 8 : _PAYLOAD] != source_hash(payload):
        return None
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def write_cache(path: str, source: bytes, code: CodeType) -> bool:
    """Stores ``code`` for ``source`` at ``path``, atomically; False if it could not."""
    payload = marshal.dumps(code)
    data = b"".join((_HEADER, source_hash(source), source_hash(payload), payload))
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # O_EXCL: never write through a file or link someone else left there.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError:
        return False
    try:
        with open(fd, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True


_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def may_assert(source: bytes) -> bool:
    """False only if ``source`` has no assert statement: nowhere the word
    ``assert`` with no ASCII letter, digit or underscore on either side. Keywords
    are ASCII in any source encoding Python reads, and a keyword touching such a
    character would be part of a longer name (``assertEqual``). A non-ASCII
    neighbour, a comment or a string only make it answer True: a rewrite that
    changes nothing."""
    start = source.find(b"assert")
    while start >= 0:
        end = start + 6
        if (start == 0 or source[start - 1] not in _WORD) and (end == len(source) or source[end] not in _WORD):
            return True
        start = source.find(b"assert", end)
    return False


def code_for(source: bytes, source_path: str) -> CodeType:
    """The rewritten code of a test module, from the cache if it is fresh."""
    # One cache entry per rewrite: creating files is a good part of a first
    # run's cost (two per module took ~0.4 ms each on an overlay filesystem).
    shared = user_cache_path(source)
    path = cache_path(source_path) if shared is None else None
    candidate = shared or path
    if candidate is not None:
        code = read_cache(candidate, source)
        if code is not None:
            # As importlib does for pycs: the project may have moved since,
            # and a user-level entry may come from another project.
            _imp._fix_co_filename(code, source_path)
            return code
    if may_assert(source):
        code = native_code(source, source_path) if _native else None
        if code is None:
            code = python_code(source, source_path)
    else:
        # Nothing to rewrite: a plain compile gives the same code without
        # building a Python AST (unittest-style modules: self.assertEqual...).
        code = compile(source, source_path, "exec", dont_inherit=True)
    if path is not None and may_write_cache():
        write_cache(path, source, code)
    if shared is not None:
        write_cache(shared, source, code)
    return code


def python_code(source: bytes, source_path: str) -> CodeType:
    """The rewritten code from the Python rewriter (`rewrite_ast`), the reference."""
    from .rewrite_ast import compile_module

    # Rewriting allocates many AST nodes and no cycles: collections during it
    # only walk what the worker has loaded (~17% of the rewrite's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return compile_module(source, source_path)
    finally:
        if collecting:
            gc.enable()


# The native rewriter (dbtest-rewrite, through dbtest._core) on Python 3.11,
# where it reproduces the location tables (3.12 merges entries differently);
# DBTEST_REWRITER=python keeps to the Python rewriter. It takes ~30% less of a
# cold run's rewriting (docs/benchmarks.md, "Cold runs, round 4").
_native = sys.version_info[:2] == (3, 11) and os.environ.get("DBTEST_REWRITER", "") != "python"


def native_code(source: bytes, source_path: str) -> CodeType | None:
    """The rewritten code from the native rewriter: the source rewritten from
    ruff's parse, compiled as text (no Python AST, no `ast` import), then its
    positions and temporaries' names restored, so that it equals what
    `python_code` compiles. None when the native rewriter leaves the module to
    the Python one: a construct it does not reproduce exactly, a file it cannot
    parse, or a compile that fails or warns (the Python rewriter then reports
    it with the original's line numbers)."""
    try:
        from .. import _core
    except ImportError:
        return None
    rewritten = _core.rewrite_asserts(source)
    if rewritten is None:
        return None
    if rewritten is False:  # nothing to rewrite
        return compile(source, source_path, "exec", dont_inherit=True)
    text, positions, literals = rewritten
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = compile(text, source_path, "exec", dont_inherit=True)
            # The source's literals that the failure templates hold, as the
            # compiler makes them (the templates themselves are built natively).
            values = None if literals is None else eval(compile(literals, source_path, "eval", dont_inherit=True))
        except (SyntaxError, ValueError):
            return None
    if caught:
        return None
    try:
        return _core.restore_code(code, positions, values)
    except ValueError:
        return None


class RewritingLoader(SourceFileLoader):
    """A source loader whose code has its asserts rewritten. Everything else
    (``get_source``, resources, ``is_package``) is the standard loader's."""

    def get_code(self, fullname: str) -> CodeType:
        source_path = self.get_filename(fullname)
        return code_for(self.get_data(source_path), source_path)


class RewriteFinder:
    """Gives claimed modules a :class:`RewritingLoader`; passes on everything else."""

    def __init__(self) -> None:
        # name -> file; kept for the worker's life so that a re-import (after an
        # import error, or importlib.reload) is rewritten again.
        self.claimed: dict[str, str] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        wanted = self.claimed.get(fullname)
        if wanted is None:
            return None
        spec = None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        # Only a plain source file, and only the file that was asked for:
        # anything else (a namesake elsewhere, an extension, a custom loader)
        # loads untouched.
        if spec is None or type(spec.loader) is not SourceFileLoader or not spec.origin:
            return spec
        if same_file(spec.origin, wanted):
            spec.loader = RewritingLoader(fullname, spec.origin)
        return spec


_finder = RewriteFinder()


def claim(name: str, path: str) -> None:
    """Has module ``name`` rewritten when it is imported from ``path``."""
    if sys.flags.optimize:
        return
    _finder.claimed[name] = path
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
