//! pytest's `testpaths`: globs expanded against the rootdir, as pytest
//! expands them.

use std::path::Path;

/// `testpaths` entries as pytest expands them: each a glob (relative to the
/// rootdir), its matches sorted; an entry that matches nothing is dropped.
pub(crate) fn expand_testpaths(rootdir: &Path, testpaths: &[String]) -> Vec<String> {
    let mut paths = Vec::new();
    for entry in testpaths {
        if !entry.contains(['*', '?', '[']) {
            if rootdir.join(entry).exists() {
                paths.push(rootdir.join(entry).to_string_lossy().into_owned());
            }
            continue;
        }
        let Ok(glob) = globset::GlobBuilder::new(entry)
            .literal_separator(true)
            .build()
            .map(|g| g.compile_matcher())
        else {
            continue;
        };
        let mut matches: Vec<String> = walk_for_glob(rootdir, entry)
            .into_iter()
            .filter(|rel| glob.is_match(rel))
            .map(|rel| rootdir.join(rel).to_string_lossy().into_owned())
            .collect();
        matches.sort();
        paths.extend(matches);
    }
    paths
}

/// Relative paths under `rootdir` as deep as `pattern` reaches (every depth for `**`).
fn walk_for_glob(rootdir: &Path, pattern: &str) -> Vec<String> {
    let depth = if pattern.contains("**") {
        usize::MAX
    } else {
        pattern.split('/').count()
    };
    let mut found = Vec::new();
    let mut stack = vec![(rootdir.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, level)) = stack.pop() {
        if level >= depth {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if entry.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with('.') {
                stack.push((entry.path(), child.clone(), level + 1));
            }
            found.push(child);
        }
    }
    found
}
