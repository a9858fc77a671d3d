//! Static collection against the shared cases in `workers/golden/ids.json`:
//! the names pytest gives parametrized cases (checked there against pytest
//! itself), and the cases only an import can tell, which must be left to the
//! worker. `dbtest/worker` is checked against the same file.

use dbtest_collect::{collect_source, Project};
use dbtest_model::{TestFile, TestName};
use serde_json::Value;
use std::path::PathBuf;

fn golden() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../workers/golden/ids.json");
    let text = std::fs::read_to_string(&path).expect("workers/golden/ids.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn file() -> TestFile {
    TestFile {
        path: PathBuf::from("/p/test_g.py"),
        rel: "test_g.py".into(),
        module: "test_g".into(),
        import_root: PathBuf::from("/p"),
        is_benchmark: false,
    }
}

#[test]
fn parametrized_cases_get_pytests_ids_or_are_left_to_the_worker() {
    let golden = golden();
    let header = golden["header"].as_str().unwrap();
    let cases = golden["parametrize"].as_array().unwrap();
    assert!(cases.len() > 10);
    for case in cases {
        let source = format!("{header}{}\n", case["source"].as_str().unwrap());
        let collection = collect_source(0, &file(), &source, &Project::new());
        let names: Vec<&str> = collection.items.iter().map(|i| i.name()).collect();
        if case["static"].as_bool().unwrap() {
            let expected: Vec<&str> = case["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(names, expected, "{source}");
        } else {
            assert!(names.is_empty(), "{source}: {names:?}");
            assert!(collection.dynamic, "{source}");
        }
    }
}

#[test]
fn names_are_taken_apart_as_pytest_does() {
    for case in golden()["names"].as_array().unwrap() {
        let name = TestName::new(case["name"].as_str().unwrap());
        assert_eq!(
            name.function(),
            case["function"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(name.class(), case["class"].as_str(), "{case}");
        assert_eq!(name.params(), case["params"].as_str(), "{case}");
    }
}
