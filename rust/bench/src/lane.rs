//! The lane process: `python -P -m dbtest.bench.lane` with its messages on fds
//! 3 (in) and 4 (out), stdout discarded and the tail of stderr kept (shown if
//! the process dies). A reader thread turns its frames into events so the
//! driver can wait with a deadline and notice Ctrl-C.

use crate::BenchError;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use dbtest_protocol::{write_frame, FrameReader, FromLane, ToLane};
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start the lane.
#[derive(Debug, Clone)]
pub struct LaneSpec {
    pub python: PathBuf,
    /// Arguments to it (`-P -m dbtest.bench.lane`).
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
}

impl LaneSpec {
    pub fn new(python: PathBuf, cwd: PathBuf) -> LaneSpec {
        LaneSpec {
            python,
            args: ["-P", "-m", "dbtest.bench.lane"]
                .iter()
                .map(OsString::from)
                .collect(),
            cwd,
        }
    }
}

/// What waiting for the lane gave.
pub enum Event {
    Message(FromLane),
    /// The deadline passed.
    Timeout,
    /// Ctrl-C.
    Interrupted,
    /// The lane's pipe closed or sent garbage: it is gone.
    Gone(String),
}

pub struct Lane {
    child: Child,
    to_lane: io::PipeWriter,
    events: Receiver<Result<FromLane, String>>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
}

const STDERR_TAIL: usize = 16 * 1024;

fn place(fds: [RawFd; 2]) -> io::Result<()> {
    // SAFETY: async-signal-safe calls on descriptors this (forked) process owns.
    unsafe {
        libc::setpgid(0, 0);
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let high = [
            libc::fcntl(fds[0], libc::F_DUPFD, 10),
            libc::fcntl(fds[1], libc::F_DUPFD, 10),
        ];
        if high[0] < 0 || high[1] < 0 {
            return Err(io::Error::last_os_error());
        }
        for (target, fd) in [(3, high[0]), (4, high[1])] {
            if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error());
            }
            libc::close(fd);
        }
    }
    Ok(())
}

impl Lane {
    pub fn start(spec: &LaneSpec) -> Result<Lane, BenchError> {
        let spawn_error = |e: io::Error| BenchError::Spawn(spec.python.display().to_string(), e);
        let (jobs_read, to_lane) = io::pipe().map_err(spawn_error)?;
        let (results_read, results_write) = io::pipe().map_err(spawn_error)?;
        let fds = [jobs_read.as_raw_fd(), results_write.as_raw_fd()];
        let mut command = Command::new(&spec.python);
        command
            .args(&spec.args)
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: `place` makes only async-signal-safe calls.
        unsafe {
            command.pre_exec(move || place(fds));
        }
        let mut child = command.spawn().map_err(spawn_error)?;
        drop(jobs_read);
        drop(results_write);

        let stderr_tail = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let tail = Arc::clone(&stderr_tail);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut kept) = tail.lock() {
                        kept.extend_from_slice(&buf[..n]);
                        let excess = kept.len().saturating_sub(STDERR_TAIL);
                        kept.drain(..excess);
                    }
                }
            });
        }
        let (sender, events) = crossbeam_channel::unbounded();
        std::thread::spawn(move || {
            let mut reader = FrameReader::new(results_read);
            loop {
                let event = match reader.next_message::<FromLane>() {
                    Ok(Some(message)) => Ok(message),
                    Ok(None) => Err("the benchmark process ended".to_string()),
                    Err(err) => Err(format!("the benchmark process sent a bad frame: {err}")),
                };
                let stop = event.is_err();
                if sender.send(event).is_err() || stop {
                    break;
                }
            }
        });
        Ok(Lane {
            child,
            to_lane,
            events,
            stderr_tail,
        })
    }

    pub fn send(&mut self, message: &ToLane) -> Result<(), String> {
        write_frame(&mut self.to_lane, message).map_err(|e| e.to_string())
    }

    /// The next message, waiting until `deadline` (None: no limit) while
    /// polling `interrupted`.
    pub fn next(&self, deadline: Option<Instant>, interrupted: &dyn Fn() -> bool) -> Event {
        loop {
            if interrupted() {
                return Event::Interrupted;
            }
            let mut wait = Duration::from_millis(100);
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Event::Timeout;
                }
                wait = wait.min(left);
            }
            match self.events.recv_timeout(wait) {
                Ok(Ok(message)) => return Event::Message(message),
                Ok(Err(why)) => return Event::Gone(why),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Event::Gone("the benchmark process ended".into())
                }
            }
        }
    }

    /// What the process wrote to stderr last (for a crash report).
    pub fn stderr_tail(&self) -> String {
        self.stderr_tail
            .lock()
            .map(|kept| String::from_utf8_lossy(&kept).into_owned())
            .unwrap_or_default()
    }

    /// Ends the process (asked, then killed with its group) and reaps it.
    pub fn stop(mut self, politely: bool) -> Option<i32> {
        if politely && self.send(&ToLane::Shutdown).is_ok() {
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return status.code();
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        // SAFETY: signalling the process group this lane leads.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        self.child.wait().ok().and_then(|s| s.code())
    }
}
