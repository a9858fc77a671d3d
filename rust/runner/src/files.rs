//! The files a worker writes that outlive it, in the run's private directory:
//! `worker-N.tb` (faulthandler's thread dumps, on SIGUSR1 and fatal signals)
//! and `worker-N.stdout` / `worker-N.stderr`, its fds 1 and 2, which hold the
//! output of the test it is running (the worker empties them after each
//! result). When a worker dies or is ended mid-test, its reaper reads them so
//! that the test's error shows what it printed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub(crate) struct WorkerFiles {
    /// The thread-dump file, sent to the worker as `config.traceback_file`;
    /// the capture files are beside it (see `workers/PROTOCOL.md`).
    pub(crate) traceback: PathBuf,
    /// Bytes kept per stream, head and tail, as the worker keeps them.
    pub(crate) output_limit: u32,
}

/// What a reaped worker left: its thread dump and the current test's output.
#[derive(Debug, Default)]
pub(crate) struct LeftBehind {
    pub(crate) dump: String,
    pub(crate) stdout: Option<String>,
    pub(crate) stderr: Option<String>,
}

impl WorkerFiles {
    pub(crate) fn new(run_dir: &Path, process: u64, output_limit: u32) -> WorkerFiles {
        WorkerFiles {
            traceback: run_dir.join(format!("worker-{process}.tb")),
            output_limit,
        }
    }

    fn capture(&self, stream: &str) -> PathBuf {
        self.traceback.with_extension(stream)
    }

    /// Reads and removes the files of a process that is gone.
    pub(crate) fn take(&self) -> LeftBehind {
        let dump = std::fs::read(&self.traceback)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let _ = std::fs::remove_file(&self.traceback);
        let mut output = ["stdout", "stderr"].map(|stream| {
            let path = self.capture(stream);
            let text = read_capped(&path, self.output_limit as usize)
                .ok()
                .flatten();
            let _ = std::fs::remove_file(&path);
            text
        });
        LeftBehind {
            dump,
            stdout: output[0].take(),
            stderr: output[1].take(),
        }
    }
}

/// The file's text, or its head and tail with what lies between left out when
/// it is longer than `limit` (as the worker shortens output); `None` if empty.
fn read_capped(path: &Path, limit: usize) -> io::Result<Option<String>> {
    let mut file = File::open(path)?;
    let size = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
    if size == 0 {
        return Ok(None);
    }
    let limit = limit.max(64);
    let mut data = Vec::with_capacity(size.min(limit + 64));
    if size <= limit {
        file.read_to_end(&mut data)?;
    } else {
        let half = limit / 2;
        (&mut file).take(half as u64).read_to_end(&mut data)?;
        let omitted = size - 2 * half;
        data.extend_from_slice(
            format!("\n[... {omitted} bytes of output omitted ...]\n").as_bytes(),
        );
        file.seek(SeekFrom::Start((size - half) as u64))?;
        file.take(half as u64).read_to_end(&mut data)?;
    }
    Ok(Some(String::from_utf8_lossy(&data).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_removes_what_a_worker_left() {
        let dir = tempfile::tempdir().unwrap();
        let files = WorkerFiles::new(dir.path(), 7, 100);
        std::fs::write(dir.path().join("worker-7.tb"), "Current thread").unwrap();
        std::fs::write(dir.path().join("worker-7.stdout"), "x".repeat(50)).unwrap();
        std::fs::write(dir.path().join("worker-7.stderr"), "").unwrap();
        let left = files.take();
        assert_eq!(left.dump, "Current thread");
        assert_eq!(left.stdout.as_deref(), Some("x".repeat(50).as_str()));
        assert_eq!(left.stderr, None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn long_output_keeps_its_head_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, format!("{}{}", "a".repeat(100), "b".repeat(100))).unwrap();
        let text = read_capped(&path, 64).unwrap().unwrap();
        assert_eq!(
            text,
            format!(
                "{}\n[... 136 bytes of output omitted ...]\n{}",
                "a".repeat(32),
                "b".repeat(32)
            )
        );
    }
}
