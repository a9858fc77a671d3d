//! Checks this crate against the shared golden frames in `workers/golden/vectors.json`.
//! The Python suite checks `dbtest/worker/protocol.py` against the same file.
//!
//! Regenerate after a deliberate protocol change with
//! `DBTEST_BLESS_GOLDEN=1 cargo test -p dbtest-protocol --test golden`.

use dbtest_model::{ErrorKind, Outcome, Phase};
use dbtest_protocol::*;
use serde_json::{json, Value};
use std::path::PathBuf;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../workers/golden/vectors.json")
}

fn samples() -> Vec<(&'static str, Value)> {
    let to = |m: ToWorker| serde_json::to_value(m).unwrap();
    let from = |m: FromWorker| serde_json::to_value(m).unwrap();
    vec![
        (
            "hello",
            from(FromWorker::Hello(Hello {
                protocol: PROTOCOL_VERSION,
                pid: 4242,
                python: "3.11.7 (main, Jan  1 2024, 00:00:00) [GCC 12.2.0]".into(),
            })),
        ),
        (
            "config",
            to(ToWorker::Config(Box::new(WorkerConfig {
                protocol: PROTOCOL_VERSION,
                worker: 2,
                rootdir: "/home/user/project".into(),
                capture: true,
                output_limit: 1_048_576,
                traceback_file: "/tmp/dbtest-run/worker-2.tb".into(),
                cache_dir: Some("/home/user/project/.dbtest".into()),
                pytest: PytestOptions {
                    xfail_strict: true,
                    filterwarnings: vec![
                        "error".into(),
                        "ignore::DeprecationWarning:yaml.*".into(),
                    ],
                    warning_filters: vec!["ignore:old api".into()],
                    escape_ids: true,
                    long_str_strategy: "short".into(),
                    strict_parametrization_ids: false,
                    empty_parameter_set_mark: "skip".into(),
                    python_classes: vec!["Test".into(), "*Suite".into()],
                    python_functions: vec!["test".into()],
                    pythonpath: vec!["/home/user/project/src".into()],
                    usefixtures: vec!["clean_db".into()],
                    strict_markers: true,
                    inifile: Some("/home/user/project/pyproject.toml".into()),
                    ini: [
                        ("xfail_strict".to_string(), IniValue::Bool(true)),
                        ("testpaths".to_string(), IniValue::List(vec!["tests".into()])),
                        ("timeout".to_string(), IniValue::Text("30".into())),
                    ]
                    .into_iter()
                    .collect(),
                    extra_args: vec!["--runslow".into()],
                    basetemp: "/tmp/dbtest-of-user/dbtest-4".into(),
                },
                preload: vec![ModuleRef {
                    path: "/home/user/project/tests/test_api.py".into(),
                    name: "tests.test_api".into(),
                    import_root: "/home/user/project".into(),
                }],
                on_miss: vec![ModuleRef {
                    path: "/home/user/project/tests/test_db.py".into(),
                    name: "tests.test_db".into(),
                    import_root: "/home/user/project".into(),
                }],
                coverage: Some(CoverageOptions {
                    data_file: "/tmp/dbtest-run/coverage/.coverage".into(),
                    source: Some(vec!["src/pkg".into()]),
                    branch: None,
                    config_file: ".coveragerc".into(),
                    context: Some("test".into()),
                }),
            }))),
        ),
        (
            "run",
            to(ToWorker::Run(RunBatch {
                batch: 300,
                module: ModuleRef {
                    path: "/home/user/project/tests/test_api.py".into(),
                    name: "tests.test_api".into(),
                    import_root: "/home/user/project".into(),
                },
                tests: vec!["test_login".into(), "TestUsers::test_create".into()],
                run_unlisted: true,
                known: vec![
                    "test_login".into(),
                    "TestUsers::test_create".into(),
                    "test_logout".into(),
                ],
                collect_only: false,
            })),
        ),
        ("shutdown", to(ToWorker::Shutdown)),
        ("reset", to(ToWorker::Reset)),
        (
            "imported",
            from(FromWorker::Imported(Imported {
                batch: 300,
                duration: 0.015625,
                unlisted: vec![
                    Discovered {
                        name: "TestGenerated::test_case_3".into(),
                        tags: vec!["slow".into()],
                    },
                    Discovered {
                        name: "test_made_in_loop".into(),
                        tags: vec![],
                    },
                ],
                order: vec![0, 3, 1, 2, 4],
            })),
        ),
        (
            "extend",
            to(ToWorker::Extend(Extend {
                batch: 300,
                unlisted: vec![1],
                tests: vec!["test_logout".into()],
                order: vec![0, 3, 2, 1],
            })),
        ),
        (
            "result_passed",
            from(FromWorker::Result(TestReport {
                batch: 300,
                position: 0,
                outcome: Outcome::Passed,
                phase: Phase::Call,
                error_kind: None,
                duration: 0.000244140625,
                message: None,
                traceback: None,
                stdout: None,
                stderr: None,
                subtests_passed: 0,
                subtests: vec![],
                warnings: vec![],
            })),
        ),
        (
            "result_error",
            from(FromWorker::Result(TestReport {
                batch: 300,
                position: 1,
                outcome: Outcome::Error,
                phase: Phase::Setup,
                error_kind: Some(ErrorKind::Exception),
                duration: 1.5,
                message: Some("KeyError: 'user'".into()),
                traceback: Some("Traceback (most recent call last):\n  File \"tests/test_api.py\", line 9, in setUp\nKeyError: 'user'\n".into()),
                stdout: Some("connecting…\n".into()),
                stderr: Some("".into()),
                subtests_passed: 3,
                subtests: vec![SubtestFailure {
                    description: "(i=2)".into(),
                    outcome: Outcome::Failed,
                    message: Some("AssertionError: 2 not less than 2".into()),
                    traceback: Some("Traceback (most recent call last):\n...".into()),
                }],
                warnings: vec!["killed 1 child process left running: 4243 (sleep 100)".into()],
            })),
        ),
        (
            "fixture",
            from(FromWorker::Fixture(FixtureReport {
                module: "tests.test_api".into(),
                name: "TestUsers::tearDownClass".into(),
                phase: Phase::Teardown,
                duration: 0.5,
                message: Some("OSError: [Errno 16] Device or resource busy".into()),
                traceback: Some("Traceback (most recent call last):\n  ...\nOSError: [Errno 16] Device or resource busy\n".into()),
                stdout: None,
                stderr: None,
            })),
        ),
        ("batch_done", from(FromWorker::BatchDone(BatchDone { batch: 300 }))),
        (
            "modules",
            from(FromWorker::Modules(Modules {
                files: vec![
                    "/home/user/project/conftest.py".into(),
                    "/home/user/project/pkg/__init__.py".into(),
                    "/home/user/project/tests/test_users.py".into(),
                ],
            })),
        ),
        // The benchmark lane (`dbtest bench`).
        (
            "prepare",
            to_lane(ToLane::Prepare(Prepare {
                request: 1,
                module: ModuleRef {
                    path: "/home/user/project/benchmarks/bench_json.py".into(),
                    name: "bench_json".into(),
                    import_root: "/home/user/project/benchmarks".into(),
                },
                name: "json encode::compact[size=10]".into(),
            })),
        ),
        ("round", to_lane(ToLane::Round(Round { slot: 2, iterations: 125_000 }))),
        (
            "lane_hello",
            from_lane(FromLane::LaneHello(LaneHello {
                protocol: PROTOCOL_VERSION,
                pid: 4343,
                python: "3.11.7 (main, Jan  1 2024, 00:00:00) [GCC 12.2.0]".into(),
                implementation: "cpython".into(),
                machine: "Linux-6.1.0-x86_64-with-glibc2.36 x86_64".into(),
                timer: "time.perf_counter".into(),
                timer_resolution: 5.0e-8,
                cpu: Some(1),
                cpu_count: 2,
                gc_enabled: true,
                gc_threshold: vec![700, 10, 10],
            })),
        ),
        (
            "prepared",
            from_lane(FromLane::Prepared(Prepared {
                request: 1,
                baseline: Some("stdlib".into()),
                members: vec![PreparedMember {
                    slot: 2,
                    name: "json encode::compact[size=10]".into(),
                    iterations: 125_000,
                    round_time: 0.103515625,
                }],
            })),
        ),
        (
            "sample",
            from_lane(FromLane::Sample(Sample {
                slot: 2,
                seconds: 0.1015625,
                gc_collections: 3,
            })),
        ),
        (
            "failed",
            from_lane(FromLane::Failed(Failed {
                request: 1,
                slot: None,
                name: "json encode::compact[size=10]".into(),
                phase: "importing".into(),
                message: "ModuleNotFoundError: No module named 'orjson'".into(),
                traceback: Some("Traceback (most recent call last):\n  ...\n".into()),
            })),
        ),
    ]
}

fn to_lane(m: ToLane) -> Value {
    serde_json::to_value(m).unwrap()
}

fn from_lane(m: FromLane) -> Value {
    serde_json::to_value(m).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn encode_value(direction: &str, value: &Value) -> Vec<u8> {
    match direction {
        "to_worker" => encode_frame(&serde_json::from_value::<ToWorker>(value.clone()).unwrap()),
        "to_lane" => encode_frame(&serde_json::from_value::<ToLane>(value.clone()).unwrap()),
        "from_lane" => encode_frame(&serde_json::from_value::<FromLane>(value.clone()).unwrap()),
        _ => encode_frame(&serde_json::from_value::<FromWorker>(value.clone()).unwrap()),
    }
    .unwrap()
}

fn direction_of(name: &str) -> &'static str {
    match name {
        "config" | "run" | "extend" | "shutdown" | "reset" => "to_worker",
        "prepare" | "round" => "to_lane",
        "lane_hello" | "prepared" | "sample" | "failed" => "from_lane",
        _ => "from_worker",
    }
}

/// Decodes a frame in `direction` and encodes it again.
fn roundtrip(direction: &str, frame: &[u8]) -> (Value, Vec<u8>) {
    fn go<T: serde::de::DeserializeOwned + serde::Serialize>(frame: &[u8]) -> (Value, Vec<u8>) {
        let msg: T = FrameReader::new(frame).next_message().unwrap().unwrap();
        (
            serde_json::to_value(&msg).unwrap(),
            encode_frame(&msg).unwrap(),
        )
    }
    match direction {
        "to_worker" => go::<ToWorker>(frame),
        "to_lane" => go::<ToLane>(frame),
        "from_lane" => go::<FromLane>(frame),
        _ => go::<FromWorker>(frame),
    }
}

#[test]
fn golden_vectors_decode_and_reencode_byte_for_byte() {
    if std::env::var_os("DBTEST_BLESS_GOLDEN").is_some() {
        let vectors: Vec<Value> = samples()
            .into_iter()
            .map(|(name, value)| {
                let direction = direction_of(name);
                let frame = encode_value(direction, &value);
                json!({"name": name, "direction": direction, "value": value, "hex": hex(&frame)})
            })
            .collect();
        let text = serde_json::to_string_pretty(&vectors).unwrap() + "\n";
        std::fs::write(vectors_path(), text).unwrap();
    }

    let text = std::fs::read_to_string(vectors_path()).expect("workers/golden/vectors.json");
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(vectors.len(), samples().len(), "every sample has a vector");
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let frame = unhex(vector["hex"].as_str().unwrap());
        let (decoded, reencoded) = roundtrip(vector["direction"].as_str().unwrap(), &frame);
        assert_eq!(decoded, vector["value"], "{name}: decoded value");
        assert_eq!(hex(&reencoded), hex(&frame), "{name}: re-encoded bytes");
    }
}

/// The type name each message has on the wire; the match is exhaustive, so a
/// new message does not compile until it is named here (and then needs a vector).
fn wire_type(message: &Value) -> &str {
    message["type"].as_str().unwrap_or_default()
}

fn every_message_type() -> Vec<&'static str> {
    let to_worker = |m: &ToWorker| match m {
        ToWorker::Config(_) => "config",
        ToWorker::Run(_) => "run",
        ToWorker::Extend(_) => "extend",
        ToWorker::Shutdown => "shutdown",
        ToWorker::Reset => "reset",
    };
    let from_worker = |m: &FromWorker| match m {
        FromWorker::Hello(_) => "hello",
        FromWorker::Imported(_) => "imported",
        FromWorker::Result(_) => "result",
        FromWorker::Fixture(_) => "fixture",
        FromWorker::BatchDone(_) => "batch_done",
        FromWorker::Modules(_) => "modules",
    };
    let to_lane = |m: &ToLane| match m {
        ToLane::Prepare(_) => "prepare",
        ToLane::Round(_) => "round",
        ToLane::Shutdown => "shutdown",
    };
    let from_lane = |m: &FromLane| match m {
        FromLane::LaneHello(_) => "lane_hello",
        FromLane::Prepared(_) => "prepared",
        FromLane::Sample(_) => "sample",
        FromLane::Failed(_) => "failed",
    };
    let mut names = Vec::new();
    for (name, value) in samples() {
        let kind = match direction_of(name) {
            "to_worker" => to_worker(&serde_json::from_value(value).unwrap()),
            "to_lane" => to_lane(&serde_json::from_value(value).unwrap()),
            "from_lane" => from_lane(&serde_json::from_value(value).unwrap()),
            _ => from_worker(&serde_json::from_value(value).unwrap()),
        };
        if !names.contains(&kind) {
            names.push(kind);
        }
    }
    names
}

#[test]
fn the_vectors_file_holds_every_message_type() {
    let text = std::fs::read_to_string(vectors_path()).expect("workers/golden/vectors.json");
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    let in_file: Vec<&str> = vectors.iter().map(|v| wire_type(&v["value"])).collect();
    let expected = every_message_type();
    assert_eq!(
        expected.len(),
        17,
        "samples cover every variant: {expected:?}"
    );
    for kind in expected {
        assert!(
            in_file.contains(&kind),
            "workers/golden/vectors.json has no {kind} vector"
        );
    }
}
