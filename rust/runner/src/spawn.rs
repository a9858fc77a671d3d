//! How a process is started: what to run ([`SpawnSpec`]), the pipes made for a
//! worker before it exists ([`WorkerPipes`]), and the set-up a child does before
//! exec ([`place_fds`]). Shared by the fork server and direct starts.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

/// How to start workers.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The interpreter (`sys.executable` of the shim), never a PATH shim.
    pub python: PathBuf,
    /// Arguments to it; [`SpawnSpec::WORKER_ARGS`] unless a test substitutes a fake worker.
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(OsString, OsString)>,
    /// Forward the worker's stdout/stderr line by line (`-s`).
    pub stream_output: bool,
    /// Start a fork server (`args` plus `--fork-server`) and fork workers from it
    /// when more than one is needed; only the real worker runtime has one.
    pub fork_server: bool,
}

impl SpawnSpec {
    /// `-P`: the worker must not import a `dbtest` (or anything) from the project's cwd.
    pub const WORKER_ARGS: [&'static str; 3] = ["-P", "-m", "dbtest.worker"];

    pub fn worker_args() -> Vec<OsString> {
        Self::WORKER_ARGS.iter().map(OsString::from).collect()
    }
}

/// In a freshly forked child, before exec: its own process group, death with
/// the parent, and `fds` moved to 3, 4, … in order. Only async-signal-safe calls.
pub(crate) fn place_fds(fds: &[RawFd], parent: u32) -> io::Result<()> {
    const MAX_FDS: usize = 4;
    if fds.len() > MAX_FDS {
        return Err(io::Error::other("too many descriptors to place"));
    }
    // SAFETY: plain syscalls on descriptors this process owns.
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        #[cfg(target_os = "linux")]
        {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                libc::_exit(70);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = parent;
        // Move every descriptor out of the way first so no dup2 clobbers another.
        let mut high = [0 as RawFd; MAX_FDS];
        for (slot, &fd) in high.iter_mut().zip(fds) {
            *slot = libc::fcntl(fd, libc::F_DUPFD, 10);
            if *slot < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        for (target, &fd) in (3..).zip(&high[..fds.len()]) {
            if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::close(fd);
        }
    }
    Ok(())
}

/// The three pipes between the coordinator and one worker, made before the
/// worker exists (the fork server may be asked for it ahead of time).
pub(crate) struct WorkerPipes {
    pub(crate) jobs_read: io::PipeReader,
    pub(crate) jobs_write: io::PipeWriter,
    pub(crate) results_read: io::PipeReader,
    pub(crate) results_write: io::PipeWriter,
    pub(crate) output_read: io::PipeReader,
    pub(crate) output_write: io::PipeWriter,
}

impl WorkerPipes {
    pub(crate) fn new() -> io::Result<WorkerPipes> {
        let (jobs_read, jobs_write) = io::pipe()?;
        let (results_read, results_write) = io::pipe()?;
        let (output_read, output_write) = io::pipe()?;
        Ok(WorkerPipes {
            jobs_read,
            jobs_write,
            results_read,
            results_write,
            output_read,
            output_write,
        })
    }

    /// The worker's ends: its jobs (fd 3), results (fd 4) and output (fds 1, 2).
    pub(crate) fn worker_ends(&self) -> [RawFd; 3] {
        [
            self.jobs_read.as_raw_fd(),
            self.results_write.as_raw_fd(),
            self.output_write.as_raw_fd(),
        ]
    }
}
