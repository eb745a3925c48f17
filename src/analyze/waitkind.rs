//! Classify one off-CPU interval's evidence ([`Cause`]) into a contract wait
//! kind, a [`Dependency`] (may the critical path look through it?) and plain
//! words (`what`).
//!
//! Evidence is tried strongest first: the switch state (runnable means
//! `cpu-contention`), then the kernel stack at switch-out (function names from
//! kallsyms, matched by pattern because kernels rename functions), then the
//! syscall with its fd kind and futex op, then `/proc/TID/wchan` read as a
//! one-frame stack, and last the bare D state. `docs/wait-kinds.md` is the
//! table this file implements; the fixtures in `tests/fixtures/kstacks/` are
//! real stacks captured on Linux 6.18.

use crate::model::trace::{Cause, FdKind, SwitchState, Trace};
use crate::model::WaitKind;

/// Whether the critical path may look through this wait to the task that
/// ended it (contract: dependency waits), or must stop here (a leaf).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dependency {
    /// A leaf wait: disk, network, sleep, terminal, contended mutex, ...
    Leaf,
    /// Waiting for a child process (wait4/waitid).
    Child,
    /// A pipe or FIFO read/write.
    Pipe,
    /// A futex wait that is not a plain mutex: condition variable, join,
    /// semaphore, interpreter lock hand-over.
    Signal,
    /// A poll/select/epoll wait: an event loop waiting for whatever wakes it.
    Poll,
    /// No evidence at all (a switch record without a kernel stack, syscall
    /// or wchan). Looked through when a thread of the tree woke it (the
    /// waker is then what it waited on); otherwise charged as `other`.
    Unknown,
    /// A leaf whose counterpart is another program, outside the profiled
    /// tree: a pipe it writes into (or reads from), a file lock it holds.
    /// The world outside the program, like disk or network; never given by
    /// [`classify`], only by the critical path, which sees who ended the
    /// wait.
    Outside,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classified {
    pub kind: WaitKind,
    pub dependency: Dependency,
    /// Plain words for reasons and summaries, such as "recvfrom() on a TCP socket".
    pub what: String,
}

impl Classified {
    fn new(kind: WaitKind, dependency: Dependency, what: impl Into<String>) -> Self {
        Classified {
            kind,
            dependency,
            what: what.into(),
        }
    }

    fn leaf(kind: WaitKind, what: impl Into<String>) -> Self {
        Classified::new(kind, Dependency::Leaf, what)
    }
}

/// What a wait for a file lock (flock, fcntl) is called. The holder decides
/// its kind on the critical path: another process of the tree (the
/// program's own) makes it `lock`; another program, `other`
/// ([`FILE_LOCK_ELSEWHERE`]).
pub const FILE_LOCK: &str = "a file lock (flock/fcntl)";

/// A file-lock wait that no task of the tree ended: the lock was held by
/// another program.
pub const FILE_LOCK_ELSEWHERE: &str = "a file lock held by another program (flock/fcntl)";

/// Appended to a pipe wait's `what` when the other end is another program.
pub const OTHER_END_OUTSIDE: &str = " whose other end is another program";

/// What a wait with no evidence is called.
pub const UNIDENTIFIED: &str = "an unidentified wait";

/// What a preempted interval is called.
pub const PREEMPTED: &str = "preempted (runnable, waiting for a CPU)";

/// What a Go runtime thread's futex wait is called (see [`Cause::sched_park`]).
pub const SCHED_PARK: &str = "an idle Go runtime thread parked by its scheduler (futex)";

/// Classify one interval's evidence. Never fails: the last resort is `other`.
pub fn classify(trace: &Trace, cause: &Cause) -> Classified {
    if cause.state == SwitchState::Preempted {
        return Classified::leaf(WaitKind::CpuContention, PREEMPTED);
    }
    if cause.sched_park {
        // Go parks an OS thread on a futex when it has no goroutine to run;
        // the peer that hands it one ends the wait. Goroutines waiting on a
        // sync.Mutex or a channel are parked by the runtime, not by the
        // kernel, so no futex here is a lock between the program's threads.
        return Classified::new(WaitKind::Other, Dependency::Signal, SCHED_PARK);
    }
    let frames = kstack_frames(trace, cause);
    let wchan: Vec<String> = cause
        .wchan
        .iter()
        .filter(|w| !w.is_empty() && w.as_str() != "0")
        .map(|w| normalize(w))
        .collect();
    from_frames(&frames, cause)
        .filter(|c| consistent(c, cause))
        .or_else(|| from_syscall(cause))
        .or_else(|| from_frames(&wchan, cause))
        .unwrap_or_else(|| last_resort(cause))
}

/// A disk wait is uninterruptible (D): a disk class from a kernel stack on
/// a wait in S contradicts the switch state. That happens when the stack
/// was not the wait's own but the one learned at the same syscall site (one
/// `read()` call site in libc serves files, pipes and terminals alike);
/// the syscall and fd kind then decide.
fn consistent(c: &Classified, cause: &Cause) -> bool {
    !(c.kind == WaitKind::Disk && cause.state == SwitchState::Sleeping)
}

/// True for waits a thread parks in while it has nothing to do: an event
/// loop's poll (also one that ran into its timeout: a loop idling until its
/// next housekeeping timer, like the JDK HttpServer's dispatcher), or
/// `accept` on a listening socket. Used by the idle rule and the /proc-only
/// fallback.
pub fn is_parking(c: &Classified) -> bool {
    c.dependency == Dependency::Poll
        || c.what.starts_with("accept")
        || c.what.ends_with(POLL_TIMEOUT)
}

/// What a D wait without a known syscall (nor a disk kernel stack) is called.
pub const D_WITHOUT_CALL: &str = "uninterruptible sleep (D, likely disk)";

/// A disk wait the program did not ask for as a call: a page fault, or a D
/// wait without a known syscall (a runtime paging its own code in). Neither
/// overlapping nor moving calls off an event loop shortens it.
pub fn is_paging(kind: WaitKind, what: &str) -> bool {
    kind == WaitKind::Disk && (what.contains("page fault") || what == D_WITHOUT_CALL)
}

/// The end of what a poll/select/epoll wait that ran into its timeout is called.
pub const POLL_TIMEOUT: &str = " until its timeout (a timer)";

/// True when the cause is an epoll wait (epoll_wait, epoll_pwait,
/// epoll_pwait2), from the syscall or the kernel stack: the wait an event
/// loop (asyncio, libuv, Java NIO) parks in.
pub fn is_epoll(trace: &Trace, cause: &Cause) -> bool {
    // Only the waits: epoll_ctl takes the same fd and can block too (on
    // the mm's lock in a page fault, on the instance's mutex), and a loop
    // thread's epoll_ctl taken for its first loop wait made every later
    // wait look like one on a second epoll instance.
    if let Some(n) = syscall(cause) {
        return n.starts_with("epoll_wait") || n.starts_with("epoll_pwait");
    }
    let frames = kstack_frames(trace, cause);
    has(
        &frames,
        &["do_epoll_wait", "ep_poll", "*epoll_wait*", "*epoll_pwait*"],
    ) || cause
        .wchan
        .as_deref()
        .is_some_and(|w| w.contains("ep_poll") || w.contains("epoll_wait"))
}

/// True for disk waits that are synchronous commits or synchronous
/// per-operation writes: fsync, fdatasync, sync_file_range, msync, a
/// direct-I/O write.
pub fn is_sync_commit(c: &Classified) -> bool {
    c.kind == WaitKind::Disk && (c.what.contains("sync") || c.what.contains("direct-I/O"))
}

/// Kernel frame names of the cause's stack, leaf first, normalized; unknown
/// frames (`?`) dropped.
fn kstack_frames(trace: &Trace, cause: &Cause) -> Vec<String> {
    let Some(id) = cause.kstack else {
        return Vec::new();
    };
    if id as usize >= trace.kstacks.len() {
        return Vec::new();
    }
    trace
        .kstack_names(id)
        .into_iter()
        .filter(|n| *n != "?")
        .map(normalize)
        .collect()
}

/// Drop compiler suffixes (`.constprop.0`, `.isra.0`, `.part.0`, `.cold`) and
/// an offset (`+0x37/0x90`).
pub fn normalize(name: &str) -> String {
    let name = name.split('+').next().unwrap_or(name);
    name.split('.').next().unwrap_or(name).to_string()
}

fn has(frames: &[String], pats: &[&str]) -> bool {
    frames
        .iter()
        .any(|f| pats.iter().any(|p| frame_matches(f, p)))
}

/// A tiny glob: `*` at either end of `p` matches anything there
/// (`tcp_*`, `*_recvmsg*`, `*sys_poll`); otherwise the names must be equal.
pub(crate) fn frame_matches(frame: &str, p: &str) -> bool {
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => frame.contains(&rest[..rest.len() - 1]),
        (Some(suffix), None) => frame.ends_with(suffix),
        (None, Some(prefix)) => frame.starts_with(prefix),
        _ => frame == p,
    }
}

/// The kernel-stack rules, most specific first. `None` when the frames do not
/// tell (empty, or only generic scheduler frames).
fn from_frames(f: &[String], cause: &Cause) -> Option<Classified> {
    if f.is_empty() {
        return None;
    }
    page_fault(f)
        .or_else(|| child(f))
        .or_else(|| pipe(f))
        .or_else(|| terminal(f))
        .or_else(|| network(f, cause))
        .or_else(|| poll(f, cause))
        .or_else(|| futex_frames(f, cause))
        .or_else(|| sleep(f, cause))
        .or_else(|| event_fds(f))
        .or_else(|| disk(f, cause))
        .or_else(|| kernel_lock(f))
        .or_else(|| misc(f))
        .or_else(|| preempted(f))
}

fn page_fault(f: &[String]) -> Option<Classified> {
    if !has(
        f,
        &["exc_page_fault", "handle_mm_fault", "do_user_addr_fault"],
    ) {
        return None;
    }
    if has(f, &["rwsem_down_*", "lock_mm_and_find_vma"]) {
        return Some(Classified::leaf(
            WaitKind::Lock,
            "the kernel's mmap_lock (page fault)",
        ));
    }
    Some(Classified::leaf(WaitKind::Disk, "a major page fault"))
}

fn child(f: &[String]) -> Option<Classified> {
    if has(f, &["__do_sys_vfork", "__x64_sys_vfork"])
        || (has(f, &["kernel_clone"]) && (f.len() == 1 || has(f, &["wait_for_completion*"])))
    {
        return Some(Classified::new(
            WaitKind::Child,
            Dependency::Child,
            "vfork() until the child execs or exits",
        ));
    }
    if has(f, &["kernel_waitid", "__do_sys_waitid", "__x64_sys_waitid"]) {
        return Some(Classified::new(
            WaitKind::Child,
            Dependency::Child,
            "waitid() for a child",
        ));
    }
    if has(
        f,
        &[
            "do_wait",
            "kernel_wait4",
            "__do_sys_wait4",
            "__x64_sys_wait4",
        ],
    ) {
        return Some(Classified::new(
            WaitKind::Child,
            Dependency::Child,
            "wait4() for a child",
        ));
    }
    None
}

fn pipe(f: &[String]) -> Option<Classified> {
    let what = if has(f, &["anon_pipe_read", "pipe_read"]) {
        "read() on a pipe"
    } else if has(f, &["anon_pipe_write", "pipe_write"]) {
        "write() on a pipe"
    } else if has(f, &["wait_for_partner", "fifo_open"]) {
        "open() of a FIFO"
    } else {
        return None;
    };
    Some(Classified::new(WaitKind::Ipc, Dependency::Pipe, what))
}

fn terminal(f: &[String]) -> Option<Classified> {
    if has(f, &["n_tty_read", "tty_read"]) {
        return Some(Classified::leaf(WaitKind::Terminal, "read() on a terminal"));
    }
    if has(f, &["n_tty_write", "tty_write", "file_tty_write"]) {
        return Some(Classified::leaf(
            WaitKind::Terminal,
            "write() on a terminal",
        ));
    }
    None
}

fn network(f: &[String], cause: &Cause) -> Option<Classified> {
    let op = if has(f, &["inet_csk_accept", "do_accept", "*sys_accept*"]) {
        "accept()"
    } else if has(
        f,
        &["*_stream_connect", "unix_wait_for_peer", "__sys_connect*"],
    ) {
        "connect()"
    } else if has(
        f,
        &[
            "*_recvmsg*",
            "sk_wait_data",
            "__skb_wait_for_more_packets",
            "__skb_recv*",
            "unix_stream_read_generic",
            "__sys_recv*",
        ],
    ) {
        "recv"
    } else if has(
        f,
        &[
            "*_sendmsg*",
            "sk_stream_wait_memory",
            "sock_alloc_send_pskb",
            "__sys_send*",
            "unix_wait_for_peer",
        ],
    ) {
        "send"
    } else {
        return None;
    };
    let proto = if has(f, &["tcp_*", "inet_csk_accept", "__inet_stream_connect"]) {
        "a TCP socket"
    } else if has(f, &["udp_*", "__skb_recv_udp"]) {
        "a UDP socket"
    } else if has(f, &["unix_*"]) {
        "a Unix socket"
    } else {
        socket_words(cause.fd_kind)
    };
    let verb = match op {
        "recv" => syscall_call(cause).unwrap_or_else(|| "recv()".into()),
        "send" => syscall_call(cause).unwrap_or_else(|| "send()".into()),
        other => other.to_string(),
    };
    let prep = if op == "connect()" { "to" } else { "on" };
    Some(Classified::leaf(
        WaitKind::Network,
        format!("{verb} {prep} {proto}"),
    ))
}

fn socket_words(fd: Option<FdKind>) -> &'static str {
    match fd {
        Some(FdKind::TcpSocket) => "a TCP socket",
        Some(FdKind::UdpSocket) => "a UDP socket",
        Some(FdKind::UnixSocket) => "a Unix socket",
        _ => "a socket",
    }
}

fn is_socket(fd: Option<FdKind>) -> bool {
    matches!(
        fd,
        Some(FdKind::TcpSocket | FdKind::UdpSocket | FdKind::UnixSocket | FdKind::Socket)
    )
}

fn poll(f: &[String], cause: &Cause) -> Option<Classified> {
    let name = if has(
        f,
        &["do_epoll_wait", "ep_poll", "*epoll_wait*", "*epoll_pwait*"],
    ) {
        "epoll_wait()"
    } else if has(
        f,
        &["do_select", "core_sys_select", "*pselect*", "*sys_select"],
    ) {
        "select()"
    } else if has(f, &["do_sys_poll", "*sys_poll", "*sys_ppoll"]) {
        "poll()"
    } else {
        return None;
    };
    Some(poll_class(
        syscall_call(cause).unwrap_or_else(|| name.into()),
        cause,
    ))
}

/// An event-loop wait: `network` when the fd evidence names a socket, else
/// `other` (see docs/wait-kinds.md); always [`Dependency::Poll`].
fn poll_class(call: String, cause: &Cause) -> Classified {
    let epoll = call.starts_with("epoll");
    if cause.timed_out && is_socket(cause.fd_kind) && !epoll {
        // poll()/select() on a socket with a timeout is how blocking sockets
        // with a timeout wait (CPython, curl): the timer is bookkeeping, the
        // wait is for the peer.
        let what = format!("{call} on {}", socket_words(cause.fd_kind));
        return Classified::leaf(WaitKind::Network, what);
    }
    if cause.timed_out {
        // Nothing it watched became ready: the loop slept until its next
        // timer (asyncio.sleep, setTimeout, a poll timeout).
        return Classified::leaf(WaitKind::Sleep, format!("{call}{POLL_TIMEOUT}"));
    }
    if epoll && cause.sockets >= 2 {
        let what = format!("{call} on {} sockets at once{OVERLAPPED}", cause.sockets);
        return Classified::new(WaitKind::Network, Dependency::Poll, what);
    }
    if is_socket(cause.fd_kind) {
        let what = format!("{call} on {}", socket_words(cause.fd_kind));
        return Classified::new(WaitKind::Network, Dependency::Poll, what);
    }
    Classified::new(WaitKind::Other, Dependency::Poll, call)
}

/// The end of what an epoll wait on several sockets is called: waits that
/// already overlap.
pub const OVERLAPPED: &str = " (already overlapped)";

/// True when the wait is in a futex (kernel stack, syscall or wchan).
pub fn is_futex_wait(trace: &Trace, cause: &Cause) -> bool {
    const FUTEX: &[&str] = &["futex_*", "__futex_*", "do_futex", "__x64_sys_futex*"];
    cause.state != SwitchState::Preempted
        && (has(&kstack_frames(trace, cause), FUTEX)
            || matches!(syscall(cause), Some("futex" | "futex_waitv"))
            || cause
                .wchan
                .as_deref()
                .is_some_and(|w| has(&[normalize(w)], FUTEX)))
}

fn futex_frames(f: &[String], cause: &Cause) -> Option<Classified> {
    has(f, &["futex_*", "__futex_*", "do_futex", "__x64_sys_futex*"]).then(|| futex(cause.futex_op))
}

/// Futex waits by operation: plain FUTEX_WAIT and the PI locks are mutexes
/// (a leaf); the bitset waits glibc uses for condition variables, joins and
/// semaphores (and CPython for its GIL) are signals the critical path may look
/// through.
pub fn futex(op: Option<u32>) -> Classified {
    const WAIT: u32 = 0;
    const LOCK_PI: u32 = 6;
    const TRYLOCK_PI: u32 = 8;
    const WAIT_BITSET: u32 = 9;
    const WAIT_REQUEUE_PI: u32 = 11;
    const LOCK_PI2: u32 = 13;
    let Some(op) = op else {
        return Classified::leaf(WaitKind::Lock, "a futex wait (operation unknown)");
    };
    match op & 0x7f {
        WAIT => Classified::leaf(WaitKind::Lock, "a contended mutex (futex)"),
        LOCK_PI | LOCK_PI2 | TRYLOCK_PI => Classified::leaf(
            WaitKind::Lock,
            "a contended priority-inheritance mutex (FUTEX_LOCK_PI)",
        ),
        WAIT_BITSET | WAIT_REQUEUE_PI => Classified::new(
            WaitKind::Lock,
            Dependency::Signal,
            format!("a condition variable, join or semaphore (futex op {op:#x})"),
        ),
        _ => Classified::leaf(WaitKind::Lock, format!("a futex wait (op {op:#x})")),
    }
}

fn sleep(f: &[String], cause: &Cause) -> Option<Classified> {
    if has(f, &["__x64_sys_nanosleep", "__do_sys_nanosleep"]) {
        return Some(Classified::leaf(WaitKind::Sleep, "nanosleep()"));
    }
    if has(
        f,
        &[
            "do_nanosleep",
            "hrtimer_nanosleep",
            "common_nsleep*",
            "*sys_clock_nanosleep",
        ],
    ) {
        return Some(clock_sleep(cause));
    }
    None
}

/// What a `clock_nanosleep` until an absolute time is called.
pub const ABS_SLEEP: &str = "clock_nanosleep() until an absolute time (TIMER_ABSTIME)";
/// ... and one whose deadlines follow a fixed period (see
/// [`Cause::periodic`]).
pub const SCHEDULED_SLEEP: &str =
    "clock_nanosleep() until the next tick of a fixed schedule (TIMER_ABSTIME, periodic deadlines)";

/// `clock_nanosleep`: a relative sleep, a sleep until an absolute time, or
/// the next tick of a periodic schedule (the recorder compares deadlines).
fn clock_sleep(cause: &Cause) -> Classified {
    let what = if cause.periodic {
        SCHEDULED_SLEEP
    } else if cause.abs_time {
        ABS_SLEEP
    } else {
        "clock_nanosleep()"
    };
    Classified::leaf(WaitKind::Sleep, what)
}

fn event_fds(f: &[String]) -> Option<Classified> {
    if has(f, &["timerfd_read*"]) {
        return Some(Classified::leaf(WaitKind::Sleep, "read() on a timerfd"));
    }
    if has(f, &["eventfd_read"]) {
        return Some(Classified::new(
            WaitKind::Ipc,
            Dependency::Signal,
            "read() on an eventfd",
        ));
    }
    if has(
        f,
        &[
            "signalfd_*",
            "do_sigtimedwait",
            "*sys_rt_sigtimedwait",
            "*sys_pause",
            "*sys_rt_sigsuspend",
            "sigsuspend",
        ],
    ) {
        return Some(signal_wait());
    }
    None
}

/// sigsuspend/pause/sigtimedwait/signalfd: what shells do in `wait` (dash
/// waits for SIGCHLD in sigsuspend). The sender, often an exiting child, can
/// be looked through.
pub fn signal_wait() -> Classified {
    Classified::new(WaitKind::Other, Dependency::Signal, SIGNAL_WAIT)
}

/// What a signal wait is called.
pub const SIGNAL_WAIT: &str = "waiting for a signal (sigsuspend, pause, sigtimedwait)";

fn disk(f: &[String], cause: &Cause) -> Option<Classified> {
    let disky = has(
        f,
        &[
            "io_schedule*",
            "bit_wait_io",
            "folio_wait_*",
            "wait_on_page_*",
            "submit_bio_wait",
            "blkdev_issue_flush",
            "*iomap_dio_rw",
            "*_direct_IO",
            "do_fsync",
            "*_sync_file",
            "filemap_read",
            "jbd2_*",
            "*sys_sync*",
            "*sys_msync",
            "*sys_fdatasync",
            "*sys_fsync",
        ],
    );
    if !disky {
        return None;
    }
    let what = if has(f, &["*sys_fdatasync"]) {
        "fdatasync()"
    } else if has(f, &["do_fsync", "*_sync_file", "*sys_fsync"]) {
        if cause.syscall_nr == Some(75) {
            "fdatasync()"
        } else {
            "fsync()"
        }
    } else if has(f, &["*sys_sync_file_range"]) {
        "sync_file_range()"
    } else if has(f, &["*sys_msync"]) {
        "msync()"
    } else if has(f, &["*sys_sync", "*sys_syncfs"]) {
        "sync()"
    } else if has(f, &["*iomap_dio_rw", "*_direct_IO"]) {
        if has(f, &["*write*"]) {
            "a direct-I/O write()"
        } else {
            "a direct-I/O read()"
        }
    } else if has(f, &["filemap_read", "*_file_read_iter"]) {
        "read() from a file (page cache miss)"
    } else if has(f, &["*write*"]) {
        "write() to a file (waiting on writeback)"
    } else {
        "disk I/O"
    };
    Some(Classified::leaf(WaitKind::Disk, what))
}

fn kernel_lock(f: &[String]) -> Option<Classified> {
    if has(
        f,
        &[
            "flock_lock_inode_wait",
            "locks_lock_inode_wait",
            "*sys_flock",
            "fcntl_setlk*",
            "posix_lock_*",
        ],
    ) {
        return Some(Classified::leaf(WaitKind::Lock, FILE_LOCK));
    }
    if has(
        f,
        &[
            "rwsem_down_*",
            "__mutex_lock*",
            "mutex_lock*",
            "down_read*",
            "down_write*",
        ],
    ) {
        return Some(Classified::leaf(
            WaitKind::Lock,
            "a kernel lock (mutex or rwsem)",
        ));
    }
    None
}

fn misc(f: &[String]) -> Option<Classified> {
    if has(f, &["io_cqring_wait", "*io_uring_enter*"]) {
        return Some(Classified::leaf(WaitKind::Other, "io_uring_enter()"));
    }
    if has(
        f,
        &["do_signal_stop", "ptrace_stop", "do_exit", "do_group_exit"],
    ) {
        return Some(Classified::leaf(WaitKind::Other, "stopped or exiting"));
    }
    if has(f, &["*sys_sched_yield", "do_sched_yield"]) {
        return Some(Classified::leaf(WaitKind::CpuContention, "sched_yield()"));
    }
    None
}

/// A stack with no blocking frames, only preemption points: the thread was
/// preempted even if the state was not reported as R.
fn preempted(f: &[String]) -> Option<Classified> {
    has(
        f,
        &[
            "irqentry_exit*",
            "__cond_resched",
            "preempt_schedule*",
            "exit_to_user_mode*",
            "asm_sysvec_*",
        ],
    )
    .then(|| Classified::leaf(WaitKind::CpuContention, PREEMPTED))
}

/// Syscall names by x86_64 number, for the syscalls the classifier knows.
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    crate::model::syscalls::name(nr)
}

/// The syscall's name, from the name the source gave or the number.
fn syscall(cause: &Cause) -> Option<&str> {
    cause
        .syscall_name
        .as_deref()
        .map(|n| {
            n.trim_start_matches("sys_")
                .trim_start_matches("__x64_sys_")
        })
        .or_else(|| cause.syscall_nr.and_then(syscall_name))
}

/// "recvfrom()" style.
fn syscall_call(cause: &Cause) -> Option<String> {
    syscall(cause).map(|n| format!("{n}()"))
}

/// The fallback when there is no usable kernel stack: syscall + fd kind +
/// futex op. `None` when the syscall alone cannot tell (read of an unknown
/// fd), so that wchan gets a say.
fn from_syscall(cause: &Cause) -> Option<Classified> {
    use Dependency as D;
    use WaitKind as K;
    let name = syscall(cause)?;
    let call = format!("{name}()");
    Some(match name {
        "read" | "pread64" | "readv" | "preadv" | "preadv2" | "write" | "pwrite64" | "writev"
        | "pwritev" | "pwritev2" => return by_fd(&call, cause),
        "poll" | "ppoll" | "select" | "pselect6" | "epoll_wait" | "epoll_pwait"
        | "epoll_pwait2" => poll_class(call, cause),
        "nanosleep" => Classified::leaf(K::Sleep, call),
        "clock_nanosleep" => clock_sleep(cause),
        "accept" | "accept4" => Classified::leaf(
            K::Network,
            format!("{call} on {}", socket_words(cause.fd_kind)),
        ),
        "connect" => Classified::leaf(
            K::Network,
            format!("{call} to {}", socket_words(cause.fd_kind)),
        ),
        "sendto" | "sendmsg" | "recvfrom" | "recvmsg" | "recvmmsg" | "sendmmsg" => {
            Classified::leaf(
                K::Network,
                format!("{call} on {}", socket_words(cause.fd_kind)),
            )
        }
        "wait4" | "waitid" => Classified::new(K::Child, D::Child, format!("{call} for a child")),
        "vfork" => Classified::new(K::Child, D::Child, "vfork() until the child execs or exits"),
        "clone" | "clone3" if cause.state == SwitchState::DiskSleep => {
            Classified::new(K::Child, D::Child, "vfork() until the child execs or exits")
        }
        "fsync" | "fdatasync" | "sync_file_range" | "msync" | "sync" | "syncfs" => {
            Classified::leaf(K::Disk, call)
        }
        "futex" => futex(cause.futex_op),
        "futex_waitv" => Classified::new(K::Lock, D::Signal, "futex_waitv()"),
        "flock" => Classified::leaf(K::Lock, FILE_LOCK),
        "sched_yield" => Classified::leaf(K::CpuContention, call),
        "io_uring_enter" => Classified::leaf(K::Other, call),
        "pause" | "rt_sigsuspend" | "rt_sigtimedwait" => signal_wait(),
        _ => return None,
    })
}

/// read/write family by what the fd is.
fn by_fd(call: &str, cause: &Cause) -> Option<Classified> {
    use Dependency as D;
    use WaitKind as K;
    Some(match cause.fd_kind? {
        FdKind::Pipe => Classified::new(K::Ipc, D::Pipe, format!("{call} on a pipe")),
        FdKind::Fifo => Classified::new(K::Ipc, D::Pipe, format!("{call} on a FIFO")),
        FdKind::Tty => Classified::leaf(K::Terminal, format!("{call} on a terminal")),
        k @ (FdKind::TcpSocket | FdKind::UdpSocket | FdKind::UnixSocket | FdKind::Socket) => {
            Classified::leaf(K::Network, format!("{call} on {}", socket_words(Some(k))))
        }
        FdKind::RegularFile | FdKind::BlockDevice => {
            Classified::leaf(K::Disk, format!("{call} on a file"))
        }
        FdKind::EventFd => Classified::new(K::Ipc, D::Signal, format!("{call} on an eventfd")),
        FdKind::TimerFd => Classified::leaf(K::Sleep, format!("{call} on a timerfd")),
        FdKind::SignalFd => signal_wait(),
        FdKind::Inotify => Classified::leaf(K::Other, format!("{call} on an inotify fd")),
        FdKind::CharDevice | FdKind::Epoll | FdKind::Directory | FdKind::Other => return None,
    })
}

fn last_resort(cause: &Cause) -> Classified {
    match (cause.state, syscall(cause)) {
        (SwitchState::DiskSleep, Some(n)) => Classified::leaf(
            WaitKind::Disk,
            format!("{n}() in uninterruptible sleep (D, likely disk)"),
        ),
        (SwitchState::DiskSleep, None) => Classified::leaf(WaitKind::Disk, D_WITHOUT_CALL),
        (_, Some(n)) => Classified::leaf(WaitKind::Other, format!("{n}()")),
        _ => Classified::new(WaitKind::Other, Dependency::Unknown, UNIDENTIFIED),
    }
}
