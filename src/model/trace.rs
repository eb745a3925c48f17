//! The recording: what the collectors observed, before any analysis.
//!
//! Every collector (perf, /proc, a replayed fixture) produces a [`Trace`]; the
//! analysis turns a `Trace` into a profile. Times are CLOCK_MONOTONIC
//! nanoseconds ([`Ns`]), the clock perf is told to use (`use_clockid`), so perf
//! records, /proc readings and the launcher's own timestamps line up.
//!
//! The central idea is the per-thread timeline: a thread lives from `start` to
//! `end`, and its off-CPU intervals ([`OffCpu`]) are recorded with the
//! evidence of why it waited ([`Cause`], interned) and, where known, who woke
//! it. On-CPU time is measured separately (switch-in/out pairs, schedstat,
//! samples), so the accounting identity on-CPU + runqueue + blocked = lifetime
//! is a check, not a tautology.

use std::collections::{BTreeMap, HashMap};

/// CLOCK_MONOTONIC nanoseconds.
pub type Ns = u64;
pub type Pid = i32;
pub type Tid = i32;

/// How the thread left the CPU (sched_switch `prev_state`, or /proc state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SwitchState {
    /// TASK_INTERRUPTIBLE ("S").
    Sleeping,
    /// TASK_UNINTERRUPTIBLE ("D").
    DiskSleep,
    /// Still runnable: preempted, or woken before the switch completed ("R").
    Preempted,
    /// Stopped, traced, dead, idle or anything else.
    Other,
    /// The source did not say.
    #[default]
    Unknown,
}

/// What kind of file a descriptor refers to (`/proc/PID/fd/N` link target).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FdKind {
    RegularFile,
    BlockDevice,
    CharDevice,
    Tty,
    TcpSocket,
    UdpSocket,
    UnixSocket,
    /// A socket whose protocol could not be told.
    Socket,
    Pipe,
    Fifo,
    EventFd,
    Epoll,
    TimerFd,
    SignalFd,
    Inotify,
    Directory,
    Other,
}

/// Evidence for one off-CPU interval. Interned in [`Trace::causes`]: most
/// intervals share a handful of causes, so intervals carry a [`CauseId`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Cause {
    pub state: SwitchState,
    /// Kernel stack at switch-out, leaf first (index into [`Trace::kstacks`]).
    pub kstack: Option<StackId>,
    /// Syscall number (x86_64 numbering) the thread was in, when known.
    pub syscall_nr: Option<i64>,
    /// Syscall name when the source gave a name instead (or as well).
    pub syscall_name: Option<String>,
    /// First syscall argument when it names a file descriptor.
    pub fd: Option<i32>,
    pub fd_kind: Option<FdKind>,
    /// Futex operation (second futex argument), when in futex().
    pub futex_op: Option<u32>,
    /// `/proc/TID/wchan`, the fallback when kernel stacks cannot be had.
    pub wchan: Option<String>,
    /// The wait had a timeout (poll, select, epoll) and lasted until it
    /// expired: a timer wait, whatever the fds were.
    pub timed_out: bool,
    /// A sleep until an absolute time (`clock_nanosleep` with
    /// `TIMER_ABSTIME`, its second argument). CPython's `time.sleep` sleeps
    /// this way too (deadline = now + duration), so on its own it does not
    /// make a schedule; see `periodic`.
    pub abs_time: bool,
    /// An absolute-time sleep whose deadline came the same fixed step after
    /// the thread's previous deadline as that one after its own predecessor
    /// (within 10 ns): a periodic schedule (`next += period`), not a
    /// delay computed from the current time.
    pub periodic: bool,
    /// For an epoll wait: how many outside sockets (TCP, UDP) the epoll set
    /// held, up to 255. Two or more are waits already overlapped.
    pub sockets: u8,
    /// A futex wait of a thread whose runtime parks idle OS threads on
    /// futexes between tasks (Go's scheduler): the thread waits for work
    /// handed over by a peer, not for a lock of the program's. Set by the
    /// analysis from the process's runtime (`analyze::mark_scheduler_parks`),
    /// never by a collector.
    pub sched_park: bool,
}

pub type CauseId = u32;
pub type StackId = u32;

/// One off-CPU interval of a thread: it switched out at `start`, became
/// runnable again at `wake` (when the wakeup was observed) and ran again at
/// `end`. `[start, wake)` is blocked time, `[wake, end)` runqueue time; a
/// preempted interval is runqueue time as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffCpu {
    pub start: Ns,
    pub wake: Option<Ns>,
    pub end: Ns,
    pub cause: CauseId,
    /// The task that woke this one (sched_wakeup issued in its context), when
    /// observed. Not necessarily in the traced tree.
    pub waker: Option<Tid>,
    /// The user stack at switch-out (index into [`Trace::stacks`]), for the
    /// subset of switch-outs whose user stack was captured.
    pub ustack: Option<StackId>,
}

impl OffCpu {
    /// Time spent blocked (not runnable), in ns.
    pub fn blocked_ns(&self, state: SwitchState) -> Ns {
        if state == SwitchState::Preempted {
            return 0;
        }
        self.wake.unwrap_or(self.end).clamp(self.start, self.end) - self.start
    }

    /// Time spent runnable but waiting for a CPU, in ns.
    pub fn runqueue_ns(&self, state: SwitchState) -> Ns {
        if state == SwitchState::Preempted {
            return self.end - self.start;
        }
        self.end - self.wake.unwrap_or(self.end).clamp(self.start, self.end)
    }
}

/// How the timeline of a thread was measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Fidelity {
    /// Exact switch-out / wakeup / switch-in records from perf.
    Switches,
    /// Reconstructed from periodic /proc samples: intervals are as precise as
    /// the sampling period.
    Sampled,
    #[default]
    None,
}

/// Per-thread counters read from `/proc/TID/schedstat` and `stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedStat {
    /// Time on CPU (schedstat field 1), ns.
    pub on_cpu_ns: u64,
    /// Time runnable but waiting (schedstat field 2), ns.
    pub runqueue_ns: u64,
    /// Number of timeslices run (schedstat field 3).
    pub timeslices: u64,
    /// utime and stime from stat, in ns (clock-tick resolution).
    pub utime_ns: u64,
    pub stime_ns: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ThreadTrace {
    pub tid: Tid,
    pub pid: Pid,
    pub comm: String,
    /// When the thread was created (or observed first), and when it ended.
    pub start: Ns,
    pub end: Option<Ns>,
    /// Off-CPU intervals in time order, non-overlapping.
    pub offcpu: Vec<OffCpu>,
    pub timeline: Fidelity,
    /// Sum of on-CPU intervals measured from switch-in/switch-out pairs, ns.
    /// `None` when no switch records were available.
    pub on_cpu_ns: Option<u64>,
    /// cpu-clock samples that hit this thread in user and in kernel mode.
    pub samples_user: u64,
    pub samples_kernel: u64,
    /// On-CPU samples by stack (index into [`Trace::ustacks`] / kstacks are
    /// combined in [`Trace::stacks`]).
    pub sample_stacks: HashMap<StackId, u32>,
    /// First and last schedstat reading (from /proc), when available.
    pub sched_first: Option<SchedStat>,
    pub sched_last: Option<SchedStat>,
}

#[derive(Clone, Debug, Default)]
pub struct ProcessTrace {
    pub pid: Pid,
    pub ppid: Pid,
    pub comm: String,
    pub argv: Vec<String>,
    pub exe: Option<String>,
    pub start: Ns,
    pub end: Option<Ns>,
    /// Threads in creation order.
    pub threads: Vec<Tid>,
    /// Bytes read and written to storage (`/proc/PID/io`), when readable.
    pub read_bytes: Option<u64>,
    pub write_bytes: Option<u64>,
    /// Names of the mapped files seen (MMAP2 records or /proc maps): used for
    /// runtime detection and, later, symbolization.
    pub mappings: Vec<Mapping>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub pgoff: u64,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CollectorState {
    Ok,
    /// Ran, but with less than full fidelity; the reason says what is missing.
    Degraded(String),
    Unavailable(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorStatus {
    pub name: String,
    pub state: CollectorState,
}

/// Interns stacks (sequences of instruction pointers, leaf first).
#[derive(Clone, Debug, Default)]
pub struct StackTable {
    pub stacks: Vec<Box<[u64]>>,
    index: HashMap<Box<[u64]>, StackId>,
}

impl StackTable {
    pub fn intern(&mut self, ips: &[u64]) -> StackId {
        if let Some(&id) = self.index.get(ips) {
            return id;
        }
        let id = self.stacks.len() as StackId;
        let boxed: Box<[u64]> = ips.into();
        self.stacks.push(boxed.clone());
        self.index.insert(boxed, id);
        id
    }

    pub fn get(&self, id: StackId) -> &[u64] {
        &self.stacks[id as usize]
    }

    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stacks.is_empty()
    }
}

/// Interns causes.
#[derive(Clone, Debug, Default)]
pub struct CauseTable {
    pub causes: Vec<Cause>,
    index: HashMap<Cause, CauseId>,
}

impl CauseTable {
    pub fn intern(&mut self, cause: Cause) -> CauseId {
        if let Some(&id) = self.index.get(&cause) {
            return id;
        }
        let id = self.causes.len() as CauseId;
        self.causes.push(cause.clone());
        self.index.insert(cause, id);
        id
    }

    pub fn get(&self, id: CauseId) -> &Cause {
        &self.causes[id as usize]
    }
}

/// Record counts, for `samples` in the profile and the loss report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub on_cpu_samples: u64,
    pub switch_outs: u64,
    pub wakeups: u64,
    /// Records the kernel dropped (PERF_RECORD_LOST), plus records wallprof
    /// could not parse.
    pub lost: u64,
    /// /proc sampling ticks taken.
    pub proc_ticks: u64,
    /// Off-CPU intervals closed by estimate because their switch-in record
    /// was lost.
    pub repaired: u64,
    /// Switch-outs whose user stack was captured.
    pub offcpu_stacks: u64,
    /// Off-CPU intervals that borrowed the stack of an earlier interval of
    /// the same thread and cause.
    pub offcpu_stacks_borrowed: u64,
    /// Off-CPU intervals whose kernel stack was learned for their syscall
    /// site only after they were recorded.
    pub resolved_late: u64,
    /// Tasks of the tree the BPF collector could not follow (its task map
    /// was full): their context switches are missing.
    pub untracked_tasks: u64,
}

/// Everything observed during one run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// When wallprof launched the target (fork), and when it reaped it.
    pub launched: Ns,
    pub exec: Option<Ns>,
    pub reaped: Ns,
    pub root_pid: Pid,
    pub freq_hz: u64,
    pub processes: BTreeMap<Pid, ProcessTrace>,
    pub threads: BTreeMap<Tid, ThreadTrace>,
    pub causes: CauseTable,
    /// Kernel stacks at switch-out and kernel parts of on-CPU samples.
    pub kstacks: StackTable,
    /// On-CPU sample stacks as recorded (kernel and user callchain together,
    /// leaf first, with perf's context markers removed).
    pub stacks: StackTable,
    pub counts: Counts,
    pub collectors: Vec<CollectorStatus>,
    /// Kernel symbols, when readable (`/proc/kallsyms`): sorted by address.
    pub kallsyms: Vec<(u64, String)>,
}

impl Trace {
    /// Name the kernel function that contains `ip`, when kernel symbols are
    /// known.
    pub fn ksym(&self, ip: u64) -> Option<&str> {
        let i = self.kallsyms.partition_point(|(a, _)| *a <= ip);
        if i == 0 {
            return None;
        }
        Some(self.kallsyms[i - 1].1.as_str())
    }

    /// Kernel function names of a kernel stack, leaf first.
    pub fn kstack_names(&self, id: StackId) -> Vec<&str> {
        self.kstacks
            .get(id)
            .iter()
            .map(|&ip| self.ksym(ip).unwrap_or("?"))
            .collect()
    }
}
