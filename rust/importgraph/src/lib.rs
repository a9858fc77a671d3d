//! The static import graph of a project's Python files, built without
//! importing anything, and what a change to some of them reaches.
//!
//! Edges come from every import a file makes, wherever it is written (top
//! level, functions, `if TYPE_CHECKING:` blocks, literal
//! `importlib.import_module` calls): `import a.b`, `from a import b` (where
//! `b` may be a submodule), relative imports, and the `__init__.py` of every
//! package on the way, which Python runs first. A test file also depends on
//! every `conftest.py` above it. Imports resolve against the source roots
//! ([`source_roots`]); what resolves to no project file (the standard
//! library, third-party packages) is not part of the graph.
//!
//! Test files come already parsed (static collection scans their imports in
//! the same parse, [`ParsedFile`]); the others are parsed here, in parallel,
//! by `dbtest-collect`'s parser.

mod affected;
mod graph;
mod resolve;
mod roots;

pub use affected::Affected;
pub use graph::{GraphInput, ImportGraph, Module, ParsedFile};
pub use roots::{source_roots, RootHints};

#[cfg(test)]
mod tests;
