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

/// What to record.
#[derive(Clone, Debug)]
pub struct PerfConfig {
    /// cpu-clock sampling frequency, Hz.
    pub freq: u64,
    /// Ring buffer size per CPU, bytes (a power of two; halved until the
    /// kernel accepts it).
    pub buffer_bytes: usize,
}

impl Default for PerfConfig {
    fn default() -> Self {
        PerfConfig {
            freq: 999,
            buffer_bytes: 8 << 20,
        }
    }
}

/// What the drain thread needs to know about the target.
pub struct Target {
    pub pid: Pid,
    pub argv: Vec<String>,
    pub launched: Ns,
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

fn base_builder<'a, E: perf_event::events::Event>(ev: E, pid: Pid, cpu: usize) -> Builder<'a> {
    let mut b = Builder::new(ev);
    b.observe_pid(pid)
        .one_cpu(cpu)
        .inherit(true)
        .enable_on_exec(true)
        .enabled(false)
        .sample_id_all(true)
        .clockid(Clock::MONOTONIC)
        .exclude_hv(true);
    b
}

fn open_cpu_clock(
    pid: Pid,
    cpu: usize,
    cfg: &PerfConfig,
    kernel: bool,
    bytes: usize,
) -> std::io::Result<Sampler> {
    let mut b = base_builder(Software::CPU_CLOCK, pid, cpu);
    b.sample_frequency(cfg.freq)
        .exclude_kernel(!kernel)
        .comm(true)
        .comm_exec(true)
        .task(true)
        .mmap(true)
        .mmap2(true)
        .context_switch(true)
        .exclude_callchain_user(true)
        .sample_regs_user(recorder::SAMPLE_REGS_MASK)
        .sample_stack_user(SAMPLE_STACK_BYTES)
        .wakeup_watermark(bytes / 8);
    b.attrs_mut().sample_type = CPU_CLOCK_SAMPLE;
    let counter = b.build()?;
    counter.sampled(bytes)
}

fn open_tracepoint(
    pid: Pid,
    cpu: usize,
    id: u64,
    sample_type: u64,
    callchain: bool,
) -> std::io::Result<Counter> {
    let mut b = base_builder(Tracepoint::with_id(id), pid, cpu);
    b.sample_period(1)
        .exclude_kernel(false)
        .exclude_callchain_user(true);
    if callchain {
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
    let mut b = base_builder(Tracepoint::with_id(id), pid, cpu);
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
            waking_pid: need(&wk, "pid")?,
            common_flags: need(&sw, "common_flags")?,
        },
        mounted_by_us: fs.mounted_by_us,
    })
}

/// Open every event on the held target and start the drain thread.
/// `proc` reads /proc (fd kinds, argv) on the drain thread.
pub fn open(
    target: Target,
    cfg: &PerfConfig,
    proc: Box<dyn ProcAccess>,
) -> Result<PerfSession, String> {
    let cpus = online_cpus();
    let mut statuses = Vec::new();

    // cpu-clock: with kernel samples, then user-only; the buffer is halved
    // until the locked-memory limit accepts it.
    let mut kernel = true;
    let mut bytes = cfg.buffer_bytes.next_power_of_two();
    let mut leaders: Vec<Sampler> = Vec::new();
    let mut last_err = None;
    'attempt: loop {
        leaders.clear();
        for &cpu in &cpus {
            match open_cpu_clock(target.pid, cpu, cfg, kernel, bytes) {
                Ok(s) => leaders.push(s),
                Err(e) => {
                    let code = e.raw_os_error();
                    last_err = Some(e);
                    if kernel && matches!(code, Some(libc::EACCES) | Some(libc::EPERM)) {
                        kernel = false;
                        continue 'attempt;
                    }
                    if bytes > 64 << 10 && matches!(code, Some(libc::EPERM) | Some(libc::ENOMEM)) {
                        bytes /= 2;
                        continue 'attempt;
                    }
                    return Err(explain(last_err.as_ref().unwrap()));
                }
            }
        }
        break;
    }
    drop(last_err);
    statuses.push(status(
        "perf-sampling",
        if kernel {
            CollectorState::Ok
        } else {
            CollectorState::Degraded("user-space samples only: kernel samples need perf_event_paranoid <= 1 or CAP_PERFMON".into())
        },
    ));
    statuses.push(status("context-switch", CollectorState::Ok));

    // Tracepoints: switch-out state and kernel stacks; wakeups.
    let mut layout = Layout::default();
    let mut fields = None;
    let mut others: Vec<Vec<Counter>> = (0..cpus.len()).map(|_| Vec::new()).collect();
    let mut mounted_by_us = false;
    match find_tracepoints() {
        Err(why) => {
            statuses.push(status(
                "sched-switch",
                CollectorState::Unavailable(why.clone()),
            ));
            statuses.push(status("sched-wakeup", CollectorState::Unavailable(why)));
        }
        Ok(tp) => {
            mounted_by_us = tp.mounted_by_us;
            let mut opened = Ok(());
            'cpus: for (i, &cpu) in cpus.iter().enumerate() {
                for (id, st, cc) in [
                    (tp.switch_id, SWITCH_SAMPLE, true),
                    (tp.waking_id, WAKING_SAMPLE, false),
                    (tp.switch_id, DETAIL_SAMPLE, false),
                ] {
                    let r = if st == DETAIL_SAMPLE {
                        open_switch_detail(target.pid, cpu, id)
                    } else {
                        open_tracepoint(target.pid, cpu, id, st, cc)
                    };
                    let r = r.and_then(|c| set_output(&c, &leaders[i]).map(|_| c));
                    match r {
                        Ok(c) => others[i].push(c),
                        Err(e) => {
                            opened = Err(explain(&e));
                            break 'cpus;
                        }
                    }
                }
            }
            match opened {
                Ok(()) => {
                    fields = Some(tp.fields);
                    statuses.push(status("sched-switch", CollectorState::Ok));
                    statuses.push(status("sched-wakeup", CollectorState::Ok));
                    statuses.push(status("offcpu-stacks", CollectorState::Ok));
                }
                Err(why) => {
                    others.iter_mut().for_each(Vec::clear);
                    statuses.push(status(
                        "sched-switch",
                        CollectorState::Unavailable(why.clone()),
                    ));
                    statuses.push(status("sched-wakeup", CollectorState::Unavailable(why)));
                }
            }
        }
    }

    // Event ids: inherited copies report their parent's id, so one id per
    // CPU and event is enough.
    for (i, leader) in leaders.iter_mut().enumerate() {
        let st = CPU_CLOCK_SAMPLE;
        layout.events.push(EventLayout {
            id: leader.id(),
            kind: EventKind::CpuClock,
            sample_type: st,
            nr_user_regs: recorder::SAMPLE_REGS_MASK.count_ones() as usize,
        });
        for (j, c) in others[i].iter_mut().enumerate() {
            let (kind, st, nr) = match j {
                0 => (
                    EventKind::SchedSwitch,
                    SWITCH_SAMPLE,
                    REGS_MASK.count_ones() as usize,
                ),
                1 => (EventKind::SchedWaking, WAKING_SAMPLE, 0),
                _ => (
                    EventKind::SwitchDetail,
                    DETAIL_SAMPLE,
                    recorder::SAMPLE_REGS_MASK.count_ones() as usize,
                ),
            };
            layout.events.push(EventLayout {
                id: c.id(),
                kind,
                sample_type: st,
                nr_user_regs: nr,
            });
        }
    }

    let cpu_events: Vec<CpuEvents> = leaders
        .into_iter()
        .zip(others)
        .map(|(sampler, others)| CpuEvents {
            sampler,
            _others: others,
        })
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let end = Arc::new(AtomicU64::new(Ns::MAX));
    let (stop2, end2) = (stop.clone(), end.clone());
    // Wakes the drain thread out of poll() at once when the run ends.
    // SAFETY: eventfd has no memory preconditions.
    let wake_fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    let thread = std::thread::Builder::new()
        .name("wallprof-drain".into())
        .spawn(move || {
            raise_priority();
            let kallsyms = if fields.is_some() {
                load_kallsyms()
            } else {
                Vec::new()
            };
            let rec = Recorder::new(
                target.pid,
                target.argv,
                target.launched,
                fields,
                kallsyms,
                proc,
            );
            drain(cpu_events, layout, rec, &stop2, &end2, wake_fd)
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
    })
}

/// The drain thread competes with the target for CPUs; when it falls
/// behind, the kernel drops records. Where permitted (root, CAP_SYS_NICE),
/// it runs at nice -10; otherwise at the default priority.
fn raise_priority() {
    // SAFETY: setpriority on the calling thread (tid 0 = self).
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -10) };
}

fn load_kallsyms() -> Vec<(u64, String)> {
    crate::analyze::kallsyms::load()
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
    let mut others = Vec::new();
    for c in cpus.iter_mut() {
        others.append(&mut c._others);
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

static CLOSERS: std::sync::Mutex<Vec<JoinHandle<()>>> = std::sync::Mutex::new(Vec::new());

/// Closing a tracepoint event waits for an RCU grace period in the kernel
/// (about 10 ms each here). Closed one after another they would delay the
/// report by tens of milliseconds; closed from parallel threads they share
/// grace periods, and the work overlaps symbolization. [`join_closers`]
/// waits for them before wallprof exits.
fn close_in_background(counters: Vec<Counter>) {
    let mut closers = CLOSERS.lock().unwrap_or_else(|p| p.into_inner());
    for c in counters {
        // When no thread can be spawned, the counter is dropped with the
        // closure, here.
        if let Ok(h) = std::thread::Builder::new()
            .name("wallprof-close".into())
            .spawn(move || drop(c))
        {
            closers.push(h);
        }
    }
}

/// Wait for the events being closed in the background.
pub fn join_closers() {
    let handles: Vec<_> = std::mem::take(&mut *CLOSERS.lock().unwrap_or_else(|p| p.into_inner()));
    for h in handles {
        let _ = h.join();
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
