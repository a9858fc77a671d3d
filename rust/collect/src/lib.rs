//! Static collection: reads test files and lists their tests without importing
//! anything. Workers reconcile this list with what a module really defines
//! (`dbtest/worker/collect.py` applies the same rules at run time).

mod benchparams;
mod classes;
mod generated;
mod items;
mod marks;
mod parametrize;
mod parse;
mod project;
mod pyrepr;
mod resolve;
mod rules;
mod summary;

use dbtest_model::{Style, TestFile, TestItem};
pub use parametrize::{EmptySet, IdOptions, LongStrings};
pub use project::Project;
pub use rules::NameRules;
pub use summary::{ImportRef, ImportScan, SyntaxError};

/// A file that could not be collected (unreadable or not valid Python).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectError {
    pub file: usize,
    pub rel: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl std::fmt::Display for CollectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.rel, self.line, self.column, self.message
            )
        } else {
            write!(f, "{}: {}", self.rel, self.message)
        }
    }
}

/// Everything static collection learns about one file.
#[derive(Debug, Clone, Default)]
pub struct FileCollection {
    pub items: Vec<TestItem>,
    pub error: Option<CollectError>,
    /// The module may define tests the static pass cannot see; importing it is the
    /// only way to know.
    pub dynamic: bool,
    /// Modules it imports at top level, as written.
    pub imported_modules: Vec<String>,
    /// Every import it makes, wherever written, when the project asked for
    /// them ([`Project::scan_imports`]): the import graph's edges from it.
    pub imports: Option<ImportScan>,
    /// It has module-level set-up or teardown (`setUpModule`, `setup_module`...):
    /// its tests stay on one worker, so that it runs once.
    pub module_setup: bool,
}

/// Module-level xunit hooks: a module that has one runs it once per worker it is
/// imported in.
const MODULE_HOOKS: [&str; 4] = [
    "setUpModule",
    "tearDownModule",
    "setup_module",
    "teardown_module",
];

/// Collects one file from its source text.
pub fn collect_source(
    file_index: usize,
    file: &TestFile,
    source: &str,
    project: &Project,
) -> FileCollection {
    match parse::summarize_with(source, project.scan_imports) {
        Ok(mut summary) => {
            let module = items::module_items(file_index, file, &summary, project);
            let module_setup = summary
                .functions
                .iter()
                .any(|f| MODULE_HOOKS.contains(&f.name.as_str()));
            let dynamic = module.dynamic
                || (module
                    .items
                    .iter()
                    .any(|i| matches!(i.style, Style::Function | Style::PlainClass))
                    && (generated::defines_case_makers(&summary)
                        || generated::conftests_make_cases(file, project)));
            FileCollection {
                items: module.items,
                error: None,
                dynamic,
                imported_modules: summary.imported_modules,
                imports: summary.import_scan.take(),
                module_setup,
            }
        }
        Err(err) => FileCollection {
            error: Some(CollectError {
                file: file_index,
                rel: file.rel.clone(),
                line: err.line,
                column: err.column,
                message: format!("syntax error: {}", err.message),
            }),
            ..FileCollection::default()
        },
    }
}

/// Every import of the module at `path`, wherever written (a module that
/// holds no tests: nothing else of it matters to the import graph).
pub fn scan_file_imports(path: &std::path::Path) -> Result<ImportScan, String> {
    let bytes = read_source(path).map_err(|e| format!("cannot read: {e}"))?;
    let source = match std::str::from_utf8(&bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(&bytes),
    };
    parse::scan_imports(&source)
        .map_err(|e| format!("syntax error at line {}: {}", e.line, e.message))
}

/// Reads and collects one file.
pub fn collect_file(file_index: usize, file: &TestFile, project: &Project) -> FileCollection {
    match read_source(&file.path) {
        Ok(bytes) => {
            // Validating is much cheaper than the lossy conversion's scan.
            let source = match std::str::from_utf8(&bytes) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(_) => String::from_utf8_lossy(&bytes),
            };
            collect_source(file_index, file, &source, project)
        }
        Err(err) => FileCollection {
            error: Some(CollectError {
                file: file_index,
                rel: file.rel.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read: {err}"),
            }),
            ..FileCollection::default()
        },
    }
}

/// The file's bytes, read with plain `read` calls: `std::fs::read` and
/// `File::read_to_end` first ask for the size (`statx`, `lseek`), two more
/// system calls per file, and on some machines every call counts at this scale.
fn read_source(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0u8; 16 * 1024];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// Collects files on `threads` threads while `discover` is still finding them,
/// so that parsing overlaps the directory walk (which is serial); with one
/// thread, on the caller's. `discover`
/// hands each file to its callback once; the files come back sorted by
/// relative path, each with its collection, indices matching that order.
pub fn collect_discovered<E: Send>(
    threads: usize,
    project: &Project,
    discover: impl FnOnce(&mut dyn FnMut(TestFile)) -> Result<(), E> + Send,
) -> Result<(Vec<TestFile>, Vec<FileCollection>), E> {
    let mut collected: Vec<(TestFile, FileCollection)> = if threads <= 1 {
        // One thread: no pool to start and hand files to (a few named files).
        let mut collected = Vec::new();
        discover(&mut |file| {
            let collection = collect_file(collected.len(), &file, project);
            collected.push((file, collection));
        })?;
        collected
    } else {
        collect_in_parallel(threads, project, discover)?
    };
    collected.sort_by(|a, b| a.0.rel.cmp(&b.0.rel));
    let mut files = Vec::with_capacity(collected.len());
    let mut collections = Vec::with_capacity(collected.len());
    for (index, (file, mut collection)) in collected.into_iter().enumerate() {
        for item in &mut collection.items {
            item.file = index;
        }
        if let Some(error) = &mut collection.error {
            error.file = index;
        }
        files.push(file);
        collections.push(collection);
    }
    Ok((files, collections))
}

/// Parses on `threads` threads the files `discover` hands over as it walks.
fn collect_in_parallel<E: Send>(
    threads: usize,
    project: &Project,
    discover: impl FnOnce(&mut dyn FnMut(TestFile)) -> Result<(), E> + Send,
) -> Result<Vec<(TestFile, FileCollection)>, E> {
    let (files_tx, files_rx) = crossbeam_channel::unbounded::<(usize, TestFile)>();
    std::thread::scope(|scope| {
        let collectors: Vec<_> = (0..threads)
            .map(|_| {
                let files_rx = files_rx.clone();
                scope.spawn(move || {
                    files_rx
                        .iter()
                        .map(|(i, file)| {
                            let collection = collect_file(i, &file, project);
                            (file, collection)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        drop(files_rx);
        let mut found = 0;
        let walked = discover(&mut |file| {
            // The receivers live until this scope ends.
            let _ = files_tx.send((found, file));
            found += 1;
        });
        drop(files_tx);
        let collected = collectors
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        walked.map(|()| collected)
    })
}

#[cfg(test)]
mod tests;
