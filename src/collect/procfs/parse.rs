//! Parsers for /proc files: text in (`&str`, never a path), plain values out.
//!
//! `stat`, `schedstat` and `io` go through the `procfs` crate's parsers;
//! `syscall` (whose "not in a syscall" form `-1 sp pc` the crate rejects),
//! `wchan`, fd link targets and the `/proc/PID/net/*` socket tables are
//! parsed here. Tested on fixtures captured on a live system
//! (`tests/fixtures/proc/`).

use procfs::process::{Io as PIo, Schedstat, Stat};
use procfs::{FromBufRead, FromRead};

use crate::model::trace::FdKind;

/// A /proc file that did not have the expected format.
#[derive(Debug, thiserror::Error)]
#[error("unexpected /proc {what} format: {detail}")]
pub struct ParseError {
    pub what: &'static str,
    pub detail: String,
}

pub type Result<T> = std::result::Result<T, ParseError>;

fn err(what: &'static str, detail: impl ToString) -> ParseError {
    ParseError {
        what,
        detail: detail.to_string(),
    }
}

/// The fields of `/proc/PID/task/TID/stat` the sampler uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskStat {
    pub tid: i32,
    pub comm: String,
    /// R, S, D, T, t, Z, X, I, ...
    pub state: char,
    pub ppid: i32,
    /// User and system time, in clock ticks (`sysconf(_SC_CLK_TCK)`).
    pub utime: u64,
    pub stime: u64,
    /// Start time after boot, in clock ticks (CLOCK_BOOTTIME based).
    pub starttime: u64,
    pub num_threads: i64,
}

/// Parse a `stat` line. The comm may contain spaces and parentheses.
pub fn stat(text: &str) -> Result<TaskStat> {
    let s = Stat::from_read(text.as_bytes()).map_err(|e| err("stat", e))?;
    Ok(TaskStat {
        tid: s.pid,
        comm: s.comm,
        state: s.state,
        ppid: s.ppid,
        utime: s.utime,
        stime: s.stime,
        starttime: s.starttime,
        num_threads: s.num_threads,
    })
}

/// Parse `schedstat`: (on-CPU ns, runqueue ns, timeslices).
pub fn schedstat(text: &str) -> Result<(u64, u64, u64)> {
    let s = Schedstat::from_read(text.as_bytes()).map_err(|e| err("schedstat", e))?;
    Ok((s.sum_exec_runtime, s.run_delay, s.pcount))
}

/// What `/proc/TID/syscall` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallState {
    /// The task is on a CPU: no registers to show.
    Running,
    /// Blocked outside a system call (`-1 sp pc`), e.g. in a page fault.
    NotInSyscall,
    /// Blocked in system call `nr` (x86_64 numbering) with these arguments.
    InSyscall { nr: i64, args: [u64; 6] },
}

/// Parse `syscall`: "running", `-1 sp pc`, or `nr arg0..arg5 sp pc` (hex).
/// Malformed text yields `NotInSyscall`: no syscall can be claimed from it.
pub fn syscall(text: &str) -> SyscallState {
    let text = text.trim();
    if text == "running" {
        return SyscallState::Running;
    }
    let mut it = text.split_ascii_whitespace();
    let nr = match it.next().and_then(|n| n.parse::<i64>().ok()) {
        Some(nr) if nr >= 0 => nr,
        _ => return SyscallState::NotInSyscall,
    };
    let mut args = [0u64; 6];
    for a in &mut args {
        match it.next().and_then(parse_hex) {
            Some(v) => *a = v,
            None => return SyscallState::NotInSyscall,
        }
    }
    SyscallState::InSyscall { nr, args }
}

fn parse_hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x").unwrap_or(s), 16).ok()
}

/// `wchan`: the kernel function the task sleeps in, or `None` for "0" or
/// empty (running, or a wait too short to be caught).
pub fn wchan(text: &str) -> Option<&str> {
    let w = text.trim();
    (!w.is_empty() && w != "0").then_some(w)
}

/// Storage I/O counters of `/proc/PID/io`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Io {
    pub rchar: u64,
    pub wchar: u64,
    pub syscr: u64,
    pub syscw: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub cancelled_write_bytes: u64,
}

pub fn io(text: &str) -> Result<Io> {
    let i = PIo::from_buf_read(text.as_bytes()).map_err(|e| err("io", e))?;
    Ok(Io {
        rchar: i.rchar,
        wchar: i.wchar,
        syscr: i.syscr,
        syscw: i.syscw,
        read_bytes: i.read_bytes,
        write_bytes: i.write_bytes,
        cancelled_write_bytes: i.cancelled_write_bytes,
    })
}

/// Classify a `/proc/PID/fd/N` link target by its text alone. Sockets come
/// out as [`FdKind::Socket`] (the protocol needs the net tables, see
/// [`socket_inode`] and [`net_has_inode`]); a path is taken as a regular
/// file unless it names a device (the caller refines with stat()).
pub fn fd_kind(link: &str) -> FdKind {
    if link.starts_with("socket:[") {
        return FdKind::Socket;
    }
    if link.starts_with("pipe:[") {
        return FdKind::Pipe;
    }
    if let Some(anon) = link.strip_prefix("anon_inode:") {
        return anon_kind(anon.trim_start_matches('[').trim_end_matches(']'));
    }
    if link.starts_with('/') {
        return path_kind(link);
    }
    FdKind::Other
}

fn anon_kind(name: &str) -> FdKind {
    match name {
        "eventpoll" => FdKind::Epoll,
        "eventfd" => FdKind::EventFd,
        "timerfd" => FdKind::TimerFd,
        "signalfd" => FdKind::SignalFd,
        "inotify" => FdKind::Inotify,
        _ => FdKind::Other,
    }
}

/// A path's kind from its name: terminals and block devices by their
/// conventional names, other `/dev` entries as character devices.
fn path_kind(path: &str) -> FdKind {
    if is_tty_path(path) {
        return FdKind::Tty;
    }
    let Some(dev) = path.strip_prefix("/dev/") else {
        return FdKind::RegularFile;
    };
    const BLOCK: [&str; 9] = [
        "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "loop", "dm-", "md",
    ];
    if BLOCK.iter().any(|p| dev.starts_with(p)) || dev.starts_with("mapper/") {
        return FdKind::BlockDevice;
    }
    FdKind::CharDevice
}

/// Whether a path names a terminal: `/dev/pts/N`, `/dev/tty*`,
/// `/dev/console`, `/dev/ptmx`.
pub fn is_tty_path(path: &str) -> bool {
    path.starts_with("/dev/pts/")
        || path.starts_with("/dev/tty")
        || path == "/dev/console"
        || path == "/dev/ptmx"
}

/// The inode of a `socket:[N]` link target.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Which `/proc/PID/net/*` table a text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetTable {
    /// tcp, tcp6, udp, udp6 (same layout: inode is the 10th column).
    Inet,
    /// unix (inode is the 7th column).
    Unix,
}

/// Whether a socket table lists the socket with this inode.
pub fn net_has_inode(table: NetTable, text: &str, inode: u64) -> bool {
    let col = match table {
        NetTable::Inet => 9,
        NetTable::Unix => 6,
    };
    text.lines().skip(1).any(|l| {
        l.split_ascii_whitespace()
            .nth(col)
            .and_then(|v| v.parse::<u64>().ok())
            == Some(inode)
    })
}

/// Whether syscall `nr`'s first argument is a file descriptor worth
/// resolving (reads, writes, socket calls, epoll, fsync, locks, ioctl).
pub fn fd_arg(nr: i64) -> bool {
    crate::model::syscalls::fd_first(nr)
}

/// x86_64 futex(2).
pub const SYS_FUTEX: i64 = 202;
pub const SYS_CLOCK_NANOSLEEP: i64 = 230;
/// clock_nanosleep's flag (second argument) for an absolute deadline.
pub const TIMER_ABSTIME: u64 = 1;

/// Split a `cmdline` (NUL-separated, NUL-terminated) into arguments.
pub fn cmdline(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The whitespace-separated pids of a `children` file.
pub fn children(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

#[cfg(test)]
mod tests;
