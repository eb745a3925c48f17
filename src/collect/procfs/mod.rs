//! The /proc collector: reads the target tree's /proc files and records a
//! [`Trace`](crate::model::trace::Trace).
//!
//! In: pids and fds (from the tree wallprof follows). Out: parsed values
//! ([`parse`]), fd kinds ([`fd_kind`], [`FdKindCache`]), command lines, and,
//! from the [`sampler`] thread ([`start`] / [`SamplerHandle::stop`]), a
//! `Trace` with processes, threads, schedstat readings and, optionally, a
//! sampled off-CPU timeline. See `docs/procfs.md` for rates and limits.

pub mod parse;
pub mod sampler;
mod timeline;
pub mod waitset;

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;

pub use parse::{SyscallState, TaskStat};
pub use sampler::{start, ProcfsConfig, SamplerHandle};

use crate::model::trace::{FdKind, Ns};

/// Reads small /proc files into a reused buffer.
#[derive(Debug, Default)]
pub(crate) struct ProcReader {
    buf: Vec<u8>,
}

impl ProcReader {
    /// The file's bytes, or `None` when it cannot be read (task gone,
    /// permission).
    pub(crate) fn read(&mut self, path: &str) -> Option<&[u8]> {
        self.buf.clear();
        let mut f = std::fs::File::open(path).ok()?;
        f.read_to_end(&mut self.buf).ok()?;
        Some(&self.buf)
    }

    /// The file as text (lossy bytes are not expected in the files read).
    pub(crate) fn read_str(&mut self, path: &str) -> Option<&str> {
        let bytes = self.read(path)?;
        std::str::from_utf8(bytes).ok()
    }
}

/// `/proc/PID/cmdline` split into arguments; `None` when unreadable or empty
/// (a zombie or a kernel thread).
/// Whether `pid` is a kernel thread: PF_KTHREAD in the flags of
/// `/proc/PID/stat` (field 9). A process gone or unreadable is not.
pub fn is_kernel_thread(pid: i32) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The name (field 2) is in parentheses and may hold spaces.
    let Some(rest) = text.rfind(')').map(|i| &text[i + 1..]) else {
        return false;
    };
    // After the name: state (3), ppid, pgrp, session, tty_nr, tpgid, flags (9).
    rest.split_whitespace()
        .nth(6)
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}

pub fn read_cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv = parse::cmdline(&raw);
    (!argv.is_empty()).then_some(argv)
}

/// The target of `/proc/PID/exe`.
pub fn read_exe(pid: i32) -> Option<String> {
    let p = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(p.to_string_lossy().into_owned())
}

/// `/proc/TID/comm` (a thread id works as well as a process id).
pub fn read_comm(tid: i32) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/comm")).ok()?;
    Some(s.trim_end_matches('\n').to_string())
}

/// What `fd` of `pid` refers to: the link target's kind, sockets told apart
/// by the net tables of the process's namespace, paths by stat().
pub fn fd_kind(pid: i32, fd: i32) -> Option<FdKind> {
    let link_path = format!("/proc/{pid}/fd/{fd}");
    let link = std::fs::read_link(&link_path).ok()?;
    Some(kind_of_link(pid, &link_path, &link.to_string_lossy()))
}

/// The kind of an fd whose `/proc/PID/fd/N` link (at `link_path`) reads
/// `link`.
fn kind_of_link(pid: i32, link_path: &str, link: &str) -> FdKind {
    match parse::fd_kind(link) {
        FdKind::Socket => socket_kind(pid, link),
        FdKind::RegularFile | FdKind::CharDevice | FdKind::BlockDevice => {
            stat_kind(link_path, link)
        }
        kind => kind,
    }
}

/// TCP, UDP or Unix, by finding the socket's inode in `/proc/PID/net/*`.
fn socket_kind(pid: i32, link: &str) -> FdKind {
    let Some(inode) = parse::socket_inode(link) else {
        return FdKind::Socket;
    };
    const TABLES: [(&str, parse::NetTable, FdKind); 5] = [
        ("tcp", parse::NetTable::Inet, FdKind::TcpSocket),
        ("tcp6", parse::NetTable::Inet, FdKind::TcpSocket),
        ("udp", parse::NetTable::Inet, FdKind::UdpSocket),
        ("udp6", parse::NetTable::Inet, FdKind::UdpSocket),
        ("unix", parse::NetTable::Unix, FdKind::UnixSocket),
    ];
    let needle = inode.to_string();
    for (file, table, kind) in TABLES {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        if text.contains(&needle) && parse::net_has_inode(table, &text, inode) {
            return kind;
        }
    }
    FdKind::Socket
}

/// A path's kind from stat() on the fd link (follows it, works for deleted
/// files too); the link text decides when stat fails.
fn stat_kind(link_path: &str, link: &str) -> FdKind {
    let Ok(md) = std::fs::metadata(link_path) else {
        return parse::fd_kind(link);
    };
    let ft = md.file_type();
    if ft.is_file() {
        FdKind::RegularFile
    } else if ft.is_dir() {
        FdKind::Directory
    } else if ft.is_block_device() {
        FdKind::BlockDevice
    } else if ft.is_char_device() {
        if parse::is_tty_path(link) {
            FdKind::Tty
        } else {
            FdKind::CharDevice
        }
    } else if ft.is_fifo() {
        FdKind::Fifo
    } else if ft.is_socket() {
        FdKind::UnixSocket
    } else {
        FdKind::Other
    }
}

/// How long an entry serves an fd already closed (a wait set read after
/// the wait), and how old an entry may get before the cache drops it.
pub const FD_KIND_TTL_NS: Ns = 500_000_000;
/// How long it is trusted without checking that the fd still names the
/// same object.
pub const FD_KIND_TRUST_NS: Ns = 10_000_000;

/// A small cache over [`fd_kind`], keyed by the fd's link text as well:
/// a program that closes a file and opens a socket gets the same fd number
/// back (Node loading its modules, then connecting), so an entry serves
/// only while `/proc/PID/fd/N` still names the same object (one readlink;
/// the expensive part, finding a socket's inode in `/proc/PID/net/*`, is
/// what the cache saves). One per thread that resolves fds.
#[derive(Debug, Default)]
pub struct FdKindCache {
    /// (kind, when last resolved or checked, the link text).
    entries: HashMap<(i32, i32), (FdKind, Ns, String)>,
}

impl FdKindCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The kind of `fd` in `pid`: from the cache when checked less than
    /// [`FD_KIND_TRUST_NS`] before `now_ns`, or when the fd's link still
    /// reads the same (the check renews the entry); resolved again when it
    /// does not. An fd already closed gets its entry if checked less than
    /// [`FD_KIND_TTL_NS`] before.
    pub fn get(&mut self, pid: i32, fd: i32, now_ns: Ns) -> Option<FdKind> {
        // A blocking-heavy thread asks about the same fd every few µs:
        // an entry this young is trusted without the readlink.
        if let Some(&(kind, at, _)) = self.entries.get(&(pid, fd)) {
            if now_ns.saturating_sub(at) < FD_KIND_TRUST_NS {
                return Some(kind);
            }
        }
        let link_path = format!("/proc/{pid}/fd/{fd}");
        let link = std::fs::read_link(&link_path)
            .ok()
            .map(|l| l.to_string_lossy().into_owned());
        if let Some((kind, at, cached)) = self.entries.get_mut(&(pid, fd)) {
            match &link {
                Some(l) if l == cached => {
                    *at = now_ns;
                    return Some(*kind);
                }
                None if now_ns.saturating_sub(*at) < FD_KIND_TTL_NS => return Some(*kind),
                _ => {}
            }
        }
        if self.entries.len() >= 4096 {
            self.entries
                .retain(|_, (_, at, _)| now_ns.saturating_sub(*at) < FD_KIND_TTL_NS);
        }
        let link = link?;
        let kind = kind_of_link(pid, &link_path, &link);
        self.entries.insert((pid, fd), (kind, now_ns, link));
        Some(kind)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
