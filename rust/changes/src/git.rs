//! The files that differ between the work tree and a revision, from `git`
//! itself: modified, added, renamed, deleted (`git diff --name-status REV`,
//! staged or not) and untracked (`git ls-files --others --exclude-standard`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("--changed needs a git repository, and {0} is not in one")]
    NotARepository(String),
    #[error("--changed {0}: not a revision of this repository")]
    UnknownRevision(String),
    #[error("--changed needs git, which cannot be run: {0}")]
    NoGit(String),
    #[error("git {command} failed: {message}")]
    Failed { command: String, message: String },
}

/// How a file differs from the revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Modified,
    Added,
    Deleted,
    /// The new path of a rename or copy (its old path is `Deleted`).
    Renamed,
    Untracked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute.
    pub path: PathBuf,
    pub status: Status,
}

impl Change {
    /// The file no longer exists in the work tree.
    pub fn is_deleted(&self) -> bool {
        self.status == Status::Deleted
    }
}

/// What changed since `revision`, the work tree of the repository holding `cwd`.
#[derive(Debug, Clone)]
pub struct Changes {
    pub toplevel: PathBuf,
    pub files: Vec<Change>,
}

fn git(cwd: &Path, args: &[&str]) -> Result<std::process::Child, GitError> {
    Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| GitError::NoGit(e.to_string()))
}

fn finish(child: std::process::Child, what: &str) -> Result<Output, GitError> {
    let output = child
        .wait_with_output()
        .map_err(|e| GitError::NoGit(e.to_string()))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(GitError::Failed {
            command: what.to_string(),
            message: first_line(&output.stderr),
        })
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The files of `cwd`'s repository that differ from `revision`.
pub fn changed_since(cwd: &Path, revision: &str) -> Result<Changes, GitError> {
    if revision.starts_with('-') {
        return Err(GitError::UnknownRevision(revision.to_string()));
    }
    let commit = format!("{revision}^{{commit}}");
    let output = git(cwd, &["rev-parse", "--show-toplevel", &commit])?
        .wait_with_output()
        .map_err(|e| GitError::NoGit(e.to_string()))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr).to_lowercase();
        return Err(if message.contains("not a git repository") {
            GitError::NotARepository(cwd.display().to_string())
        } else {
            GitError::UnknownRevision(revision.to_string())
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let toplevel = PathBuf::from(stdout.lines().next().unwrap_or_default());
    // Both at once: each costs a process start.
    let diff = git(
        &toplevel,
        &[
            "-c",
            "core.quotepath=off",
            "diff",
            "--name-status",
            "-z",
            "--find-renames",
            "--no-ext-diff",
            revision,
            "--",
        ],
    )?;
    let untracked = git(
        &toplevel,
        &["ls-files", "--others", "--exclude-standard", "-z"],
    )?;
    let diff = finish(diff, "diff")?;
    let untracked = finish(untracked, "ls-files")?;
    let mut files = parse_name_status(&diff.stdout, &toplevel);
    files.extend(split_nul(&untracked.stdout).into_iter().map(|rel| Change {
        path: toplevel.join(rel),
        status: Status::Untracked,
    }));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(Changes { toplevel, files })
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// `git diff --name-status -z`: `STATUS\0PATH\0`, or `RNNN\0OLD\0NEW\0` for
/// renames and copies.
fn parse_name_status(bytes: &[u8], toplevel: &Path) -> Vec<Change> {
    let fields = split_nul(bytes);
    let mut changes = Vec::new();
    let mut fields = fields.iter();
    while let Some(status) = fields.next() {
        let change = |rel: &String, status| Change {
            path: toplevel.join(rel),
            status,
        };
        match status.chars().next() {
            Some('R') | Some('C') => {
                let (Some(old), Some(new)) = (fields.next(), fields.next()) else {
                    break;
                };
                if status.starts_with('R') {
                    changes.push(change(old, Status::Deleted));
                }
                changes.push(change(new, Status::Renamed));
            }
            Some(letter) => {
                let Some(rel) = fields.next() else { break };
                let status = match letter {
                    'A' => Status::Added,
                    'D' => Status::Deleted,
                    _ => Status::Modified,
                };
                changes.push(change(rel, status));
            }
            None => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_with_renames() {
        let top = Path::new("/repo");
        let out = b"M\0pkg/core.py\0R087\0old.py\0new.py\0D\0gone.py\0A\0added.txt\0";
        let changes = parse_name_status(out, top);
        let statuses: Vec<(String, Status)> = changes
            .iter()
            .map(|c| (c.path.display().to_string(), c.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("/repo/pkg/core.py".to_string(), Status::Modified),
                ("/repo/old.py".to_string(), Status::Deleted),
                ("/repo/new.py".to_string(), Status::Renamed),
                ("/repo/gone.py".to_string(), Status::Deleted),
                ("/repo/added.txt".to_string(), Status::Added),
            ]
        );
    }

    #[test]
    fn outside_a_repository_is_its_own_error() {
        let tmp = tempfile::tempdir().unwrap();
        if Command::new("git").arg("--version").output().is_err() {
            return; // no git on this machine: nothing to check
        }
        let err = changed_since(tmp.path(), "HEAD").unwrap_err();
        assert!(matches!(err, GitError::NotARepository(_)), "{err}");
    }
}
