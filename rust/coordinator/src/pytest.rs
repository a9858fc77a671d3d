//! What pytest's settings mean for the pieces of a run: static collection
//! (which names are tests, how parametrized ids are made) and the workers
//! (xfail strictness, warning filters, ids, `pythonpath`).

use dbtest_config::Settings;
use dbtest_protocol::PytestOptions;

/// What static collection needs of pytest's settings: which names are tests,
/// and how parametrized ids are made.
pub(crate) fn collect_project(settings: &Settings) -> dbtest_collect::Project {
    let pytest = &settings.pytest;
    let id_options = dbtest_collect::IdOptions {
        escape: pytest.escape_ids,
        long_strings: match pytest.long_str_strategy {
            dbtest_config::Strategy::Short => dbtest_collect::LongStrings::Short,
            dbtest_config::Strategy::Legacy => dbtest_collect::LongStrings::Legacy,
            _ => dbtest_collect::LongStrings::Other,
        },
        strict: pytest.strict_parametrization_ids,
        empty_set: match pytest.empty_parameter_set_mark.as_str() {
            "xfail" => dbtest_collect::EmptySet::Xfail,
            "fail_at_collect" => dbtest_collect::EmptySet::Fail,
            _ => dbtest_collect::EmptySet::Skip,
        },
    };
    let rules = dbtest_collect::NameRules {
        classes: pytest.python_classes.clone(),
        functions: pytest.python_functions.clone(),
    };
    dbtest_collect::Project::with_rules(id_options, rules)
}

/// The pytest settings every worker is configured with.
pub(crate) fn worker_options(settings: &Settings) -> PytestOptions {
    let pytest = &settings.pytest;
    PytestOptions {
        xfail_strict: pytest.xfail_strict,
        filterwarnings: pytest.filterwarnings.clone(),
        warning_filters: settings.warning_filters.clone(),
        escape_ids: pytest.escape_ids,
        long_str_strategy: match pytest.long_str_strategy {
            dbtest_config::Strategy::Short => "short",
            dbtest_config::Strategy::Legacy => "legacy",
            dbtest_config::Strategy::Sha256 => "sha256",
            dbtest_config::Strategy::Disallow => "disallow",
        }
        .into(),
        strict_parametrization_ids: pytest.strict_parametrization_ids,
        empty_parameter_set_mark: pytest.empty_parameter_set_mark.clone(),
        python_classes: pytest.python_classes.clone(),
        python_functions: pytest.python_functions.clone(),
        pythonpath: pytest
            .pythonpath
            .iter()
            .map(|p| settings.rootdir.join(p).to_string_lossy().into_owned())
            .collect(),
    }
}
