use dbtest_model::{ErrorKind, Outcome, Phase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Messages the coordinator sends on the worker's fd 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Boxed: sent once per worker, far larger than a batch.
    Config(Box<WorkerConfig>),
    Run(RunBatch),
    Extend(Extend),
    Shutdown,
    /// The run is over and the worker is kept for the next (`--watch`):
    /// tear the open scopes down, as for `shutdown`, answer `modules`, and
    /// wait for the next run's batches.
    Reset,
}

/// Messages a worker sends on its fd 4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    Hello(Hello),
    Imported(Imported),
    Result(TestReport),
    Fixture(FixtureReport),
    BatchDone(BatchDone),
    Modules(Modules),
}

/// Sent once, right after the worker process starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub pid: u32,
    /// `sys.version` of the worker's interpreter, first line.
    pub python: String,
}

/// Sent once, before any `run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerConfig {
    pub protocol: u32,
    /// 1-based slot of this worker; replacements reuse the slot.
    pub worker: u32,
    /// Directory test ids are relative to (the worker runs in the invocation directory).
    pub rootdir: String,
    /// Capture fd 1 and 2 per test (`false` under `-s`).
    pub capture: bool,
    /// Bytes of captured output kept per stream and test (head and tail).
    pub output_limit: u32,
    /// File the worker's `faulthandler` writes thread dumps to (on SIGUSR1 and on fatal signals).
    pub traceback_file: String,
    /// dbtest's cache directory, where rewritten test modules' bytecode is kept
    /// (`None` under `--no-cache`: beside the sources, if bytecode may be written).
    pub cache_dir: Option<String>,
    /// What pytest's configuration says about running tests.
    pub pytest: PytestOptions,
    /// `--import-all`: test modules to import, in order and each after its
    /// conftests, before the first `run` (as pytest's collection does). Empty
    /// for a worker forked from a fork server that imported them already.
    pub preload: Vec<ModuleRef>,
    /// Without `--import-all`: every test module of the run, in order. When a
    /// test fails on a package's attribute that names a submodule nothing had
    /// imported, the worker imports these once (as pytest's collection would
    /// have) and runs the test again. Empty with `--import-all`.
    pub on_miss: Vec<ModuleRef>,
    /// `--cov`: measure with coverage.py, from before the first import of the
    /// project's code; `None`: coverage is off (and never imported).
    pub coverage: Option<CoverageOptions>,
}

/// How a worker measures coverage (`--cov`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageOptions {
    /// Each worker writes `<data_file>.<host>.<pid>.<random>` (a private
    /// directory of the run, combined at its end).
    pub data_file: String,
    /// `--cov=SOURCE` values; `None`: the configuration's (`[run] source`).
    pub source: Option<Vec<String>>,
    /// `--cov-branch`; `None`: the configuration's.
    pub branch: Option<bool>,
    /// coverage.py's `config_file` (`--cov-config`, `.coveragerc` by default,
    /// which also means `setup.cfg`, `tox.ini` and `pyproject.toml`).
    pub config_file: String,
    /// `--cov-context`: `test` records each line's tests (dynamic contexts).
    pub context: Option<String>,
}

/// pytest's settings the worker applies (from the project's pytest
/// configuration and its `addopts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PytestOptions {
    /// Default `strict` of `xfail` marks.
    pub xfail_strict: bool,
    /// The `filterwarnings` setting's lines, in order.
    pub filterwarnings: Vec<String>,
    /// `-W` options, applied after `filterwarnings`.
    pub warning_filters: Vec<String>,
    /// Parametrized ids escape non-ASCII characters (pytest's default).
    pub escape_ids: bool,
    /// `short`, `legacy`, `sha256` or `disallow`.
    pub long_str_strategy: String,
    /// Repeated parametrized ids are an error rather than numbered.
    pub strict_parametrization_ids: bool,
    /// `skip`, `xfail` or `fail_at_collect`.
    pub empty_parameter_set_mark: String,
    /// Name prefixes or patterns of test classes and functions.
    pub python_classes: Vec<String>,
    pub python_functions: Vec<String>,
    /// Absolute directories put first on `sys.path`.
    pub pythonpath: Vec<String>,
    /// Fixtures every test uses (the `usefixtures` setting).
    pub usefixtures: Vec<String>,
    /// A mark nobody registered is an error (`strict_markers`, `--strict-markers`).
    pub strict_markers: bool,
    /// The file pytest's settings come from, if any.
    pub inifile: Option<String>,
    /// Every setting of that file as written, for `config.getini`.
    pub ini: BTreeMap<String, IniValue>,
    /// Options given after `--`, for the conftests' `pytest_addoption`.
    pub extra_args: Vec<String>,
    /// The run's base temporary directory (`tmp_path` and its kin live under
    /// it); created by the first worker that needs it.
    pub basetemp: String,
}

/// A pytest setting's value as its file wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IniValue {
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<String>),
}

impl Default for PytestOptions {
    fn default() -> Self {
        PytestOptions {
            xfail_strict: false,
            filterwarnings: Vec::new(),
            warning_filters: Vec::new(),
            escape_ids: true,
            long_str_strategy: "short".into(),
            strict_parametrization_ids: false,
            empty_parameter_set_mark: "skip".into(),
            python_classes: vec!["Test".into()],
            python_functions: vec!["test".into()],
            pythonpath: Vec::new(),
            usefixtures: Vec::new(),
            strict_markers: false,
            inifile: None,
            ini: BTreeMap::new(),
            extra_args: Vec::new(),
            basetemp: String::new(),
        }
    }
}

/// Where a module comes from and under which name to import it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRef {
    /// Absolute path of the file.
    pub path: String,
    /// Dotted module name.
    pub name: String,
    /// Directory to put on `sys.path` so that `name` imports.
    pub import_root: String,
}

/// A batch of tests from one module, run in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunBatch {
    pub batch: u32,
    pub module: ModuleRef,
    /// Test names within the module: `func` or `Class::method`.
    pub tests: Vec<String>,
    /// Also run tests the module defines that the static collector did not list
    /// (set on exactly one batch per module and run).
    pub run_unlisted: bool,
    /// With `run_unlisted`: every test of the module the static pass found,
    /// whether it runs or not (deselected, statically skipped, in another
    /// shard), so that the worker reports only tests the static pass missed
    /// (and, when there are none, starts without waiting for `extend`). Empty
    /// otherwise.
    pub known: Vec<String>,
    /// `dbtest list`: import the module and report what it defines, run
    /// nothing. `imported.unlisted` then lists every test the module defines
    /// (in its order, `known` ones too) and the worker sends `batch_done`
    /// without waiting for `extend`; a failed import is one `fixture` error
    /// (phase `import`).
    pub collect_only: bool,
}

/// Sent after the module of a batch imported (or was already imported).
/// If the import fails, the worker sends no `imported` but one `result` per listed
/// test, then `batch_done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imported {
    pub batch: u32,
    /// Seconds the import took (0 when the module was already loaded).
    pub duration: f64,
    /// Tests the module defines that neither the batch's `tests` nor its
    /// `known` name (only when `run_unlisted`). The coordinator answers with `extend` whenever this is
    /// non-empty.
    pub unlisted: Vec<Discovered>,
    /// The order the module runs its tests in, when it is not the static
    /// one (pytest groups the tests that share a parameter of a scope wider
    /// than the function): indices into the `run` message's `known`, then
    /// `known.len() + k` for `unlisted[k]`. Empty when that order is the
    /// static one. When non-empty, the coordinator answers with `extend`.
    pub order: Vec<u32>,
}

/// A test found at import time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovered {
    /// `func` or `Class::method`, as in `RunBatch::tests`.
    pub name: String,
    /// Tags and marks known at run time.
    pub tags: Vec<String>,
}

/// The coordinator's answer to a non-empty `Imported::unlisted`: which of those
/// tests to run, and the order of the whole batch. The worker waits for it
/// before running anything in the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Extend {
    pub batch: u32,
    /// Indices into `Imported::unlisted`. The test at `unlisted[k]` gets
    /// position `tests.len() + k`.
    pub unlisted: Vec<u32>,
    /// More of the module's listed tests, added to the batch after the
    /// admitted unlisted ones: those the module's own order puts among the
    /// batch's tests.
    pub tests: Vec<String>,
    /// Every position of the batch, in the order to run them (tests of one
    /// class stay adjacent). Results arrive in this order.
    pub order: Vec<u32>,
}

/// The result of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub batch: u32,
    /// Index into the batch's `tests`, then into `unlisted`.
    pub position: u32,
    pub outcome: Outcome,
    pub phase: Phase,
    pub error_kind: Option<ErrorKind>,
    pub duration: f64,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// `subTest` blocks of this test that passed.
    pub subtests_passed: u32,
    /// `subTest` blocks that failed or were skipped; each becomes a result of its own.
    pub subtests: Vec<SubtestFailure>,
    /// Things the worker noticed that do not change the outcome (e.g. child
    /// processes the test left running, which it killed).
    pub warnings: Vec<String>,
}

/// A failed (or skipped) `subTest` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtestFailure {
    /// unittest's description: `[msg] (param=value, ...)`.
    pub description: String,
    pub outcome: Outcome,
    pub message: Option<String>,
    pub traceback: Option<String>,
}

/// A failure outside any one test: a class or module teardown
/// (`tearDownClass`, `tearDownModule`, `teardown_suite`, ...). The coordinator
/// records it as an error of its own, with id `path::name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixtureReport {
    /// Dotted name of the module the fixture belongs to.
    pub module: String,
    /// `tearDownModule`, `Class::tearDownClass`, ...
    pub name: String,
    pub phase: Phase,
    pub duration: f64,
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
}

/// Sent after the last result of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchDone {
    pub batch: u32,
}

/// Answer to `reset`: the source files of the modules the worker has
/// imported (`sys.modules`) that lie under the rootdir, conftests included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Modules {
    pub files: Vec<String>,
}
