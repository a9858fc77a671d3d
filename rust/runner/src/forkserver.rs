//! The fork server (`python -P -m dbtest.worker --fork-server`): one interpreter
//! that has imported the worker runtime and forks workers on request, about a
//! millisecond each instead of an interpreter start-up (see
//! `dbtest/worker/forkserver.py` for its side, `workers/PROTOCOL.md` for the
//! records). Workers it forks are its children, so it also reports how they
//! ended; [`ForkServer::fork`] hands back a receiver for that.

use crossbeam_channel::{Receiver, Sender};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::spawn::{place_fds, SpawnSpec};

/// How long a fork request may take, start-up of the server included.
const FORK_WITHIN: Duration = Duration::from_secs(10);
const RECORD: usize = 9;
/// How long the server may take to end what the tests left when it is ended
/// (it gives itself 5 s, see `dbtest/worker/forkserver.py`).
const CLEANUP_WITHIN: Duration = Duration::from_secs(6);

type ExitSenders = Arc<Mutex<HashMap<u32, Sender<ExitStatus>>>>;

/// A running fork server and our end of its control socket. Dropping it ends
/// the server, and with it any worker it forked that is still alive and every
/// process a test left behind (the server is their subreaper: it ends them
/// before it exits, which it is given time for when it has any).
pub struct ForkServer {
    /// A child of this process, started here or by the `dbtest` command.
    pid: u32,
    control: UnixStream,
    forked: Receiver<(u32, Receiver<ExitStatus>)>,
    /// Answers to `C` (see [`ForkServer::prepare`]): modules imported, failed.
    prepared: Receiver<(u32, i32)>,
}

/// Why [`ForkServer::prepare`] did not finish.
#[derive(Debug)]
pub(crate) enum PrepareError {
    Io(io::Error),
    Interrupted,
}

impl ForkServer {
    pub(crate) fn start(spec: &SpawnSpec) -> io::Result<ForkServer> {
        let (control, server_end) = UnixStream::pair()?;
        let mut command = Command::new(&spec.python);
        command
            .args(&spec.args)
            .arg("--fork-server")
            .arg(std::process::id().to_string())
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        let server_fd = server_end.as_raw_fd();
        let parent = std::process::id();
        // SAFETY: place_fds only makes async-signal-safe libc calls.
        unsafe {
            command.pre_exec(move || place_fds(&[server_fd], parent));
        }
        let pid = command.spawn()?.id();
        drop(server_end);
        Self::serve(pid, control).inspect_err(|_| end_now(pid))
    }

    /// Takes over a fork server the `dbtest` command started: its pid, and our
    /// end of its control socket.
    pub fn adopt(pid: u32, control: OwnedFd) -> io::Result<ForkServer> {
        Self::serve(pid, UnixStream::from(control)).inspect_err(|_| end_now(pid))
    }

    fn serve(pid: u32, control: UnixStream) -> io::Result<ForkServer> {
        let mut reader = control.try_clone()?;
        let exits: ExitSenders = Arc::default();
        let (forked_tx, forked) = crossbeam_channel::unbounded();
        let (prepared_tx, prepared) = crossbeam_channel::bounded(1);
        std::thread::Builder::new()
            .name("dbtest-forkserver".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                let mut record = [0u8; RECORD];
                // Ends when the server does; dropping `exits` then tells every
                // waiting reaper that no status will come.
                while reader.read_exact(&mut record).is_ok() {
                    let pid = u32::from_le_bytes([record[1], record[2], record[3], record[4]]);
                    let status = i32::from_le_bytes([record[5], record[6], record[7], record[8]]);
                    let Ok(mut exits) = exits.lock() else { return };
                    match record[0] {
                        b'P' => {
                            let (exit_tx, exit_rx) = crossbeam_channel::bounded(1);
                            if pid != 0 {
                                exits.insert(pid, exit_tx);
                            }
                            if forked_tx.send((pid, exit_rx)).is_err() {
                                return;
                            }
                        }
                        b'X' => {
                            if let Some(exit) = exits.remove(&pid) {
                                let _ = exit.send(ExitStatus::from_raw(status));
                            }
                        }
                        b'R' => {
                            let _ = prepared_tx.try_send((pid, status));
                        }
                        _ => return,
                    }
                }
            })?;
        Ok(ForkServer {
            pid,
            control,
            forked,
            prepared,
        })
    }

    /// Asks for a worker whose fds 3, 4 and 1/2 are the given pipe ends (the
    /// worker's ends from [`crate::spawn::WorkerPipes::worker_ends`]). Requests
    /// are answered in order, by [`ForkServer::answer`]; several may be
    /// outstanding, so that the server forks while earlier answers are handled.
    pub(crate) fn request(&mut self, ends: [RawFd; 3]) -> io::Result<()> {
        send_with_fds(&self.control, b"F", &ends)
    }

    /// Asks the server to import `modules` before it forks anything more
    /// (`I`, a `u32` length, the names one per line): every worker forked
    /// after that has them already (pytest for a pytest-style suite: ~150 ms
    /// of CPU a worker would pay on its own). No answer: forks wait behind it.
    pub(crate) fn preload(&mut self, modules: &[String]) -> io::Result<()> {
        let names = modules.join("\n");
        let length = u32::try_from(names.len()).map_err(io::Error::other)?;
        let mut request = Vec::with_capacity(5 + names.len());
        request.push(b'I');
        request.extend_from_slice(&length.to_le_bytes());
        request.extend_from_slice(names.as_bytes());
        (&self.control).write_all(&request)
    }

    /// `--import-all`: hands the server a worker's `config` frame (`C`, then
    /// the frame: length and msgpack body), whose `preload` modules it imports
    /// as a worker would — pytest's settings applied, each module after its
    /// conftests — before it forks anything more, so that every worker forked
    /// afterwards starts with all of them imported. Waits for the answer (`R`,
    /// modules imported, modules that failed), however long the imports take,
    /// asking `interrupted` every 50 ms.
    pub(crate) fn prepare(
        &mut self,
        frame: &[u8],
        interrupted: &dyn Fn() -> bool,
    ) -> Result<(u32, i32), PrepareError> {
        let mut request = Vec::with_capacity(1 + frame.len());
        request.push(b'C');
        request.extend_from_slice(frame);
        (&self.control)
            .write_all(&request)
            .map_err(PrepareError::Io)?;
        loop {
            match self.prepared.recv_timeout(Duration::from_millis(50)) {
                Ok(answer) => return Ok(answer),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if interrupted() {
                        return Err(PrepareError::Interrupted);
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(PrepareError::Io(io::Error::other(
                        "the fork server ended while importing the test modules",
                    )))
                }
            }
        }
    }

    /// The oldest outstanding request's worker: its pid and where its exit
    /// status will arrive.
    pub(crate) fn answer(&mut self) -> io::Result<(u32, Receiver<ExitStatus>)> {
        match self.forked.recv_timeout(FORK_WITHIN) {
            Ok((0, _)) => Err(io::Error::other("the fork server could not fork")),
            Ok(forked) => Ok(forked),
            Err(_) => Err(io::Error::other("the fork server did not answer")),
        }
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        // End of the socket: the server ends any worker still alive and every
        // process left in its care (it is the run's subreaper), then exits.
        let _ = self.control.shutdown(std::net::Shutdown::Both);
        let _ = self.control.flush();
        let pid = self.pid;
        // Usually it has nothing left (every worker is gone): no need to wait.
        if has_children(pid) && reaped_within(pid, CLEANUP_WITHIN) {
            return;
        }
        kill(pid);
        // Tearing down the server's memory takes the kernel a millisecond or
        // so; the run's report need not wait for it, only someone must reap it.
        let reaper = std::thread::Builder::new()
            .name("dbtest-forkserver-reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || reap(pid));
        if reaper.is_err() {
            reap(pid);
        }
    }
}

/// Whether the server has children: processes a test left (daemons) that it
/// must end before it exits.
fn has_children(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/task/{pid}/children"))
        .is_ok_and(|children| children.iter().any(u8::is_ascii_digit))
}

/// Waits up to `within` for our child `pid` to exit and reaps it.
fn reaped_within(pid: u32, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        // SAFETY: waits for our own child, which nothing else waits for.
        let done =
            unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
        if done != 0 {
            return true; // reaped, or not ours to wait for any more
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill(pid: u32) {
    // SAFETY: a plain syscall on our own child, not yet reaped (so the pid is ours).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

fn reap(pid: u32) {
    // SAFETY: waits for our own child, which nothing else waits for.
    unsafe {
        libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
    }
}

fn end_now(pid: u32) {
    kill(pid);
    reap(pid);
}

/// `sendmsg` with the descriptors as SCM_RIGHTS ancillary data.
fn send_with_fds(socket: &UnixStream, payload: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let fds_len = std::mem::size_of_val(fds);
    // SAFETY: CMSG_* compute sizes and offsets within `control`, which is
    // allocated with CMSG_SPACE for exactly these descriptors; msghdr points at
    // buffers that outlive the call.
    unsafe {
        let space = libc::CMSG_SPACE(fds_len as u32) as usize;
        let mut control = vec![0u8; space];
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = control.as_mut_ptr().cast();
        message.msg_controllen = space as _;
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null() {
            return Err(io::Error::other("no room for SCM_RIGHTS"));
        }
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(fds_len as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(header).cast(), fds.len());
        if libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
