use super::*;
use dbtest_model::{Kind, Style};
use std::path::PathBuf;

mod parametrize_ids;

fn file(rel: &str) -> TestFile {
    TestFile {
        path: PathBuf::from("/p").join(rel),
        rel: rel.into(),
        module: rel.trim_end_matches(".py").replace('/', "."),
        import_root: PathBuf::from("/p"),
        is_benchmark: rel.rsplit('/').next().unwrap_or(rel).starts_with("bench_"),
    }
}

fn collect(rel: &str, source: &str) -> FileCollection {
    collect_source(0, &file(rel), source, &Project::new())
}

fn ids(c: &FileCollection) -> Vec<&str> {
    c.items.iter().map(|i| &*i.id).collect()
}

#[test]
fn collects_functions_plain_classes_testcases_and_suites() {
    let c = collect(
        "tests/test_mix.py",
        r#"
import unittest
from dbtest import TestSuite, test

def test_one(): pass
async def test_two(): pass
def helper(): pass

class TestPlain:
    def test_a(self): pass
    def helper(self): pass

class UsersCase(unittest.TestCase):
    def test_z(self): pass
    def test_b(self): pass

class Api(TestSuite):
    @test(tags=["fast", "integration"], timeout=2.5)
    async def login(self): pass
    @test(skip="later")
    def logout(self): pass
    def not_a_test(self): pass
"#,
    );
    assert_eq!(
        ids(&c),
        [
            "tests/test_mix.py::test_one",
            "tests/test_mix.py::test_two",
            "tests/test_mix.py::TestPlain::test_a",
            "tests/test_mix.py::UsersCase::test_b",
            "tests/test_mix.py::UsersCase::test_z",
            "tests/test_mix.py::Api::login",
            "tests/test_mix.py::Api::logout",
        ]
    );
    let by_name = |n: &str| c.items.iter().find(|i| i.name() == n).unwrap();
    assert!(by_name("test_two").is_async);
    assert_eq!(by_name("test_one").line, 5);
    assert_eq!(by_name("TestPlain::test_a").style, Style::PlainClass);
    assert_eq!(by_name("UsersCase::test_b").style, Style::TestCase);
    let login = by_name("Api::login");
    assert_eq!(login.style, Style::Suite);
    assert_eq!(login.tags(), ["fast", "integration"]);
    assert_eq!(login.timeout(), Some(2.5));
    assert_eq!(login.kind, Kind::Integration);
    assert_eq!(by_name("Api::logout").skip(), Some("later"));
    assert!(!c.dynamic);
}

#[test]
fn testcase_by_base_inheritance_mixins_and_test_flag() {
    let c = collect(
        "test_inherit.py",
        r#"
from unittest import TestCase as TC
class Mixin:
    def test_shared(self): pass
class Base(TC):
    def test_base(self): pass
class Concrete(Mixin, Base):
    def test_own(self): pass
class Hidden(TC):
    __test__ = False
    def test_h(self): pass
class TestWithInit:
    def __init__(self): pass
    def test_x(self): pass
"#,
    );
    assert_eq!(
        ids(&c),
        [
            "test_inherit.py::Base::test_base",
            "test_inherit.py::Concrete::test_base",
            "test_inherit.py::Concrete::test_own",
            "test_inherit.py::Concrete::test_shared",
        ]
    );
}

#[test]
fn marks_skips_and_integration_paths() {
    let c = collect(
        "integration/test_db.py",
        r#"
import pytest, unittest
pytestmark = pytest.mark.db
@pytest.mark.slow
def test_slow(): pass
@pytest.mark.skip(reason="broken")
def test_skipped(): pass
@unittest.skip("nope")
def test_us(): pass
"#,
    );
    let slow = &c.items[0];
    assert_eq!(slow.tags(), ["slow", "db"]);
    assert_eq!(slow.kind, Kind::Integration);
    assert_eq!(c.items[1].skip(), Some("broken"));
    assert_eq!(c.items[2].skip(), Some("nope"));
}

#[test]
fn flags_modules_that_may_define_invisible_tests() {
    assert!(collect("test_a.py", "for i in range(3):\n    pass\n").dynamic);
    assert!(collect("test_a.py", "from base import *\n").dynamic);
    assert!(collect("test_a.py", "from .base import BaseTests\n").dynamic);
    assert!(
        collect(
            "test_a.py",
            "from .base import Base\nclass Foo(Base):\n    def test_x(self): pass\n"
        )
        .dynamic
    );
    assert!(
        !collect(
            "test_a.py",
            "import os\ntry:\n    import numpy\nexcept ImportError:\n    numpy = None\n"
        )
        .dynamic
    );
}

#[test]
fn modules_whose_fixtures_or_hooks_make_cases_are_left_to_an_import() {
    let params_fixture = "import pytest\n@pytest.fixture(params=[1, 2])\ndef n(request): return request.param\ndef test_n(n): pass\n";
    assert!(collect("test_a.py", params_fixture).dynamic);
    let hook =
        "def pytest_generate_tests(metafunc): pass\nclass TestX:\n    def test_x(self, k): pass\n";
    assert!(collect("test_a.py", hook).dynamic);
    let class_fixture = "import pytest\nclass TestX:\n    @pytest.fixture(params='ab')\n    def c(self, request): return request.param\n    def test_x(self, c): pass\n";
    assert!(collect("test_a.py", class_fixture).dynamic);
    let plain_fixture = "import pytest\n@pytest.fixture\ndef n(): return 1\ndef test_n(n): pass\n";
    assert!(!collect("test_a.py", plain_fixture).dynamic);
    // unittest does not parametrize a TestCase through fixtures.
    let testcase = "import pytest, unittest\n@pytest.fixture(params=[1])\ndef n(request): pass\nclass T(unittest.TestCase):\n    def test_t(self): pass\n";
    assert!(!collect("test_a.py", testcase).dynamic);
}

#[test]
fn a_conftest_above_the_module_that_makes_cases_leaves_it_to_an_import() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("tests/deep")).unwrap();
    std::fs::write(
        root.join("tests/conftest.py"),
        "def pytest_generate_tests(metafunc): pass\n",
    )
    .unwrap();
    std::fs::write(root.join("conftest.py"), "import pytest\n").unwrap();
    let source = "def test_one(): pass\n";
    let collect_at = |rel: &str| {
        let path = root.join(rel);
        std::fs::write(&path, source).unwrap();
        let file = TestFile {
            path,
            rel: rel.into(),
            module: rel.trim_end_matches(".py").replace('/', "."),
            import_root: root.to_path_buf(),
            is_benchmark: false,
        };
        collect_source(0, &file, source, &Project::new())
    };
    assert!(collect_at("tests/deep/test_deep.py").dynamic);
    assert!(collect_at("tests/test_near.py").dynamic);
    assert!(
        !collect_at("test_top.py").dynamic,
        "the hook is not in reach"
    );
}

#[test]
fn only_classes_with_class_level_setup_keep_their_tests_together() {
    let c = collect(
        "test_c.py",
        r#"
import unittest
from .base import External
class Free(unittest.TestCase):
    def setUp(self): pass
    def test_a(self): pass
class Shared(unittest.TestCase):
    @classmethod
    def setUpClass(cls): pass
    def test_b(self): pass
class Inherits(Shared):
    def test_c(self): pass
class TestPlainFixture:
    def setup_class(self): pass
    def test_d(self): pass
class Unknown(External, unittest.TestCase):
    def test_e(self): pass
"#,
    );
    let shared = |n: &str| {
        c.items
            .iter()
            .find(|i| i.name().ends_with(n))
            .unwrap()
            .class_setup
    };
    assert!(!shared("test_a"));
    assert!(shared("Shared::test_b"));
    assert!(shared("test_c"));
    assert!(shared("test_d"));
    assert!(
        shared("test_e"),
        "a base from another module may set up the class"
    );
}

#[test]
fn a_testcase_with_only_run_test_is_one_test() {
    let c = collect(
        "test_r.py",
        "import unittest\nclass Only(unittest.TestCase):\n    def runTest(self): pass\nclass Both(unittest.TestCase):\n    def runTest(self): pass\n    def test_a(self): pass\n",
    );
    assert_eq!(
        ids(&c),
        ["test_r.py::Only::runTest", "test_r.py::Both::test_a"]
    );
}

#[test]
fn classes_inheriting_from_test_classes_couple_the_module() {
    let coupled = collect(
        "test_c.py",
        "import unittest\ndef test_f(): pass\nclass TestA(unittest.TestCase):\n    def test_a(self): pass\nclass TestB(TestA):\n    def test_b(self): pass\n",
    );
    let groups: Vec<Option<&str>> = coupled.items.iter().map(|i| i.shared_class()).collect();
    assert_eq!(groups[0], None, "module-level functions stay free");
    assert!(groups[1..]
        .iter()
        .all(|g| *g == Some(dbtest_model::COUPLED_CLASSES_GROUP)));
    let mixin = collect(
        "test_m.py",
        "import unittest\nclass Mixin:\n    def test_x(self): pass\nclass TestA(Mixin, unittest.TestCase):\n    pass\nclass TestB(unittest.TestCase):\n    def test_b(self): pass\n",
    );
    assert!(
        mixin.items.iter().all(|i| i.shared_class().is_none()),
        "a mixin is not a test class"
    );
}

#[test]
fn module_test_flag_false_collects_nothing() {
    assert!(
        collect("test_a.py", "__test__ = False\ndef test_x(): pass\n")
            .items
            .is_empty()
    );
}

#[test]
fn nested_plain_classes() {
    let c = collect(
        "test_n.py",
        "class TestOuter:\n    def test_a(self): pass\n    class TestInner:\n        def test_b(self): pass\n",
    );
    assert_eq!(
        ids(&c),
        [
            "test_n.py::TestOuter::test_a",
            "test_n.py::TestOuter::TestInner::test_b"
        ]
    );
}

#[test]
fn syntax_error_names_file_and_line() {
    let c = collect("test_bad.py", "def test_ok():\n    pass\n\ndef broken(:\n");
    let err = c.error.unwrap();
    assert_eq!(err.line, 4);
    assert!(err.to_string().starts_with("test_bad.py:4:"), "{err}");
    assert!(c.items.is_empty());
}

#[test]
fn benchmark_groups_and_members() {
    let c = collect(
        "bench_json.py",
        r#"
import json
from dbtest import BenchmarkGroup
group = BenchmarkGroup("json encode", baseline="stdlib")
@group.add("stdlib")
def _(): json.dumps({})
@group.add
def compact(): json.dumps({}, separators=(",", ":"))
"#,
    );
    assert_eq!(
        ids(&c),
        [
            "bench_json.py::json encode::stdlib",
            "bench_json.py::json encode::compact"
        ]
    );
    assert!(c
        .items
        .iter()
        .all(|i| i.kind == Kind::Benchmark && i.style == Style::Benchmark));
}

#[test]
fn benchmark_members_with_literal_params_are_one_item_each() {
    let c = collect(
        "bench_sort.py",
        r#"
from dbtest import BenchmarkGroup
group = BenchmarkGroup("sort")
@group.add("sorted", params={"size": [10, 1000], "rev": [False, True]})
def _(size, rev): sorted(range(size), reverse=rev)
@group.add("dynamic", params={"size": SIZES})
def _(size): pass
"#,
    );
    assert_eq!(
        ids(&c),
        [
            "bench_sort.py::sort::sorted[size=10-rev=False]",
            "bench_sort.py::sort::sorted[size=10-rev=True]",
            "bench_sort.py::sort::sorted[size=1000-rev=False]",
            "bench_sort.py::sort::sorted[size=1000-rev=True]",
            "bench_sort.py::sort::dynamic",
        ]
    );
}

#[test]
fn benchmark_decorator_members() {
    let c = collect(
        "bench_deco.py",
        r#"
from dbtest import benchmark_decorator
@benchmark_decorator(name="encode", group="json")
def enc(): pass
@benchmark_decorator(group="json").parametrize("size", [1, 2]).parametrize("kind", ["a"])
def dec(size, kind): pass
@benchmark_decorator()
def plain(): pass
"#,
    );
    assert_eq!(
        ids(&c),
        [
            "bench_deco.py::json::encode",
            "bench_deco.py::json::dec[size=1-kind=a]",
            "bench_deco.py::json::dec[size=2-kind=a]",
            "bench_deco.py::benchmarks::plain",
        ]
    );
}

#[test]
fn test_classes_inherit_across_project_modules() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir_all(root.join("tests/helpers")).unwrap();
    std::fs::write(root.join("tests/__init__.py"), "").unwrap();
    std::fs::write(
        root.join("tests/base.py"),
        "import unittest\nclass BaseTests(unittest.TestCase):\n    def test_common(self): pass\n",
    )
    .unwrap();
    std::fs::write(
        root.join("tests/helpers/__init__.py"),
        "from ..base import BaseTests as Reexported\n",
    )
    .unwrap();
    let source = "from .base import BaseTests\nfrom tests.helpers import Reexported\n\
class FooChecks(BaseTests):\n    def test_own(self): pass\n\
class BarChecks(Reexported):\n    pass\n";
    let path = root.join("tests/test_foo.py");
    std::fs::write(&path, source).unwrap();
    let file = TestFile {
        path,
        rel: "tests/test_foo.py".into(),
        module: "tests.test_foo".into(),
        import_root: root.to_path_buf(),
        is_benchmark: false,
    };
    let c = collect_source(0, &file, source, &Project::new());
    assert_eq!(
        ids(&c),
        [
            "tests/test_foo.py::FooChecks::test_common",
            "tests/test_foo.py::FooChecks::test_own",
            "tests/test_foo.py::BarChecks::test_common",
        ]
    );
    assert!(c.items.iter().all(|i| i.style == Style::TestCase));
}

#[test]
fn files_collected_during_discovery_come_back_sorted_with_matching_indices() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // Handed over in reverse order, as a walk may; one of them does not parse.
    let names: Vec<String> = (0..40).rev().map(|i| format!("test_{i:02}.py")).collect();
    for name in &names {
        let body = if name == "test_07.py" {
            "def test_(:\n".to_string()
        } else {
            format!(
                "def test_in_{}():\n    pass\n",
                name.trim_end_matches(".py")
            )
        };
        std::fs::write(root.join(name), body).unwrap();
    }
    // On a pool of threads, and on the calling thread alone.
    for threads in [2, 1] {
        let (files, collections) = collect_discovered(threads, &Project::new(), |found| {
            for name in &names {
                found(TestFile {
                    path: root.join(name),
                    ..file(name)
                });
            }
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(files.len(), 40);
        assert!(files.windows(2).all(|w| w[0].rel < w[1].rel));
        for (index, (file, collection)) in files.iter().zip(&collections).enumerate() {
            if file.rel == "test_07.py" {
                let error = collection.error.as_ref().unwrap();
                assert_eq!((error.file, error.rel.as_str()), (index, "test_07.py"));
                continue;
            }
            let item = &collection.items[0];
            assert_eq!(item.file, index, "{threads} threads");
            assert!(
                item.id.starts_with(&file.rel),
                "{} in {}",
                item.id,
                file.rel
            );
        }
    }
}

#[test]
fn a_failing_discovery_is_returned_as_is() {
    for threads in [2, 1] {
        let result = collect_discovered(threads, &Project::new(), |found| {
            found(file("test_a.py"));
            Err::<(), &str>("walk failed")
        });
        assert_eq!(result.err(), Some("walk failed"));
    }
}

#[test]
fn files_larger_than_the_first_read_and_not_utf8_are_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let mut source = String::from("# padding\n").repeat(5000); // 50 KB, past the 16 KB first read
    source.push_str("def test_last():\n    pass\n");
    let path = tmp.path().join("test_big.py");
    std::fs::write(&path, &source).unwrap();
    let mut big = file("test_big.py");
    big.path = path;
    let c = collect_file(0, &big, &Project::new());
    assert_eq!(ids(&c), ["test_big.py::test_last"]);
    assert_eq!(c.items[0].line, 5001);

    let latin1 = tmp.path().join("test_latin1.py");
    std::fs::write(&latin1, b"# caf\xe9\ndef test_one():\n    pass\n").unwrap();
    let mut odd = file("test_latin1.py");
    odd.path = latin1;
    assert_eq!(
        ids(&collect_file(0, &odd, &Project::new())),
        ["test_latin1.py::test_one"]
    );
}

#[test]
fn tests_come_in_the_order_the_module_defines_them() {
    let c = collect(
        "test_o.py",
        "class TestA:\n    def test_a1(self): pass\ndef test_f(): pass\nclass TestB:\n    def test_b1(self): pass\ndef test_g(): pass\n",
    );
    assert_eq!(
        ids(&c),
        [
            "test_o.py::TestA::test_a1",
            "test_o.py::test_f",
            "test_o.py::TestB::test_b1",
            "test_o.py::test_g"
        ]
    );
}

#[test]
fn module_level_set_up_is_noticed() {
    for hook in [
        "setUpModule",
        "tearDownModule",
        "setup_module",
        "teardown_module",
    ] {
        let c = collect(
            "test_m.py",
            &format!("def {hook}(): pass\ndef test_a(): pass\n"),
        );
        assert!(c.module_setup, "{hook}");
    }
    let plain = collect("test_m.py", "def setup(): pass\ndef test_a(): pass\n");
    assert!(!plain.module_setup);
    let method = collect(
        "test_m.py",
        "class TestA:\n    def setup_module(self): pass\n    def test_a(self): pass\n",
    );
    assert!(!method.module_setup, "only module-level functions count");
}

#[test]
fn imports_are_listed_from_the_same_parse_only_when_asked() {
    let source = "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import types\n\
                  def test_a():\n    from ..helpers import make\n    import importlib\n    importlib.import_module(name)\n";
    assert!(collect("tests/test_a.py", source).imports.is_none());
    let mut project = Project::new();
    project.scan_imports = true;
    let c = collect_source(0, &file("tests/test_a.py"), source, &project);
    assert_eq!(ids(&c), ["tests/test_a.py::test_a"]);
    let scan = c.imports.unwrap();
    let written: Vec<(u32, &str, Vec<&str>)> = scan
        .imports
        .iter()
        .map(|i| {
            (
                i.level,
                i.module.as_str(),
                i.names.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        written,
        [
            (0, "os", vec![]),
            (0, "typing", vec!["TYPE_CHECKING"]),
            (0, "pkg", vec!["types"]),
            (2, "helpers", vec!["make"]),
            (0, "importlib", vec![]),
        ]
    );
    assert_eq!(scan.dynamic_import, Some(8));
}
