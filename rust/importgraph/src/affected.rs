//! What a change reaches: every module that imports a changed one, directly
//! or through others, each with one shortest chain of imports to a changed
//! module (for `--explain`).

use crate::graph::ImportGraph;
use std::collections::VecDeque;

/// The modules a set of changed modules reaches.
#[derive(Debug, Clone)]
pub struct Affected {
    /// Per module: `None` if unaffected; `Some(None)` if changed itself;
    /// `Some(Some(next))`: it imports `next`, which is on a shortest chain to a
    /// changed module.
    via: Vec<Option<Option<usize>>>,
}

impl ImportGraph {
    /// The modules that `changed` reaches through imports (breadth first, so
    /// each chain is a shortest one; ties go to the lower module index).
    pub fn affected(&self, changed: &[usize]) -> Affected {
        let mut importers: Vec<Vec<usize>> = vec![Vec::new(); self.len()];
        for (from, targets) in self.imports.iter().enumerate() {
            for &to in targets {
                importers[to].push(from);
            }
        }
        let mut via = vec![None; self.len()];
        let mut queue = VecDeque::new();
        let mut sources = changed.to_vec();
        sources.sort_unstable();
        sources.dedup();
        for m in sources {
            via[m] = Some(None);
            queue.push_back(m);
        }
        while let Some(m) = queue.pop_front() {
            for &importer in &importers[m] {
                if via[importer].is_none() {
                    via[importer] = Some(Some(m));
                    queue.push_back(importer);
                }
            }
        }
        Affected { via }
    }
}

impl Affected {
    pub fn contains(&self, module: usize) -> bool {
        self.via.get(module).is_some_and(Option::is_some)
    }

    pub fn is_changed(&self, module: usize) -> bool {
        matches!(self.via.get(module), Some(Some(None)))
    }

    /// `module`, then each module on its chain to a changed one, ending with
    /// that one; `None` if `module` is not affected.
    pub fn chain(&self, module: usize) -> Option<Vec<usize>> {
        let mut chain = vec![module];
        let mut current = module;
        loop {
            match self.via.get(current)? {
                None => return None,
                Some(None) => return Some(chain),
                Some(Some(next)) => {
                    current = *next;
                    chain.push(current);
                }
            }
        }
    }
}
