//! Shard units: what must land on one shard as a whole. A single test, or a
//! whole class whose tests share a worker (class-level set-up, or all the
//! classes of a module whose classes inherit from one another) so that its
//! set-up runs once.

use super::assign::ShardUnit;
use dbtest_model::{is_duration, mean_duration, path_of, TestItem};
use std::collections::BTreeMap;

/// Selected tests gathered into shard units.
#[derive(Debug, Clone, Default)]
pub struct ShardUnits {
    pub units: Vec<ShardUnit>,
    /// Per unit, the indices (into the item list) of its tests, in selection order.
    pub members: Vec<Vec<usize>>,
}

/// Gathers the selected items into units: a test of a class whose tests run
/// together (a `TestCase`, `TestSuite` or plain `Test*` class, as the runner
/// groups them) joins its class's unit, keyed `path::Class`; any other test
/// is a unit of its own, keyed by its id.
///
/// A unit's duration is the sum of its tests' recorded durations; tests with
/// none count as the mean recorded test duration; a unit with no recorded
/// test at all has no duration (duration mode then fills in the mean unit).
pub fn shard_units(
    items: &[TestItem],
    selected: &[usize],
    durations: &dyn Fn(&str) -> Option<f64>,
) -> ShardUnits {
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    let mut units = ShardUnits::default();
    let mut recorded: Vec<Option<f64>> = Vec::with_capacity(selected.len());
    for &i in selected {
        let item = &items[i];
        let key = match item.shared_class() {
            Some(class) => {
                format!("{}::{class}", path_of(&item.id))
            }
            None => item.id.to_string(),
        };
        let unit = *by_key.entry(key.clone()).or_insert_with(|| {
            units.units.push(ShardUnit {
                key,
                duration: None,
            });
            units.members.push(Vec::new());
            units.units.len() - 1
        });
        units.members[unit].push(i);
        recorded.push(durations(&item.id).filter(|d| is_duration(*d)));
    }
    // The mean over tests, the same whatever order they were selected in.
    let mean = mean_duration(recorded.iter().flatten().copied());
    let recorded: BTreeMap<usize, Option<f64>> = selected.iter().copied().zip(recorded).collect();
    for (unit, members) in units.units.iter_mut().zip(&units.members) {
        let any_known = members.iter().any(|i| recorded[i].is_some());
        if let (true, Some(mean)) = (any_known, mean) {
            // Summed in id order: the same whatever order they were selected in.
            let mut parts: Vec<(&str, f64)> = members
                .iter()
                .map(|i| (&*items[*i].id, recorded[i].unwrap_or(mean)))
                .collect();
            parts.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
            unit.duration = Some(parts.iter().map(|(_, d)| d).sum());
        }
    }
    units
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use dbtest_model::Style;
    use std::collections::HashMap;

    pub fn item(id: &str, class: Option<&str>, style: Style) -> TestItem {
        let (rel, name) = id.split_once("::").unwrap();
        let mut item = TestItem::new(rel, name, class, 0, style);
        item.class_setup = class.is_some();
        item
    }

    #[test]
    fn classes_are_units_and_durations_add_up() {
        let items = vec![
            item("a.py::TestX::test_1", Some("TestX"), Style::TestCase),
            item("a.py::test_f", None, Style::Function),
            item("a.py::TestX::test_2", Some("TestX"), Style::TestCase),
            item("b.py::Suite::t", Some("Suite"), Style::Suite),
            item("b.py::test_g", None, Style::Function),
        ];
        let selected = [0, 1, 2, 3, 4];
        let recorded: HashMap<&str, f64> = [("a.py::TestX::test_1", 2.0), ("a.py::test_f", 1.0)]
            .into_iter()
            .collect();
        let durations = |id: &str| recorded.get(id).copied();
        let units = shard_units(&items, &selected, &durations);
        let keys: Vec<&str> = units.units.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(
            keys,
            ["a.py::TestX", "a.py::test_f", "b.py::Suite", "b.py::test_g"]
        );
        assert_eq!(units.members, [vec![0, 2], vec![1], vec![3], vec![4]]);
        // test_2 unknown: counts as the mean test duration, 1.5.
        assert_eq!(units.units[0].duration, Some(3.5));
        assert_eq!(units.units[1].duration, Some(1.0));
        assert_eq!(units.units[2].duration, None);
    }
}
