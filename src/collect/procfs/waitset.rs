//! What an event loop waits on: the file descriptors behind a `poll()`,
//! `select()` or `epoll_wait()`, and what kind each is.
//!
//! In: the syscall arguments recorded at switch-out (the pollfd array's
//! address and length, the epoll fd). Out: the fds' kinds, summarized into
//! the one that says most about the wait ([`summarize`]). The pollfd array is
//! read from the target's memory with `process_vm_readv` (allowed to root and
//! to the target's own user); an epoll set's members come from
//! `/proc/PID/fdinfo/EPFD` (`tfd:` lines). Both are read on the drain thread
//! shortly after the switch-out, so for waits that last (the ones that
//! matter) the thread is still parked in the same call. Parsers take `&str`
//! or bytes and are tested on captured fixtures.

use std::collections::HashMap;

use super::FdKindCache;
use crate::model::trace::{FdKind, Ns, Pid};

/// At most this many fds of one wait are resolved.
const MAX_FDS: usize = 64;

/// The fds watched by an epoll instance, from its fdinfo text.
pub fn parse_epoll_fdinfo(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("tfd:"))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The fds of a `struct pollfd` array (8 bytes each: fd, events, revents).
pub fn parse_pollfds(bytes: &[u8]) -> Vec<i32> {
    bytes
        .chunks_exact(8)
        .map(|c| i32::from_ne_bytes(c[0..4].try_into().unwrap()))
        .filter(|&fd| fd >= 0)
        .collect()
}

/// The one kind that says most about a wait on several fds: an outside
/// connection (TCP, UDP) over a local one (Unix socket, as asyncio's
/// self-pipe is), over a terminal, a pipe or a file; the loop's own plumbing
/// (eventfd, timerfd, signalfd, inotify, epoll) says nothing.
pub fn summarize(kinds: &[FdKind]) -> Option<FdKind> {
    const ORDER: [FdKind; 10] = [
        FdKind::TcpSocket,
        FdKind::UdpSocket,
        FdKind::Socket,
        FdKind::Tty,
        FdKind::UnixSocket,
        FdKind::Pipe,
        FdKind::Fifo,
        FdKind::CharDevice,
        FdKind::RegularFile,
        FdKind::BlockDevice,
    ];
    ORDER.into_iter().find(|k| kinds.contains(k))
}

/// Reads wait sets of live processes, with a short-lived cache for epoll
/// sets (they change rarely; an event loop waits on the same set again and
/// again).
#[derive(Debug, Default)]
pub struct WaitSets {
    fds: FdKindCache,
    epoll: HashMap<(Pid, i32), EpollEntry>,
}

/// A cached epoll set: (kind, sockets, time of the wait that read it, time
/// of the read).
type EpollEntry = (Option<FdKind>, u32, Ns, Ns);

/// An epoll set is re-read after this: an event loop adds and removes fds
/// all the time (asyncio registers each new connection), and a set cached
/// from before its connections were added made eight requests in flight
/// look like a wait on the loop's self-pipe. A busy loop re-reads its set
/// at most 20 times a second.
const EPOLL_TTL_NS: Ns = 50_000_000;

impl WaitSets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fd_kind(&mut self, pid: Pid, fd: i32, now: Ns) -> Option<FdKind> {
        self.fds.get(pid, fd, now)
    }

    /// The summarized kind of a poll() set: `nfds` pollfds at `addr`.
    pub fn poll_set(&mut self, pid: Pid, addr: u64, nfds: u64, now: Ns) -> Option<FdKind> {
        let n = (nfds as usize).min(MAX_FDS);
        if n == 0 || addr == 0 {
            return None;
        }
        let bytes = read_memory(pid, addr, n * 8)?;
        let kinds: Vec<FdKind> = parse_pollfds(&bytes)
            .into_iter()
            .filter_map(|fd| self.fds.get(pid, fd, now))
            .collect();
        summarize(&kinds)
    }

    /// The summarized kind of a select() set: the read set bitmap at `addr`
    /// for fds below `nfds`.
    pub fn select_set(&mut self, pid: Pid, nfds: u64, addr: u64, now: Ns) -> Option<FdKind> {
        let n = (nfds as usize).min(1024);
        if n == 0 || addr == 0 {
            return None;
        }
        let bytes = read_memory(pid, addr, n.div_ceil(8))?;
        let fds = (0..n)
            .filter(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
            .take(MAX_FDS);
        let kinds: Vec<FdKind> = fds
            .filter_map(|fd| self.fds.get(pid, fd as i32, now))
            .collect();
        summarize(&kinds)
    }

    /// The summarized kind of the fds an epoll instance watches.
    pub fn epoll_set(&mut self, pid: Pid, epfd: i32, now: Ns) -> Option<FdKind> {
        self.epoll_entry(pid, epfd, now).0
    }

    /// How many sockets (TCP, UDP, or of unknown protocol: the outside
    /// connections, not a Unix self-pipe) an epoll instance watches.
    pub fn epoll_sockets(&mut self, pid: Pid, epfd: i32, now: Ns) -> u32 {
        self.epoll_entry(pid, epfd, now).1
    }

    fn epoll_entry(&mut self, pid: Pid, epfd: i32, now: Ns) -> (Option<FdKind>, u32) {
        // A cached set serves a wait that began before it was read (the fds
        // registered before the wait are in it); a wait that began after
        // the read (a loop registering its connections between two waits
        // a few ms apart, both handled in one drain pass) reads it again.
        if let Some(&(kind, n, at, read_at)) = self.epoll.get(&(pid, epfd)) {
            if now <= read_at && now.saturating_sub(at) < EPOLL_TTL_NS {
                return (kind, n);
            }
        }
        let read_at = crate::collect::monotonic_ns();
        let text = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{epfd}")).ok();
        let kinds: Vec<FdKind> = text
            .map(|t| {
                parse_epoll_fdinfo(&t)
                    .into_iter()
                    .take(MAX_FDS)
                    .filter_map(|fd| self.fds.get(pid, fd, now))
                    .collect()
            })
            .unwrap_or_default();
        let kind = summarize(&kinds);
        let n = kinds
            .iter()
            .filter(|k| matches!(k, FdKind::TcpSocket | FdKind::UdpSocket | FdKind::Socket))
            .count() as u32;
        self.epoll.insert((pid, epfd), (kind, n, now, read_at));
        (kind, n)
    }
}

/// A `struct timespec` (tv_sec, tv_nsec as two i64) at `addr` in `pid`'s
/// memory, in ns; `None` when unreadable or not a valid timespec.
pub fn read_timespec(pid: Pid, addr: u64) -> Option<Ns> {
    if addr == 0 {
        return None;
    }
    let b = read_memory(pid, addr, 16)?;
    let sec = i64::from_ne_bytes(b[0..8].try_into().ok()?);
    let nsec = i64::from_ne_bytes(b[8..16].try_into().ok()?);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return None;
    }
    Some((sec as Ns).checked_mul(1_000_000_000)? + nsec as Ns)
}

/// Read `len` bytes at `addr` in `pid`'s memory.
fn read_memory(pid: Pid, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let local = [std::io::IoSliceMut::new(&mut buf)];
    let remote = [nix::sys::uio::RemoteIoVec {
        base: addr as usize,
        len,
    }];
    let n =
        nix::sys::uio::process_vm_readv(nix::unistd::Pid::from_raw(pid), &mut { local }, &remote)
            .ok()?;
    (n == len).then_some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoll_fdinfo_members() {
        let text = include_str!("../../../tests/fixtures/proc/epoll.fdinfo");
        let fds = parse_epoll_fdinfo(text);
        assert!(!fds.is_empty(), "{text}");
        assert!(fds.iter().all(|&fd| fd >= 0));
    }

    #[test]
    fn pollfd_array() {
        let mut b = Vec::new();
        for (fd, ev) in [(3i32, 1i16), (-1, 0), (7, 4)] {
            b.extend_from_slice(&fd.to_ne_bytes());
            b.extend_from_slice(&ev.to_ne_bytes());
            b.extend_from_slice(&0i16.to_ne_bytes());
        }
        assert_eq!(parse_pollfds(&b), vec![3, 7]);
    }

    #[test]
    fn summary_prefers_outside_connections() {
        use FdKind::*;
        assert_eq!(
            summarize(&[UnixSocket, TcpSocket, EventFd]),
            Some(TcpSocket)
        );
        assert_eq!(summarize(&[UnixSocket, EventFd]), Some(UnixSocket));
        assert_eq!(summarize(&[EventFd, TimerFd]), None);
        assert_eq!(summarize(&[]), None);
    }

    #[test]
    fn reads_own_poll_set_and_epoll_set() {
        use std::os::fd::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = listener.as_raw_fd();
        let pollfds = [libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        let pid = std::process::id() as Pid;
        let mut w = WaitSets::new();
        let kind = w.poll_set(pid, pollfds.as_ptr() as u64, 1, 1);
        assert_eq!(kind, Some(FdKind::TcpSocket));
        // SAFETY: plain epoll calls on fds we own.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        assert_eq!(
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
            0
        );
        assert_eq!(w.epoll_set(pid, ep, 1), Some(FdKind::TcpSocket));
        assert_eq!(w.epoll_sockets(pid, ep, 1), 1);
        unsafe { libc::close(ep) };
    }
}
