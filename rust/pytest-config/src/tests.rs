use super::*;
use std::fs;

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn locate(root: &Path, cwd: &str, args: &[&str]) -> PytestConfig {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    PytestConfig::locate(&root.join(cwd), &args).unwrap()
}

#[test]
fn the_nearest_file_with_pytest_configuration_is_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "proj/pyproject.toml",
        "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n",
    );
    // A tox.ini without [pytest] and a setup.cfg without [tool:pytest] do not count.
    write(root, "proj/sub/tox.ini", "[tox]\nenvlist = py311\n");
    write(root, "proj/sub/setup.cfg", "[metadata]\nname = x\n");
    write(root, "proj/sub/tests/test_a.py", "");
    let found = locate(root, "proj/sub", &["tests/test_a.py::test_x[a::b]"]);
    assert_eq!(found.rootdir, root.join("proj"));
    assert_eq!(found.inifile, Some(root.join("proj/pyproject.toml")));
    assert_eq!(
        found.args("testpaths").unwrap(),
        Some(vec!["tests".to_string()])
    );
}

#[test]
fn pytest_ini_wins_over_pyproject_in_one_directory_and_is_config_even_when_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pyproject.toml",
        "[tool.pytest.ini_options]\naddopts = \"-x\"\n",
    );
    write(root, "pytest.ini", "# no section\n");
    let found = locate(root, "", &[]);
    assert_eq!(found.inifile, Some(root.join("pytest.ini")));
    assert_eq!(found.args("addopts").unwrap(), None);
}

#[test]
fn a_pyproject_without_pytest_tables_roots_the_project_without_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "a/pyproject.toml", "[project]\nname = \"a\"\n");
    write(root, "a/b/c/test_x.py", "");
    let found = locate(root, "a/b/c", &[]);
    assert_eq!(found.rootdir, root.join("a"));
    assert_eq!(found.keys().count(), 0);
}

#[test]
fn without_any_file_setup_py_then_the_common_ancestor_roots_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "p/setup.py", "");
    write(root, "p/t/test_x.py", "");
    assert_eq!(locate(root, "p/t", &[]).rootdir, root.join("p"));
    write(root, "q/t/test_x.py", "");
    write(root, "q/u/test_y.py", "");
    assert_eq!(locate(root, "q", &["t", "u"]).rootdir, root.join("q"));
}

#[test]
fn ini_tox_and_setup_cfg_sections() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "tox.ini",
        "[tox]\nx = 1\n[pytest]\nmarkers =\n    slow: slow tests\n    net(host): network\nxfail_strict = true\npython_files = check_*.py test_*.py\n",
    );
    let found = locate(root, "", &[]);
    let settings = PytestSettings::from_config(&found).unwrap();
    assert_eq!(settings.markers, ["slow", "net"]);
    assert!(settings.xfail_strict);
    assert!(!settings.strict_markers);
    assert_eq!(settings.python_files, ["check_*.py", "test_*.py"]);
    assert_eq!(settings.python_functions, ["test"]);

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "setup.cfg",
        "[tool:pytest]\naddopts = -ra --strict-markers \"-k not slow\"\n",
    );
    let found = locate(root, "", &[]);
    assert_eq!(
        found.args("addopts").unwrap().unwrap(),
        ["-ra", "--strict-markers", "-k not slow"]
    );
}

#[test]
fn native_toml_keeps_types_and_strict_turns_everything_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pytest.toml",
        "[pytest]\nstrict = true\ntestpaths = [\"t\"]\naddopts = [\"-q\"]\n",
    );
    let settings = PytestSettings::from_config(&locate(root, "", &[])).unwrap();
    assert!(
        settings.strict_markers && settings.xfail_strict && settings.strict_parametrization_ids
    );
    assert_eq!(settings.testpaths, ["t"]);
    assert_eq!(settings.addopts, ["-q"]);
}

#[test]
fn bad_values_and_files_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pytest.ini",
        "[pytest]\n# note\nxfail_strict = maybe\n",
    );
    let err = PytestSettings::from_config(&locate(root, "", &[])).unwrap_err();
    assert!(
        err.to_string().ends_with(
            "pytest.ini:3: xfail_strict must be true or false (or yes/no, on/off, 1/0), not \"maybe\""
        ),
        "{err}"
    );
    write(root, "pytest.ini", "[pytest]\ntestpaths = a 'b\n");
    let err = PytestSettings::from_config(&locate(root, "", &[])).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("pytest.ini:2: testpaths must be words with balanced quotes, not \"a 'b\""),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, "pytest.ini", "[pytest]\njunk line\n");
    let err = PytestConfig::locate(root, &[]).unwrap_err();
    assert!(err.to_string().contains("pytest.ini:2:"), "{err}");

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        root,
        "pyproject.toml",
        "[tool.pytest]\nx = 1\n[tool.pytest.ini_options]\ny = 2\n",
    );
    let err = PytestConfig::locate(root, &[]).unwrap_err();
    assert!(err.to_string().contains("Cannot use both"), "{err}");
}
