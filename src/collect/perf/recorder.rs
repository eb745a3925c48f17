//! Turn time-ordered perf records into a [`Trace`]: per-thread lifetimes,
//! on-CPU time, off-CPU intervals with their cause and waker, and on-CPU
//! sample stacks.
//!
//! In: [`Rec`] values in timestamp order (the drain thread merges the per-CPU
//! buffers). Out: a [`Trace`] when [`Recorder::finish`] is called. The state
//! kept per thread is small and fixed; stacks and causes are interned as they
//! arrive, so memory grows with distinct stacks and with the number of
//! switches, not with samples.
//!
//! A thread's timeline is built from three observations:
//! - switch-out: the `sched:sched_switch` tracepoint (state, kernel stack,
//!   user registers holding the syscall arguments), or the
//!   `PERF_RECORD_SWITCH` out record (preempted or not) when tracepoints are
//!   unavailable or a tracepoint record was lost;
//! - wakeup: `sched:sched_waking` (the sample's tid is the waker unless the
//!   record was written in interrupt context);
//! - switch-in: `PERF_RECORD_SWITCH`.

use std::collections::HashMap as StdHashMap;

/// The recorder's maps are hit several times per context switch: a fast
/// non-cryptographic hasher (the keys are pids, tids and small structs from
/// the kernel, not attacker-chosen strings).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

use super::records::{EventKind, Rec, Sample, MISC_CPUMODE_MASK, MISC_KERNEL, MISC_USER};
use super::tracefs::{read_int, Field};
use crate::collect::bpf::{BpfRecord, DetailEvent, SchedEvent};
use crate::model::syscalls::nr::{
    CLOCK_NANOSLEEP, EPOLL_PWAIT, EPOLL_PWAIT2, EPOLL_WAIT, FUTEX, POLL, PPOLL, PSELECT6, SELECT,
};
use crate::model::trace::{
    Cause, CauseId, FdKind, Fidelity, Mapping, Ns, Pid, ProcessTrace, SwitchState, ThreadTrace,
    Tid, Trace,
};

/// Raw-field offsets of the tracepoints wallprof reads.
#[derive(Clone, Copy, Debug)]
pub struct RawFields {
    pub switch_prev_pid: Field,
    pub switch_prev_state: Field,
    pub switch_next_pid: Field,
    pub waking_pid: Field,
    pub common_flags: Field,
}

/// Registers sampled at switch-out, in `sample_regs_user` mask order:
/// DX(3) SI(4) DI(5) IP(8) R10(18) on x86_64: the syscall's arguments, and
/// the user IP of the syscall site.
pub const REGS_MASK: u64 = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 18);
const REG_DX: usize = 0;
const REG_SI: usize = 1;
const REG_DI: usize = 2;
const REG_IP: usize = 3;
const REG_R10: usize = 4;

/// The detail of blocking switch-outs (kernel stack, user stack) is sampled
/// by a second sched_switch event in frequency mode at this rate per (thread,
/// CPU); a switch without its own kernel stack takes the one learned at the
/// same syscall site (process, user IP), and without its own user stack
/// borrows the latest of the same thread and cause.
pub const DETAIL_HZ: u64 = 100;

/// An off-CPU interval whose kernel stack was not sampled and not yet
/// learned for its syscall site when it was recorded.
#[derive(Clone, Copy, Debug)]
struct Unresolved {
    tid: Tid,
    index: usize,
    pid: Pid,
    regs: SwitchRegs,
    state: SwitchState,
    start: Ns,
}

/// The user registers of one switch-out, kept until its cause is final.
#[derive(Clone, Copy, Debug, Default)]
struct SwitchRegs {
    dx: u64,
    si: u64,
    di: u64,
    ip: u64,
    r10: u64,
    /// The syscall number, when the collector gives it (the BPF collector
    /// reads `orig_ax`; perf's user registers do not include it).
    nr: Option<i64>,
}

impl SwitchRegs {
    fn of(s: &Sample<'_>) -> Option<SwitchRegs> {
        Some(SwitchRegs {
            dx: s.user_reg(REG_DX)?,
            si: s.user_reg(REG_SI)?,
            di: s.user_reg(REG_DI)?,
            ip: s.user_reg(REG_IP)?,
            r10: s.user_reg(REG_R10)?,
            nr: None,
        })
    }
}

/// Registers sampled with on-CPU samples, for unwinding: BP(6) SP(7) IP(8).
pub const SAMPLE_REGS_MASK: u64 = (1 << 6) | (1 << 7) | (1 << 8);
const SREG_BP: usize = 0;
const SREG_SP: usize = 1;
const SREG_IP: usize = 2;

/// A wakeup inferred from a child's exit holds only if the parent runs
/// again within this.
const INFERRED_WAKE_NS: Ns = 2_000_000;

/// How old a borrowed off-CPU user stack may be.
const EXEMPLAR_AGE_NS: Ns = 1_000_000_000;

/// The two sched_switch records of one switch are this close in time.
const SAME_SWITCH_NS: Ns = 100_000;

/// A wait that lasted to within this of its timeout ran into it.
const TIMEOUT_SLACK_NS: Ns = 1_000_000;

/// `common_flags` bits meaning the tracepoint fired in interrupt context
/// (TRACE_FLAG_HARDIRQ | TRACE_FLAG_SOFTIRQ | TRACE_FLAG_NMI).
const IRQ_FLAGS: i64 = 0x08 | 0x10 | 0x40;

/// How many leaf frames of a kernel stack the BPF collector took belong to
/// the BPF program and the tracepoint machinery that ran it, not to the
/// wait. sched_switch fires in `__schedule`, so everything before its first
/// `__schedule` frame (near the leaf) goes; without one (no kernel symbols,
/// another scheduler), frames named like tracing code go.
fn tracing_frames<'a>(frames: &[u64], name: impl Fn(u64) -> Option<&'a str>) -> usize {
    const NEAR_LEAF: usize = 8;
    if let Some(i) = frames
        .iter()
        .take(NEAR_LEAF)
        .position(|&ip| name(ip) == Some("__schedule"))
    {
        return i;
    }
    frames
        .iter()
        .take_while(|&&ip| {
            name(ip).is_some_and(|n| {
                [
                    "bpf_",
                    "__bpf_",
                    "__traceiter_",
                    "__probestub_",
                    "perf_trace_",
                ]
                .iter()
                .any(|p| n.starts_with(p))
            })
        })
        .count()
}

/// What a kernel stack says about the syscall a thread was in.
#[derive(Clone, Debug, Default)]
struct SyscallHint {
    name: Option<String>,
    nr: Option<i64>,
    fd_arg: bool,
    futex: bool,
}

/// The part of a [`SyscallHint`] the hot path needs: no allocation to copy.
#[derive(Clone, Copy, Debug, Default)]
struct HintBits {
    nr: Option<i64>,
    fd_arg: bool,
    futex: bool,
}

/// Everything a switch-out's cause is built from, in a form that hashes
/// without allocating: the cache in front of the cause interner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct CauseKey {
    state: SwitchState,
    kstack: Option<u32>,
    fd: Option<i32>,
    fd_kind: Option<FdKind>,
    futex_op: Option<u32>,
    abs_time: bool,
    periodic: bool,
    /// No kernel stack: the syscall read from /proc while the thread was
    /// still in it, or an epoll wait told by its first argument.
    nr_seen: Option<i64>,
    sockets: u8,
}

/// clock_nanosleep's flag for an absolute deadline.
const TIMER_ABSTIME: u64 = 1;
/// Two steps between consecutive absolute deadlines are "the same period"
/// within this: `next += period` gives equal steps to the nanosecond (a
/// period in floating-point seconds to a few), while deadlines computed
/// from the current time (now + duration) differ by the microseconds of
/// jitter in when the thread ran.
const PERIOD_SLACK_NS: Ns = 10;

/// The last absolute sleep deadlines of a thread (see [`Cause::periodic`]).
#[derive(Clone, Copy, Debug, Default)]
struct Deadlines {
    last: Option<Ns>,
    step: Option<Ns>,
    periodic: bool,
}

/// Derive the syscall from kernel function names (leaf first): the frame
/// called by `do_syscall_64` (through `x64_sys_call` on recent kernels).
fn syscall_hint(names: &[&str]) -> SyscallHint {
    let Some(entry) = names.iter().position(|n| *n == "do_syscall_64") else {
        return SyscallHint::default();
    };
    let frame = names[..entry].iter().rev().find(|n| **n != "x64_sys_call");
    let Some(frame) = frame else {
        return SyscallHint::default();
    };
    let mut name = *frame;
    for p in [
        "__x64_sys_",
        "__ia32_sys_",
        "__se_sys_",
        "__do_sys_",
        "ksys_",
        "kernel_",
    ] {
        if let Some(rest) = name.strip_prefix(p) {
            name = rest;
            break;
        }
    }
    let name = name.split('.').next().unwrap_or(name);
    match crate::model::syscalls::by_name(name) {
        Some((nr, n)) => SyscallHint {
            name: Some(n.into()),
            nr: Some(nr),
            fd_arg: crate::model::syscalls::fd_first(nr),
            futex: n == "futex",
        },
        None => SyscallHint {
            name: Some(name.into()),
            nr: None,
            fd_arg: false,
            futex: false,
        },
    }
}

fn switch_state(prev_state: i64) -> SwitchState {
    // TASK_REPORT bits: S=1, D=2; 0 or TASK_REPORT_MAX (preempted) = R.
    let s = prev_state & 0xff;
    if s == 0 {
        SwitchState::Preempted
    } else if s & 0x2 != 0 {
        SwitchState::DiskSleep
    } else if s & 0x1 != 0 {
        SwitchState::Sleeping
    } else {
        SwitchState::Other
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    start: Ns,
    state: SwitchState,
    cause: CauseId,
    wake: Option<Ns>,
    waker: Option<Tid>,
    /// The wait's own timeout (poll, select, epoll), when it had one.
    timeout: Option<Ns>,
    /// The user stack at switch-out, when captured.
    ustack: Option<u32>,
    /// The wakeup was inferred from a child's exit, to be confirmed by a
    /// prompt switch-in.
    inferred_wake: bool,
    /// What the cause was built from, so that it can be rebuilt when this
    /// switch's own kernel stack arrives after it.
    regs: Option<SwitchRegs>,
    pid: Pid,
    own_kstack: bool,
}

#[derive(Clone, Copy, Debug, Default)]
struct Live {
    /// A user stack captured at a switch-out whose sched_switch record has
    /// not been seen yet (the two records of one switch can come in either
    /// order).
    next_ustack: Option<(Ns, u32)>,
    /// Likewise for a kernel stack sampled by the kernel-stack event.
    next_kstack: Option<(Ns, u32)>,
    on_since: Option<Ns>,
    on_total: u64,
    pending: Option<Pending>,
    exited: bool,
    /// The CPU time the thread had run in all at its last switch, from the
    /// BPF collector (`se.sum_exec_runtime`); 0 at its fork.
    runtime: Option<u64>,
}

/// What the recorder reads from the live system while the run goes on
/// (/proc and the target's memory); a trait so that replayed traces and
/// tests can stand in for it.
pub trait ProcAccess: Send {
    /// The kind of a file descriptor.
    fn fd_kind(&mut self, pid: Pid, fd: i32, now: Ns) -> Option<FdKind>;
    /// The summarized kind of a poll() set of `nfds` pollfds at `addr`.
    fn poll_set(&mut self, pid: Pid, addr: u64, nfds: u64, now: Ns) -> Option<FdKind>;
    /// The summarized kind of a select() read set.
    fn select_set(&mut self, pid: Pid, nfds: u64, addr: u64, now: Ns) -> Option<FdKind>;
    /// The summarized kind of the fds an epoll instance watches.
    fn epoll_set(&mut self, pid: Pid, epfd: i32, now: Ns) -> Option<FdKind>;
    /// How many sockets an epoll instance watches (after [`Self::epoll_set`]).
    fn epoll_sockets(&mut self, _pid: Pid, _epfd: i32, _now: Ns) -> u32 {
        0
    }
    /// The syscall `tid` is blocked in now, if its first four arguments are
    /// `args` (so it is still the same call): from `/proc/PID/task/TID/syscall`.
    fn blocked_syscall(&mut self, _pid: Pid, _tid: Tid, _args: [u64; 4]) -> Option<i64> {
        None
    }
    /// The kind of a file descriptor now, bypassing any cache (fd numbers
    /// are reused within a cache's lifetime).
    fn fd_kind_now(&mut self, pid: Pid, fd: i32, now: Ns) -> Option<FdKind> {
        self.fd_kind(pid, fd, now)
    }
    /// A `struct timespec` at `addr` in the target's memory, in ns.
    fn timespec(&mut self, _pid: Pid, _addr: u64) -> Option<Ns> {
        None
    }
    /// argv and exe of a process that just exec'd.
    fn argv_exe(&mut self, pid: Pid) -> (Option<Vec<String>>, Option<String>);
    /// Whether `pid` is a kernel thread (kworker, jbd2, ksoftirqd...).
    fn is_kernel_thread(&mut self, _pid: Pid) -> bool {
        false
    }
}

impl ProcAccess for crate::collect::procfs::waitset::WaitSets {
    fn fd_kind(&mut self, pid: Pid, fd: i32, now: Ns) -> Option<FdKind> {
        crate::collect::procfs::waitset::WaitSets::fd_kind(self, pid, fd, now)
    }
    fn poll_set(&mut self, pid: Pid, addr: u64, nfds: u64, now: Ns) -> Option<FdKind> {
        crate::collect::procfs::waitset::WaitSets::poll_set(self, pid, addr, nfds, now)
    }
    fn select_set(&mut self, pid: Pid, nfds: u64, addr: u64, now: Ns) -> Option<FdKind> {
        crate::collect::procfs::waitset::WaitSets::select_set(self, pid, nfds, addr, now)
    }
    fn epoll_set(&mut self, pid: Pid, epfd: i32, now: Ns) -> Option<FdKind> {
        crate::collect::procfs::waitset::WaitSets::epoll_set(self, pid, epfd, now)
    }
    fn epoll_sockets(&mut self, pid: Pid, epfd: i32, now: Ns) -> u32 {
        crate::collect::procfs::waitset::WaitSets::epoll_sockets(self, pid, epfd, now)
    }
    fn timespec(&mut self, pid: Pid, addr: u64) -> Option<Ns> {
        crate::collect::procfs::waitset::read_timespec(pid, addr)
    }
    fn fd_kind_now(&mut self, pid: Pid, fd: i32, _now: Ns) -> Option<FdKind> {
        crate::collect::procfs::fd_kind(pid, fd)
    }
    fn blocked_syscall(&mut self, pid: Pid, tid: Tid, args: [u64; 4]) -> Option<i64> {
        use crate::collect::procfs::parse;
        let text = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/syscall")).ok()?;
        match parse::syscall(&text) {
            parse::SyscallState::InSyscall { nr, args: a } if a[..4] == args => Some(nr),
            _ => None,
        }
    }
    fn argv_exe(&mut self, pid: Pid) -> (Option<Vec<String>>, Option<String>) {
        (
            crate::collect::procfs::read_cmdline(pid),
            crate::collect::procfs::read_exe(pid),
        )
    }
    fn is_kernel_thread(&mut self, pid: Pid) -> bool {
        crate::collect::procfs::is_kernel_thread(pid)
    }
}

pub struct Recorder {
    trace: Trace,
    live: HashMap<Tid, Live>,
    fields: Option<RawFields>,
    tracepoints: bool,
    hints: Vec<Option<SyscallHint>>,
    proc: Box<dyn ProcAccess>,
    unwinder: crate::stacks::Unwinder,
    scratch: Vec<u64>,
    new_task_cause: CauseId,
    /// Last wakeup seen per wakee: a wakeup between two traced tasks is
    /// delivered twice (once through each task's events).
    last_wake: HashMap<Tid, Ns>,
    /// Intervals without their own kernel stack, resolved at the end.
    unresolved: Vec<Unresolved>,
    /// Cause ids by what they were built from (no allocation on a hit).
    cause_cache: HashMap<CauseKey, CauseId>,
    /// The timed-out variant of each cause.
    timed_out_of: HashMap<CauseId, CauseId>,
    /// The kernel stack last seen at each syscall site (process, user IP).
    learned_kstacks: HashMap<(Pid, u64), u32>,
    /// The latest captured user stack per (thread, cause).
    exemplars: HashMap<(Tid, CauseId), (Ns, u32)>,
    /// The last fd kind each thread's poll/select/epoll wait resolved to.
    last_wait_set: HashMap<(Tid, i64), FdKind>,
    /// Per thread: its last absolute sleep deadlines.
    deadlines: HashMap<Tid, Deadlines>,
    /// Records after this time are not processed (the root was reaped).
    pub horizon: Ns,
    /// The events are CPU-wide: records of every task arrive, and only the
    /// target's tree is kept (from the root's exec on); switch-ins come from
    /// sched_switch's `next_pid`, not from context-switch records.
    pub cpu_wide: bool,
    /// CPU-wide: the root has exec'd, records count from here.
    armed: bool,
    /// wallprof's own pid (its threads are not the program's contention).
    own_pid: Pid,
    /// Whether each pid seen switching out for a thread of ours is a kernel
    /// thread.
    kernel_threads: HashMap<Pid, bool>,
    /// Where to send each newly mapped executable file, to be read ahead
    /// for symbolization.
    pub warmer: Option<crate::stacks::service::Warmer>,
    /// The cpu-clock sampling period when every task on a CPU is sampled
    /// (CPU-wide events): a sample of a thread the switches say is off-CPU
    /// shows a switch-in the kernel never reported.
    pub sample_period: Option<Ns>,
    /// Switches come from the BPF collector, whose records carry each
    /// side's total CPU time: a lost switch is recovered exactly from it,
    /// not estimated from samples.
    pub bpf_switches: bool,
}

impl Recorder {
    pub fn new(
        root_pid: Pid,
        argv: Vec<String>,
        launched: Ns,
        fields: Option<RawFields>,
        kallsyms: Vec<(u64, String)>,
        proc: Box<dyn ProcAccess>,
    ) -> Self {
        let mut trace = Trace {
            root_pid,
            launched,
            kallsyms,
            ..Trace::default()
        };
        let new_task_cause = trace.causes.intern(Cause {
            state: SwitchState::Preempted,
            syscall_name: Some("(new task)".into()),
            ..Cause::default()
        });
        trace.processes.insert(
            root_pid,
            ProcessTrace {
                pid: root_pid,
                ppid: std::process::id() as Pid,
                argv,
                start: launched,
                ..Default::default()
            },
        );
        Recorder {
            trace,
            live: HashMap::default(),
            tracepoints: fields.is_some(),
            fields,
            hints: Vec::new(),
            proc,
            unwinder: crate::stacks::Unwinder::new(),
            scratch: Vec::with_capacity(128),
            new_task_cause,
            last_wake: HashMap::default(),
            last_wait_set: HashMap::default(),
            deadlines: HashMap::default(),
            exemplars: HashMap::default(),
            learned_kstacks: HashMap::default(),
            cause_cache: HashMap::default(),
            unresolved: Vec::new(),
            timed_out_of: HashMap::default(),
            horizon: Ns::MAX,
            cpu_wide: false,
            armed: false,
            own_pid: std::process::id() as Pid,
            kernel_threads: HashMap::default(),
            warmer: None,
            sample_period: None,
            bpf_switches: false,
        }
    }

    /// Feed one record. Records must come in timestamp order.
    pub fn record(&mut self, rec: &Rec<'_>) {
        if rec.time().is_some_and(|t| t > self.horizon) {
            return;
        }
        if self.cpu_wide && !self.admit(rec) {
            return;
        }
        match *rec {
            Rec::Sample(ref s) => match s.kind {
                EventKind::CpuClock => self.on_cpu_sample(s),
                EventKind::SchedSwitch => self.on_switch_out_tp(s),
                EventKind::SchedWaking => self.on_waking(s),
                EventKind::SwitchDetail => self.on_switch_detail(s),
            },
            // CPU-wide, switches come from the sched_switch tracepoint
            // (context-switch records are not asked for).
            Rec::Switch { .. } if self.cpu_wide => {}
            Rec::Switch {
                out, preempt, id, ..
            } => {
                if out {
                    self.on_switch_out_record(id.pid, id.tid, id.time, preempt)
                } else {
                    self.on_switch_in(id.pid, id.tid, id.time)
                }
            }
            Rec::Fork {
                pid,
                ppid,
                tid,
                ptid,
                time,
            } => self.on_fork(pid, ppid, tid, ptid, time),
            Rec::Exit { pid, tid, time, .. } => self.on_exit(pid, tid, time),
            Rec::Comm {
                pid,
                tid,
                comm,
                exec,
                time,
            } => self.on_comm(pid, tid, comm, exec, time),
            Rec::Mmap {
                pid,
                addr,
                len,
                pgoff,
                exec,
                path,
                ..
            } => {
                if exec && !path.is_empty() {
                    let m = Mapping {
                        start: addr,
                        end: addr + len,
                        pgoff,
                        path: path.into(),
                    };
                    if let Some(w) = &self.warmer {
                        w.warm(path, pgoff);
                    }
                    self.unwinder.add_mapping(pid, &m);
                    if let Some(p) = self.trace.processes.get_mut(&pid) {
                        if p.mappings.len() < 16_384 {
                            p.mappings.push(m);
                        }
                    }
                }
            }
            Rec::Lost { lost, .. } => self.trace.counts.lost += lost,
            Rec::Bpf(BpfRecord::Switch(ref ev)) => self.on_sched(ev),
            Rec::Bpf(BpfRecord::Detail(ref d)) => self.on_bpf_detail(d),
            Rec::Other { .. } => {}
        }
    }

    /// A process of the target's tree (always true for per-task events).
    fn ours(&self, pid: Pid) -> bool {
        !self.cpu_wide || self.trace.processes.contains_key(&pid)
    }

    /// CPU-wide events: whether a record concerns the target's tree. Nothing
    /// counts before the root's exec (per-task events start there too, with
    /// `enable_on_exec`); afterwards a process joins the tree by its FORK
    /// record from a process of the tree.
    fn admit(&mut self, rec: &Rec<'_>) -> bool {
        if !self.armed {
            match *rec {
                Rec::Comm {
                    pid, exec: true, ..
                } if pid == self.trace.root_pid => {
                    self.armed = true;
                    return true;
                }
                Rec::Lost { .. } => return true,
                _ => return false,
            }
        }
        match *rec {
            Rec::Sample(ref s) => match s.kind {
                // The wakee is checked by the handler; the waker may be anyone.
                EventKind::SchedWaking => true,
                // A switch from another task (or the idle task) to one of
                // ours is our switch-in: the handler checks both sides.
                EventKind::SchedSwitch => true,
                _ => self.ours(s.pid),
            },
            Rec::Fork { pid, ppid, .. } => self.ours(pid) || self.ours(ppid),
            Rec::Exit { pid, .. } | Rec::Comm { pid, .. } | Rec::Mmap { pid, .. } => self.ours(pid),
            Rec::Switch { id, .. } => self.ours(id.pid),
            // Either side may be ours: the handler checks both.
            Rec::Bpf(BpfRecord::Switch(_)) => true,
            Rec::Bpf(BpfRecord::Detail(ref d)) => self.ours(d.pid),
            Rec::Other { .. } => false,
            Rec::Lost { .. } => true,
        }
    }

    /// Whether the CPU running `pid` until a thread of ours got it is not
    /// contention: the idle task, wallprof itself, or a kernel thread (the
    /// kernel finishing I/O on the thread's behalf: a journal commit, a
    /// completion). Kernel threads are looked up once per pid.
    fn not_contention(&mut self, pid: Pid) -> bool {
        if pid == 0 || pid == self.own_pid {
            return true;
        }
        if let Some(&k) = self.kernel_threads.get(&pid) {
            return k;
        }
        let k = self.proc.is_kernel_thread(pid);
        self.kernel_threads.insert(pid, k);
        k
    }

    /// CPU-wide: a switch-in, from the sched_switch tracepoint. When the CPU ran
    /// the idle task until then, the time since the wakeup was not spent
    /// waiting for a CPU but getting an idle one going (in a VM, waking a
    /// halted vCPU): it stays part of the wait, as per task, where such
    /// wakeups are not seen at all, instead of counting as contention. The
    /// same when the CPU ran one of wallprof's own threads (the profiler's
    /// cost, not contention in the program) or a kernel thread.
    fn switch_in_cpu_wide(&mut self, pid: Pid, tid: Tid, t: Ns, other_pid: Pid) {
        let woken = self
            .live
            .get(&tid)
            .and_then(|l| l.pending)
            .is_some_and(|p| p.wake.is_some() && !p.inferred_wake);
        if woken && self.not_contention(other_pid) {
            if let Some(p) = self.live.get_mut(&tid).and_then(|l| l.pending.as_mut()) {
                p.wake = Some(t);
            }
        }
        self.on_switch_in(pid, tid, t);
    }

    /// Count a record that could not be parsed as lost.
    pub fn unparsable(&mut self) {
        self.trace.counts.lost += 1;
    }

    /// The thread's live state, creating the thread (first seen at `t`,
    /// assumed running) when it is new.
    fn thread(&mut self, pid: Pid, tid: Tid, t: Ns) -> &mut Live {
        if let std::collections::btree_map::Entry::Vacant(e) = self.trace.threads.entry(tid) {
            e.insert(ThreadTrace {
                tid,
                pid,
                start: t,
                ..Default::default()
            });
            let p = self
                .trace
                .processes
                .entry(pid)
                .or_insert_with(|| ProcessTrace {
                    pid,
                    start: t,
                    ..Default::default()
                });
            p.threads.push(tid);
            self.live.insert(
                tid,
                Live {
                    on_since: Some(t),
                    ..Live::default()
                },
            );
        }
        self.live.get_mut(&tid).unwrap()
    }

    fn on_cpu_sample(&mut self, s: &Sample<'_>) {
        // tid 0 is the idle task; -1 a thread past the point where its pid
        // is released (CPU-wide events still sample an exiting thread until
        // its last switch-out, when per-task events are already gone).
        if s.tid <= 0 {
            return;
        }
        let live = self.thread(s.pid, s.tid, s.time);
        let off_since = match (&live.pending, live.on_since) {
            (Some(p), None) => Some(p.start),
            _ => None,
        };
        self.trace.counts.on_cpu_samples += 1;
        if let Some(start) = off_since {
            self.running_while_off(s.pid, s.tid, s.time, start);
        }
        // Kernel frames from the callchain, then user frames unwound from the
        // copied stack (the callchain's user part is not recorded).
        self.scratch.clear();
        if let Some(cc) = s.callchain {
            cc.frames_into(&mut self.scratch);
        }
        match (
            s.user_reg(SREG_IP),
            s.user_reg(SREG_SP),
            s.user_reg(SREG_BP),
        ) {
            (Some(ip), Some(sp), Some(bp)) => {
                let stack = s.user_stack.unwrap_or(&[]);
                self.unwinder
                    .unwind(s.pid, ip, sp, bp, stack, &mut self.scratch);
            }
            _ => {
                if self.scratch.is_empty() {
                    self.scratch.extend(s.ip);
                }
            }
        }
        let stack = (!self.scratch.is_empty()).then(|| self.trace.stacks.intern(&self.scratch));
        let th = self.trace.threads.get_mut(&s.tid).unwrap();
        match s.misc & MISC_CPUMODE_MASK {
            MISC_KERNEL => th.samples_kernel += 1,
            MISC_USER => th.samples_user += 1,
            _ => th.samples_user += 1,
        }
        if let Some(id) = stack {
            *th.sample_stacks.entry(id).or_insert(0) += 1;
        }
    }

    fn hint(&mut self, kstack: u32) -> HintBits {
        let i = kstack as usize;
        if self.hints.len() <= i {
            self.hints.resize(i + 1, None);
        }
        let h = self.hints[i].get_or_insert_with(|| syscall_hint(&self.trace.kstack_names(kstack)));
        HintBits {
            nr: h.nr,
            fd_arg: h.fd_arg,
            futex: h.futex,
        }
    }

    fn close_on_cpu(live: &mut Live, t: Ns) {
        if let Some(since) = live.on_since.take() {
            live.on_total += t.saturating_sub(since);
        }
    }

    fn on_switch_out_tp(&mut self, s: &Sample<'_>) {
        let Some(f) = self.fields else { return };
        let Some(raw) = s.raw else { return };
        let prev = read_int(raw, f.switch_prev_pid).unwrap_or(-1) as Tid;
        if self.cpu_wide {
            // CPU-wide, the same record is the next task's switch-in (no
            // context-switch records are asked for: they cost two more
            // records per switch). The next task's pid comes from the
            // thread table: a thread of ours was announced by a FORK record
            // (or the root's exec) before it first ran.
            let next = read_int(raw, f.switch_next_pid).unwrap_or(0) as Tid;
            let ours_prev = prev == s.tid && s.tid > 0 && self.ours(s.pid);
            if ours_prev {
                self.switch_out_tp(s, raw, f);
            }
            if let Some(pid) = (next > 0)
                .then(|| self.trace.threads.get(&next).map(|t| t.pid))
                .flatten()
            {
                // The task the CPU ran until now (0: the idle task).
                self.switch_in_cpu_wide(pid, next, s.time, s.pid);
            }
            return;
        }
        if prev != s.tid || s.tid <= 0 {
            return;
        }
        self.switch_out_tp(s, raw, f);
    }

    /// A switch-out from the sched_switch tracepoint.
    fn switch_out_tp(&mut self, s: &Sample<'_>, raw: &[u8], f: RawFields) {
        let state = switch_state(read_int(raw, f.switch_prev_state).unwrap_or(0));
        let own = s.callchain.map(|cc| {
            cc.frames_into(&mut self.scratch);
            self.trace.kstacks.intern(&self.scratch)
        });
        self.switch_out(s.pid, s.tid, s.time, state, SwitchRegs::of(s), own);
    }

    /// A switch-out with its state and registers (from the sched_switch
    /// tracepoint or the BPF collector): the on-CPU segment closes and an
    /// off-CPU interval opens with its cause, built from the kernel stack
    /// when known (`own`: this switch's, else the kernel-stack event's if
    /// its record came first, else the one learned at the call site).
    fn switch_out(
        &mut self,
        pid: Pid,
        tid: Tid,
        time: Ns,
        state: SwitchState,
        regs: Option<SwitchRegs>,
        mut own: Option<u32>,
    ) {
        self.trace.counts.switch_outs += 1;
        let live = self.thread(pid, tid, time);
        if let Some((t, k)) = live.next_kstack.take() {
            if own.is_none() && t.abs_diff(time) <= SAME_SWITCH_NS {
                own = Some(k);
            }
        }
        let kstack = own.or_else(|| {
            let ip = regs?.ip;
            self.learned_kstacks.get(&(pid, ip)).copied()
        });
        let (cause, timeout) = self.build_cause(pid, tid, time, state, kstack, regs);
        let live = self.live.get_mut(&tid).unwrap();
        Self::close_on_cpu(live, time);
        let pending = Pending {
            start: time,
            state,
            cause,
            wake: None,
            waker: None,
            timeout,
            ustack: None,
            regs,
            pid,
            own_kstack: own.is_some(),
            inferred_wake: false,
        };
        if let Some(p) = live.pending.replace(pending) {
            self.repair(tid, p, time);
        }
        let live = self.live.get_mut(&tid).unwrap();
        if let Some((t, id)) = live.next_ustack.take() {
            if t.abs_diff(time) <= SAME_SWITCH_NS {
                live.pending.as_mut().unwrap().ustack = Some(id);
            }
        }
    }

    /// The cause of a switch-out from its state, kernel stack and registers,
    /// and the wait's own timeout when it has one.
    fn build_cause(
        &mut self,
        pid: Pid,
        tid: Tid,
        time: Ns,
        state: SwitchState,
        kstack: Option<u32>,
        regs: Option<SwitchRegs>,
    ) -> (CauseId, Option<Ns>) {
        let mut key = CauseKey {
            state,
            kstack,
            fd: None,
            fd_kind: None,
            futex_op: None,
            abs_time: false,
            periodic: false,
            nr_seen: None,
            sockets: 0,
        };
        let mut timeout = None;
        let blocking = matches!(state, SwitchState::Sleeping | SwitchState::DiskSleep);
        if let (None, Some(r), true) = (kstack, regs, blocking) {
            // No kernel stack yet (the first wait at this syscall site, or
            // a site the rate-limited stack event never sampled). The BPF
            // collector gives the syscall number itself. Otherwise a wait
            // that lasts is still in its syscall now (records are handled
            // about 20 ms after they happen): /proc names it when the
            // arguments match. A shorter one in S state whose first
            // argument is an epoll fd is an epoll wait, so an event loop's
            // only epoll wait is not lost. (epoll_ctl takes an epoll fd
            // too, but blocks in D state: on the mm's lock in a page fault.)
            let fd = r.di as i64;
            key.nr_seen =
                r.nr.or_else(|| {
                    self.proc
                        .blocked_syscall(pid, tid, [r.di, r.si, r.dx, r.r10])
                })
                .or_else(|| {
                    (state == SwitchState::Sleeping
                        && (0..1 << 22).contains(&fd)
                        && self.proc.fd_kind_now(pid, fd as i32, time) == Some(FdKind::Epoll))
                    .then_some(EPOLL_WAIT)
                });
        }
        let hint = match (kstack, key.nr_seen) {
            (Some(k), _) => Some(self.hint(k)),
            (None, Some(nr)) => Some(HintBits {
                nr: Some(nr),
                fd_arg: crate::model::syscalls::fd_first(nr),
                futex: nr == FUTEX,
            }),
            _ => None,
        };
        if let (Some(hint), Some(r)) = (hint, regs) {
            if hint.fd_arg && (0..1 << 22).contains(&(r.di as i64)) {
                key.fd = Some(r.di as i32);
                if blocking {
                    key.fd_kind = self.proc.fd_kind(pid, r.di as i32, time);
                }
            }
            if hint.futex {
                key.futex_op = Some(r.si as u32);
            }
            if hint.nr == Some(CLOCK_NANOSLEEP) && r.si & TIMER_ABSTIME != 0 {
                key.abs_time = true;
                key.periodic = blocking && self.periodic_deadline(pid, tid, r.dx);
            }
            if blocking {
                timeout = self.wait_set(pid, time, &r, hint.nr, &mut key);
                self.remember_wait_set(tid, hint.nr, &mut key);
            }
        }
        if let Some(&id) = self.cause_cache.get(&key) {
            return (id, timeout);
        }
        // First time this combination is seen: build the cause (with its
        // strings) once.
        let mut hint = kstack.and_then(|k| self.hints.get(k as usize).cloned().flatten());
        if let Some(nr) = key.nr_seen {
            hint = Some(SyscallHint {
                name: crate::model::syscalls::name(nr).map(String::from),
                nr: Some(nr),
                fd_arg: false,
                futex: false,
            });
        }
        let cause = Cause {
            state,
            kstack,
            syscall_nr: hint.as_ref().and_then(|h| h.nr),
            syscall_name: hint.and_then(|h| h.name),
            fd: key.fd,
            fd_kind: key.fd_kind,
            futex_op: key.futex_op,
            abs_time: key.abs_time,
            periodic: key.periodic,
            sockets: key.sockets,
            ..Cause::default()
        };
        let id = self.trace.causes.intern(cause);
        self.cause_cache.insert(key, id);
        (id, timeout)
    }

    /// The detail of one blocking switch-out (the rate-limited second
    /// sched_switch event): its kernel stack, learned for its syscall site,
    /// and its user stack, unwound now. Both go to the switch-out they
    /// belong to, whose record may come just before or just after this one.
    fn on_switch_detail(&mut self, s: &Sample<'_>) {
        if s.tid <= 0 {
            return;
        }
        let kstack = s.callchain.map(|cc| {
            cc.frames_into(&mut self.scratch);
            self.trace.kstacks.intern(&self.scratch)
        });
        let regs = match (
            s.user_reg(SREG_IP),
            s.user_reg(SREG_SP),
            s.user_reg(SREG_BP),
        ) {
            (Some(ip), Some(sp), Some(bp)) => Some((ip, sp, bp)),
            _ => None,
        };
        self.switch_detail(
            s.pid,
            s.tid,
            s.time,
            kstack,
            regs,
            s.user_stack.unwrap_or(&[]),
        );
    }

    /// The detail of a blocking switch-out from the BPF collector. Its
    /// kernel stack starts in the BPF program and the tracepoint's own
    /// frames, which are dropped so that it reads as perf's does (from the
    /// scheduler down).
    fn on_bpf_detail(&mut self, d: &DetailEvent<'_>) {
        if d.tid <= 0 {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(d.kernel_frames());
        self.scratch
            .drain(..tracing_frames(&self.scratch, |ip| self.trace.ksym(ip)));
        let kstack = (!self.scratch.is_empty()).then(|| self.trace.kstacks.intern(&self.scratch));
        let regs = (d.ip != 0).then_some((d.ip, d.sp, d.bp));
        self.switch_detail(d.pid, d.tid, d.time, kstack, regs, d.ustack);
    }

    /// The detail of one blocking switch-out: its kernel stack, learned for
    /// its syscall site (process, user IP), and its user stack, unwound now
    /// from the user registers (IP, SP, BP) and the copy of the stack. Both
    /// go to the switch-out they belong to, whose record may come just
    /// before or just after this one.
    fn switch_detail(
        &mut self,
        pid: Pid,
        tid: Tid,
        time: Ns,
        kstack: Option<u32>,
        regs: Option<(u64, u64, u64)>,
        user_stack: &[u8],
    ) {
        if let (Some(k), Some((ip, _, _))) = (kstack, regs) {
            self.learned_kstacks.insert((pid, ip), k);
        }
        let ustack = match regs {
            Some((ip, sp, bp)) => {
                self.scratch.clear();
                self.unwinder
                    .unwind(pid, ip, sp, bp, user_stack, &mut self.scratch);
                (!self.scratch.is_empty()).then(|| self.trace.stacks.intern(&self.scratch))
            }
            _ => None,
        };
        if ustack.is_some() {
            self.trace.counts.offcpu_stacks += 1;
        }
        let live = self.thread(pid, tid, time);
        let Some(p) = live
            .pending
            .filter(|p| p.start.abs_diff(time) <= SAME_SWITCH_NS)
        else {
            live.next_kstack = kstack.map(|k| (time, k));
            live.next_ustack = ustack.map(|u| (time, u));
            return;
        };
        if let Some(u) = ustack {
            live.pending.as_mut().unwrap().ustack = Some(u);
        }
        if let (Some(k), false) = (kstack, p.own_kstack) {
            let (cause, timeout) = self.build_cause(p.pid, tid, p.start, p.state, Some(k), p.regs);
            if let Some(p) = self.live.get_mut(&tid).unwrap().pending.as_mut() {
                p.cause = cause;
                p.timeout = timeout;
                p.own_kstack = true;
            }
        }
    }

    /// Whether an absolute sleep's deadline (the timespec at `addr`) is the
    /// same step after the thread's previous deadline as that one was after
    /// its predecessor (see [`Cause::periodic`]). The same deadline again
    /// (this switch's cause rebuilt, or a sleep restarted after a signal)
    /// keeps the previous answer.
    fn periodic_deadline(&mut self, pid: Pid, tid: Tid, addr: u64) -> bool {
        let Some(d) = self.proc.timespec(pid, addr) else {
            return false;
        };
        let e = self.deadlines.entry(tid).or_default();
        match e.last {
            Some(last) if last == d => return e.periodic,
            Some(last) if d > last => {
                let step = d - last;
                e.periodic = e.step.is_some_and(|s| s.abs_diff(step) <= PERIOD_SLACK_NS);
                e.step = Some(step);
            }
            _ => *e = Deadlines::default(),
        }
        e.last = Some(d);
        e.periodic
    }

    /// A poll set is read from the target's memory after the fact; when the
    /// thread has already moved on, the set cannot be read. Such a wait takes
    /// the kind the same thread's previous wait in the same call had.
    fn remember_wait_set(&mut self, tid: Tid, nr: Option<i64>, key: &mut CauseKey) {
        const SETS: [i64; 7] = [
            POLL,
            PPOLL,
            SELECT,
            PSELECT6,
            EPOLL_WAIT,
            EPOLL_PWAIT,
            EPOLL_PWAIT2,
        ];
        let Some(nr) = nr.filter(|n| SETS.contains(n)) else {
            return;
        };
        match key.fd_kind {
            Some(kind) => {
                self.last_wait_set.insert((tid, nr), kind);
            }
            None => key.fd_kind = self.last_wait_set.get(&(tid, nr)).copied(),
        }
    }

    /// For poll, select and epoll waits: the kind of fds waited on (into
    /// `cause.fd_kind`) and the wait's timeout.
    fn wait_set(
        &mut self,
        pid: Pid,
        time: Ns,
        r: &SwitchRegs,
        nr: Option<i64>,
        key: &mut CauseKey,
    ) -> Option<Ns> {
        let ms = |v: u64| {
            let ms = v as i32;
            (ms >= 0).then_some(ms as Ns * 1_000_000)
        };
        match nr? {
            POLL => {
                key.fd_kind = self.proc.poll_set(pid, r.di, r.si, time);
                ms(r.dx)
            }
            PPOLL => {
                key.fd_kind = self.proc.poll_set(pid, r.di, r.si, time);
                None
            }
            SELECT | PSELECT6 => {
                key.fd_kind = self.proc.select_set(pid, r.di, r.si, time);
                None
            }
            EPOLL_WAIT | EPOLL_PWAIT | EPOLL_PWAIT2 => {
                let epfd = r.di as i32;
                key.fd = Some(epfd);
                key.fd_kind = self.proc.epoll_set(pid, epfd, time);
                key.sockets = self.proc.epoll_sockets(pid, epfd, time).min(255) as u8;
                if nr == Some(EPOLL_PWAIT2) {
                    None
                } else {
                    ms(r.r10)
                }
            }
            _ => None,
        }
    }

    /// A switch-out arrived while the previous one was still open: the
    /// switch-in between them was lost. The thread ran at some point in
    /// between; close the open interval at its wakeup when known, else
    /// halfway, and count the on-CPU rest, so the timeline still covers the
    /// thread's life.
    fn repair(&mut self, tid: Tid, p: Pending, t: Ns) {
        let end = p
            .wake
            .unwrap_or(p.start + t.saturating_sub(p.start) / 2)
            .min(t);
        self.push_offcpu(tid, p, end);
        if let Some(live) = self.live.get_mut(&tid) {
            live.on_total += t.saturating_sub(end);
        }
        self.trace.counts.repaired += 1;
    }

    fn on_switch_out_record(&mut self, pid: Pid, tid: Tid, t: Ns, preempt: bool) {
        if tid <= 0 {
            return;
        }
        let tracepoints = self.tracepoints;
        let live = self.thread(pid, tid, t);
        if tracepoints && live.pending.is_some() && live.on_since.is_none() {
            return; // the tracepoint already recorded this switch-out
        }
        let state = if preempt {
            SwitchState::Preempted
        } else {
            SwitchState::Unknown
        };
        let cause = self.trace.causes.intern(Cause {
            state,
            ..Cause::default()
        });
        if !tracepoints {
            self.trace.counts.switch_outs += 1;
        }
        let live = self.live.get_mut(&tid).unwrap();
        Self::close_on_cpu(live, t);
        let pending = Pending {
            start: t,
            state,
            cause,
            wake: None,
            waker: None,
            timeout: None,
            ustack: None,
            regs: None,
            pid,
            own_kstack: false,
            inferred_wake: false,
        };
        if let Some(p) = live.pending.replace(pending) {
            self.repair(tid, p, t);
        }
    }

    fn on_waking(&mut self, s: &Sample<'_>) {
        let Some(f) = self.fields else { return };
        let Some(raw) = s.raw else { return };
        let Some(wakee) = read_int(raw, f.waking_pid).map(|v| v as Tid) else {
            return;
        };
        let in_irq = read_int(raw, f.common_flags).unwrap_or(0) & IRQ_FLAGS != 0;
        self.waking(s.time, s.pid, s.tid, wakee, in_irq);
    }

    /// `wakee` became runnable at `time`, woken by the task `waker_tid`
    /// (process `waker_pid`) unless the wakeup came from interrupt context.
    fn waking(&mut self, time: Ns, waker_pid: Pid, waker_tid: Tid, wakee: Tid, in_irq: bool) {
        if self.last_wake.get(&wakee) == Some(&time) {
            return;
        }
        // CPU-wide, a wakeup by a task outside the tree has its time but no
        // waker to follow.
        let waker_ours = self.ours(waker_pid);
        let Some(live) = self.live.get_mut(&wakee) else {
            return;
        };
        self.last_wake.insert(wakee, time);
        self.trace.counts.wakeups += 1;
        if let Some(p) = live.pending.as_mut() {
            if p.wake.is_none() && p.state != SwitchState::Preempted {
                p.wake = Some(time);
                p.waker = if in_irq || waker_tid <= 0 || !waker_ours {
                    None
                } else {
                    Some(waker_tid)
                };
            }
        }
    }

    /// A context switch from the BPF collector: the switch-out of a thread
    /// of the tree (state and syscall registers, as from the sched_switch
    /// tracepoint), and the switch-in of one, preceded by the wakeup that
    /// ended its wait (the BPF program keeps it until the switch-in, so it
    /// reaches the recorder then rather than at its own time; only the
    /// wakee's open interval uses it).
    fn on_sched(&mut self, ev: &SchedEvent) {
        use crate::collect::bpf::flags;
        if ev.has(flags::OUT) && ev.prev_tid > 0 && self.ours(ev.prev_pid) {
            self.lost_switch_in(ev.prev_pid, ev.prev_tid, ev.time, ev.prev_runtime);
            let state = switch_state(ev.report_state());
            let regs = SwitchRegs {
                dx: ev.dx,
                si: ev.si,
                di: ev.di,
                ip: ev.ip,
                r10: ev.r10,
                nr: (ev.nr >= 0).then_some(ev.nr),
            };
            self.switch_out(ev.prev_pid, ev.prev_tid, ev.time, state, Some(regs), None);
        }
        if !ev.has(flags::IN) || ev.next_tid <= 0 {
            return;
        }
        // As from sched_switch's next_pid: a thread of ours was announced by
        // a FORK record (or the root's exec) before it first ran.
        let Some(pid) = self.trace.threads.get(&ev.next_tid).map(|t| t.pid) else {
            return;
        };
        if ev.has(flags::WAKE) {
            self.waking(
                ev.wake,
                ev.waker_pid,
                ev.waker_tid,
                ev.next_tid,
                ev.has(flags::WAKE_IRQ),
            );
        }
        self.lost_switch_out(pid, ev.next_tid, ev.time, ev.next_runtime);
        self.switch_in_cpu_wide(pid, ev.next_tid, ev.time, ev.prev_pid);
    }

    /// BPF, before a switch-out: keep the thread's CPU total. When the
    /// thread is already off-CPU, the kernel switched it in without
    /// reporting it; since then it ran `runtime` minus its total at the last
    /// switch, up to now: the switch-in is put back there.
    fn lost_switch_in(&mut self, pid: Pid, tid: Tid, t: Ns, runtime: u64) {
        let Some(live) = self.live.get_mut(&tid) else {
            return;
        };
        let before = live.runtime;
        if runtime > 0 {
            live.runtime = Some(runtime);
        }
        let (Some(p), None, Some(before)) = (&live.pending, live.on_since, before) else {
            return;
        };
        if runtime == 0 || runtime < before {
            return;
        }
        let at = t.saturating_sub(runtime - before).max(p.start);
        self.trace.counts.repaired += 1;
        self.on_switch_in(pid, tid, at);
    }

    /// BPF, before a switch-in: keep the thread's CPU total. When the
    /// thread is already on a CPU, its switch-out was not reported; it ran
    /// `runtime` minus its total at its last switch-in, so it left the CPU
    /// that long after it, for a wait of unknown cause.
    fn lost_switch_out(&mut self, pid: Pid, tid: Tid, t: Ns, runtime: u64) {
        let Some(live) = self.live.get_mut(&tid) else {
            return;
        };
        let before = live.runtime;
        if runtime > 0 {
            live.runtime = Some(runtime);
        }
        let (None, Some(since), Some(before)) = (&live.pending, live.on_since, before) else {
            return;
        };
        if runtime == 0 || runtime < before || t <= since {
            return;
        }
        let at = since + (runtime - before).min(t - since);
        if at >= t {
            return;
        }
        self.trace.counts.repaired += 1;
        self.switch_out(pid, tid, at, SwitchState::Unknown, None, None);
    }

    /// A cpu-clock sample of a thread whose switches say it is off-CPU:
    /// the kernel switched it back in without reporting it (seen in a
    /// Firecracker VM: neither perf nor BPF saw the sched_switch). With
    /// CPU-wide sampling the first sample comes within a period of the
    /// switch-in: the interval closes half a period before it. With BPF
    /// switches the next switch-out says exactly how long it ran
    /// ([`Self::on_sched`]).
    fn running_while_off(&mut self, pid: Pid, tid: Tid, t: Ns, off_since: Ns) {
        let Some(period) = self.sample_period else {
            return;
        };
        if self.bpf_switches || t < off_since + SAME_SWITCH_NS {
            return;
        }
        self.trace.counts.repaired += 1;
        self.on_switch_in(pid, tid, t.saturating_sub(period / 2).max(off_since));
    }

    fn on_switch_in(&mut self, pid: Pid, tid: Tid, t: Ns) {
        if tid <= 0 {
            return;
        }
        let live = self.thread(pid, tid, t);
        let pending = live.pending.take();
        live.on_since = Some(t);
        if let Some(mut p) = pending {
            if p.inferred_wake
                && p.wake
                    .is_some_and(|w| t.saturating_sub(w) > INFERRED_WAKE_NS)
            {
                p.wake = None;
                p.waker = None;
            }
            self.push_offcpu(tid, p, t);
        }
    }

    /// `cause`, or its timed-out twin when the wait (nobody woke it) lasted
    /// until its own timeout.
    fn with_timeout(
        &mut self,
        cause: CauseId,
        timeout: Option<Ns>,
        waited: Ns,
        waker: Option<Tid>,
    ) -> CauseId {
        match timeout {
            Some(timeout) if waker.is_none() && waited + TIMEOUT_SLACK_NS >= timeout => {
                match self.timed_out_of.get(&cause) {
                    Some(&id) => id,
                    None => {
                        let mut c = self.trace.causes.get(cause).clone();
                        c.timed_out = true;
                        let id = self.trace.causes.intern(c);
                        self.timed_out_of.insert(cause, id);
                        id
                    }
                }
            }
            _ => cause,
        }
    }

    fn push_offcpu(&mut self, tid: Tid, mut p: Pending, end: Ns) {
        let waited = p.wake.unwrap_or(end).saturating_sub(p.start);
        p.cause = self.with_timeout(p.cause, p.timeout, waited, p.waker);
        // An interval whose switch-out was not sampled for a user stack
        // borrows the latest stack of the same thread and cause (at most 1 s
        // older): flamegraphs then weight stacks by the time they stand for.
        match p.ustack {
            Some(u) => {
                self.exemplars.insert((tid, p.cause), (p.start, u));
            }
            None => {
                if let Some(&(at, u)) = self.exemplars.get(&(tid, p.cause)) {
                    if p.start.saturating_sub(at) <= EXEMPLAR_AGE_NS {
                        p.ustack = Some(u);
                        self.trace.counts.offcpu_stacks_borrowed += 1;
                    }
                }
            }
        }
        let no_kstack = self.trace.causes.get(p.cause).kstack.is_none();
        let th = self.trace.threads.get_mut(&tid).unwrap();
        if no_kstack && p.state != SwitchState::Preempted {
            if let Some(regs) = p.regs {
                self.unresolved.push(Unresolved {
                    tid,
                    index: th.offcpu.len(),
                    pid: p.pid,
                    regs,
                    state: p.state,
                    start: p.start,
                });
            }
        }
        let wake = p.wake.map(|w| w.clamp(p.start, end.max(p.start)));
        th.offcpu.push(crate::model::trace::OffCpu {
            start: p.start,
            wake,
            end: end.max(p.start),
            cause: p.cause,
            waker: p.waker,
            ustack: p.ustack,
        });
    }

    /// Switch-outs recorded without their own kernel stack whose syscall
    /// site was learned only later (a new thread's frequency-mode events
    /// start with its parent's period, so its first waits are often not
    /// sampled): their causes are rebuilt with the learned stack.
    fn resolve_late(&mut self) {
        let unresolved = std::mem::take(&mut self.unresolved);
        for u in unresolved {
            let Some(&k) = self.learned_kstacks.get(&(u.pid, u.regs.ip)) else {
                continue;
            };
            let (cause, timeout) =
                self.build_cause(u.pid, u.tid, u.start, u.state, Some(k), Some(u.regs));
            let Some(iv) = self
                .trace
                .threads
                .get(&u.tid)
                .and_then(|th| th.offcpu.get(u.index))
                .copied()
            else {
                continue;
            };
            if self.trace.causes.get(iv.cause).kstack.is_some() {
                continue;
            }
            // The wait's own timeout, now that its call is known: an event
            // loop's first wait that ran into its timer is a timer wait.
            let waited = iv.wake.unwrap_or(iv.end).saturating_sub(iv.start);
            let cause = self.with_timeout(cause, timeout, waited, iv.waker);
            if let Some(iv) = self
                .trace
                .threads
                .get_mut(&u.tid)
                .and_then(|th| th.offcpu.get_mut(u.index))
            {
                iv.cause = cause;
                self.trace.counts.resolved_late += 1;
            }
        }
    }

    fn on_fork(&mut self, pid: Pid, ppid: Pid, tid: Tid, ptid: Tid, t: Ns) {
        if self.trace.threads.contains_key(&tid) {
            return;
        }
        let parent_comm = self
            .trace
            .threads
            .get(&ptid)
            .map(|th| th.comm.clone())
            .unwrap_or_default();
        if pid == tid && !self.trace.processes.contains_key(&pid) {
            self.unwinder.on_fork(ppid, pid);
            // A forked child runs its parent's image until it execs (a
            // fork-based worker pool never does): it gets no MMAP records
            // for what is already mapped, so it inherits the parent's list,
            // which symbolizes its stacks.
            let (argv, exe, mappings) = match self.trace.processes.get(&ppid) {
                Some(pp) => (pp.argv.clone(), pp.exe.clone(), pp.mappings.clone()),
                None => (Vec::new(), None, Vec::new()),
            };
            self.trace.processes.insert(
                pid,
                ProcessTrace {
                    pid,
                    ppid,
                    comm: parent_comm.clone(),
                    argv,
                    exe,
                    mappings,
                    start: t,
                    ..Default::default()
                },
            );
        }
        let cause = self.new_task_cause;
        let live = self.thread(pid, tid, t);
        live.on_since = None;
        live.runtime = Some(0);
        live.pending = Some(Pending {
            start: t,
            state: SwitchState::Preempted,
            cause,
            wake: None,
            waker: None,
            timeout: None,
            ustack: None,
            regs: None,
            pid,
            own_kstack: false,
            inferred_wake: false,
        });
        self.trace.threads.get_mut(&tid).unwrap().comm = parent_comm;
    }

    fn on_exit(&mut self, pid: Pid, tid: Tid, t: Ns) {
        let live = self.thread(pid, tid, t);
        if live.exited {
            return;
        }
        live.exited = true;
        Self::close_on_cpu(live, t);
        let pending = live.pending.take();
        if let Some(p) = pending {
            self.push_offcpu(tid, p, t);
        }
        let on_total = self.live[&tid].on_total;
        let th = self.trace.threads.get_mut(&tid).unwrap();
        th.end = Some(t);
        th.on_cpu_ns = Some(on_total);
        self.wake_waiting_parent(pid, tid, t);
    }

    /// A process's events are gone before the kernel notifies its parent, so
    /// the wakeup of a parent blocked in wait4()/waitid() is never recorded:
    /// when the last thread of a process exits, the parent's threads waiting
    /// for a child are taken to be woken by it, at that moment.
    fn wake_waiting_parent(&mut self, pid: Pid, tid: Tid, t: Ns) {
        let Some(p) = self.trace.processes.get(&pid) else {
            return;
        };
        let all_gone = p
            .threads
            .iter()
            .all(|th| self.live.get(th).is_none_or(|l| l.exited));
        if !all_gone {
            return;
        }
        self.unwinder.on_exit(pid);
        let Some(parent) = self.trace.processes.get(&p.ppid) else {
            return;
        };
        for ptid in parent.threads.clone() {
            let Some(live) = self.live.get_mut(&ptid) else {
                continue;
            };
            let Some(pend) = live.pending.as_mut() else {
                continue;
            };
            if pend.wake.is_some() || pend.state == SwitchState::Preempted {
                continue;
            }
            let c = self.trace.causes.get(pend.cause);
            let waits_for_child = matches!(c.syscall_name.as_deref(), Some("wait4" | "waitid"));
            let may_wait_for_child = c.kstack.is_none()
                || matches!(
                    c.syscall_name.as_deref(),
                    Some(
                        "rt_sigsuspend"
                            | "pause"
                            | "rt_sigtimedwait"
                            | "epoll_wait"
                            | "epoll_pwait"
                            | "epoll_pwait2"
                            | "poll"
                            | "ppoll"
                            | "read"
                    )
                );
            if waits_for_child {
                pend.wake = Some(t);
                pend.waker = Some(tid);
            } else if may_wait_for_child {
                // A wait for SIGCHLD (sigsuspend, an event loop's signal
                // pipe), or one whose syscall is not known yet: the exit is
                // taken as the wakeup only if the parent runs again right
                // after it (checked at its switch-in).
                pend.wake = Some(t);
                pend.waker = Some(tid);
                pend.inferred_wake = true;
            }
        }
    }

    fn on_comm(&mut self, pid: Pid, tid: Tid, comm: &str, exec: bool, t: Ns) {
        self.thread(pid, tid, t);
        self.trace.threads.get_mut(&tid).unwrap().comm = comm.into();
        if exec {
            if self.trace.exec.is_none() && pid == self.trace.root_pid {
                self.trace.exec = Some(t);
            }
            let (argv, exe) = self.proc.argv_exe(pid);
            self.unwinder.on_exec(pid);
            let p = self.trace.processes.get_mut(&pid).unwrap();
            p.comm = comm.into();
            p.mappings.clear();
            // A process gone before /proc could be read keeps at least the
            // name of what it exec'd, never its parent's argv.
            p.argv = argv
                .filter(|a| !a.is_empty())
                .unwrap_or_else(|| vec![comm.to_string()]);
            p.exe = exe;
        } else if pid == tid {
            let p = self.trace.processes.get_mut(&pid).unwrap();
            if p.comm.is_empty() {
                p.comm = comm.into();
            }
        }
    }

    /// Close every open interval at `end` (the root was reaped) and return the
    /// trace.
    /// What the BPF collector lost in the kernel: switches not written
    /// (ring buffer full) count as lost records.
    pub fn bpf_losses(&mut self, l: crate::collect::bpf::Losses) {
        self.trace.counts.lost += l.ring_full;
        self.trace.counts.untracked_tasks += l.tasks_full;
    }

    pub fn finish(mut self, end: Ns) -> Trace {
        let tids: Vec<Tid> = self.live.keys().copied().collect();
        self.resolve_late();
        for tid in tids {
            let live = self.live.get_mut(&tid).unwrap();
            if live.exited {
                continue;
            }
            Self::close_on_cpu(live, end);
            let on_total = live.on_total;
            if let Some(p) = live.pending.take() {
                self.push_offcpu(tid, p, end);
            }
            self.trace.threads.get_mut(&tid).unwrap().on_cpu_ns = Some(on_total);
        }
        for th in self.trace.threads.values_mut() {
            th.timeline = Fidelity::Switches;
        }
        for p in self.trace.processes.values_mut() {
            let ends: Vec<Option<Ns>> = p
                .threads
                .iter()
                .map(|t| self.trace.threads.get(t).and_then(|th| th.end))
                .collect();
            if !ends.is_empty() && ends.iter().all(|e| e.is_some()) {
                p.end = ends.into_iter().flatten().max();
            }
        }
        self.trace.reaped = end;
        self.trace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoProc;
    impl ProcAccess for NoProc {
        fn fd_kind(&mut self, _: Pid, _: i32, _: Ns) -> Option<FdKind> {
            None
        }
        fn poll_set(&mut self, _: Pid, _: u64, _: u64, _: Ns) -> Option<FdKind> {
            None
        }
        fn select_set(&mut self, _: Pid, _: u64, _: u64, _: Ns) -> Option<FdKind> {
            None
        }
        fn epoll_set(&mut self, _: Pid, _: i32, _: Ns) -> Option<FdKind> {
            None
        }
        fn argv_exe(&mut self, _: Pid) -> (Option<Vec<String>>, Option<String>) {
            (None, None)
        }
    }

    /// Raw tracepoint data: common_flags (4 bytes) at 0, prev_pid / the
    /// wakee's pid at 4, prev_state at 8, next_pid at 16 (not read).
    const FIELDS: RawFields = RawFields {
        switch_prev_pid: Field { offset: 4, size: 4 },
        switch_prev_state: Field { offset: 8, size: 8 },
        switch_next_pid: Field {
            offset: 16,
            size: 4,
        },
        waking_pid: Field { offset: 4, size: 4 },
        common_flags: Field { offset: 0, size: 4 },
    };

    fn raw(prev_or_wakee: i32, state: i64, next: i32) -> Vec<u8> {
        let mut r = vec![0u8; 20];
        r[4..8].copy_from_slice(&prev_or_wakee.to_ne_bytes());
        r[8..16].copy_from_slice(&state.to_ne_bytes());
        r[16..20].copy_from_slice(&next.to_ne_bytes());
        r
    }

    fn sample(kind: EventKind, pid: Pid, tid: Tid, time: Ns, raw: Option<&[u8]>) -> Rec<'_> {
        Rec::Sample(Sample {
            kind,
            misc: MISC_USER,
            ip: Some(0x1000),
            pid,
            tid,
            time,
            cpu: 0,
            period: Some(1),
            callchain: None,
            raw,
            user_regs: None,
            user_stack: None,
        })
    }

    /// CPU-wide: the sched_switch raw data of a switch from `from` (0: the
    /// idle task; preempted, state R) to `to`.
    fn switch_to(from: Pid, to: Tid) -> Vec<u8> {
        raw(from, 0, to)
    }

    /// CPU-wide events deliver every task's records: only the target's tree
    /// from its exec on is kept, a wakeup from outside the tree has a time
    /// but no waker, the time from a wakeup to a switch-in from the idle task
    /// stays part of the wait while one spent behind another program is
    /// runqueue time, and an exiting thread sampled after its pid was
    /// released (tid -1) is not a thread.
    #[test]
    fn cpu_wide_keeps_the_tree_and_tells_wakeup_latency_from_contention() {
        const ROOT: Pid = 100;
        const OTHER: Pid = 999;
        let mut rec = Recorder::new(
            ROOT,
            vec!["t".into()],
            0,
            Some(FIELDS),
            Vec::new(),
            Box::new(NoProc),
        );
        rec.cpu_wide = true;
        let (out, wake) = (raw(ROOT, 1, 0), raw(ROOT, 0, 0));
        // Switch-ins: from the idle task, and from a program outside the tree.
        let (from_idle, from_other) = (switch_to(0, ROOT), switch_to(OTHER, ROOT));
        let records = [
            sample(EventKind::CpuClock, ROOT, ROOT, 50, None), // before the exec
            Rec::Comm {
                pid: ROOT,
                tid: ROOT,
                comm: "t",
                exec: true,
                time: 100,
            },
            sample(EventKind::CpuClock, OTHER, OTHER, 150, None),
            sample(EventKind::SchedSwitch, ROOT, ROOT, 200, Some(&out)),
            sample(EventKind::SchedWaking, OTHER, OTHER, 300, Some(&wake)),
            sample(EventKind::SchedSwitch, 0, 0, 350, Some(&from_idle)),
            sample(EventKind::SchedSwitch, ROOT, ROOT, 360, Some(&out)),
            sample(EventKind::SchedWaking, OTHER, OTHER, 370, Some(&wake)),
            sample(EventKind::SchedSwitch, OTHER, OTHER, 390, Some(&from_other)),
            Rec::Fork {
                pid: ROOT + 1,
                ppid: ROOT,
                tid: ROOT + 1,
                ptid: ROOT,
                time: 400,
            },
            Rec::Fork {
                pid: 5000,
                ppid: 4000,
                tid: 5000,
                ptid: 4000,
                time: 410,
            },
            Rec::Exit {
                pid: 5000,
                ppid: 4000,
                tid: 5000,
                ptid: 4000,
                time: 420,
            },
            sample(EventKind::CpuClock, ROOT, -1, 450, None),
            Rec::Exit {
                pid: ROOT,
                ppid: 1,
                tid: ROOT,
                ptid: 1,
                time: 500,
            },
        ];
        for r in &records {
            rec.record(r);
        }
        let t = rec.finish(600);
        let pids: Vec<Pid> = t.processes.keys().copied().collect();
        assert_eq!(pids, vec![ROOT, ROOT + 1]);
        let tids: Vec<Tid> = t.threads.keys().copied().collect();
        assert_eq!(tids, vec![ROOT, ROOT + 1]);
        let th = &t.threads[&ROOT];
        assert_eq!(th.start, 100);
        assert_eq!(th.offcpu.len(), 2, "{:?}", th.offcpu);
        let (idle, busy) = (th.offcpu[0], th.offcpu[1]);
        assert_eq!((idle.start, idle.wake, idle.end), (200, Some(350), 350));
        assert_eq!(idle.waker, None, "a waker outside the tree");
        assert_eq!((busy.start, busy.wake, busy.end), (360, Some(370), 390));
        assert_eq!(th.on_cpu_ns, Some((200 - 100) + (360 - 350) + (500 - 390)));
        assert_eq!(t.counts.on_cpu_samples, 0);
    }

    /// A switch-out whose kernel stack was neither sampled nor learned yet
    /// (a new thread's first wait at a call site, or /proc read too late
    /// under load) gets its cause when the site's stack is learned later:
    /// its wait set's timeout comes with it, so an epoll wait that ran into
    /// its timer is a timer wait (a Go netpoller's first time.Sleep lost it).
    /// The BPF collector's records: a switch-out carries its state and
    /// syscall (from `orig_ax`, no kernel stack needed), a switch-in carries
    /// the wakeup that ended the wait (a waker outside the tree, or an
    /// interrupt, names nobody; a thread of the tree does), the wait stays
    /// whole when an idle CPU picked the thread up, and a detail record's
    /// kernel stack is cut at `__schedule` and names the wait.
    #[test]
    fn bpf_records_build_the_same_timeline() {
        use crate::collect::bpf::{flags, DetailEvent};
        const ROOT: Pid = 100;
        const PEER: Tid = 101; // a thread of ROOT
        const OTHER: Pid = 999;
        const NANOSLEEP: i64 = 35;
        // Kernel symbols: the BPF program's address falls past the last one
        // of the kernel text, as JIT'd code does.
        let kallsyms = vec![
            (0x1000, "__schedule".to_string()),
            (0x1100, "schedule".to_string()),
            (0x1200, "do_nanosleep".to_string()),
            (0x1300, "bpf_trace_run4".to_string()),
            (0x1400, "_einittext".to_string()),
        ];
        let mut rec = Recorder::new(ROOT, vec!["t".into()], 0, None, kallsyms, Box::new(NoProc));
        rec.cpu_wide = true;
        let out = |time: Ns, tid: Tid, state: u32, nr: i64| {
            Rec::Bpf(BpfRecord::Switch(SchedEvent {
                time,
                flags: flags::OUT,
                prev_tid: tid,
                prev_pid: ROOT,
                prev_state: state,
                nr,
                ip: 0x7f00_0000_1000,
                ..SchedEvent::default()
            }))
        };
        let into = |time: Ns, tid: Tid, from: Pid, wake: Option<(Ns, Pid, Tid, bool)>| {
            let mut ev = SchedEvent {
                time,
                flags: flags::IN,
                prev_pid: from,
                prev_tid: from,
                next_tid: tid,
                next_pid: ROOT,
                ..SchedEvent::default()
            };
            if let Some((at, pid, tid, irq)) = wake {
                ev.flags |= flags::WAKE | if irq { flags::WAKE_IRQ } else { 0 };
                ev.wake = at;
                ev.waker_pid = pid;
                ev.waker_tid = tid;
            }
            Rec::Bpf(BpfRecord::Switch(ev))
        };
        let detail = DetailEvent::encode(
            400,
            ROOT,
            ROOT,
            &[0x1401, 0x1301, 0x1001, 0x1101, 0x1201],
            [0x7f00_0000_2000, 0x7ffc_0000_0000, 0],
            &[],
        );
        let Some(BpfRecord::Detail(detail)) = BpfRecord::parse(&detail) else {
            panic!("detail record")
        };
        let records = [
            out(50, ROOT, 1, NANOSLEEP), // before the exec: not counted
            Rec::Comm {
                pid: ROOT,
                tid: ROOT,
                comm: "t",
                exec: true,
                time: 100,
            },
            Rec::Fork {
                pid: ROOT,
                ppid: ROOT,
                tid: PEER,
                ptid: ROOT,
                time: 110,
            },
            into(120, PEER, 0, None),
            // Woken by a program outside the tree, picked up by an idle CPU.
            out(200, ROOT, 1, NANOSLEEP),
            into(350, ROOT, 0, Some((300, OTHER, OTHER, false))),
            // Woken by a thread of the tree, which then ran elsewhere; the
            // CPU ran a program outside the tree until the switch-in.
            out(360, ROOT, 1, 202),
            into(390, ROOT, OTHER, Some((370, ROOT, PEER, false))),
            // Woken from an interrupt while the peer was the current task.
            Rec::Bpf(BpfRecord::Detail(detail)),
            out(400, ROOT, 1, NANOSLEEP),
            into(450, ROOT, 0, Some((420, ROOT, PEER, true))),
            // A task outside the tree switched in: nothing.
            into(460, 4242, 0, Some((455, ROOT, ROOT, false))),
            Rec::Exit {
                pid: ROOT,
                ppid: 1,
                tid: ROOT,
                ptid: 1,
                time: 500,
            },
        ];
        for r in &records {
            rec.record(r);
        }
        let t = rec.finish(600);
        assert!(!t.threads.contains_key(&4242));
        let th = &t.threads[&ROOT];
        assert_eq!(th.start, 100);
        let iv: Vec<_> = th
            .offcpu
            .iter()
            .map(|o| (o.start, o.wake, o.end, o.waker))
            .collect();
        assert_eq!(
            iv,
            vec![
                (200, Some(350), 350, None),
                (360, Some(370), 390, Some(PEER)),
                (400, Some(450), 450, None),
            ]
        );
        let cause = |i: usize| t.causes.get(th.offcpu[i].cause).clone();
        assert_eq!(cause(0).syscall_nr, Some(NANOSLEEP), "{:?}", cause(0));
        assert_eq!(cause(0).state, SwitchState::Sleeping);
        assert_eq!(cause(1).syscall_nr, Some(202));
        let k = cause(2).kstack.expect("the detail's kernel stack");
        assert_eq!(
            t.kstack_names(k),
            vec!["__schedule", "schedule", "do_nanosleep"],
            "cut at __schedule"
        );
    }

    /// Switches the kernel never reported (seen in a Firecracker VM: a
    /// thread of the VM's agent preempts one of ours and the switch back is
    /// in neither perf's sched_switch nor BPF's). BPF records carry each
    /// side's total CPU time: a second switch-out with no switch-in between
    /// puts the switch-in back where the thread's run began, and a second
    /// switch-in puts the switch-out back where its run ended. Without them
    /// (perf tracepoints, CPU-wide), the thread's first cpu-clock sample
    /// while it seemed off-CPU closes the wait half a period before it.
    #[test]
    fn unreported_switches_are_recovered() {
        use crate::collect::bpf::flags;
        const ROOT: Pid = 100;
        const CHILD: Pid = 101;
        const AGENT: Pid = 63;
        let start = |rec: &mut Recorder| {
            rec.record(&Rec::Comm {
                pid: ROOT,
                tid: ROOT,
                comm: "t",
                exec: true,
                time: 100,
            });
            rec.record(&Rec::Fork {
                pid: CHILD,
                ppid: ROOT,
                tid: CHILD,
                ptid: ROOT,
                time: 1_000,
            });
        };
        let bpf = |time: Ns, out: Option<u64>, into: Option<u64>| {
            let mut ev = SchedEvent {
                time,
                prev_tid: AGENT,
                prev_pid: 1,
                next_tid: AGENT,
                next_pid: 1,
                ..SchedEvent::default()
            };
            if let Some(rt) = out {
                ev.flags |= flags::OUT;
                (ev.prev_tid, ev.prev_pid, ev.prev_runtime) = (CHILD, CHILD, rt);
            }
            if let Some(rt) = into {
                ev.flags |= flags::IN;
                (ev.next_tid, ev.next_pid, ev.next_runtime) = (CHILD, CHILD, rt);
            }
            Rec::Bpf(BpfRecord::Switch(ev))
        };
        let exit = Rec::Exit {
            pid: CHILD,
            ppid: ROOT,
            tid: CHILD,
            ptid: ROOT,
            time: 100_000,
        };
        // The child's waits, without its zero-length wait for its first run.
        let waits = |th: &ThreadTrace| -> Vec<(Ns, Ns)> {
            th.offcpu
                .iter()
                .filter(|o| o.end > o.start)
                .map(|o| (o.start, o.end))
                .collect()
        };
        let new_bpf = || {
            let mut rec = Recorder::new(
                ROOT,
                vec!["t".into()],
                0,
                None,
                Vec::new(),
                Box::new(NoProc),
            );
            rec.cpu_wide = true;
            rec.bpf_switches = true;
            rec.sample_period = Some(2_000);
            rec
        };

        // BPF, a lost switch-in: preempted at 20k after 19k of CPU, out
        // again at 60k with 29k more: back in at 31k.
        let mut rec = new_bpf();
        start(&mut rec);
        for r in [
            bpf(1_000, None, Some(0)),
            bpf(20_000, Some(19_000), None),
            sample(EventKind::CpuClock, CHILD, CHILD, 40_000, None),
            bpf(60_000, Some(48_000), None),
            bpf(70_000, None, Some(48_000)),
            exit,
        ] {
            rec.record(&r);
        }
        let t = rec.finish(200_000);
        let th = &t.threads[&CHILD];
        let iv = waits(th);
        assert_eq!(iv, vec![(20_000, 31_000), (60_000, 70_000)]);
        assert_eq!(th.on_cpu_ns, Some(19_000 + 29_000 + 30_000));
        assert_eq!(t.counts.repaired, 1);

        // BPF, a lost switch-out: in at 1k, in again at 50k having run 9k:
        // out at 10k, for a wait of unknown cause.
        let mut rec = new_bpf();
        start(&mut rec);
        for r in [
            bpf(1_000, None, Some(0)),
            bpf(50_000, None, Some(9_000)),
            exit,
        ] {
            rec.record(&r);
        }
        let t = rec.finish(200_000);
        let th = &t.threads[&CHILD];
        let iv = waits(th);
        assert_eq!(iv, vec![(10_000, 50_000)]);
        assert_eq!(
            t.causes.get(th.offcpu.last().unwrap().cause).state,
            SwitchState::Unknown
        );
        assert_eq!(th.on_cpu_ns, Some(9_000 + 50_000));

        // perf tracepoints, CPU-wide: the first sample at 40 ms closes the
        // wait at 39 ms (half a 2 ms period before); the next switch-out is
        // an ordinary one. A sample of a thread on a CPU changes nothing.
        const MS: Ns = 1_000_000;
        let mut rec = Recorder::new(
            ROOT,
            vec!["t".into()],
            0,
            Some(FIELDS),
            Vec::new(),
            Box::new(NoProc),
        );
        rec.cpu_wide = true;
        rec.sample_period = Some(2 * MS);
        start(&mut rec);
        let (into, out) = (switch_to(ROOT, CHILD), raw(CHILD, 0, AGENT));
        for r in [
            sample(EventKind::SchedSwitch, ROOT, ROOT, MS, Some(&into)),
            sample(EventKind::CpuClock, CHILD, CHILD, 10 * MS, None),
            sample(EventKind::SchedSwitch, CHILD, CHILD, 20 * MS, Some(&out)),
            sample(EventKind::CpuClock, CHILD, CHILD, 40 * MS, None),
            sample(EventKind::CpuClock, CHILD, CHILD, 42 * MS, None),
            sample(EventKind::SchedSwitch, CHILD, CHILD, 60 * MS, Some(&out)),
            Rec::Exit {
                pid: CHILD,
                ppid: ROOT,
                tid: CHILD,
                ptid: ROOT,
                time: 100 * MS,
            },
        ] {
            rec.record(&r);
        }
        let t = rec.finish(200 * MS);
        let th = &t.threads[&CHILD];
        let iv = waits(th);
        // iv[0]: the new task's wait for its first switch-in.
        assert_eq!(iv[1], (20 * MS, 39 * MS));
        assert_eq!(iv[2].0, 60 * MS);
        assert_eq!(t.counts.repaired, 1);
    }

    #[test]
    fn late_resolved_wait_keeps_its_timeout() {
        const ROOT: Pid = 100;
        const SITE: u64 = 0x40_1000;
        const K_EP: u64 = 0xffff_ffff_8100_1000;
        const K_SYS: u64 = 0xffff_ffff_8100_2000;
        const K_ENTRY: u64 = 0xffff_ffff_8100_3000;
        let mut rec = Recorder::new(
            ROOT,
            vec!["t".into()],
            0,
            Some(FIELDS),
            Vec::new(),
            Box::new(NoProc),
        );
        rec.cpu_wide = true;
        rec.trace.kallsyms = vec![
            (K_EP, "do_epoll_wait".into()),
            (K_SYS, "__x64_sys_epoll_pwait".into()),
            (K_ENTRY, "do_syscall_64".into()),
        ];
        let regs = |v: &[u64]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
        // dx, si, di (the epoll fd), ip, r10 (timeout: 10 ms).
        let out_regs = regs(&[16, 0, 3, SITE, 10]);
        // bp, sp, ip for the detail event.
        let detail_regs = regs(&[0, 0x7ff0_0000, SITE]);
        let chain = regs(&[K_EP + 0x10, K_SYS + 0x10, K_ENTRY + 0x10]);
        let out = raw(ROOT, 1, 0);
        let from_idle = switch_to(0, ROOT);
        let ms = 1_000_000;
        let switch_out = Rec::Sample(Sample {
            user_regs: Some(&out_regs),
            ..match sample(EventKind::SchedSwitch, ROOT, ROOT, 200, Some(&out)) {
                Rec::Sample(s) => s,
                _ => unreachable!(),
            }
        });
        // The site's stack, sampled at a later switch-out of the same call.
        let detail = Rec::Sample(Sample {
            user_regs: Some(&detail_regs),
            callchain: Some(super::super::records::Callchain::from_raw(&chain)),
            ..match sample(EventKind::SwitchDetail, ROOT, ROOT, 50 * ms, None) {
                Rec::Sample(s) => s,
                _ => unreachable!(),
            }
        });
        let records = [
            Rec::Comm {
                pid: ROOT,
                tid: ROOT,
                comm: "t",
                exec: true,
                time: 100,
            },
            switch_out,
            sample(
                EventKind::SchedSwitch,
                0,
                0,
                200 + 10 * ms + 5_000,
                Some(&from_idle),
            ),
            detail,
            Rec::Exit {
                pid: ROOT,
                ppid: 1,
                tid: ROOT,
                ptid: 1,
                time: 60 * ms,
            },
        ];
        for r in &records {
            rec.record(r);
        }
        let t = rec.finish(61 * ms);
        let iv = t.threads[&ROOT].offcpu[0];
        let c = t.causes.get(iv.cause);
        assert!(c.kstack.is_some(), "resolved late: {c:?}");
        assert!(c.timed_out, "ran into its 10 ms timeout: {c:?}");
        assert_eq!(t.counts.resolved_late, 1);
    }

    #[test]
    fn syscall_from_kernel_frames() {
        let h = syscall_hint(&[
            "__schedule",
            "schedule",
            "futex_wait",
            "__x64_sys_futex",
            "x64_sys_call",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ]);
        assert_eq!(
            (h.name.as_deref(), h.nr, h.futex, h.fd_arg),
            (Some("futex"), Some(202), true, false)
        );
        let h = syscall_hint(&[
            "__schedule",
            "schedule",
            "anon_pipe_read",
            "vfs_read",
            "ksys_read",
            "do_syscall_64",
        ]);
        assert_eq!(
            (h.name.as_deref(), h.nr, h.fd_arg),
            (Some("read"), Some(0), true)
        );
        let h = syscall_hint(&["__schedule", "do_wait", "kernel_wait4", "do_syscall_64"]);
        assert_eq!((h.name.as_deref(), h.nr), (Some("wait4"), Some(61)));
        let h = syscall_hint(&[
            "__schedule",
            "io_schedule",
            "filemap_fault",
            "exc_page_fault",
        ]);
        assert!(h.name.is_none());
    }

    #[test]
    fn prev_state_maps_to_switch_state() {
        assert_eq!(switch_state(0), SwitchState::Preempted);
        assert_eq!(switch_state(0x100), SwitchState::Preempted);
        assert_eq!(switch_state(1), SwitchState::Sleeping);
        assert_eq!(switch_state(2), SwitchState::DiskSleep);
        assert_eq!(switch_state(0x80), SwitchState::Other);
    }
}
