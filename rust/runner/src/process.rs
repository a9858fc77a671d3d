//! One worker process: how it is started, the threads that talk to it, and how
//! it is ended. The dispatcher owns [`WorkerProcess`] values and hears from them
//! only through [`Event`]s, so a stuck or dying worker never blocks it.

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use dbtest_protocol::{encode_frame, FrameReader, FromWorker, ProtocolError, ToWorker};
use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::files::WorkerFiles;
use crate::forkserver::ForkServer;
use crate::spawn::{place_fds, SpawnSpec, WorkerPipes};
use crate::status::wait_until_gone;

/// Bytes of a worker's own stdout/stderr kept for crash reports.
const TAIL_BYTES: usize = 16 * 1024;

/// Something that happened to a worker process.
#[derive(Debug)]
pub(crate) enum Event {
    /// Messages that arrived together, in order.
    Messages {
        process: u64,
        messages: Vec<FromWorker>,
    },
    /// The result pipe ended: cleanly (`None`) or with a protocol error.
    Closed {
        process: u64,
        error: Option<String>,
    },
    Output {
        process: u64,
        line: String,
    },
    /// A process handed to a reaper is gone.
    Reaped(Reaped),
}

#[derive(Debug)]
pub(crate) struct Reaped {
    pub process: u64,
    pub status: Option<ExitStatus>,
    /// What faulthandler wrote (thread dump on timeout, traceback on a fatal
    /// signal), and what the test it was running printed.
    pub left: crate::files::LeftBehind,
    /// The end of the worker's own stdout/stderr.
    pub tail: String,
}

/// How a reaper ends a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReapMode {
    /// Ask for a thread dump (SIGUSR1), then end it (a timeout, an interrupted run).
    Timeout,
    /// It is already dying; collect its status.
    Crash,
    /// It was sent `shutdown`; give it a moment to exit by itself.
    Shutdown,
    /// End it now.
    Kill,
}

pub(crate) struct WorkerProcess {
    pub id: u64,
    pub slot: u32,
    pub pid: u32,
    handle: Handle,
    jobs: Option<Sender<Vec<u8>>>,
    tail: Arc<Mutex<Vec<u8>>>,
    files: WorkerFiles,
    /// Disconnect when the reader / output threads end (their senders drop).
    reader_done: Receiver<()>,
    output_done: Receiver<()>,
}

/// What the coordinator holds of a worker process: a child it started, or one
/// the fork server forked (whose exit status the server reports).
enum Handle {
    Spawned(Child),
    Forked {
        pid: u32,
        exit: Receiver<ExitStatus>,
        status: Option<ExitStatus>,
    },
}

impl Handle {
    /// The exit status, if the process ends within `within`.
    fn wait_for(&mut self, within: Duration) -> Option<ExitStatus> {
        match self {
            Handle::Spawned(child) => {
                let deadline = Instant::now() + within;
                loop {
                    match child.try_wait() {
                        Ok(Some(status)) => return Some(status),
                        Ok(None) if Instant::now() < deadline => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Ok(None) | Err(_) => return None,
                    }
                }
            }
            Handle::Forked { pid, exit, status } => {
                let deadline = Instant::now() + within;
                if status.is_none() {
                    match exit.recv_timeout(within) {
                        Ok(exited) => *status = Some(exited),
                        // The server stopped reporting (it failed and was kept
                        // only for its workers): no status will come, but the
                        // process may still be given its time to exit.
                        Err(RecvTimeoutError::Disconnected) => wait_until_gone(*pid, deadline),
                        Err(RecvTimeoutError::Timeout) => {}
                    }
                }
                *status
            }
        }
    }

    /// Waits for the end of a process that has been sent SIGKILL.
    fn wait_killed(&mut self) -> Option<ExitStatus> {
        match self {
            Handle::Spawned(child) => child.wait().ok(),
            // The server reaps it at once; without a server there is no status.
            Handle::Forked { .. } => self.wait_for(Duration::from_secs(5)),
        }
    }
}

impl WorkerProcess {
    /// Starts a worker: forked by `fork_server` when there is one, else a new
    /// interpreter. `requested`: pipes `fork_server` was already asked to fork
    /// a worker with (see [`ForkServer::request`]); without a server they are
    /// dropped.
    pub(crate) fn spawn(
        spec: &SpawnSpec,
        fork_server: Option<&mut ForkServer>,
        requested: Option<WorkerPipes>,
        id: u64,
        slot: u32,
        files: WorkerFiles,
        events: Sender<Event>,
    ) -> io::Result<WorkerProcess> {
        if let Some(server) = fork_server {
            let pipes = match requested {
                Some(pipes) => pipes,
                None => {
                    let pipes = WorkerPipes::new()?;
                    server.request(pipes.worker_ends())?;
                    pipes
                }
            };
            let (pid, exit) = server.answer()?;
            let handle = Handle::Forked {
                pid,
                exit,
                status: None,
            };
            return Self::start(spec, pipes, pid, handle, id, slot, files, events);
        }
        let pipes = WorkerPipes::new()?;
        let mut command = Command::new(&spec.python);
        command
            .args(&spec.args)
            .current_dir(&spec.cwd)
            .stdin(Stdio::null())
            .stdout(pipes.output_write.try_clone()?)
            .stderr(pipes.output_write.try_clone()?)
            .envs(spec.env.iter().map(|(k, v)| (k, v)));
        let fds = [pipes.jobs_read.as_raw_fd(), pipes.results_write.as_raw_fd()];
        let parent = std::process::id();
        // SAFETY: place_fds only makes async-signal-safe calls.
        unsafe {
            command.pre_exec(move || place_fds(&fds, parent));
        }
        let child = command.spawn()?;
        let pid = child.id();
        Self::start(
            spec,
            pipes,
            pid,
            Handle::Spawned(child),
            id,
            slot,
            files,
            events,
        )
    }

    /// The coordinator's side of a started worker: the threads that write its
    /// jobs and read its results and output.
    #[allow(clippy::too_many_arguments)]
    fn start(
        spec: &SpawnSpec,
        pipes: WorkerPipes,
        pid: u32,
        handle: Handle,
        id: u64,
        slot: u32,
        files: WorkerFiles,
        events: Sender<Event>,
    ) -> io::Result<WorkerProcess> {
        let WorkerPipes {
            jobs_read,
            mut jobs_write,
            results_read,
            results_write,
            output_read,
            output_write,
        } = pipes;
        // The parent must not hold the child's ends, or it would never see EOF.
        drop(jobs_read);
        drop(results_write);
        drop(output_write);

        let (jobs_tx, jobs_rx): (Sender<Vec<u8>>, Receiver<Vec<u8>>) =
            crossbeam_channel::unbounded();
        spawn_thread(format!("dbtest-w{slot}-jobs"), move || {
            for frame in jobs_rx {
                if jobs_write.write_all(&frame).is_err() {
                    break;
                }
            }
        })?;

        let reader_events = events.clone();
        let (reader_alive, reader_done) = crossbeam_channel::bounded::<()>(0);
        spawn_thread(format!("dbtest-w{slot}-results"), move || {
            let _alive = reader_alive;
            let mut reader = FrameReader::new(BufReader::with_capacity(64 * 1024, results_read));
            let mut messages = Vec::new();
            let flush = |messages: &mut Vec<FromWorker>| {
                messages.is_empty()
                    || reader_events
                        .send(Event::Messages {
                            process: id,
                            messages: std::mem::take(messages),
                        })
                        .is_ok()
            };
            loop {
                match reader.next_message::<FromWorker>() {
                    Ok(Some(message)) => {
                        messages.push(message);
                        // One event (one wake-up of the dispatcher) for all that
                        // arrived together.
                        if (reader.frame_buffered() && messages.len() < 1024)
                            || flush(&mut messages)
                        {
                            continue;
                        }
                        return;
                    }
                    Ok(None) => {
                        flush(&mut messages);
                        let _ = reader_events.send(Event::Closed {
                            process: id,
                            error: None,
                        });
                        return;
                    }
                    Err(err) => {
                        flush(&mut messages);
                        let _ = reader_events.send(Event::Closed {
                            process: id,
                            error: Some(err.to_string()),
                        });
                        return;
                    }
                }
            }
        })?;

        let tail = Arc::new(Mutex::new(Vec::new()));
        let drain_tail = Arc::clone(&tail);
        let stream = spec.stream_output;
        let (output_alive, output_done) = crossbeam_channel::bounded::<()>(0);
        spawn_thread(format!("dbtest-w{slot}-output"), move || {
            let _alive = output_alive;
            drain_output(output_read, id, &drain_tail, stream.then_some(&events));
        })?;

        Ok(WorkerProcess {
            id,
            slot,
            pid,
            handle,
            jobs: Some(jobs_tx),
            tail,
            files,
            reader_done,
            output_done,
        })
    }

    pub fn send(&self, message: &ToWorker) -> Result<(), ProtocolError> {
        let frame = encode_frame(message)?;
        if let Some(jobs) = &self.jobs {
            // A closed channel means the writer saw the worker go; the reader reports it.
            let _ = jobs.send(frame);
        }
        Ok(())
    }

    /// Whether the thread reading its results has ended (the worker is gone,
    /// or broke the protocol).
    pub fn reader_ended(&self) -> bool {
        matches!(
            self.reader_done.try_recv(),
            Err(crossbeam_channel::TryRecvError::Disconnected)
        )
    }

    /// Ends the process on a background thread, which reports [`Event::Reaped`].
    pub fn reap(mut self, mode: ReapMode, events: Sender<Event>) -> Option<JoinHandle<()>> {
        let name = format!("dbtest-w{}-reaper", self.slot);
        spawn_thread(name, move || {
            let status = self.end(mode);
            let left = self.files.take();
            // Everything the process sent is forwarded before `Reaped` (the pipes
            // close once the group is gone), so no message arrives after it.
            let _ = self.reader_done.recv_timeout(Duration::from_secs(1));
            let _ = self.output_done.recv_timeout(Duration::from_secs(1));
            let tail = self
                .tail
                .lock()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default();
            let _ = events.send(Event::Reaped(Reaped {
                process: self.id,
                status,
                left,
                tail,
            }));
        })
        .ok()
    }

    fn wait_for_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        self.handle.wait_for(within)
    }

    fn signal_group(&self, signal: i32) {
        // SAFETY: plain syscall; the group id is the worker's pid (setpgid(0, 0)).
        unsafe {
            libc::killpg(self.pid as libc::pid_t, signal);
        }
    }

    fn end(&mut self, mode: ReapMode) -> Option<ExitStatus> {
        let mut status = None;
        match mode {
            ReapMode::Timeout => {
                // SAFETY: plain syscall on our own child.
                unsafe {
                    libc::kill(self.pid as libc::pid_t, libc::SIGUSR1);
                }
                wait_for_dump(&self.files.traceback, Duration::from_secs(2));
            }
            ReapMode::Crash => status = self.wait_for_exit(Duration::from_secs(1)),
            ReapMode::Shutdown => {
                self.jobs = None;
                status = self.wait_for_exit(Duration::from_secs(3));
            }
            ReapMode::Kill => {}
        }
        self.jobs = None;
        if status.is_none() {
            self.signal_group(libc::SIGTERM);
            status = self.wait_for_exit(Duration::from_millis(500));
        }
        if status.is_none() {
            self.signal_group(libc::SIGKILL);
            status = self.handle.wait_killed();
        }
        // Whatever the tests left running in the worker's group goes too.
        self.signal_group(libc::SIGKILL);
        status
    }
}

/// Waits until faulthandler has written something and stopped writing.
fn wait_for_dump(path: &std::path::Path, within: Duration) {
    let deadline = Instant::now() + within;
    let mut last_len = 0;
    let mut stable_since = Instant::now();
    while Instant::now() < deadline {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len != last_len {
            last_len = len;
            stable_since = Instant::now();
        } else if len > 0 && stable_since.elapsed() >= Duration::from_millis(50) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_thread<F: FnOnce() + Send + 'static>(name: String, f: F) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name)
        .stack_size(256 * 1024)
        .spawn(f)
}

fn drain_output(
    mut pipe: io::PipeReader,
    process: u64,
    tail: &Mutex<Vec<u8>>,
    events: Option<&Sender<Event>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        if let Ok(mut tail) = tail.lock() {
            tail.extend_from_slice(chunk);
            if tail.len() > TAIL_BYTES {
                let excess = tail.len() - TAIL_BYTES;
                tail.drain(..excess);
            }
        }
        if let Some(events) = events {
            partial.extend_from_slice(chunk);
            while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = partial.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                let _ = events.send(Event::Output {
                    process,
                    line: text,
                });
            }
        }
    }
    if let (Some(events), false) = (events, partial.is_empty()) {
        let text = String::from_utf8_lossy(&partial).into_owned();
        let _ = events.send(Event::Output {
            process,
            line: text,
        });
    }
}
