//! The critical path: wall-clock attribution of [launched, reaped] to on-CPU
//! time and to waits by kind.
//!
//! In: a [`Trace`], the classification of each cause, and the set of threads
//! the idle pre-pass says are parked. Out: a [`Path`], where every nanosecond
//! of the wall time is charged exactly once (shared instants carry weights
//! that sum to 1), so `on_cpu + waits = wall` by construction.
//!
//! The path follows the root process's main thread (tid == root pid, which
//! keeps its tid across execs). Its on-CPU time is on-CPU; its waits are
//! charged by kind, except dependency waits (child, pipe, signal, poll) whose
//! waker is another traced thread: those are looked through, recursively, to
//! what the waker was doing meanwhile. Without wakeup records (the /proc-only
//! fidelity) a dependency wait is shared among the tree's other threads that
//! were busy at that instant. The rules are written out in
//! `docs/classification.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::analyze::accounting::{on_cpu_ns, thread_end};
use crate::analyze::waitkind::{
    is_parking, Classified, Dependency, POLL_TIMEOUT, PREEMPTED, SCHED_PARK, SIGNAL_WAIT,
};
use crate::model::trace::{Fidelity, Ns, OffCpu, Pid, SwitchState, ThreadTrace, Tid, Trace};
use crate::model::WaitKind;

/// How deep the path may look through waits (A waits on B waits on C ...).
pub const MAX_DEPTH: usize = 8;

pub const BEFORE_EXEC: &str = "launching the program (fork to exec)";
pub const AFTER_MAIN: &str = "after the main thread ended, until the process was reaped";
pub const NO_MAIN: &str = "the main thread was not observed";
pub const NOT_RECORDED: &str = "off-CPU, cause not recorded";
pub const RUNQ_AFTER_WAKE: &str = "runnable after a wakeup, waiting for a CPU";

/// Seconds-free accumulator of one wait kind on the path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindTotal {
    pub ns: f64,
    /// Time by plain-words `what`.
    pub whats: BTreeMap<String, f64>,
}

/// One leaf wait charged to the path (a piece of one off-CPU interval).
#[derive(Clone, Debug, PartialEq)]
pub struct PathWait {
    pub tid: Tid,
    pub kind: WaitKind,
    pub dependency: Dependency,
    /// Shared with every other piece of the same wait `what` (a run can
    /// charge a million pieces).
    pub what: Arc<str>,
    pub start: Ns,
    pub end: Ns,
    /// 1.0, or the share when the instant was split among several threads.
    pub weight: f64,
}

impl PathWait {
    pub fn ns(&self) -> f64 {
        (self.end - self.start) as f64 * self.weight
    }
}

/// The path's attribution of the wall time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Path {
    pub wall_ns: u64,
    pub on_cpu_ns: f64,
    pub kinds: BTreeMap<WaitKind, KindTotal>,
    pub waits: Vec<PathWait>,
    /// Time the path spent in each thread: (on-CPU, blocked or runnable).
    pub per_thread: BTreeMap<Tid, (f64, f64)>,
    /// Dependency waits looked through to a waker, and time shared by the
    /// /proc-only fallback.
    pub looked_through: usize,
    pub shared_ns: f64,
    /// Threads that hand a lock to each other through condvar-type futex
    /// waits (a monitor convoy, see [`lock_convoy_threads`]).
    pub convoy: BTreeSet<Tid>,
}

impl Path {
    pub fn waiting_ns(&self) -> f64 {
        self.kinds.values().map(|k| k.ns).sum()
    }

    /// Time the path spent in `tid` (on-CPU or waiting), ns.
    pub fn time_in(&self, tid: Tid) -> f64 {
        self.per_thread.get(&tid).map_or(0.0, |(a, b)| a + b)
    }
}

/// What a piece of time outside a looked-through thread's life is charged to.
#[derive(Clone, Copy)]
enum Charge<'c> {
    Wait(&'c Classified),
    Named(WaitKind, &'static str),
}

struct Walker<'a> {
    trace: &'a Trace,
    classes: &'a [Classified],
    parked: &'a BTreeSet<Tid>,
    /// Per thread: what its waits without evidence most likely were (see
    /// [`inferred_waits`]).
    inferred: BTreeMap<Tid, Classified>,
    /// One shared `what` per distinct string.
    whats: std::collections::HashMap<String, Arc<str>, foldhash::fast::RandomState>,
    /// The [`Dependency::Outside`] twin of each pipe-wait classification.
    outside: std::collections::HashMap<String, Classified, foldhash::fast::RandomState>,
    out: Path,
}

/// What a condvar-type futex wait inside a lock convoy is called.
pub const CONVOY_LOCK: &str =
    "a contended lock handed over between threads (futex park, as in a JVM monitor)";

/// The classification of a convoy's hand-over waits.
static CONVOY_CLASS: std::sync::LazyLock<Classified> = std::sync::LazyLock::new(|| Classified {
    kind: WaitKind::Lock,
    dependency: Dependency::Leaf,
    what: CONVOY_LOCK.into(),
});

/// A file-lock wait that no task of the tree ended (see
/// [`crate::analyze::waitkind::FILE_LOCK`]).
static FILE_LOCK_ELSEWHERE_CLASS: std::sync::LazyLock<Classified> =
    std::sync::LazyLock::new(|| Classified {
        kind: WaitKind::Other,
        dependency: Dependency::Outside,
        what: crate::analyze::waitkind::FILE_LOCK_ELSEWHERE.into(),
    });

/// Minimum handed-over waits per thread for the convoy rule.
pub const CONVOY_MIN_WAITS: usize = 10;

/// Walk the critical path of the run. `parked` names threads the fallback
/// must not share time with (idle pre-pass, see [`parked_threads`]).
pub fn critical_path(trace: &Trace, classes: &[Classified], parked: &BTreeSet<Tid>) -> Path {
    let mut w = Walker {
        trace,
        classes,
        parked,
        inferred: inferred_waits(trace, classes),
        whats: Default::default(),
        outside: Default::default(),
        out: Path {
            convoy: lock_convoy_threads(trace, classes),
            ..Path::default()
        },
    };
    let (from, to) = (trace.launched, trace.reaped.max(trace.launched));
    w.out.wall_ns = to - from;
    let Some(main) = trace.threads.get(&trace.root_pid) else {
        w.charge_named(WaitKind::Other, NO_MAIN, trace.root_pid, from, to, 1.0);
        return w.out;
    };
    let begin = trace.exec.unwrap_or(from).max(main.start).clamp(from, to);
    w.charge_named(WaitKind::Other, BEFORE_EXEC, main.tid, from, begin, 1.0);
    let main_end = thread_end(trace, main).clamp(begin, to);
    let mut chain = Vec::new();
    w.walk(
        main.tid,
        begin,
        main_end,
        1.0,
        0,
        &mut chain,
        Charge::Named(WaitKind::Other, BEFORE_EXEC),
    );
    let after = Classified {
        kind: WaitKind::Other,
        dependency: Dependency::Signal,
        what: AFTER_MAIN.into(),
    };
    w.share(main.tid, main_end, to, 1.0, &after, &[]);
    w.out
}

impl<'a> Walker<'a> {
    fn charge(&mut self, c: &Classified, tid: Tid, s: Ns, e: Ns, weight: f64) {
        if e <= s {
            return;
        }
        let ns = (e - s) as f64 * weight;
        let k = self.out.kinds.entry(c.kind).or_default();
        k.ns += ns;
        match k.whats.get_mut(c.what.as_str()) {
            Some(v) => *v += ns,
            None => {
                k.whats.insert(c.what.clone(), ns);
            }
        }
        self.out.per_thread.entry(tid).or_default().1 += ns;
        let what = match self.whats.get(c.what.as_str()) {
            Some(w) => w.clone(),
            None => {
                let w: Arc<str> = c.what.as_str().into();
                self.whats.insert(c.what.clone(), w.clone());
                w
            }
        };
        self.out.waits.push(PathWait {
            tid,
            kind: c.kind,
            dependency: c.dependency,
            what,
            start: s,
            end: e,
            weight,
        });
    }

    fn charge_named(&mut self, kind: WaitKind, what: &str, tid: Tid, s: Ns, e: Ns, weight: f64) {
        self.charge(
            &Classified {
                kind,
                dependency: Dependency::Leaf,
                what: what.into(),
            },
            tid,
            s,
            e,
            weight,
        );
    }

    fn charge_outside(&mut self, c: Charge<'_>, tid: Tid, s: Ns, e: Ns, weight: f64) {
        match c {
            Charge::Wait(c) => self.charge(c, tid, s, e, weight),
            Charge::Named(k, what) => self.charge_named(k, what, tid, s, e, weight),
        }
    }

    fn on_cpu(&mut self, tid: Tid, s: Ns, e: Ns, weight: f64) {
        if e > s {
            let ns = (e - s) as f64 * weight;
            self.out.on_cpu_ns += ns;
            self.out.per_thread.entry(tid).or_default().0 += ns;
        }
    }

    /// Attribute [a, b) of thread `tid`'s time with weight `w`.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        tid: Tid,
        a: Ns,
        b: Ns,
        w: f64,
        depth: usize,
        chain: &mut Vec<Tid>,
        outside: Charge<'_>,
    ) {
        let trace = self.trace;
        let Some(t) = trace.threads.get(&tid) else {
            return self.charge_outside(outside, tid, a, b, w);
        };
        let (life_s, life_e) = (t.start, thread_end(trace, t));
        self.charge_outside(outside, tid, a, b.min(life_s), w);
        self.charge_outside(outside, tid, a.max(life_e), b, w);
        let (a, b) = (a.max(life_s), b.min(life_e));
        if a >= b {
            return;
        }
        if t.timeline == Fidelity::None {
            return self.proportional(t, a, b, w);
        }
        let mut cur = a;
        let first = t.offcpu.partition_point(|o| o.end <= a);
        for o in &t.offcpu[first..] {
            if o.start >= b {
                break;
            }
            let (s, e) = (o.start.max(a), o.end.min(b));
            self.on_cpu(tid, cur, s, w);
            self.interval(t, o, s, e, w, depth, chain);
            cur = cur.max(e);
        }
        self.on_cpu(tid, cur, b, w);
    }

    /// No timeline: split by the measured on-CPU share of the thread's life.
    fn proportional(&mut self, t: &ThreadTrace, a: Ns, b: Ns, w: f64) {
        let life = (thread_end(self.trace, t) - t.start).max(1) as f64;
        let ratio = (on_cpu_ns(self.trace, t) as f64 / life).clamp(0.0, 1.0);
        self.on_cpu(t.tid, a, b, w * ratio);
        self.charge_named(
            WaitKind::Other,
            NOT_RECORDED,
            t.tid,
            a,
            b,
            w * (1.0 - ratio),
        );
    }

    /// One off-CPU interval clipped to [s, e).
    #[allow(clippy::too_many_arguments)]
    fn interval(
        &mut self,
        t: &ThreadTrace,
        o: &OffCpu,
        s: Ns,
        e: Ns,
        w: f64,
        depth: usize,
        chain: &mut Vec<Tid>,
    ) {
        let trace = self.trace;
        let classes = self.classes;
        if trace.causes.get(o.cause).state == SwitchState::Preempted {
            return self.charge_named(WaitKind::CpuContention, PREEMPTED, t.tid, s, e, w);
        }
        let wake = o.wake.unwrap_or(o.end).clamp(o.start, o.end);
        let Some(c) = classes.get(o.cause as usize) else {
            return self.charge_named(WaitKind::Other, NOT_RECORDED, t.tid, s, e, w);
        };
        self.blocked(t, o, c, s, e.min(wake), w, depth, chain);
        self.charge_named(
            WaitKind::CpuContention,
            RUNQ_AFTER_WAKE,
            t.tid,
            s.max(wake),
            e,
            w,
        );
    }

    /// The blocked part [s, e) of an interval classified `c`.
    #[allow(clippy::too_many_arguments)]
    fn blocked(
        &mut self,
        t: &ThreadTrace,
        o: &OffCpu,
        c: &Classified,
        s: Ns,
        e: Ns,
        w: f64,
        depth: usize,
        chain: &mut Vec<Tid>,
    ) {
        if e <= s {
            return;
        }
        if self.in_convoy(t.tid, c, o) {
            return self.charge(&CONVOY_CLASS, t.tid, s, e, w);
        }
        // Waits that no task of the tree ended, when wakeups were recorded:
        // the counterpart is another program, the world outside. A file
        // lock is a lock between the program's own tasks only when one of
        // them released it (the releaser wakes the waiter; contract: `lock`
        // is for the program's own threads); a pipe whose writer (or
        // reader) is another program cannot be looked through.
        let ended_by_ours = o.waker.is_some_and(|k| self.trace.threads.contains_key(&k));
        if !ended_by_ours {
            if c.what == crate::analyze::waitkind::FILE_LOCK {
                return self.charge(&FILE_LOCK_ELSEWHERE_CLASS, t.tid, s, e, w);
            }
            if c.dependency == Dependency::Pipe && t.timeline == Fidelity::Switches {
                let oc = self.outside_class(c);
                return self.charge(&oc, t.tid, s, e, w);
            }
        }
        let can_follow = c.dependency != Dependency::Leaf && depth < MAX_DEPTH;
        if let (true, Some(waker)) = (can_follow, o.waker) {
            let known = self.trace.threads.contains_key(&waker);
            if known && waker != t.tid && !chain.contains(&waker) {
                self.out.looked_through += 1;
                chain.push(t.tid);
                self.walk(waker, s, e, w, depth + 1, chain, Charge::Wait(c));
                chain.pop();
                return;
            }
        }
        // Without a waker in the tree: child and pipe waits are shared when
        // wakeups were not recorded at all; signal waits (timed condvar and
        // GIL waits that expire, signals from outside) are always shared
        // among the threads that were busy meanwhile.
        let no_wakeups = t.timeline != Fidelity::Switches && o.waker.is_none();
        let shareable = match c.dependency {
            Dependency::Child | Dependency::Pipe => no_wakeups,
            Dependency::Signal => true,
            Dependency::Unknown => {
                if let Some(ic) = self.inferred.get(&t.tid).cloned() {
                    return self.charge(&ic, t.tid, s, e, w);
                }
                true
            }
            Dependency::Leaf | Dependency::Poll | Dependency::Outside => false,
        };
        if can_follow && shareable {
            let mut exclude = chain.clone();
            exclude.push(t.tid);
            return self.share(t.tid, s, e, w, c, &exclude);
        }
        self.charge(c, t.tid, s, e, w);
    }

    /// `c` (a pipe wait) when its other end is another program.
    fn outside_class(&mut self, c: &Classified) -> Classified {
        if let Some(oc) = self.outside.get(&c.what) {
            return oc.clone();
        }
        let oc = Classified {
            kind: c.kind,
            dependency: Dependency::Outside,
            what: format!("{}{}", c.what, crate::analyze::waitkind::OTHER_END_OUTSIDE),
        };
        self.outside.insert(c.what.clone(), oc.clone());
        oc
    }

    /// A condvar-type futex wait of a convoy member ended by another member.
    fn in_convoy(&self, tid: Tid, c: &Classified, o: &OffCpu) -> bool {
        c.kind == WaitKind::Lock
            && c.dependency == Dependency::Signal
            && self.out.convoy.contains(&tid)
            && o.waker
                .is_some_and(|w| w != tid && self.out.convoy.contains(&w))
    }

    /// The /proc-only fallback: split [s, e) among the tree's threads that
    /// were busy (on-CPU, runnable, or in a leaf wait that is not parking),
    /// slice by slice; with nobody busy, charge `c` to `tid`. For a child
    /// wait only the waiting process's descendants are candidates.
    fn share(&mut self, tid: Tid, s: Ns, e: Ns, w: f64, c: &Classified, exclude: &[Tid]) {
        if e <= s {
            return;
        }
        let trace = self.trace;
        let candidates = self.candidates(tid, s, e, c, exclude);
        let mut cuts: Vec<Ns> = vec![s, e];
        for t in &candidates {
            cuts.extend([t.start, thread_end(trace, t)]);
            let first = t.offcpu.partition_point(|o| o.end <= s);
            for o in t.offcpu[first..].iter().take_while(|o| o.start < e) {
                cuts.extend([o.start, o.end]);
                cuts.extend(o.wake);
            }
        }
        cuts.retain(|&x| x >= s && x <= e);
        cuts.sort_unstable();
        cuts.dedup();
        for win in cuts.windows(2) {
            let (x, y) = (win[0], win[1]);
            let busy: Vec<(Tid, Busy)> = candidates
                .iter()
                .filter_map(|t| self.busy_at(t, x, c).map(|b| (t.tid, b)))
                .collect();
            if busy.is_empty() {
                self.charge(c, tid, x, y, w);
                continue;
            }
            self.out.shared_ns += (y - x) as f64 * w;
            let share = w / busy.len() as f64;
            for (who, b) in busy {
                match b {
                    Busy::Running => self.on_cpu(who, x, y, share),
                    Busy::Waiting(c2) => self.charge(c2, who, x, y, share),
                    Busy::Runnable => {
                        self.charge_named(WaitKind::CpuContention, PREEMPTED, who, x, y, share)
                    }
                }
            }
        }
    }

    fn candidates(
        &self,
        tid: Tid,
        s: Ns,
        e: Ns,
        c: &Classified,
        exclude: &[Tid],
    ) -> Vec<&'a ThreadTrace> {
        let trace = self.trace;
        let waiter_pid = trace.threads.get(&tid).map(|t| t.pid);
        let scope = match (c.dependency, waiter_pid) {
            (Dependency::Child | Dependency::Unknown, Some(pid)) => Some(descendants(trace, pid)),
            (Dependency::Signal, Some(pid)) if c.what == SIGNAL_WAIT => {
                Some(descendants(trace, pid))
            }
            (Dependency::Signal, Some(pid)) if c.kind == WaitKind::Lock || c.what == SCHED_PARK => {
                Some(BTreeSet::from([pid]))
            }
            _ => None,
        };
        trace
            .threads
            .values()
            // A Go netpoller thread is parked most of its life, and is
            // still what a scheduler park waits on (see `busy_at`).
            .filter(|t| {
                t.tid != tid
                    && !exclude.contains(&t.tid)
                    && (c.what == SCHED_PARK || !self.parked.contains(&t.tid))
            })
            .filter(|t| t.start < e && thread_end(trace, t) > s)
            .filter(|t| scope.as_ref().is_none_or(|d| d.contains(&t.pid)))
            .collect()
    }

    /// What `t` was doing at `x`, when it counts as busy for sharing the
    /// wait `shared`. For a Go scheduler park, a peer waiting in the
    /// netpoller (epoll on sockets, or until a goroutine's timer) counts:
    /// that thread waits on behalf of every parked goroutine of the process.
    fn busy_at(&self, t: &ThreadTrace, x: Ns, shared: &Classified) -> Option<Busy<'a>> {
        if x < t.start || x >= thread_end(self.trace, t) || t.timeline == Fidelity::None {
            return None;
        }
        let i = t.offcpu.partition_point(|o| o.end <= x);
        let Some(o) = t.offcpu.get(i).filter(|o| o.start <= x) else {
            return Some(Busy::Running);
        };
        let state = self.trace.causes.get(o.cause).state;
        if state == SwitchState::Preempted || o.wake.is_some_and(|wk| x >= wk) {
            return Some(Busy::Runnable);
        }
        let c = self.classes.get(o.cause as usize)?;
        if self.in_convoy(t.tid, c, o) {
            return Some(Busy::Waiting(&CONVOY_CLASS));
        }
        let leaf = c.dependency == Dependency::Leaf && !is_parking(c);
        let netpoller = shared.what == SCHED_PARK
            && c.dependency == Dependency::Poll
            && c.kind == WaitKind::Network
            || shared.what == SCHED_PARK && c.what.ends_with(POLL_TIMEOUT);
        (leaf || netpoller).then_some(Busy::Waiting(c))
    }
}

enum Busy<'c> {
    Running,
    Runnable,
    Waiting(&'c Classified),
}

/// `pid` and every process below it in the tree.
pub fn descendants(trace: &Trace, pid: Pid) -> BTreeSet<Pid> {
    let mut out = BTreeSet::from([pid]);
    loop {
        let before = out.len();
        let more: Vec<Pid> = trace
            .processes
            .values()
            .filter(|p| out.contains(&p.ppid))
            .map(|p| p.pid)
            .collect();
        out.extend(more);
        if out.len() == before {
            return out;
        }
    }
}

/// Threads parked for most of their life (idle pre-pass, independent of the
/// path): not the main thread, and at least half their lifetime blocked in
/// parking waits (poll/epoll/select, accept) or in dependency waits nobody in
/// the tree ended (waker unknown or outside the tree).
pub fn parked_threads(trace: &Trace, classes: &[Classified]) -> BTreeSet<Tid> {
    trace
        .threads
        .values()
        .filter(|t| t.tid != trace.root_pid)
        .filter(|t| {
            let life = (thread_end(trace, t) - t.start).max(1);
            let parked: Ns = t
                .offcpu
                .iter()
                .filter(|o| {
                    classes
                        .get(o.cause as usize)
                        .is_some_and(|c| parks(trace, c, o))
                })
                .map(|o| o.blocked_ns(trace.causes.get(o.cause).state))
                .sum();
            parked * 2 >= life
        })
        .map(|t| t.tid)
        .collect()
}

/// A dependency wait nobody in the tree ended counts as parking only when
/// it is long: an interpreter lock's 5 ms timed waits (CPython's GIL) are
/// turns, not a park.
pub const PARK_MIN_NS: Ns = 20_000_000;

fn parks(trace: &Trace, c: &Classified, o: &OffCpu) -> bool {
    let ended_by_tree = o.waker.is_some_and(|w| trace.threads.contains_key(&w));
    let long = o.end - o.start >= PARK_MIN_NS;
    is_parking(c)
        || (matches!(c.dependency, Dependency::Signal | Dependency::Unknown)
            && !ended_by_tree
            && long)
}

/// Signal-type futex waits of `tid` ended by other threads of `members`:
/// (count, distinct wakers).
fn member_waits(
    trace: &Trace,
    classes: &[Classified],
    tid: Tid,
    members: &BTreeSet<Tid>,
) -> (usize, usize) {
    let Some(t) = trace.threads.get(&tid) else {
        return (0, 0);
    };
    let mut wakers = BTreeSet::new();
    let mut n = 0;
    for o in &t.offcpu {
        let signal = classes
            .get(o.cause as usize)
            .is_some_and(|c| c.kind == WaitKind::Lock && c.dependency == Dependency::Signal);
        if let Some(w) = o
            .waker
            .filter(|w| signal && *w != tid && members.contains(w))
        {
            n += 1;
            wakers.insert(w);
        }
    }
    (n, wakers.len())
}

/// Lock convoys through condvar-type futex waits (HotSpot monitors and
/// other park-based locks look like condition variables to the kernel).
/// In a process whose runtime is not CPython (whose GIL hand-overs are
/// looked through, by the contract), a thread is a convoy member when at
/// least [`CONVOY_MIN_WAITS`] of its signal-type futex waits were ended by
/// peer threads of the same process, by at least two distinct peers that
/// are themselves such waiters. With three or more members, every thread
/// both queues on and hands over the same lock: their hand-overs are lock
/// waits, not dependencies. A work queue (one producer waking workers) or a
/// pair of threads ping-ponging does not qualify: each waiter has one waker.
pub fn lock_convoy_threads(trace: &Trace, classes: &[Classified]) -> BTreeSet<Tid> {
    let mut out = BTreeSet::new();
    for p in trace.processes.values() {
        if crate::analyze::runtime::detect(p) == crate::analyze::runtime::CPYTHON {
            continue;
        }
        // waiter -> (count, wakers) for signal futex waits ended by peers.
        let mut by: BTreeMap<Tid, (usize, BTreeSet<Tid>)> = BTreeMap::new();
        for tid in &p.threads {
            let Some(t) = trace.threads.get(tid) else {
                continue;
            };
            for o in &t.offcpu {
                let Some(c) = classes.get(o.cause as usize) else {
                    continue;
                };
                if c.kind != WaitKind::Lock || c.dependency != Dependency::Signal {
                    continue;
                }
                let Some(w) = o.waker.filter(|&w| w != t.tid) else {
                    continue;
                };
                if trace.threads.get(&w).is_some_and(|wt| wt.pid == p.pid) {
                    let e = by.entry(t.tid).or_default();
                    e.0 += 1;
                    e.1.insert(w);
                }
            }
        }
        // Members: waiters with enough hand-overs from at least two other
        // members; dropping a thread can drop others, so iterate.
        let mut members: BTreeSet<Tid> = by.keys().copied().collect();
        loop {
            let keep: BTreeSet<Tid> = members
                .iter()
                .filter(|t| {
                    let (n, peers) = member_waits(trace, classes, **t, &members);
                    n >= CONVOY_MIN_WAITS && peers >= 2
                })
                .copied()
                .collect();
            if keep.len() == members.len() {
                break;
            }
            members = keep;
        }
        if members.len() >= 3 {
            out.extend(members);
        }
    }
    out
}

/// Identified waits of a thread must add up to this before its waits
/// without evidence are inferred from them.
pub const INFER_MIN_NS: f64 = 20e6;
/// ... and one `what` must make up this share of them.
pub const INFER_SHARE: f64 = 0.7;

/// For waits without evidence (switch records whose kernel stack, syscall
/// and wchan are all missing) that no thread of the tree ended: the same
/// thread's identified leaf or poll waits, when they add up to at least
/// 20 ms and one `what` makes up 70% of them, say what the thread waits on;
/// the unidentified waits are charged as that. Failing that, the same rule
/// over every thread with the same command name (a new process's first wait
/// has no learned kernel stack, but its siblings' have). Otherwise the critical path
/// shares them among the busy threads of the process and its descendants,
/// as for a child wait.
pub fn inferred_waits(trace: &Trace, classes: &[Classified]) -> BTreeMap<Tid, Classified> {
    type Totals<'c> = BTreeMap<(WaitKind, &'c str), (f64, &'c Classified)>;
    let mut per_thread: BTreeMap<Tid, (Totals<'_>, bool)> = BTreeMap::new();
    let mut per_comm: BTreeMap<&str, Totals<'_>> = BTreeMap::new();
    for t in trace.threads.values() {
        let (by, unknown) = per_thread.entry(t.tid).or_default();
        for o in &t.offcpu {
            let Some(c) = classes.get(o.cause as usize) else {
                continue;
            };
            let ns = o.blocked_ns(trace.causes.get(o.cause).state) as f64;
            if c.dependency == Dependency::Unknown {
                *unknown = true;
                continue;
            }
            let leafy = matches!(c.dependency, Dependency::Leaf | Dependency::Poll);
            if !leafy || c.kind == WaitKind::CpuContention || ns == 0.0 {
                continue;
            }
            by.entry((c.kind, c.what.as_str())).or_insert((0.0, c)).0 += ns;
            per_comm
                .entry(t.comm.as_str())
                .or_default()
                .entry((c.kind, c.what.as_str()))
                .or_insert((0.0, c))
                .0 += ns;
        }
    }
    let dominant = |by: &Totals<'_>| -> Option<Classified> {
        let total: f64 = by.values().map(|v| v.0).sum();
        let (ns, c) = by.values().max_by(|a, b| a.0.total_cmp(&b.0))?;
        (total >= INFER_MIN_NS && *ns >= INFER_SHARE * total).then(|| {
            let mut ic = (*c).clone();
            ic.what = format!("{} (inferred: no kernel stack)", c.what);
            ic
        })
    };
    let mut out = BTreeMap::new();
    for (tid, (by, unknown)) in &per_thread {
        if !unknown {
            continue;
        }
        let own = dominant(by);
        let comm = trace.threads.get(tid).map_or("", |t| t.comm.as_str());
        let by_comm = || per_comm.get(comm).and_then(dominant);
        if let Some(c) = own.or_else(by_comm) {
            out.insert(*tid, c);
        }
    }
    out
}
