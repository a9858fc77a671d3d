//! The project's source roots: the directories its absolute imports resolve
//! against, as `sys.path` entries would. Found automatically — the rootdir, a
//! `src/` layout, pytest's `pythonpath`, the `sys.path` entries of the
//! interpreter that lie inside the project (editable installs that add a
//! path), and the packages setuptools' editable finders map into it — after
//! those the project configured (`[tool.dbtest] source-roots`).

use std::path::{Path, PathBuf};

/// What the roots are found from.
#[derive(Debug, Clone, Default)]
pub struct RootHints {
    pub rootdir: PathBuf,
    /// `[tool.dbtest] source-roots` (absolute): searched first, in this order.
    pub configured: Vec<PathBuf>,
    /// pytest's `pythonpath` (absolute).
    pub pythonpath: Vec<PathBuf>,
    /// The interpreter's `sys.path`.
    pub sys_path: Vec<PathBuf>,
}

/// The source roots, most specific first, each once. Only directories that
/// exist; outside the rootdir only those configured.
pub fn source_roots(hints: &RootHints) -> Vec<PathBuf> {
    let rootdir = &hints.rootdir;
    let inside = |p: &Path| p.starts_with(rootdir) && !in_virtualenv(p, rootdir);
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut add = |path: PathBuf| {
        if path.is_dir() && !roots.contains(&path) {
            roots.push(path);
        }
    };
    for path in &hints.configured {
        add(path.clone());
    }
    for path in hints.pythonpath.iter().filter(|p| inside(p)) {
        add(path.clone());
    }
    // Editable installs: paths added by `.pth` files are on `sys.path` itself;
    // setuptools' finders map package names to directories instead.
    for entry in &hints.sys_path {
        if inside(entry) {
            add(entry.clone());
        }
        for root in editable_finder_roots(entry) {
            if inside(&root) {
                add(root);
            }
        }
    }
    add(rootdir.join("src"));
    add(rootdir.clone());
    roots
}

/// A directory of a virtualenv (or `site-packages`) inside the project: not
/// the project's own code.
fn in_virtualenv(path: &Path, rootdir: &Path) -> bool {
    path.ancestors()
        .take_while(|a| a.starts_with(rootdir))
        .any(|a| {
            a.join("pyvenv.cfg").is_file()
                || a.file_name()
                    .is_some_and(|n| n == "site-packages" || n == "dist-packages")
        })
}

/// The roots setuptools' editable finders (`__editable___NAME_finder.py` in
/// `site-packages`) point into: for `MAPPING = {'pkg': '/repo/src/pkg'}`,
/// `/repo/src`.
fn editable_finder_roots(site_packages: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(site_packages) else {
        return Vec::new();
    };
    let mut roots = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("__editable__") && name.ends_with("_finder.py")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        for (package, dir) in finder_mapping(&text) {
            let dir = PathBuf::from(dir);
            if dir.file_name().is_some_and(|n| n == package.as_str()) {
                if let Some(parent) = dir.parent() {
                    roots.push(parent.to_path_buf());
                }
            }
        }
    }
    roots
}

/// The `MAPPING` dict of an editable finder: pairs of quoted strings.
fn finder_mapping(text: &str) -> Vec<(String, String)> {
    let Some(line) = text.lines().find(|l| l.starts_with("MAPPING")) else {
        return Vec::new();
    };
    let Some(body) = line.split_once('{').map(|(_, rest)| rest) else {
        return Vec::new();
    };
    let strings = quoted_strings(body);
    strings
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

/// The contents of the '…' or "…" strings of `text`, in order (no escapes
/// beyond `\\` and `\'`, which paths seldom hold).
fn quoted_strings(text: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' {
            let mut value = String::new();
            while let Some(d) = chars.next() {
                match d {
                    '\\' => value.extend(chars.next()),
                    d if d == c => break,
                    d => value.push(d),
                }
            }
            strings.push(value);
        } else if c == '}' {
            break;
        }
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn src_layout_rootdir_and_editable_finders() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("proj");
        fs::create_dir_all(root.join("src/app")).unwrap();
        fs::create_dir_all(root.join("lib/other")).unwrap();
        fs::create_dir_all(root.join(".venv/lib/site-packages")).unwrap();
        fs::write(root.join(".venv/pyvenv.cfg"), "").unwrap();
        let site = root.join(".venv/lib/site-packages");
        fs::write(
            site.join("__editable___other_0_1_finder.py"),
            format!(
                "import sys\nMAPPING: dict[str, str] = {{'other': '{}'}}\n",
                root.join("lib/other").display()
            ),
        )
        .unwrap();
        let roots = source_roots(&RootHints {
            rootdir: root.clone(),
            configured: Vec::new(),
            pythonpath: Vec::new(),
            sys_path: vec![site.clone(), PathBuf::from("/usr/lib/python3.11")],
        });
        assert_eq!(roots, [root.join("lib"), root.join("src"), root.clone()]);
    }

    #[test]
    fn configured_roots_come_first() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        fs::create_dir_all(root.join("code")).unwrap();
        let roots = source_roots(&RootHints {
            rootdir: root.clone(),
            configured: vec![root.join("code"), root.join("missing")],
            ..RootHints::default()
        });
        assert_eq!(roots, [root.join("code"), root.clone()]);
    }
}
