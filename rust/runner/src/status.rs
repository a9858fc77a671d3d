//! What the system says about a process: whether it has exited, its resident
//! memory (`/proc`, what psutil reads on Linux), and how it ended, in words.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// Waits until a process that is not our child has exited (or `deadline`).
pub(crate) fn wait_until_gone(pid: u32, deadline: Instant) {
    while !has_exited(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// No such process, or a zombie its parent has not reaped yet (`/proc`).
pub(crate) fn has_exited(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // `pid (comm) state ...`; comm may hold spaces and parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    matches!(state, Some('Z' | 'X') | None)
}

/// Resident memory of a process.
pub(crate) fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page_size).ok()?)
}

/// "killed by SIGSEGV" / "exited with code 3".
pub(crate) fn describe_exit(status: Option<ExitStatus>) -> String {
    match status {
        None => "could not be reaped".to_string(),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(signal)) => format!("killed by {}", signal_name(signal)),
            (None, None) => format!("ended ({status})"),
        },
    }
}

pub(crate) fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {signal}"),
    };
    format!("{name} (signal {signal})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_process_has_not_exited_and_has_memory() {
        assert!(!has_exited(std::process::id()));
        assert!(resident_bytes(std::process::id()).is_some_and(|rss| rss > 0));
    }

    #[test]
    fn an_exited_child_has_exited_before_it_is_reaped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        wait_until_gone(child.id(), Instant::now() + Duration::from_secs(30));
        assert!(has_exited(child.id()), "a zombie counts as exited");
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn an_exit_is_described_by_its_code_or_signal() {
        assert_eq!(
            describe_exit(Some(ExitStatus::from_raw(3 << 8))),
            "exited with code 3"
        );
        assert_eq!(
            describe_exit(Some(ExitStatus::from_raw(libc::SIGSEGV))),
            "killed by SIGSEGV (signal 11)"
        );
        assert_eq!(describe_exit(None), "could not be reaped");
    }
}
