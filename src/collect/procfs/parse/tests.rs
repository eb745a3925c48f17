//! Parser tests on files captured from live processes (see
//! `tests/fixtures/proc/README.md` for what each fixture shows).

use super::*;

fn fixture(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

fn in_syscall(name: &str) -> (i64, [u64; 6]) {
    match syscall(&fixture(&format!("{name}.syscall"))) {
        SyscallState::InSyscall { nr, args } => (nr, args),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn stat_of_sleeping_and_running_tasks() {
    let s = stat(&fixture("nanosleep.stat")).unwrap();
    assert_eq!(
        (s.tid, s.comm.as_str(), s.state, s.ppid),
        (10506, "sleep", 'S', 1)
    );
    assert_eq!(s.num_threads, 1);
    let r = stat(&fixture("running.stat")).unwrap();
    assert_eq!((r.comm.as_str(), r.state), ("sh", 'R'));
    assert!(r.utime > 0, "the busy loop had user time");
    assert!(r.starttime > 0);
}

#[test]
fn stat_comm_with_spaces_and_parentheses() {
    let s = stat(&fixture("comm_parens.stat")).unwrap();
    assert_eq!(s.comm, "we ird) (x");
    assert_eq!((s.state, s.ppid, s.num_threads), ('S', 11095, 1));
}

#[test]
fn stat_rejects_garbage() {
    assert!(stat("").is_err());
    assert!(stat("12 (x").is_err());
}

#[test]
fn schedstat_fields() {
    let (on, rq, slices) = schedstat(&fixture("futex_worker_sleep.schedstat")).unwrap();
    assert_eq!((on, rq, slices), (61301, 27731, 4));
    assert!(schedstat("12").is_err());
}

#[test]
fn syscall_of_each_wait() {
    assert_eq!(in_syscall("nanosleep").0, 230);
    assert_eq!(
        in_syscall("pipe_read"),
        (
            0,
            [0, 0x7f657c5d7000, 0x20000, 0x7f657c66ab60, 0xffffffff, 0]
        )
    );
    assert_eq!(in_syscall("wait4").0, 61);
    let (nr, args) = in_syscall("futex");
    assert_eq!((nr, args[1]), (SYS_FUTEX, 0x189));
    assert_eq!(in_syscall("tcp_recvfrom").0, 45);
    assert_eq!(in_syscall("tcp_recvfrom").1[0], 4);
    assert_eq!(in_syscall("epoll_wait").0, 232);
    assert_eq!(syscall(&fixture("running.syscall")), SyscallState::Running);
    assert_eq!(
        syscall(&fixture("not_in_syscall.syscall")),
        SyscallState::NotInSyscall
    );
    assert_eq!(syscall("garbage"), SyscallState::NotInSyscall);
    assert_eq!(syscall("0 0x1 0x2"), SyscallState::NotInSyscall);
}

#[test]
fn wchan_values() {
    assert_eq!(
        wchan(&fixture("nanosleep.wchan")),
        Some("hrtimer_nanosleep")
    );
    assert_eq!(wchan(&fixture("pipe_read.wchan")), Some("anon_pipe_read"));
    assert_eq!(wchan(&fixture("futex.wchan")), Some("futex_do_wait"));
    assert_eq!(wchan(&fixture("tcp_recvfrom.wchan")), Some("wait_woken"));
    assert_eq!(wchan(&fixture("epoll_wait.wchan")), Some("do_epoll_wait"));
    assert_eq!(wchan(&fixture("wait4.wchan")), Some("do_wait"));
    assert_eq!(wchan(&fixture("running.wchan")), None);
    assert_eq!(wchan(""), None);
}

#[test]
fn io_counters() {
    let i = io(&fixture("nanosleep.io")).unwrap();
    assert_eq!(
        (i.rchar, i.syscr, i.read_bytes, i.write_bytes),
        (6976, 10, 0, 0)
    );
    assert!(io("rchar: x\n").is_err());
}

#[test]
fn fd_kinds_from_link_text() {
    let cases = [
        ("socket:[18105]", FdKind::Socket),
        ("pipe:[4]", FdKind::Pipe),
        ("anon_inode:[eventpoll]", FdKind::Epoll),
        ("anon_inode:[eventfd]", FdKind::EventFd),
        ("anon_inode:[timerfd]", FdKind::TimerFd),
        ("anon_inode:[signalfd]", FdKind::SignalFd),
        ("anon_inode:inotify", FdKind::Inotify),
        ("anon_inode:[pidfd]", FdKind::Other),
        ("/dev/pts/3", FdKind::Tty),
        ("/dev/tty", FdKind::Tty),
        ("/dev/sda", FdKind::BlockDevice),
        ("/dev/nvme0n1p2", FdKind::BlockDevice),
        ("/dev/null", FdKind::CharDevice),
        ("/home/u/data.csv", FdKind::RegularFile),
        ("/tmp/x (deleted)", FdKind::RegularFile),
        ("net:[4026531840]", FdKind::Other),
    ];
    for (link, kind) in cases {
        assert_eq!(fd_kind(link), kind, "{link}");
    }
}

#[test]
fn socket_tables() {
    assert_eq!(socket_inode("socket:[18105]"), Some(18105));
    assert_eq!(socket_inode("pipe:[1]"), None);
    let (tcp, udp, unix) = (fixture("net_tcp"), fixture("net_udp"), fixture("net_unix"));
    assert!(net_has_inode(NetTable::Inet, &tcp, 18105));
    assert!(net_has_inode(NetTable::Inet, &tcp, 18104));
    assert!(!net_has_inode(NetTable::Inet, &tcp, 17007));
    assert!(net_has_inode(NetTable::Inet, &udp, 17007));
    assert!(net_has_inode(NetTable::Unix, &unix, 18107));
    assert!(!net_has_inode(NetTable::Unix, &unix, 18105));
    assert!(!net_has_inode(NetTable::Inet, &fixture("net_tcp6"), 18105));
}

#[test]
fn fd_arguments_and_cmdline() {
    assert!(fd_arg(0) && fd_arg(45) && fd_arg(232) && fd_arg(288));
    assert!(!fd_arg(230) && !fd_arg(SYS_FUTEX) && !fd_arg(61) && !fd_arg(7));
    assert_eq!(cmdline(b"sh\0-c\0exit 3\0"), ["sh", "-c", "exit 3"]);
    assert!(cmdline(b"").is_empty());
    assert_eq!(children("12 34 ").collect::<Vec<_>>(), [12, 34]);
}
