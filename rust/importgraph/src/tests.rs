use super::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Writes `files` (path, source) under a temporary root.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (rel, source) in files {
        let path = tmp.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, source).unwrap();
    }
    tmp
}

/// The graph of every `.py` file under `root`, with `roots` as source roots
/// and the test files (`test_*.py`) parsed "by collection" with their
/// directory as import root.
fn graph_of(root: &Path, roots: &[&str]) -> ImportGraph {
    let files = dbtest_discovery::python_files(
        &[root.to_path_buf()],
        &dbtest_discovery::DiscoveryOptions::new(root.into()),
    )
    .unwrap();
    let parsed = files
        .iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("test_"))
        })
        .map(|f| ParsedFile {
            path: f.clone(),
            import_root: f.parent().unwrap().to_path_buf(),
            scan: dbtest_collect::scan_file_imports(f).unwrap(),
        })
        .collect();
    ImportGraph::build(GraphInput {
        rootdir: root.into(),
        roots: roots
            .iter()
            .map(|r| root.join(r))
            .chain(std::iter::once(root.to_path_buf()))
            .collect(),
        files,
        parsed,
        missing: Vec::new(),
        threads: 2,
    })
}

fn names(graph: &ImportGraph, modules: &[usize]) -> Vec<String> {
    modules
        .iter()
        .map(|&m| graph.module(m).name.clone())
        .collect()
}

fn imports(graph: &ImportGraph, root: &Path, rel: &str) -> Vec<String> {
    let m = graph.module_of(&root.join(rel)).unwrap();
    let mut found = names(graph, graph.imports_of(m));
    found.sort();
    found
}

fn chain(graph: &ImportGraph, root: &Path, test: &str, changed: &[&str]) -> Option<Vec<String>> {
    let changed: Vec<usize> = changed
        .iter()
        .map(|c| graph.module_of(&root.join(c)).unwrap())
        .collect();
    let affected = graph.affected(&changed);
    let m = graph.module_of(&root.join(test)).unwrap();
    affected.chain(m).map(|c| names(graph, &c))
}

#[test]
fn chains_through_modules_to_the_changed_one() {
    let tmp = project(&[
        ("pkg/__init__.py", ""),
        ("pkg/core.py", "X = 1\n"),
        ("pkg/mid.py", "from pkg import core\n"),
        ("pkg/other.py", "import os\n"),
        ("tests/test_mid.py", "import pkg.mid\n"),
        ("tests/test_other.py", "from pkg.other import *\n"),
    ]);
    let root = tmp.path();
    let graph = graph_of(root, &[]);
    assert_eq!(
        chain(&graph, root, "tests/test_mid.py", &["pkg/core.py"]),
        Some(vec!["test_mid".into(), "pkg.mid".into(), "pkg.core".into()])
    );
    assert_eq!(
        chain(&graph, root, "tests/test_other.py", &["pkg/core.py"]),
        None
    );
    // A package's __init__ runs before any of its modules.
    assert!(chain(&graph, root, "tests/test_other.py", &["pkg/__init__.py"]).is_some());
}

#[test]
fn every_kind_of_import_is_an_edge() {
    let tmp = project(&[
        ("src/app/__init__.py", "from .models import Model\n"),
        ("src/app/models.py", ""),
        ("src/app/sub/__init__.py", ""),
        (
            "src/app/sub/deep.py",
            "from .. import helpers\nfrom ..models import Model\n",
        ),
        ("src/app/helpers.py", ""),
        ("src/app/typed.py", ""),
        ("src/app/lazy.py", ""),
        ("src/app/plugin.py", ""),
        (
            "src/app/user.py",
            "from typing import TYPE_CHECKING\n\
             if TYPE_CHECKING:\n    from app.typed import T\n\
             def f():\n    import app.lazy\n\
             import importlib\n\
             importlib.import_module('app.plugin')\n\
             try:\n    import app.sub.deep\nexcept ImportError:\n    pass\n",
        ),
    ]);
    let root = tmp.path();
    let graph = graph_of(root, &["src"]);
    assert_eq!(
        imports(&graph, root, "src/app/user.py"),
        [
            "app",
            "app.lazy",
            "app.plugin",
            "app.sub",
            "app.sub.deep",
            "app.typed"
        ]
    );
    assert_eq!(
        imports(&graph, root, "src/app/sub/deep.py"),
        ["app", "app.helpers", "app.models", "app.sub"]
    );
    assert_eq!(imports(&graph, root, "src/app/__init__.py"), ["app.models"]);
    assert!(graph.dynamic_imports().is_empty());
}

#[test]
fn computed_import_names_are_dynamic() {
    let tmp = project(&[(
        "loader.py",
        "import importlib\n\ndef load(name):\n    return importlib.import_module(name)\n",
    )]);
    let graph = graph_of(tmp.path(), &[]);
    let (module, line) = graph.dynamic_imports()[0];
    assert_eq!(graph.module(module).name, "loader");
    assert_eq!(line, 4);
}

#[test]
fn test_files_resolve_against_their_own_directory_and_conftests() {
    let tmp = project(&[
        ("tests/conftest.py", "import shared\n"),
        ("tests/helpers.py", ""),
        ("tests/test_a.py", "import helpers\n"),
        ("shared.py", ""),
    ]);
    let root = tmp.path();
    let graph = graph_of(root, &[]);
    assert_eq!(
        imports(&graph, root, "tests/test_a.py"),
        // Named as imported: pytest puts `tests/` (no `__init__.py`) on `sys.path`.
        ["conftest", "helpers"]
    );
    assert_eq!(
        chain(&graph, root, "tests/test_a.py", &["shared.py"]),
        Some(vec!["test_a".into(), "conftest".into(), "shared".into()])
    );
}

#[test]
fn a_deleted_module_still_reaches_its_importers() {
    let tmp = project(&[("test_x.py", "import gone\n")]);
    let root = tmp.path();
    let test: PathBuf = root.join("test_x.py");
    let graph = ImportGraph::build(GraphInput {
        rootdir: root.into(),
        roots: vec![root.into()],
        files: vec![test.clone()],
        parsed: Vec::new(),
        missing: vec![root.join("gone.py")],
        threads: 1,
    });
    let gone = graph.module_of(&root.join("gone.py")).unwrap();
    let affected = graph.affected(&[gone]);
    assert!(affected.contains(graph.module_of(&test).unwrap()));
    assert!(affected.is_changed(gone));
}
