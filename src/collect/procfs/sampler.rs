//! The /proc sampler thread: a [`ProcfsConfig`] in, a [`Trace`] out (from
//! [`SamplerHandle::stop`]).
//!
//! Each tick it walks the tree: wallprof's own children
//! (`/proc/self/task/*/children`; wallprof is the subreaper, so orphans
//! reparent to it and stay visible), then recursively every task's
//! `children`, and each process's threads under `/proc/PID/task/`. Per task
//! it reads `stat` and `schedstat`; for tasks in S or D also `syscall` and
//! `wchan`, and the kind of the fd argument of a blocking fd syscall
//! (through an [`FdKindCache`], never a scan of all fds). `/proc/PID/io`
//! (and the `exe` link, to notice an exec that kept the comm) is read every
//! [`IO_EVERY`] ticks; cmdline and exe once per process and again when the
//! main thread's comm changes (an exec).
//!
//! Recorded: processes and threads with first/last seen times (a thread's
//! start is refined with `stat` starttime, clamped to the ticks around its
//! discovery; an ended task's end is the midpoint between the last tick
//! that saw it and the first that did not), first and last [`SchedStat`],
//! `counts.proc_ticks`.
//!
//! With `record_timeline`, each thread also gets a [`Fidelity::Sampled`]
//! off-CPU timeline: consecutive ticks observed S or D (or stopped) with the
//! same evidence (state, syscall, futex op, fd kind, wchan) form one
//! [`OffCpu`](crate::model::trace::OffCpu) interval with `wake = None`.
//! Boundaries use schedstat deltas rather than bare midpoints: the on-CPU +
//! runqueue time `a` a thread used since the previous tick is taken to sit
//! next to the tick where it was runnable (so blocked → running ends the
//! interval at `t - a`, running → blocked starts it at `p + a`), and when a
//! thread was seen blocked on the same cause twice but `a` is at least a
//! tenth of the gap, the interval is cut and `a` left out of it as a hole at
//! the midpoint. Smaller runs are absorbed (see `timeline.rs`). Running
//! (R) ticks produce no interval; they only bound the blocked ones.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::parse::{self, SyscallState, TaskStat};
use super::timeline::{Obs, Timeline};
use super::{read_cmdline, read_exe, FdKindCache, ProcReader};
use crate::collect::monotonic_ns;
use crate::model::trace::{
    Cause, CollectorState, CollectorStatus, Fidelity, Ns, Pid, ProcessTrace, SchedStat,
    SwitchState, ThreadTrace, Tid, Trace,
};

/// `/proc/PID/io` and the exe link are read every this many ticks.
pub const IO_EVERY: u64 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcfsConfig {
    /// Time between ticks.
    pub interval: Duration,
    /// Build sampled off-CPU timelines (when perf switch records are not
    /// available).
    pub record_timeline: bool,
}

impl Default for ProcfsConfig {
    fn default() -> Self {
        ProcfsConfig {
            interval: Duration::from_millis(10),
            record_timeline: false,
        }
    }
}

/// The running sampler; [`stop`](SamplerHandle::stop) ends it.
#[derive(Debug)]
pub struct SamplerHandle {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Trace>,
}

/// Start sampling on a thread of its own.
pub fn start(cfg: ProcfsConfig) -> SamplerHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("wallprof-procfs".into())
        .spawn(move || Sampler::new(cfg).run(&flag))
        .expect("spawning the /proc sampler thread");
    SamplerHandle { stop, thread }
}

impl SamplerHandle {
    /// Take a last tick, stop, and return what was recorded.
    pub fn stop(self) -> Trace {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        self.thread.join().unwrap_or_else(|_| {
            let mut t = Trace::default();
            t.collectors.push(status(CollectorState::Unavailable(
                "the /proc sampler panicked".into(),
            )));
            t
        })
    }
}

fn status(state: CollectorState) -> CollectorStatus {
    CollectorStatus {
        name: "procfs".into(),
        state,
    }
}

/// Sampler-side state of one task.
#[derive(Debug)]
struct Task {
    last_seen: Ns,
    /// (on_cpu, runqueue) at the last reading.
    sched: Option<(u64, u64)>,
    timeline: Timeline,
    ended: bool,
}

#[derive(Debug)]
struct Proc {
    last_seen: Ns,
    exe: Option<String>,
    ended: bool,
}

struct Sampler {
    cfg: ProcfsConfig,
    trace: Trace,
    reader: ProcReader,
    path: String,
    fds: FdKindCache,
    tasks: HashMap<Tid, Task>,
    procs: HashMap<Pid, Proc>,
    ns_per_clock_tick: u64,
    /// CLOCK_BOOTTIME - CLOCK_MONOTONIC, to place `stat` starttime.
    boot_offset: u64,
    tick: u64,
    last_tick: Option<Ns>,
    queue: Vec<Pid>,
    visited: HashSet<Pid>,
    tids: Vec<Tid>,
    schedstat_missing: bool,
}

impl Sampler {
    fn new(cfg: ProcfsConfig) -> Self {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        Sampler {
            cfg,
            trace: Trace::default(),
            reader: ProcReader::default(),
            path: String::with_capacity(64),
            fds: FdKindCache::new(),
            tasks: HashMap::new(),
            procs: HashMap::new(),
            ns_per_clock_tick: 1_000_000_000 / hz,
            boot_offset: boottime_ns().saturating_sub(monotonic_ns()),
            tick: 0,
            last_tick: None,
            queue: Vec::new(),
            visited: HashSet::new(),
            tids: Vec::new(),
            schedstat_missing: false,
        }
    }

    fn run(mut self, stop: &AtomicBool) -> Trace {
        let mut next = monotonic_ns();
        let step = self.cfg.interval.as_nanos().max(1) as u64;
        while !stop.load(Ordering::Acquire) {
            self.tick_once(monotonic_ns());
            next += step;
            let now = monotonic_ns();
            if next <= now {
                next = now + step / 2; // fell behind: do not burst
            }
            std::thread::park_timeout(Duration::from_nanos(next - now));
        }
        self.tick_once(monotonic_ns());
        self.finish()
    }

    fn finish(mut self) -> Trace {
        let record = self.cfg.record_timeline;
        for (tid, task) in self.tasks.iter_mut().filter(|(_, t)| !t.ended) {
            let intervals = task.timeline.finish(task.last_seen);
            if record {
                if let Some(t) = self.trace.threads.get_mut(tid) {
                    t.offcpu = intervals;
                }
            }
        }
        let state = if self.schedstat_missing {
            CollectorState::Degraded("schedstat unreadable for some tasks".into())
        } else {
            CollectorState::Ok
        };
        self.trace.collectors.push(status(state));
        self.trace
    }

    fn tick_once(&mut self, now: Ns) {
        self.visited.clear();
        self.queue.clear();
        self.discover_roots();
        while let Some(pid) = self.queue.pop() {
            if self.visited.insert(pid) {
                self.sample_process(pid, now);
            }
        }
        self.end_vanished(now);
        self.trace.counts.proc_ticks += 1;
        self.tick += 1;
        self.last_tick = Some(now);
    }

    /// Queue wallprof's own children (the tree's roots and reparented orphans).
    fn discover_roots(&mut self) {
        let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for e in dir.flatten() {
            self.path.clear();
            let _ = write!(
                self.path,
                "/proc/self/task/{}/children",
                e.file_name().to_string_lossy()
            );
            if let Some(text) = self.reader.read_str(&self.path) {
                self.queue.extend(parse::children(text));
            }
        }
    }

    fn sample_process(&mut self, pid: Pid, now: Ns) {
        self.tids.clear();
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task");
        let Ok(dir) = std::fs::read_dir(&self.path) else {
            return;
        };
        self.tids.extend(
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<Tid>().ok()),
        );
        self.tids.sort_unstable();
        let new = !self.procs.contains_key(&pid);
        if new {
            self.add_process(pid, now);
        }
        let tids = std::mem::take(&mut self.tids);
        let mut alive = false;
        for &tid in &tids {
            alive |= self.sample_task(pid, tid, now);
            self.queue_children(pid, tid);
        }
        self.tids = tids;
        if new && !alive {
            // A zombie or a process gone meanwhile: nothing to follow.
            self.trace.processes.remove(&pid);
            self.procs.remove(&pid);
            return;
        }
        if alive {
            if let Some(p) = self.procs.get_mut(&pid) {
                p.last_seen = now;
            }
            if new || self.tick % IO_EVERY == 0 {
                self.read_io(pid);
            }
        }
    }

    fn add_process(&mut self, pid: Pid, now: Ns) {
        let exe = read_exe(pid);
        let pt = ProcessTrace {
            pid,
            argv: read_cmdline(pid).unwrap_or_default(),
            exe: exe.clone(),
            start: now,
            ..Default::default()
        };
        self.trace.processes.insert(pid, pt);
        self.procs.insert(
            pid,
            Proc {
                last_seen: now,
                exe,
                ended: false,
            },
        );
    }

    fn queue_children(&mut self, pid: Pid, tid: Tid) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/children");
        if let Some(text) = self.reader.read_str(&self.path) {
            self.queue.extend(parse::children(text));
        }
    }

    /// Read `io` (and check `exe`, an exec that kept the comm).
    fn read_io(&mut self, pid: Pid) {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/io");
        let io = self
            .reader
            .read_str(&self.path)
            .and_then(|t| parse::io(t).ok());
        let exe = read_exe(pid);
        let Some(pt) = self.trace.processes.get_mut(&pid) else {
            return;
        };
        if let Some(io) = io {
            pt.read_bytes = Some(io.read_bytes);
            pt.write_bytes = Some(io.write_bytes);
        }
        // cmdline reads empty while a process is in the middle of an exec:
        // read it again until it says something.
        if pt.argv.is_empty() {
            pt.argv = read_cmdline(pid).unwrap_or_default();
        }
        let p = self.procs.get_mut(&pid).expect("process known");
        if exe.is_some() && exe != p.exe {
            p.exe = exe.clone();
            pt.exe = exe;
            pt.argv = read_cmdline(pid).unwrap_or_default();
        }
    }

    /// Read one task; returns whether it is alive (not a zombie, readable).
    fn sample_task(&mut self, pid: Pid, tid: Tid, now: Ns) -> bool {
        let Some(st) = self.read_stat(pid, tid) else {
            return false;
        };
        if matches!(st.state, 'Z' | 'X' | 'x') {
            return false;
        }
        let sched = self.read_schedstat(pid, tid);
        if self.tasks.get(&tid).is_some_and(|t| t.ended) {
            return true; // a tid seen again after it ended: keep the first life
        }
        if !self.tasks.contains_key(&tid) {
            self.add_thread(pid, tid, &st, now);
        }
        self.update_thread(pid, tid, &st, sched);
        if self.cfg.record_timeline {
            self.observe(pid, tid, &st, sched, now);
        }
        let task = self.tasks.get_mut(&tid).expect("task added");
        task.last_seen = now;
        if let Some((on, rq, _)) = sched {
            task.sched = Some((on, rq));
        }
        true
    }

    fn read_stat(&mut self, pid: Pid, tid: Tid) -> Option<TaskStat> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/stat");
        parse::stat(self.reader.read_str(&self.path)?).ok()
    }

    fn read_schedstat(&mut self, pid: Pid, tid: Tid) -> Option<(u64, u64, u64)> {
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/schedstat");
        let r = self
            .reader
            .read_str(&self.path)
            .and_then(|t| parse::schedstat(t).ok());
        self.schedstat_missing |= r.is_none();
        r
    }

    fn add_thread(&mut self, pid: Pid, tid: Tid, st: &TaskStat, now: Ns) {
        let born = (st.starttime * self.ns_per_clock_tick).saturating_sub(self.boot_offset);
        let start = born.clamp(self.last_tick.unwrap_or(0).min(now), now);
        let timeline = if self.cfg.record_timeline {
            Fidelity::Sampled
        } else {
            Fidelity::None
        };
        let tt = ThreadTrace {
            tid,
            pid,
            comm: st.comm.clone(),
            start,
            timeline,
            ..Default::default()
        };
        self.trace.threads.insert(tid, tt);
        let task = Task {
            last_seen: now,
            sched: None,
            timeline: Timeline::default(),
            ended: false,
        };
        self.tasks.insert(tid, task);
        if let Some(p) = self.trace.processes.get_mut(&pid) {
            p.threads.push(tid);
            if tid == pid {
                p.start = start;
                p.ppid = st.ppid;
                p.comm = st.comm.clone();
            }
        }
    }

    /// Comm (an exec when the main thread's changes) and schedstat.
    fn update_thread(&mut self, pid: Pid, tid: Tid, st: &TaskStat, sched: Option<(u64, u64, u64)>) {
        let t = self.trace.threads.get_mut(&tid).expect("thread added");
        if t.comm != st.comm {
            t.comm.clone_from(&st.comm);
            if tid == pid {
                self.exec_seen(pid, st);
            }
        }
        let t = self.trace.threads.get_mut(&tid).expect("thread added");
        let reading = SchedStat {
            on_cpu_ns: sched.map_or(0, |s| s.0),
            runqueue_ns: sched.map_or(0, |s| s.1),
            timeslices: sched.map_or(0, |s| s.2),
            utime_ns: st.utime * self.ns_per_clock_tick,
            stime_ns: st.stime * self.ns_per_clock_tick,
        };
        if sched.is_some() || t.sched_first.is_none() {
            t.sched_first.get_or_insert(reading);
            t.sched_last = Some(reading);
        }
    }

    fn exec_seen(&mut self, pid: Pid, st: &TaskStat) {
        let exe = read_exe(pid);
        if let Some(pt) = self.trace.processes.get_mut(&pid) {
            pt.comm.clone_from(&st.comm);
            pt.ppid = st.ppid;
            pt.argv = read_cmdline(pid).unwrap_or_default();
            pt.exe.clone_from(&exe);
        }
        if let Some(p) = self.procs.get_mut(&pid) {
            p.exe = exe;
        }
    }

    fn observe(
        &mut self,
        pid: Pid,
        tid: Tid,
        st: &TaskStat,
        sched: Option<(u64, u64, u64)>,
        now: Ns,
    ) {
        let cause = match st.state {
            'R' => None,
            'S' | 'D' => Some(self.blocked_cause(pid, tid, st.state, now)),
            _ => Some(Cause {
                state: SwitchState::Other,
                ..Default::default()
            }),
        };
        let cause = cause.map(|c| self.trace.causes.intern(c));
        let task = self.tasks.get_mut(&tid).expect("task added");
        let active_ns = match (sched, task.sched) {
            (Some((on, rq, _)), Some((pon, prq))) => {
                on.saturating_sub(pon) + rq.saturating_sub(prq)
            }
            (Some((on, rq, _)), None) => on + rq,
            (None, _) => 0,
        };
        let start = self.trace.threads.get(&tid).map_or(now, |t| t.start);
        task.timeline.observe(
            start,
            Obs {
                at: now,
                cause,
                active_ns,
            },
        );
    }

    /// The evidence for a task seen in S or D: syscall, its fd's kind, the
    /// futex op, wchan.
    fn blocked_cause(&mut self, pid: Pid, tid: Tid, state: char, now: Ns) -> Cause {
        let state = if state == 'D' {
            SwitchState::DiskSleep
        } else {
            SwitchState::Sleeping
        };
        let mut cause = Cause {
            state,
            ..Default::default()
        };
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/syscall");
        let sys = self
            .reader
            .read_str(&self.path)
            .map_or(SyscallState::NotInSyscall, parse::syscall);
        if let SyscallState::InSyscall { nr, args } = sys {
            cause.syscall_nr = Some(nr);
            if nr == parse::SYS_FUTEX {
                cause.futex_op = Some(args[1] as u32);
            } else if nr == parse::SYS_CLOCK_NANOSLEEP {
                cause.abs_time = args[1] & parse::TIMER_ABSTIME != 0;
            } else if parse::fd_arg(nr) {
                let fd = args[0] as i32;
                cause.fd = Some(fd);
                cause.fd_kind = self.fds.get(pid, fd, now);
            }
        }
        self.path.clear();
        let _ = write!(self.path, "/proc/{pid}/task/{tid}/wchan");
        cause.wchan = self
            .reader
            .read_str(&self.path)
            .and_then(parse::wchan)
            .map(str::to_string);
        cause
    }

    /// End tasks and processes not seen this tick: they ended between the
    /// last tick that saw them and now.
    fn end_vanished(&mut self, now: Ns) {
        let record = self.cfg.record_timeline;
        for (tid, task) in self.tasks.iter_mut() {
            if task.ended || task.last_seen == now {
                continue;
            }
            task.ended = true;
            let end = task.last_seen + (now - task.last_seen) / 2;
            let intervals = task.timeline.finish(end);
            if let Some(t) = self.trace.threads.get_mut(tid) {
                t.end = Some(end);
                if record {
                    t.offcpu = intervals;
                }
            }
        }
        for (pid, p) in self.procs.iter_mut() {
            if !p.ended && p.last_seen != now {
                p.ended = true;
                if let Some(pt) = self.trace.processes.get_mut(pid) {
                    pt.end = Some(p.last_seen + (now - p.last_seen) / 2);
                }
            }
        }
    }
}

/// CLOCK_BOOTTIME now, in ns (the clock `stat` starttime counts in).
fn boottime_ns() -> Ns {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests;
