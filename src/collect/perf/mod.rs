//! The perf collector: per-CPU, inherited perf events on the held target, and
//! a drain thread that merges the per-CPU ring buffers in time order into a
//! [`Recorder`].
//!
//! For each online CPU wallprof opens, on the target's pid with `inherit` and
//! `enable_on_exec` (so every thread and process it starts is followed from
//! its exec on, and nothing is missed at the start):
//! - `cpu-clock` sampling at `freq` Hz with kernel and user callchains; it
//!   also carries the side-band records: FORK/EXIT, COMM (with exec), MMAP2 of
//!   executable mappings, and context-switch records (switch-in times, and
//!   switch-outs when tracepoints are unavailable);
//! - `sched:sched_switch`: state and kernel stack at every switch-out, with
//!   the user registers that hold the syscall arguments;
//! - `sched:sched_waking`: when each thread became runnable, and who woke it.
//!
//! The kernel refuses a ring buffer for an inherited event with cpu = -1, so
//! there is one buffer per CPU; the tracepoints write into the cpu-clock
//! event's buffer (`PERF_EVENT_IOC_SET_OUTPUT`). All timestamps are
//! CLOCK_MONOTONIC (`use_clockid`).
//!
//! Each level that cannot be opened (tracepoints need CAP_PERFMON or
//! `perf_event_paranoid` <= -1; kernel samples need paranoid <= 1) is dropped
//! and reported in [`PerfSession::statuses`], never fatal; when nothing can be
//! opened, [`open`] returns the reason and the caller falls back to /proc.

pub mod recorder;
pub mod records;
pub mod tracefs;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use perf_event::events::{Software, Tracepoint};
use perf_event::{Builder, Clock, Counter, Sampler};

use self::recorder::{ProcAccess, RawFields, Recorder, REGS_MASK};
use self::records::{
    EventKind, EventLayout, Layout, SAMPLE_CALLCHAIN, SAMPLE_ID_ALL_FIELDS, SAMPLE_IP,
    SAMPLE_PERIOD, SAMPLE_RAW, SAMPLE_REGS_USER, SAMPLE_STACK_USER,
};
use crate::model::trace::{CollectorState, CollectorStatus, Ns, Pid, Trace};

/// Which tasks the sampling and scheduler events watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    /// CPU-wide events (every task on each CPU; the recorder keeps the
    /// target's tree). Needs CAP_PERFMON, root or `perf_event_paranoid` <= 0;
    /// refused, the events are opened per task. The default: a per-task
    /// cpu-clock re-arms its timer at every context switch
    /// (docs/performance.md).
    #[default]
    Cpu,
    /// Events on the target's tasks, inherited by every thread and process it
    /// starts: the fallback where CPU-wide events are not permitted.
    Task,
}

/// What to record.
#[derive(Clone, Debug)]
pub struct PerfConfig {
    /// cpu-clock sampling frequency, Hz.
    pub freq: u64,
    /// Ring buffer size per CPU, bytes (a power of two; halved until the
    /// kernel accepts it).
    pub buffer_bytes: usize,
    pub scope: Scope,
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            freq: crate::run::DEFAULT_FREQ,
            buffer_bytes: 8 << 20,
            scope: Scope::default(),
        }
    }
}

/// What the drain thread needs to know about the target.
pub struct Target {
    pub pid: Pid,
    pub argv: Vec<String>,
    pub launched: Ns,
    /// Receives the executable files the target maps, to read them ahead.
    pub warmer: Option<crate::stacks::service::Warmer>,
    /// Kernel symbols being read ahead ([`crate::analyze::kallsyms::preload`]);
    /// `None`: the drain thread reads them itself.
    pub kallsyms: Option<crate::analyze::kallsyms::Preload>,
    /// The BPF scheduler collector being loaded ([`crate::collect::bpf`]),
    /// used at [`Scope::Cpu`] in place of the CPU-wide tracepoints; `None`:
    /// not asked for (`--no-bpf`, or `--perf-scope task`).
    pub bpf: Option<crate::collect::bpf::Preload>,
}

pub struct PerfSession {
    stop: Arc<AtomicBool>,
    wake_fd: i32,
    end: Arc<AtomicU64>,
    thread: Option<JoinHandle<Trace>>,
    pub statuses: Vec<CollectorStatus>,
    /// The effective sampling frequency.
    pub freq: u64,
    pub kernel_samples: bool,
    pub tracefs_mounted_by_us: bool,
    /// The scope the events were opened with ([`Scope::Cpu`] or
    /// [`Scope::Task`]).
    pub scope: Scope,
}

fn status(name: &str, state: CollectorState) -> CollectorStatus {
    CollectorStatus {
        name: name.into(),
        state,
    }
}

/// The online CPUs, from `/sys/devices/system/cpu/online` ("0-3,5").
pub fn online_cpus() -> Vec<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    let cpus = parse_cpu_list(&text);
    if cpus.is_empty() {
        (0..std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1))
            .collect()
    } else {
        cpus
    }
}

pub fn parse_cpu_list(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<usize>().ok()),
        }
    }
    out
}

fn explain(e: &std::io::Error) -> String {
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    match e.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => format!(
            "{e} (perf_event_paranoid is {paranoid}; needs CAP_PERFMON, root, or a lower perf_event_paranoid)"
        ),
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::EOPNOTSUPP) => {
            format!("{e} (the kernel does not offer this event here)")
        }
        Some(libc::ENOSYS) => "perf_event_open is not available (seccomp or an old kernel)".into(),
        _ => e.to_string(),
    }
}

struct CpuEvents {
    sampler: Sampler,
    _others: Vec<Counter>,
}

/// A tracepoint event opened on one CPU, with what the drain needs to parse
/// its samples.
struct Opened1 {
    kind: EventKind,
    sample_type: u64,
    nr_user_regs: usize,
    counter: Counter,
}

/// On-CPU samples: the kernel callchain, and the user registers and stack
/// that the drain thread unwinds with DWARF (see docs/stacks.md).
const CPU_CLOCK_SAMPLE: u64 = SAMPLE_ID_ALL_FIELDS
    | SAMPLE_IP
    | SAMPLE_PERIOD
    | SAMPLE_CALLCHAIN
    | SAMPLE_REGS_USER
    | SAMPLE_STACK_USER;

/// Bytes of user stack copied with each on-CPU sample.
pub const SAMPLE_STACK_BYTES: u32 = 16 * 1024;

/// Every switch-out: state (raw) and the syscall's registers. No callchain:
/// unwinding the kernel stack on every switch doubles the cost of a context
/// switch, so kernel stacks come from the rate-limited kernel-stack event.
const SWITCH_SAMPLE: u64 = SAMPLE_ID_ALL_FIELDS | SAMPLE_RAW | SAMPLE_REGS_USER;
/// A rate-limited subset of blocking switch-outs: the kernel stack, and the
/// user registers and stack.
const DETAIL_SAMPLE: u64 =
    SAMPLE_ID_ALL_FIELDS | SAMPLE_CALLCHAIN | SAMPLE_REGS_USER | SAMPLE_STACK_USER;
const WAKING_SAMPLE: u64 = SAMPLE_ID_ALL_FIELDS | SAMPLE_RAW;

fn base_builder<'a, E: perf_event::events::Event>(
    ev: E,
    pid: Pid,
    cpu: usize,
    scope: Scope,
) -> Builder<'a> {
    let mut b = Builder::new(ev);
    if scope == Scope::Cpu {
        // Every task on the CPU, from now on: records before the target's
        // exec and of other tasks are dropped by the recorder.
        b.any_pid().enabled(true);
    } else {
        b.observe_pid(pid)
            .inherit(true)
            .enable_on_exec(true)
            .enabled(false);
    }
    b.one_cpu(cpu)
        .sample_id_all(true)
        .clockid(Clock::MONOTONIC)
        .exclude_hv(true);
    b
}

fn open_cpu_clock(
    pid: Pid,
    cpu: usize,
    cfg: &PerfConfig,
    scope: Scope,
    kernel: bool,
    bytes: usize,
) -> std::io::Result<Sampler> {
    let mut b = base_builder(Software::CPU_CLOCK, pid, cpu, scope);
    b.sample_frequency(if std::env::var_os("EXP_NOSAMPLE").is_some() {
        1
    } else {
        cfg.freq
    })
    .exclude_kernel(!kernel)
    .comm(true)
    .comm_exec(true)
    .task(true)
    .mmap(true)
    .mmap2(true)
    .exclude_callchain_user(true)
    .sample_regs_user(recorder::SAMPLE_REGS_MASK)
    .sample_stack_user(SAMPLE_STACK_BYTES)
    .wakeup_watermark(bytes / 8);
    // Switch-ins: per task, from context-switch records (a per-task
    // tracepoint fires only while one of the target's tasks is current, so
    // it misses switches from the idle task, which is how most switch-ins
    // after a wait happen). CPU-wide, sched_switch fires on every switch and
    // its next_pid is the switch-in: context-switch records would add two
    // records to every switch (docs/performance.md).
    b.context_switch(scope == Scope::Task);
    if scope == Scope::Cpu {
        // Idle is not sampled.
        b.exclude_idle(true);
    }
    b.attrs_mut().sample_type = CPU_CLOCK_SAMPLE;
    let counter = b.build()?;
    counter.sampled(bytes)
}

fn open_tracepoint(
    pid: Pid,
    cpu: usize,
    scope: Scope,
    id: u64,
    sample_type: u64,
    regs: bool,
) -> std::io::Result<Counter> {
    let mut b = base_builder(Tracepoint::with_id(id), pid, cpu, scope);
    b.sample_period(1)
        .exclude_kernel(false)
        .exclude_callchain_user(true);
    if regs {
        b.sample_regs_user(REGS_MASK);
    }
    b.attrs_mut().sample_type = sample_type;
    b.build()
}

/// Bytes of user stack copied per detailed switch-out.
pub const OFFCPU_STACK_BYTES: u32 = 8 * 1024;

/// The detail of a rate-limited subset of blocking switch-outs: the kernel
/// stack (learned for its syscall site) and the user registers and stack
/// (unwound into the switch-out's user stack). The kernel's frequency mode
/// gives each (thread, CPU) copy a period that starts at 1 and grows when
/// the thread blocks more often than [`recorder::DETAIL_HZ`]; see
/// docs/collectors.md and docs/stacks.md.
fn open_switch_detail(pid: Pid, cpu: usize, id: u64) -> std::io::Result<Counter> {
    // Always on the target's tasks, inherited: the kernel's frequency mode
    // then adapts the period per thread, so one busy task elsewhere cannot
    // use up the samples.
    let mut b = base_builder(Tracepoint::with_id(id), pid, cpu, Scope::Task);
    b.sample_frequency(recorder::DETAIL_HZ)
        .exclude_kernel(false)
        .exclude_callchain_user(true)
        .sample_regs_user(recorder::SAMPLE_REGS_MASK)
        .sample_stack_user(OFFCPU_STACK_BYTES);
    b.attrs_mut().sample_type = DETAIL_SAMPLE;
    let counter = b.build()?;
    blocking_only(&counter);
    Ok(counter)
}

/// Only blocking switch-outs (S or D) count toward a rate-limited event's
/// rate: a busy thread's preemptions must not use up the samples of its real
/// waits. Inherited events keep the filter. Without it, samples are still
/// taken, only thinner.
fn blocking_only(counter: &Counter) {
    let filter = std::ffi::CString::new("prev_state & 3").unwrap();
    // SAFETY: an open perf event fd and a NUL-terminated filter string.
    unsafe {
        libc::ioctl(
            counter.as_raw_fd(),
            0x4008_2406, /* PERF_EVENT_IOC_SET_FILTER */
            filter.as_ptr(),
        )
    };
}

fn set_output(counter: &Counter, leader: &Sampler) -> std::io::Result<()> {
    // SAFETY: both are open perf event fds; SET_OUTPUT takes the target fd.
    let r = unsafe {
        libc::ioctl(
            counter.as_raw_fd(),
            0x2405, /* PERF_EVENT_IOC_SET_OUTPUT */
            leader.as_raw_fd(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

struct Tracepoints {
    switch_id: u64,
    waking_id: u64,
    fields: RawFields,
    mounted_by_us: bool,
}

fn find_tracepoints() -> Result<Tracepoints, String> {
    let fs = tracefs::locate()?;
    let sw = fs.tracepoint("sched", "sched_switch")?;
    let wk = fs.tracepoint("sched", "sched_waking")?;
    let need = |f: &tracefs::TracepointFormat, n: &str| {
        f.field(n)
            .ok_or_else(|| format!("tracepoint field {n} is missing"))
    };
    Ok(Tracepoints {
        switch_id: sw.id,
        waking_id: wk.id,
        fields: RawFields {
            switch_prev_pid: need(&sw, "prev_pid")?,
            switch_prev_state: need(&sw, "prev_state")?,
            switch_next_pid: need(&sw, "next_pid")?,
            waking_pid: need(&wk, "pid")?,
            common_flags: need(&sw, "common_flags")?,
        },
        mounted_by_us: fs.mounted_by_us,
    })
}

/// The events of one scope, opened.
struct Opened {
    leaders: Vec<Sampler>,
    others: Vec<Vec<Opened1>>,
    statuses: Vec<CollectorStatus>,
    kernel: bool,
    fields: Option<RawFields>,
    /// Switches and wakeups come from the BPF collector.
    bpf: bool,
}

/// How context switches and wakeups are to be recorded.
enum Switches<'a> {
    /// With the sched_switch and sched_waking tracepoints.
    Perf,
    /// With the BPF collector if this says it is ready (asked once the
    /// other events are open, so that it loads meanwhile).
    Bpf(&'a mut dyn FnMut() -> bool),
}

/// Open the per-CPU cpu-clock events (with kernel samples, then user-only;
/// the buffer is halved until the locked-memory limit accepts it) and the
/// tracepoints. At [`Scope::Cpu`] every event must open (`Err` otherwise, so
/// the caller can fall back to [`Scope::Task`]); at [`Scope::Task`] the
/// tracepoints are dropped with a status when they cannot be opened.
///
/// With [`Switches::Bpf`] ready (the BPF collector records switches and
/// wakeups, CPU-wide only), only the kernel-stack event is opened of the
/// tracepoints, and without tracefs it is left out with a status instead of
/// failing.
fn open_scope(
    pid: Pid,
    cfg: &PerfConfig,
    cpus: &[usize],
    scope: Scope,
    tp: Option<&Tracepoints>,
    switches: Switches<'_>,
) -> Result<Opened, String> {
    let mut statuses = Vec::new();
    let mut kernel = true;
    let mut bytes = cfg.buffer_bytes.next_power_of_two();
    let mut leaders: Vec<Sampler> = Vec::new();
    'attempt: loop {
        leaders.clear();
        for &cpu in cpus {
            match open_cpu_clock(pid, cpu, cfg, scope, kernel, bytes) {
                Ok(s) => leaders.push(s),
                Err(e) => {
                    let code = e.raw_os_error();
                    if kernel
                        && scope == Scope::Task
                        && matches!(code, Some(libc::EACCES) | Some(libc::EPERM))
                    {
                        kernel = false;
                        continue 'attempt;
                    }
                    if bytes > 64 << 10 && matches!(code, Some(libc::EPERM) | Some(libc::ENOMEM)) {
                        bytes /= 2;
                        continue 'attempt;
                    }
                    return Err(explain(&e));
                }
            }
        }
        break;
    }
    statuses.push(status(
        "perf-sampling",
        if kernel {
            CollectorState::Ok
        } else {
            CollectorState::Degraded("user-space samples only: kernel samples need perf_event_paranoid <= 1 or CAP_PERFMON".into())
        },
    ));
    statuses.push(status("context-switch", CollectorState::Ok));

    // Decided once the cpu-clock events are open, so that the BPF programs
    // load meanwhile. With BPF, switches, wakeups and the stacks of waits
    // come from it: no tracepoint is opened.
    let bpf = match switches {
        Switches::Perf => false,
        Switches::Bpf(ready) => ready(),
    };
    let mut others: Vec<Vec<Opened1>> = (0..cpus.len()).map(|_| Vec::new()).collect();
    let mut fields = None;
    // What the scheduler collectors give: BPF's, or the tracepoints'.
    const SCHED: [&str; 3] = ["sched-switch", "sched-wakeup", "offcpu-stacks"];
    if bpf {
        for name in SCHED {
            statuses.push(status(name, CollectorState::Ok));
        }
    } else {
        // Tracepoints: the rate-limited kernel-stack event, switch-outs and
        // wakeups.
        let detail = match tp {
            None => Err(String::new()),
            Some(tp) => open_on_cpus(
                &mut others,
                &leaders,
                cpus,
                &[(EventKind::SwitchDetail, tp.switch_id, DETAIL_SAMPLE)],
                |cpu, _, id, _| open_switch_detail(pid, cpu, id),
            ),
        };
        let opened = detail.and_then(|()| match tp {
            None => Err(String::new()),
            Some(tp) => open_on_cpus(
                &mut others,
                &leaders,
                cpus,
                &[
                    (EventKind::SchedSwitch, tp.switch_id, SWITCH_SAMPLE),
                    (EventKind::SchedWaking, tp.waking_id, WAKING_SAMPLE),
                ],
                |cpu, kind, id, st| {
                    open_tracepoint(pid, cpu, scope, id, st, kind == EventKind::SchedSwitch)
                },
            )
            .map(|()| tp.fields),
        });
        match opened {
            Ok(f) => {
                fields = Some(f);
                for name in SCHED {
                    statuses.push(status(name, CollectorState::Ok));
                }
            }
            Err(why) if scope == Scope::Cpu => {
                return Err(if why.is_empty() {
                    "no tracepoints".into()
                } else {
                    why
                })
            }
            Err(why) => {
                others.iter_mut().for_each(Vec::clear);
                if !why.is_empty() {
                    statuses.push(status(
                        "sched-switch",
                        CollectorState::Unavailable(why.clone()),
                    ));
                    statuses.push(status("sched-wakeup", CollectorState::Unavailable(why)));
                }
            }
        }
    }
    Ok(Opened {
        leaders,
        others,
        statuses,
        kernel,
        fields,
        bpf,
    })
}

/// Open `events` (kind, tracepoint id, sample type) on every CPU with
/// `open`, writing into that CPU's cpu-clock buffer; the first error stops.
fn open_on_cpus(
    others: &mut [Vec<Opened1>],
    leaders: &[Sampler],
    cpus: &[usize],
    events: &[(EventKind, u64, u64)],
    open: impl Fn(usize, EventKind, u64, u64) -> std::io::Result<Counter>,
) -> Result<(), String> {
    for (i, &cpu) in cpus.iter().enumerate() {
        for &(kind, id, sample_type) in events {
            let counter = open(cpu, kind, id, sample_type)
                .and_then(|c| set_output(&c, &leaders[i]).map(|_| c))
                .map_err(|e| explain(&e))?;
            let nr_user_regs = match kind {
                EventKind::SchedSwitch => REGS_MASK.count_ones() as usize,
                EventKind::SwitchDetail => recorder::SAMPLE_REGS_MASK.count_ones() as usize,
                _ => 0,
            };
            others[i].push(Opened1 {
                kind,
                sample_type,
                nr_user_regs,
                counter,
            });
        }
    }
    Ok(())
}

/// Open every event on the held target and start the drain thread.
/// `proc` reads /proc (fd kinds, argv) on the drain thread.
///
/// CPU-wide events are preferred where permitted: a per-task cpu-clock event
/// re-arms its timer at every context switch of the target (in a VM, a
/// timer reprogramming each time), which costs a blocking-heavy program tens
/// of percent; a CPU-wide one runs without interruption. See
/// docs/collectors.md and docs/performance.md.
pub fn open(
    target: Target,
    cfg: &PerfConfig,
    proc: Box<dyn ProcAccess>,
) -> Result<PerfSession, String> {
    let cpus = online_cpus();
    let tp = find_tracepoints();
    let mounted_by_us = tp.as_ref().is_ok_and(|t| t.mounted_by_us);
    let mut opened = None;
    let mut cpu_wide_refused = None;
    let mut target = target;
    let mut bpf = None;
    let mut bpf_status = None;
    if cfg.scope == Scope::Cpu {
        // The BPF collector records switches and wakeups where it loaded;
        // the CPU-wide tracepoints are the fallback.
        let pid = target.pid;
        let mut preload = target.bpf.take();
        let mut ready = || match preload.take().map(|p| p.get()) {
            Some(Ok(mut b)) => match b.track(pid) {
                Ok(()) => {
                    bpf = Some(b);
                    true
                }
                Err(why) => {
                    bpf_status = Some(why);
                    false
                }
            },
            Some(Err(why)) => {
                bpf_status = Some(why);
                false
            }
            None => false,
        };
        match open_scope(
            pid,
            cfg,
            &cpus,
            Scope::Cpu,
            tp.as_ref().ok(),
            Switches::Bpf(&mut ready),
        ) {
            Ok(o) => opened = Some((o, Scope::Cpu)),
            Err(e) => {
                // Not asked before the refusal: its own answer says more.
                ready();
                cpu_wide_refused = Some(e);
            }
        }
    }
    let bpf_status = match (&bpf, bpf_status, &cpu_wide_refused) {
        (Some(_), _, None) if opened.as_ref().is_some_and(|(o, _)| o.bpf) => {
            Some(CollectorState::Ok)
        }
        (Some(_), _, Some(why)) => Some(CollectorState::Unavailable(format!(
            "it needs CPU-wide perf events beside it, which were refused: {why}"
        ))),
        (Some(_), _, None) => Some(CollectorState::Unavailable(
            "it needs CPU-wide perf events beside it".into(),
        )),
        (None, Some(why), _) => Some(CollectorState::Unavailable(why)),
        (None, None, _) => None,
    };
    if opened.is_none() {
        bpf = None;
    }
    let (opened, scope) = match opened {
        Some(o) => o,
        None => {
            let t = tp.as_ref().ok();
            let mut o = open_scope(target.pid, cfg, &cpus, Scope::Task, t, Switches::Perf)?;
            if let Err(why) = &tp {
                o.statuses.push(status(
                    "sched-switch",
                    CollectorState::Unavailable(why.clone()),
                ));
                o.statuses.push(status(
                    "sched-wakeup",
                    CollectorState::Unavailable(why.clone()),
                ));
            }
            (o, Scope::Task)
        }
    };
    let Opened {
        mut leaders,
        mut others,
        mut statuses,
        kernel,
        fields,
        bpf: _,
    } = opened;
    match (scope, cpu_wide_refused) {
        (Scope::Cpu, _) => statuses.push(status("cpu-wide", CollectorState::Ok)),
        (_, Some(why)) => statuses.push(status(
            "cpu-wide",
            CollectorState::Unavailable(format!(
                "{why}; events follow the target's tasks instead, which costs more per context switch"
            )),
        )),
        _ => {}
    }
    if let Some(st) = bpf_status {
        statuses.push(status("bpf", st));
    }

    // Event ids: inherited copies report their parent's id, so one id per
    // CPU and event is enough.
    let mut layout = Layout::default();
    for (i, leader) in leaders.iter_mut().enumerate() {
        layout.events.push(EventLayout {
            id: leader.id(),
            kind: EventKind::CpuClock,
            sample_type: CPU_CLOCK_SAMPLE,
            nr_user_regs: recorder::SAMPLE_REGS_MASK.count_ones() as usize,
        });
        for o in others[i].iter_mut() {
            layout.events.push(EventLayout {
                id: o.counter.id(),
                kind: o.kind,
                sample_type: o.sample_type,
                nr_user_regs: o.nr_user_regs,
            });
        }
    }
    let cpu_events: Vec<CpuEvents> = leaders
        .into_iter()
        .zip(others)
        .map(|(sampler, others)| CpuEvents {
            sampler,
            _others: others.into_iter().map(|o| o.counter).collect(),
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let end = Arc::new(AtomicU64::new(Ns::MAX));
    let (stop2, end2) = (stop.clone(), end.clone());
    // Kernel symbols are needed from the first switch-out on. Read ahead,
    // they are in hand before the target runs (reading /proc/kallsyms takes
    // tens of milliseconds of CPU, which would otherwise compete with the
    // target's start-up).
    // Needed wherever kernel stacks are recorded.
    let kernel_stacks = fields.is_some() || bpf.is_some();
    let kallsyms = match (kernel_stacks, target.kallsyms.take()) {
        (false, _) => Some(Vec::new()),
        (true, Some(pre)) => Some(pre.get()),
        (true, None) => None,
    };
    // Wakes the drain thread out of poll() at once when the run ends.
    // SAFETY: eventfd has no memory preconditions.
    let wake_fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    let sample_freq = cfg.freq;
    let thread = std::thread::Builder::new()
        .name("wallprof-drain".into())
        .spawn(move || {
            raise_priority();
            let kallsyms = kallsyms.unwrap_or_else(crate::analyze::kallsyms::load);
            let mut rec = Recorder::new(
                target.pid,
                target.argv,
                target.launched,
                fields,
                kallsyms,
                proc,
            );
            rec.cpu_wide = scope == Scope::Cpu;
            rec.sample_period =
                (rec.cpu_wide && sample_freq > 0).then(|| 1_000_000_000 / sample_freq);
            rec.bpf_switches = bpf.is_some();
            rec.warmer = target.warmer;
            drain(cpu_events, bpf, layout, rec, &stop2, &end2, wake_fd)
        })
        .map_err(|e| format!("cannot start the drain thread: {e}"))?;

    Ok(PerfSession {
        stop,
        end,
        wake_fd,
        thread: Some(thread),
        statuses,
        freq: cfg.freq,
        kernel_samples: kernel,
        tracefs_mounted_by_us: mounted_by_us,
        scope,
    })
}

/// The drain thread competes with the target for CPUs; when it falls
/// behind, the kernel drops records. Where permitted (root, CAP_SYS_NICE),
/// it runs at nice -10; otherwise at the default priority.
fn raise_priority() {
    // SAFETY: setpriority on the calling thread (tid 0 = self).
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) };
}

impl PerfSession {
    /// Stop recording: drain what is left and return the trace, cut at `end`
    /// (when the root was reaped).
    pub fn finish(mut self, end: Ns) -> Trace {
        self.end.store(end, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        if self.wake_fd >= 0 {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes from a u64 to our eventfd.
            unsafe { libc::write(self.wake_fd, (&one as *const u64).cast(), 8) };
        }
        let trace = self.thread.take().map(|t| t.join());
        if self.wake_fd >= 0 {
            // SAFETY: our own eventfd, closed once.
            unsafe { libc::close(self.wake_fd) };
        }
        match trace {
            Some(Ok(t)) => t,
            _ => Trace {
                reaped: end,
                ..Trace::default()
            },
        }
    }
}

/// One record copied out of a ring buffer, waiting to be merged.
#[derive(Clone, Copy)]
struct Entry {
    time: u64,
    at: usize,
    len: usize,
}

/// Records stay this long in the merge window before being processed, so a
/// record from another CPU with an earlier timestamp can still arrive.
const MERGE_SLACK_NS: u64 = 20_000_000;

fn drain(
    mut cpus: Vec<CpuEvents>,
    mut bpf: Option<crate::collect::bpf::Loaded>,
    layout: Layout,
    mut rec: Recorder,
    stop: &AtomicBool,
    end: &AtomicU64,
    wake_fd: i32,
) -> Trace {
    let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut next_arena: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut entries: Vec<Entry> = Vec::with_capacity(1 << 14);
    let mut keep: Vec<Entry> = Vec::with_capacity(1 << 14);
    let mut pollfds: Vec<libc::pollfd> = cpus
        .iter()
        .map(|c| libc::pollfd {
            fd: c.sampler.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if let Some(b) = &bpf {
        pollfds.push(libc::pollfd {
            fd: b.fd(),
            events: libc::POLLIN,
            revents: 0,
        });
    }
    if wake_fd >= 0 {
        pollfds.push(libc::pollfd {
            fd: wake_fd,
            events: libc::POLLIN,
            revents: 0,
        });
    }
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if !stopping {
            // SAFETY: pollfds is a valid array of pollfd structures.
            unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, 50) };
        }
        let read_at = crate::collect::monotonic_ns();
        for c in cpus.iter_mut() {
            while let Some(r) = c.sampler.next_record() {
                let at = arena.len();
                arena.extend_from_slice(&r.ty().to_ne_bytes());
                arena.extend_from_slice(&r.misc().to_ne_bytes());
                arena.extend_from_slice(&((r.len() + 8) as u16).to_ne_bytes());
                for part in r.data() {
                    arena.extend_from_slice(part);
                }
                let len = arena.len() - at;
                let time = record_time(&arena[at..at + len], &layout).unwrap_or(0);
                entries.push(Entry { time, at, len });
            }
        }
        if let Some(b) = bpf.as_mut() {
            // BPF records go into the same arena behind a perf-style header
            // of their own type, so that one sort merges everything.
            b.read(|item| {
                let at = arena.len();
                let time = item
                    .get(..8)
                    .map_or(0, |t| u64::from_ne_bytes(t.try_into().unwrap()));
                arena.extend_from_slice(&crate::collect::bpf::RECORD_SCHED.to_ne_bytes());
                arena.extend_from_slice(&0u16.to_ne_bytes());
                arena.extend_from_slice(
                    &((item.len() + 8).min(u16::MAX as usize) as u16).to_ne_bytes(),
                );
                arena.extend_from_slice(item);
                entries.push(Entry {
                    time,
                    at,
                    len: arena.len() - at,
                });
            });
        }
        entries.sort_by_key(|e| e.time);
        let horizon = if stopping {
            u64::MAX
        } else {
            read_at.saturating_sub(MERGE_SLACK_NS)
        };
        rec.horizon = end.load(Ordering::SeqCst);
        keep.clear();
        next_arena.clear();
        for e in &entries {
            if e.time >= horizon {
                let at = next_arena.len();
                next_arena.extend_from_slice(&arena[e.at..e.at + e.len]);
                keep.push(Entry {
                    time: e.time,
                    at,
                    len: e.len,
                });
                continue;
            }
            match records::parse(&arena[e.at..e.at + e.len], &layout) {
                Ok(r) => rec.record(&r),
                Err(_) => rec.unparsable(),
            }
        }
        std::mem::swap(&mut arena, &mut next_arena);
        std::mem::swap(&mut entries, &mut keep);
        if stopping {
            break;
        }
    }
    let timing = std::env::var_os("WALLPROF_TIMING").is_some();
    let t0 = crate::collect::monotonic_ns();
    for c in cpus.iter_mut() {
        let _ = c.sampler.disable();
    }
    if let Some(b) = bpf.take() {
        let losses = b.losses();
        rec.bpf_losses(losses);
        // Detaching waits for RCU grace periods, like closing tracepoint
        // events: released after wallprof exits (release_events).
        close_in_background(vec![Box::new(b)]);
    }
    let mut others: Vec<Box<dyn Send>> = Vec::new();
    for c in cpus.iter_mut() {
        others.extend(c._others.drain(..).map(|c| Box::new(c) as Box<dyn Send>));
    }
    close_in_background(others);
    drop(cpus);
    let t1 = crate::collect::monotonic_ns();
    let end = end.load(Ordering::SeqCst);
    let trace = rec.finish(end);
    if timing {
        let t2 = crate::collect::monotonic_ns();
        eprintln!(
            "wallprof: drain: closing events {:.1} ms, finishing the trace {:.1} ms",
            (t1 - t0) as f64 / 1e6,
            (t2 - t1) as f64 / 1e6
        );
    }
    trace
}

/// Tracepoint events and BPF programs, closed by [`release_events`].
static TO_CLOSE: std::sync::Mutex<Vec<Box<dyn Send>>> = std::sync::Mutex::new(Vec::new());

/// Closing a tracepoint event, or detaching a BPF program from a
/// tracepoint, waits for RCU grace periods in the kernel (tens of
/// milliseconds in all). They are kept open here until [`release_events`].
fn close_in_background(counters: Vec<Box<dyn Send>>) {
    TO_CLOSE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(counters);
}

/// Hand the last references to the recorded events to a small child process
/// that lives until wallprof exits, then exits itself: the kernel's slow
/// release of the events (RCU grace periods) happens after wallprof has
/// returned to its caller, not before. When the child cannot be forked the
/// events are closed here.
pub fn release_events() {
    let counters = std::mem::take(&mut *TO_CLOSE.lock().unwrap_or_else(|p| p.into_inner()));
    if counters.is_empty() {
        return;
    }
    let mut fds = [-1i32; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return drop(counters);
    }
    let [rd, wr] = fds;
    // SAFETY: the child only calls async-signal-safe functions (close, read,
    // _exit) before it exits.
    match unsafe { libc::fork() } {
        0 => unsafe {
            // The child: hold the inherited event fds, keep nothing else
            // open (a reader of wallprof's stdout must not wait for it), and
            // exit when wallprof's end closes the pipe.
            for fd in 0..3 {
                libc::close(fd);
            }
            libc::close(wr);
            let mut b = 0u8;
            while libc::read(rd, (&mut b as *mut u8).cast(), 1) < 0 {}
            libc::_exit(0);
        },
        -1 => {
            // SAFETY: our own pipe fds, closed once.
            unsafe {
                libc::close(rd);
                libc::close(wr);
            }
            drop(counters);
        }
        _ => {
            // SAFETY: our own read end, closed once; the write end stays
            // open until wallprof exits.
            unsafe { libc::close(rd) };
            drop(counters);
        }
    }
}

/// A record's timestamp without a full parse: samples carry it after the
/// identifier (and ip, and pid/tid); other records in the sample-id trailer.
fn record_time(rec: &[u8], layout: &Layout) -> Option<u64> {
    let ty = u32::from_ne_bytes(rec.get(0..4)?.try_into().ok()?);
    let word = |at: usize| {
        rec.get(at..at + 8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
    };
    if ty == records::RECORD_SAMPLE {
        let id = word(8)?;
        let ev = layout.events.iter().find(|e| e.id == id)?;
        let mut at = 16;
        if ev.sample_type & SAMPLE_IP != 0 {
            at += 8;
        }
        at += 8; // pid, tid
        return word(at);
    }
    if rec.len() >= 8 + 32 {
        return word(rec.len() - 24);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), vec![0, 1]);
        assert_eq!(parse_cpu_list("0,2-3,7"), vec![0, 2, 3, 7]);
        assert!(parse_cpu_list("").is_empty());
    }
}
#[cfg(test)]
mod live_tests;
