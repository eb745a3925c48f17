//! Live tests of fd resolution and the small readers, on the test process's
//! own fds.

use super::*;
use std::os::fd::AsRawFd;

fn me() -> i32 {
    std::process::id() as i32
}

#[test]
fn fd_kinds_of_live_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("f")).unwrap();
    let d = std::fs::File::open(dir.path()).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (unix, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
    let (pr, _pw) = nix::unistd::pipe().unwrap();
    let cases = [
        (file.as_raw_fd(), FdKind::RegularFile),
        (d.as_raw_fd(), FdKind::Directory),
        (null.as_raw_fd(), FdKind::CharDevice),
        (listener.as_raw_fd(), FdKind::TcpSocket),
        (tcp.as_raw_fd(), FdKind::TcpSocket),
        (udp.as_raw_fd(), FdKind::UdpSocket),
        (unix.as_raw_fd(), FdKind::UnixSocket),
        (pr.as_raw_fd(), FdKind::Pipe),
    ];
    for (fd, kind) in cases {
        assert_eq!(fd_kind(me(), fd), Some(kind), "fd {fd}");
    }
    assert_eq!(fd_kind(me(), 1_000_000), None);
}

#[test]
fn fifo_and_eventfd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    assert_eq!(fd_kind(me(), fifo.as_raw_fd()), Some(FdKind::Fifo));
    // SAFETY: plain eventfd creation; closed below.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(efd >= 0);
    assert_eq!(fd_kind(me(), efd), Some(FdKind::EventFd));
    // SAFETY: closing the eventfd created above.
    unsafe { libc::close(efd) };
}

#[test]
fn cache_follows_a_reused_fd() {
    let file = tempfile::tempfile().unwrap();
    let fd = file.as_raw_fd();
    let mut cache = FdKindCache::new();
    assert_eq!(cache.get(me(), fd, 1_000), Some(FdKind::RegularFile));
    assert_eq!(cache.len(), 1);
    // The fd now names something else (a file closed, its number reused).
    let null = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: replaces our own fd with a dup of /dev/null.
    assert_eq!(unsafe { libc::dup2(null.as_raw_fd(), fd) }, fd);
    // A young entry is trusted without looking...
    assert_eq!(
        cache.get(me(), fd, 1_000 + FD_KIND_TRUST_NS - 1),
        Some(FdKind::RegularFile)
    );
    // ...an older one is checked against the fd's link, long before the TTL.
    let t = 1_000 + FD_KIND_TRUST_NS + 1;
    assert!(t < FD_KIND_TTL_NS);
    assert_eq!(cache.get(me(), fd, t), Some(FdKind::CharDevice));
    // Closed, the fd keeps its last kind until the TTL (a wait set read
    // after the wait), and none after.
    // SAFETY: closing our own fd (the File is forgotten so it is not closed twice).
    unsafe { libc::close(fd) };
    std::mem::forget(file);
    assert_eq!(cache.get(me(), fd, t + 1), Some(FdKind::CharDevice));
    assert_eq!(cache.get(me(), fd, t + FD_KIND_TTL_NS), None);
}

#[test]
fn readers_of_own_process() {
    let argv = read_cmdline(me()).unwrap();
    assert!(!argv.is_empty());
    assert!(read_exe(me()).unwrap().starts_with('/'));
    assert!(!read_comm(me()).unwrap().is_empty());
    assert_eq!(read_cmdline(-5), None);
    let mut r = ProcReader::default();
    let s = r.read_str("/proc/self/stat").unwrap().to_string();
    assert_eq!(parse::stat(&s).unwrap().tid, me());
}
