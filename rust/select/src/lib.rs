//! Selection: which collected tests a run includes. Everything here works on the
//! static list, before any module is imported, and the same [`Criteria`] judge the
//! tests a worker finds at import that the static pass could not see.

mod expression;
mod shard;

pub use expression::{Expression, ExpressionError};
pub use shard::{
    assign, effective_durations, file_shard, fnv1a64, partition, shard_selection, shard_units,
    ShardError, ShardMode, ShardOwners, ShardRequest, ShardSpec, ShardUnit, ShardUnits,
    ShardedSelection,
};

use dbtest_model::{Kind, TestItem};

/// A node id from the command line: `tests/test_a.py::TestX::test_y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeId {
    /// File path relative to the root directory, `/`-separated.
    pub rel: String,
    /// `TestX::test_y`; `None` selects the whole file (or directory, as a prefix).
    pub name: Option<String>,
}

impl NodeId {
    /// Whether this node id reaches into the file `rel` at all.
    fn covers_file(&self, rel: &str) -> bool {
        self.rel == rel
            || (self.name.is_none()
                && (self.rel.is_empty()
                    || self.rel == "."
                    || rel.starts_with(&format!("{}/", self.rel))))
    }

    fn matches(&self, id: &str) -> bool {
        let Some((rel, name)) = id.split_once("::") else {
            return false;
        };
        if !self.covers_file(rel) {
            return false;
        }
        match &self.name {
            None => true,
            Some(wanted) => {
                name == wanted
                    || name.starts_with(&format!("{wanted}::"))
                    || name.starts_with(&format!("{wanted}["))
            }
        }
    }
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    /// `-k`: matched against ids.
    pub keyword: Option<Expression>,
    /// `-m`/`--tags`: matched against tags.
    pub tags: Option<Expression>,
    /// Kinds to run; empty means all.
    pub kinds: Vec<Kind>,
    /// Node ids given on the command line; empty means everything discovered.
    pub node_ids: Vec<NodeId>,
    /// Node ids not to run (pytest's `--deselect`, from `addopts`).
    pub deselect: Vec<NodeId>,
}

impl Criteria {
    /// Whether a test with this id, kind and tags is selected.
    pub fn matches(&self, id: &str, kind: Kind, tags: &[String]) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && (self.node_ids.is_empty() || self.node_ids.iter().any(|n| n.matches(id)))
            && !self.deselect.iter().any(|n| n.matches(id))
            && self.keyword.as_ref().is_none_or(|k| k.matches_id(id))
            && self.tags.as_ref().is_none_or(|t| t.matches_tags(tags))
    }

    pub fn matches_item(&self, item: &TestItem) -> bool {
        self.matches(&item.id, item.kind, item.tags())
    }

    /// Whether a file that may hold tests invisible to the static pass could hold
    /// selected ones (so it must be imported to find out).
    pub fn may_select_in_file(&self, rel: &str, kind: Kind) -> bool {
        (self.kinds.is_empty()
            || self.kinds.contains(&kind)
            || (kind == Kind::Unit && self.kinds.contains(&Kind::Integration)))
            && (self.node_ids.is_empty() || self.node_ids.iter().any(|n| n.covers_file(rel)))
    }
}

/// Indices (into the collected item list) of the selected items, in order.
pub fn select(items: &[TestItem], criteria: &Criteria) -> Vec<usize> {
    items
        .iter()
        .enumerate()
        .filter(|(_, item)| criteria.matches_item(item))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dbtest_model::Style;

    fn item(id: &str, kind: Kind, tags: &[&str]) -> TestItem {
        let (rel, name) = id.split_once("::").unwrap();
        let mut item = TestItem::new(rel, name, None, 0, Style::Function);
        item.kind = kind;
        item.set_marks(dbtest_model::StaticMarks {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        });
        item
    }

    #[test]
    fn node_ids_select_files_classes_and_tests() {
        let items = [
            item("t/test_a.py::TestX::test_y", Kind::Unit, &[]),
            item("t/test_a.py::TestX::test_yy", Kind::Unit, &[]),
            item("t/test_a.py::test_z", Kind::Unit, &[]),
            item("t/sub/test_b.py::test_w", Kind::Unit, &[]),
        ];
        let with = |rel: &str, name: Option<&str>| Criteria {
            node_ids: vec![NodeId {
                rel: rel.into(),
                name: name.map(str::to_string),
            }],
            ..Criteria::default()
        };
        assert_eq!(
            select(&items, &with("t/test_a.py", Some("TestX::test_y"))),
            [0]
        );
        assert_eq!(select(&items, &with("t/test_a.py", Some("TestX"))), [0, 1]);
        assert_eq!(select(&items, &with("t/test_a.py", None)), [0, 1, 2]);
        assert_eq!(select(&items, &with("t", None)), [0, 1, 2, 3]);
        assert_eq!(select(&items, &with("t/sub", None)), [3]);
    }

    #[test]
    fn deselected_node_ids_are_left_out() {
        let items = [
            item("t/test_a.py::test_x", Kind::Unit, &[]),
            item("t/test_a.py::test_x[1]", Kind::Unit, &[]),
            item("t/test_a.py::test_y", Kind::Unit, &[]),
        ];
        let criteria = Criteria {
            deselect: vec![NodeId {
                rel: "t/test_a.py".into(),
                name: Some("test_x".into()),
            }],
            ..Criteria::default()
        };
        assert_eq!(select(&items, &criteria), [2]);
    }

    #[test]
    fn kinds_keywords_and_tags_combine() {
        let items = [
            item("a.py::test_fast", Kind::Unit, &["fast"]),
            item("a.py::test_slow", Kind::Unit, &["slow"]),
            item("integration/b.py::test_db", Kind::Integration, &["slow"]),
        ];
        let criteria = Criteria {
            tags: Some(Expression::parse("not slow").unwrap()),
            ..Criteria::default()
        };
        assert_eq!(select(&items, &criteria), [0]);
        let criteria = Criteria {
            kinds: vec![Kind::Integration],
            ..Criteria::default()
        };
        assert_eq!(select(&items, &criteria), [2]);
        let criteria = Criteria {
            keyword: Some(Expression::parse("test_ and not db").unwrap()),
            ..Criteria::default()
        };
        assert_eq!(select(&items, &criteria), [0, 1]);
    }
}
