//! `--changed`: what differs in the git work tree from a revision (`git.rs`),
//! and what that means for the selection (`rules.rs`): Python modules to trace
//! through the import graph, or everything.

mod git;
mod rules;

pub use git::{changed_since, Change, Changes, GitError, Status};
pub use rules::{scope, ProjectBounds, Scope};
