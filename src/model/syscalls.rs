//! The x86_64 syscalls wallprof names: number, name, and whether the first
//! argument is a file descriptor. One table for the collectors (which see
//! numbers in /proc and names in kernel frames) and the analysis.

/// (number, name, first argument is an fd).
const TABLE: &[(i64, &str, bool)] = &[
    (0, "read", true),
    (1, "write", true),
    (7, "poll", false),
    (9, "mmap", false),
    (10, "mprotect", false),
    (11, "munmap", false),
    (16, "ioctl", true),
    (17, "pread64", true),
    (18, "pwrite64", true),
    (19, "readv", true),
    (20, "writev", true),
    (23, "select", false),
    (24, "sched_yield", false),
    (26, "msync", false),
    (34, "pause", false),
    (35, "nanosleep", false),
    (40, "sendfile64", true),
    (42, "connect", true),
    (43, "accept", true),
    (44, "sendto", true),
    (45, "recvfrom", true),
    (46, "sendmsg", true),
    (47, "recvmsg", true),
    (56, "clone", false),
    (58, "vfork", false),
    (59, "execve", false),
    (61, "wait4", false),
    (72, "fcntl", true),
    (73, "flock", true),
    (74, "fsync", true),
    (75, "fdatasync", true),
    (128, "rt_sigtimedwait", false),
    (130, "rt_sigsuspend", false),
    (202, "futex", false),
    (230, "clock_nanosleep", false),
    (231, "exit_group", false),
    (232, "epoll_wait", true),
    (233, "epoll_ctl", true),
    (247, "waitid", false),
    (270, "pselect6", false),
    (271, "ppoll", false),
    (277, "sync_file_range", true),
    (281, "epoll_pwait", true),
    (288, "accept4", true),
    (295, "preadv", true),
    (296, "pwritev", true),
    (299, "recvmmsg", true),
    (307, "sendmmsg", true),
    (326, "copy_file_range", true),
    (327, "preadv2", true),
    (328, "pwritev2", true),
    (426, "io_uring_enter", false),
    (435, "clone3", false),
    (441, "epoll_pwait2", true),
    (449, "futex_waitv", false),
];

/// Numbers the collectors match on (in `match` arms, hence constants); the
/// test below checks each against the table.
pub mod nr {
    pub const POLL: i64 = 7;
    pub const SELECT: i64 = 23;
    pub const FUTEX: i64 = 202;
    pub const CLOCK_NANOSLEEP: i64 = 230;
    pub const EPOLL_WAIT: i64 = 232;
    pub const PSELECT6: i64 = 270;
    pub const PPOLL: i64 = 271;
    pub const EPOLL_PWAIT: i64 = 281;
    pub const EPOLL_PWAIT2: i64 = 441;
}

/// The name of syscall `nr`.
pub fn name(nr: i64) -> Option<&'static str> {
    TABLE.iter().find(|e| e.0 == nr).map(|e| e.1)
}

/// The number and table name of syscall `name`.
pub fn by_name(name: &str) -> Option<(i64, &'static str)> {
    TABLE.iter().find(|e| e.1 == name).map(|e| (e.0, e.1))
}

/// Whether syscall `nr`'s first argument is a file descriptor.
pub fn fd_first(nr: i64) -> bool {
    TABLE.iter().any(|e| e.0 == nr && e.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_numbers_match_the_table() {
        for (n, want) in [
            (nr::POLL, "poll"),
            (nr::SELECT, "select"),
            (nr::FUTEX, "futex"),
            (nr::CLOCK_NANOSLEEP, "clock_nanosleep"),
            (nr::EPOLL_WAIT, "epoll_wait"),
            (nr::PSELECT6, "pselect6"),
            (nr::PPOLL, "ppoll"),
            (nr::EPOLL_PWAIT, "epoll_pwait"),
            (nr::EPOLL_PWAIT2, "epoll_pwait2"),
        ] {
            assert_eq!(name(n), Some(want), "syscall {n}");
        }
    }

    #[test]
    fn lookups_agree() {
        assert_eq!(name(230), Some("clock_nanosleep"));
        assert_eq!(by_name("recvfrom"), Some((45, "recvfrom")));
        assert!(fd_first(0) && fd_first(288) && !fd_first(202) && !fd_first(61));
        assert_eq!(name(9999), None);
        let mut nrs: Vec<i64> = TABLE.iter().map(|e| e.0).collect();
        nrs.dedup();
        assert_eq!(nrs.len(), TABLE.len(), "numbers are unique and sorted");
    }
}
