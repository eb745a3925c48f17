//! Verdict, recommendations and findings, made from the critical path.
//!
//! In: a [`Context`] (the trace, the walked [`Path`], the accounting and the
//! detected runtimes). Out: the profile's `verdict`, `recommendations` (never
//! empty) and `findings`. The class comes from wall-clock shares of the path
//! only, never from thread-second sums, so idle threads cannot sway it.
//! Thresholds and speedup formulas are documented in
//! `docs/classification.md`; they are constants here so a later calibration on
//! a corpus changes numbers, not structure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Map, Value};

use crate::analyze::accounting::{thread_end, ThreadAccount};
use crate::analyze::commits;
use crate::analyze::critical_path::{Path, PathWait};
use crate::analyze::runtime;
use crate::analyze::waitkind;
use crate::analyze::waitkind::{Classified, Dependency};
use crate::model::profile::{Finding, Recommendation, Time, Verdict};
use crate::model::trace::{Fidelity, Ns, Pid, SwitchState, Tid, Trace};
use crate::model::WaitKind;

/// Runs shorter than this get `unknown`.
pub const MIN_WALL_S: f64 = 0.020;
/// cpu-bound when on-CPU + cpu-contention reach this share of the wall time.
pub const CPU_BOUND: f64 = 0.70;
/// io-bound when outside-world waits reach this share.
pub const IO_BOUND: f64 = 0.60;
/// lock-bound when lock waits reach this share (and exceed the I/O share).
pub const LOCK_BOUND: f64 = 0.50;
/// unknown when unclassified waits (other, unresolved child/ipc) reach this.
pub const OTHER_BOUND: f64 = 0.60;

/// Everything the verdict and the finding detectors look at.
/// Names the program's own function a user stack is in (see
/// [`crate::stacks::Symbols::user_function`]): (pid, stack id) → name.
pub type Namer<'a> = &'a dyn Fn(Pid, u32) -> Option<String>;

pub struct Context<'a> {
    pub trace: &'a Trace,
    /// Names functions from user stacks, when symbols are available.
    pub namer: Option<Namer<'a>>,
    pub classes: &'a [Classified],
    pub path: &'a Path,
    pub time: &'a Time,
    pub accounts: &'a BTreeMap<Tid, ThreadAccount>,
    pub runtimes: &'a BTreeMap<Pid, String>,
    pub ncpus: usize,
    /// [`demand`], computed once (it sorts every interval's edges).
    pub demand: std::cell::OnceCell<Demand>,
}

/// Wall-clock shares of the path, grouped the way the verdict reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sides {
    pub wall_s: f64,
    /// On-CPU on the path.
    pub on_cpu: f64,
    /// Runnable but waiting for a CPU on the path.
    pub contention: f64,
    /// disk, network, sleep, terminal, and event-loop waits nobody in the
    /// tree ended (kind `other`, dependency poll).
    pub io: f64,
    pub lock: f64,
    /// Everything else (other, unresolved child and ipc).
    pub other: f64,
}

impl Sides {
    pub fn of(path: &Path) -> Sides {
        let wall = path.wall_ns.max(1) as f64;
        let mut s = Sides {
            wall_s: path.wall_ns as f64 / 1e9,
            on_cpu: path.on_cpu_ns / wall,
            ..Sides::default()
        };
        for w in &path.waits {
            let share = w.ns() / wall;
            match side_of(w) {
                Side::Contention => s.contention += share,
                Side::Io => s.io += share,
                Side::Lock => s.lock += share,
                Side::Other => s.other += share,
            }
        }
        s
    }

    pub fn cpu(&self) -> f64 {
        self.on_cpu + self.contention
    }
}

enum Side {
    Contention,
    Io,
    Lock,
    Other,
}

fn side_of(w: &PathWait) -> Side {
    match w.kind {
        WaitKind::CpuContention => Side::Contention,
        WaitKind::Disk | WaitKind::Network | WaitKind::Sleep | WaitKind::Terminal => Side::Io,
        WaitKind::Other if w.dependency == Dependency::Poll => Side::Io,
        // Another program at the other end: the world outside.
        _ if w.dependency == Dependency::Outside => Side::Io,
        WaitKind::Lock => Side::Lock,
        _ => Side::Other,
    }
}

fn is_io(w: &PathWait) -> bool {
    matches!(side_of(w), Side::Io)
}

fn pct(x: f64) -> String {
    format!("{:.0}%", (x * 100.0).round())
}

/// The path's sides, with the kernel CPU that issues synchronous commits
/// moved from the CPU side to the I/O side when the path holds at least
/// [`BATCH_MIN_COMMITS`] of them: that CPU is the I/O stack's work per
/// commit (journal, block submission), and it goes away with the commits.
pub fn sides(cx: &Context<'_>) -> Sides {
    let mut s = Sides::of(cx.path);
    let syncs: Vec<&PathWait> = cx
        .path
        .waits
        .iter()
        .filter(|w| w.kind == WaitKind::Disk && is_sync(&w.what))
        .collect();
    if syncs.len() >= BATCH_MIN_COMMITS {
        let moved = (commit_cpu_s(cx, &syncs) / s.wall_s.max(1e-9)).min(s.on_cpu);
        s.on_cpu -= moved;
        s.io += moved;
    }
    s
}

/// Kernel CPU of the committing threads on the path: their on-path on-CPU
/// time times their system / on-CPU ratio.
fn commit_cpu_s(cx: &Context<'_>, syncs: &[&PathWait]) -> f64 {
    let committers: BTreeSet<Tid> = syncs.iter().map(|w| w.tid).collect();
    committers
        .iter()
        .filter_map(|tid| {
            let a = cx.accounts.get(tid)?;
            let on_path = cx.path.per_thread.get(tid)?.0 / 1e9;
            (a.on_cpu_s > 0.0).then(|| on_path * a.system_s / a.on_cpu_s)
        })
        .sum()
}

/// The verdict: class, confidence and reasons.
pub fn verdict(cx: &Context<'_>) -> Verdict {
    let s = sides(cx);
    if s.wall_s < MIN_WALL_S {
        let ms = s.wall_s * 1e3;
        return unknown(format!(
            "the run lasted {ms:.1} ms, too short to say (under {:.0} ms)",
            MIN_WALL_S * 1e3
        ));
    }
    if !observed(cx.trace) {
        return unknown("nothing was observed: no on-CPU samples and no off-CPU timeline".into());
    }
    let (mut class, mut share) = classify_sides(&s);
    let mut convoy_reason = None;
    if class == "mixed" {
        if let Some((n, queued)) = convoy_queueing(cx).filter(|q| q.1 >= LOCK_BOUND) {
            class = "lock-bound";
            share = queued;
            convoy_reason = Some(format!(
                "the {n} threads of a lock convoy spent {} of their lifetimes queueing for the lock they hand to each other",
                pct(queued)
            ));
        }
    }
    let confidence = match class {
        "mixed" => mixed_confidence(&s),
        _ => share,
    } * fidelity_factor(cx.trace);
    let mut reasons = vec![top_wait_reason(cx), cpu_reason(cx, &s)];
    reasons.extend(convoy_reason);
    if s.contention >= 0.05 {
        reasons.push(format!(
            "runnable but waiting for a CPU {} of the wall time",
            pct(s.contention)
        ));
    }
    if class == "unknown" {
        reasons.insert(
            0,
            format!(
                "{} of the wall time went to waits wallprof could not classify",
                pct(s.other)
            ),
        );
    }
    reasons.retain(|r| !r.is_empty());
    Verdict {
        class: class.into(),
        confidence: round2(confidence.clamp(0.0, 1.0)),
        reasons,
    }
}

/// The class and the share that decided it.
pub fn classify_sides(s: &Sides) -> (&'static str, f64) {
    if s.cpu() >= CPU_BOUND {
        ("cpu-bound", s.cpu())
    } else if s.io >= IO_BOUND {
        ("io-bound", s.io)
    } else if s.lock >= LOCK_BOUND && s.lock > s.io {
        ("lock-bound", s.lock)
    } else if s.other >= OTHER_BOUND {
        ("unknown", 1.0 - s.other)
    } else {
        ("mixed", 0.0)
    }
}

/// A path split between lock waits and CPU, with lock its biggest wait
/// kind: `(members, share)` for the lock convoy of the tree (threads that
/// hand one lock to each other,
/// [`crate::analyze::critical_path::lock_convoy_threads`]):
/// the share of the members' lifetimes spent waiting on locks. In a convoy
/// the path follows either a waiter's queueing or the holder's critical
/// section, depending on hand-over order, so its split moves from run to
/// run (java_sync_convoy: lock 49-64% of the path over 12 runs) while the
/// members' own share does not (63-64%). At [`LOCK_BOUND`] or more, the
/// program is lock-bound.
fn convoy_queueing(cx: &Context<'_>) -> Option<(usize, f64)> {
    let top = cx
        .path
        .kinds
        .iter()
        .filter(|(k, _)| **k != WaitKind::CpuContention)
        .max_by(|a, b| a.1.ns.total_cmp(&b.1.ns))?;
    if *top.0 != WaitKind::Lock || cx.path.convoy.len() < 3 {
        return None;
    }
    let (mut lock, mut life) = (0.0, 0.0);
    for tid in &cx.path.convoy {
        let a = cx.accounts.get(tid)?;
        lock += a.waits.get("lock").copied().unwrap_or(0.0);
        life += a.lifetime_s;
    }
    (life > 0.0).then(|| (cx.path.convoy.len(), lock / life))
}

/// Mixed is surer the closer its two biggest sides are.
fn mixed_confidence(s: &Sides) -> f64 {
    let mut v = [s.cpu(), s.io, s.lock, s.other];
    v.sort_by(|a, b| b.total_cmp(a));
    (v[1] / v[0].max(1e-9)).clamp(0.3, 0.9)
}

/// Confidence is cut when the main thread's timeline was reconstructed
/// from /proc samples (0.85) or missing (0.6).
fn fidelity_factor(trace: &Trace) -> f64 {
    match trace.threads.get(&trace.root_pid).map(|t| t.timeline) {
        Some(Fidelity::Switches) => 1.0,
        Some(Fidelity::Sampled) => 0.85,
        _ => 0.6,
    }
}

fn observed(trace: &Trace) -> bool {
    trace.threads.values().any(|t| {
        t.timeline != Fidelity::None
            || t.samples_user + t.samples_kernel > 0
            || t.on_cpu_ns.is_some()
            || t.sched_last.is_some()
    })
}

fn unknown(reason: String) -> Verdict {
    Verdict {
        class: "unknown".into(),
        confidence: 0.0,
        reasons: vec![reason],
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// "the main thread spent 94% of the wall time in clock_nanosleep()".
fn top_wait_reason(cx: &Context<'_>) -> String {
    let mut by_what: BTreeMap<&str, (f64, bool)> = BTreeMap::new();
    for w in cx
        .path
        .waits
        .iter()
        .filter(|w| w.kind != WaitKind::CpuContention)
    {
        let e = by_what.entry(&w.what).or_insert((0.0, true));
        e.0 += w.ns();
        e.1 &= w.tid == cx.trace.root_pid;
    }
    let Some((what, (ns, main_only))) =
        by_what.into_iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
    else {
        return String::new();
    };
    let share = ns / cx.path.wall_ns.max(1) as f64;
    if share < 0.05 {
        return String::new();
    }
    let who = if main_only {
        "the main thread"
    } else {
        "the critical path"
    };
    let caller = waiting_function(cx, what)
        .map(|f| format!(", called from {f}()"))
        .unwrap_or_default();
    format!(
        "{who} spent {} of the wall time in {what}{caller} ({:.2} s)",
        pct(share),
        ns / 1e9
    )
}

/// The program's own function that most of the path's `what` waits were
/// called from, from the user stacks captured at switch-out.
fn waiting_function(cx: &Context<'_>, what: &str) -> Option<String> {
    let namer = cx.namer?;
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    // Naming a stack walks its frames' symbols: once per distinct stack.
    let mut named: HashMap<(Pid, u32), Option<String>> = HashMap::new();
    for w in cx.path.waits.iter().filter(|w| *w.what == *what) {
        let th = cx.trace.threads.get(&w.tid)?;
        let i = th.offcpu.partition_point(|o| o.end <= w.start);
        let Some(iv) = th.offcpu.get(i).filter(|o| o.start <= w.start) else {
            continue;
        };
        let Some(u) = iv.ustack else { continue };
        let name = named.entry((th.pid, u)).or_insert_with(|| namer(th.pid, u));
        if let Some(name) = name {
            *by_name.entry(name.clone()).or_insert(0.0) += w.ns();
        }
    }
    by_name
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, _)| n)
}

/// "on-CPU 97% of the wall time, 1.0 of 2 CPUs busy on average".
fn cpu_reason(cx: &Context<'_>, s: &Sides) -> String {
    let busy = (cx.time.user_s + cx.time.system_s) / s.wall_s.max(1e-9);
    format!(
        "on-CPU {} of the wall time, {busy:.1} of {} CPUs busy on average",
        pct(s.on_cpu),
        cx.ncpus
    )
}

/// Recommendations, best first; never empty.
pub fn recommendations(cx: &Context<'_>, verdict: &Verdict) -> Vec<Recommendation> {
    let s = sides(cx);
    let mut out = Vec::new();
    match verdict.class.as_str() {
        "cpu-bound" => out.extend(cpu_recs(cx, &s)),
        "io-bound" => out.extend(io_recs(cx, &s)),
        "lock-bound" => out.extend(lock_recs(cx, &s)),
        "mixed" => {
            out.extend(io_recs(cx, &s));
            out.extend(cpu_recs(cx, &s));
            if s.lock >= 0.2 {
                out.extend(lock_recs(cx, &s));
            }
        }
        _ => {}
    }
    out.retain(|r| r.strategy == "none" || r.estimated_speedup >= 1.05);
    let mut seen = BTreeSet::new();
    out.retain(|r| seen.insert(r.strategy.clone()));
    out.sort_by(|a, b| {
        (a.strategy == "none")
            .cmp(&(b.strategy == "none"))
            .then(b.estimated_speedup.total_cmp(&a.estimated_speedup))
    });
    if out.iter().any(|r| r.strategy != "none") {
        out.retain(|r| r.strategy != "none");
    }
    if out.is_empty() {
        out.push(none_rec(cx, verdict));
    }
    out
}

fn rec(strategy: &str, why: String, speedup: f64) -> Recommendation {
    Recommendation {
        strategy: strategy.into(),
        why,
        estimated_speedup: round2(speedup.max(1.0)),
        estimated_range: None,
    }
}

fn none_rec(cx: &Context<'_>, verdict: &Verdict) -> Recommendation {
    let why = match verdict.class.as_str() {
        "unknown" => "too little was observed to recommend anything".to_string(),
        _ => format!(
            "nothing in reach would shorten the {:.2} s run measurably",
            cx.path.wall_ns as f64 / 1e9
        ),
    };
    rec("none", why, 1.0)
}

/// The root process's runtime.
fn root_runtime<'a>(cx: &'a Context<'_>) -> &'a str {
    cx.runtimes
        .get(&cx.trace.root_pid)
        .map_or(runtime::UNKNOWN, |s| s.as_str())
}

/// How many threads of the tree wanted a CPU (running or runnable, i.e.
/// alive and not blocked), over the wall time.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Demand {
    /// Time-average number of threads that wanted a CPU.
    pub avg: f64,
    /// Share of the wall time during which more threads wanted a CPU than
    /// there are CPUs.
    pub over_share: f64,
}

/// The demand for CPUs, from the timelines: every thread's life minus the
/// blocked parts of its off-CPU intervals. Unlike `user + system / wall`,
/// it does not drop when other processes on the machine take the CPUs.
pub fn demand(cx: &Context<'_>) -> Demand {
    *cx.demand.get_or_init(|| compute_demand(cx))
}

fn compute_demand(cx: &Context<'_>) -> Demand {
    let trace = cx.trace;
    let (from, to) = (trace.launched, trace.reaped.max(trace.launched));
    // Each thread's edges (busy from +1, until -1) come out in time order;
    // the threads' lists are merged, not the whole set sorted (a
    // blocking-heavy run has millions of edges and few threads).
    let mut lists: Vec<Vec<(Ns, i64)>> = Vec::new();
    for t in trace.threads.values() {
        let end = thread_end(trace, t);
        if t.timeline == Fidelity::None {
            continue;
        }
        let mut ev: Vec<(Ns, i64)> = Vec::new();
        let mut push = |a: Ns, b: Ns| {
            let (a, b) = (a.max(from), b.min(to));
            if b > a {
                ev.push((a, 1));
                ev.push((b, -1));
            }
        };
        let mut cur = t.start;
        for o in &t.offcpu {
            if trace.causes.get(o.cause).state == SwitchState::Preempted {
                continue;
            }
            let wake = o.wake.unwrap_or(o.end).clamp(o.start, o.end);
            let (bs, be) = (o.start.max(t.start), wake.min(end));
            if be <= bs {
                continue;
            }
            if bs > cur {
                push(cur, bs);
            }
            cur = cur.max(be);
        }
        if end > cur {
            push(cur, end);
        }
        if !ev.is_empty() {
            lists.push(ev);
        }
    }
    let mut heads: std::collections::BinaryHeap<std::cmp::Reverse<(Ns, i64, usize, usize)>> = lists
        .iter()
        .enumerate()
        .map(|(i, l)| std::cmp::Reverse((l[0].0, l[0].1, i, 0)))
        .collect();
    let ev = std::iter::from_fn(move || {
        let std::cmp::Reverse((x, d, i, j)) = heads.pop()?;
        if let Some(&(nx, nd)) = lists[i].get(j + 1) {
            heads.push(std::cmp::Reverse((nx, nd, i, j + 1)));
        }
        Some((x, d))
    });
    let n = cx.ncpus.max(1) as i64;
    let (mut level, mut last, mut area, mut over) = (0i64, from, 0f64, 0u64);
    for (x, d) in ev {
        let dt = x.saturating_sub(last);
        area += dt as f64 * level as f64;
        if level > n {
            over += dt;
        }
        level += d;
        last = x;
    }
    let wall = (to - from).max(1) as f64;
    Demand {
        avg: area / wall,
        over_share: over as f64 / wall,
    }
}

/// CPU-bound: Amdahl over `ncpus` for the CPU share of the path, unless the
/// program already keeps the CPUs busy (demand); plus "make it cheaper"
/// (halving the CPU work). The parallel strategy follows the runtime:
/// processes for CPython (the GIL), worker threads for Node and the rest.
fn cpu_recs(cx: &Context<'_>, s: &Sides) -> Vec<Recommendation> {
    let p = s.cpu().clamp(0.0, 1.0);
    let n = cx.ncpus.max(1) as f64;
    let d = demand(cx);
    let mut out = Vec::new();
    if n > 1.0 && d.avg < n - 0.5 {
        let amdahl = 1.0 / ((1.0 - p) + p / n);
        let (strategy, how) = match root_runtime(cx) {
            runtime::CPYTHON => (
                "process-pool",
                "processes (the GIL lets only one thread run Python code)",
            ),
            runtime::SHELL => (
                "process-pool",
                "processes (more pipeline stages or xargs -P)",
            ),
            runtime::NODE => (
                "thread-pool",
                "worker threads (the event loop runs on one thread)",
            ),
            runtime::GO => (
                "thread-pool",
                "goroutines (Go runs them on GOMAXPROCS threads, every CPU by default)",
            ),
            _ => ("thread-pool", "threads"),
        };
        let why = format!(
            "CPU {} of the wall time with {:.1} threads wanting a CPU on average for {n:.0} CPUs: split across {how}, Amdahl gives at most {amdahl:.1}x",
            pct(p),
            d.avg
        );
        out.push(rec(strategy, why, amdahl));
    }
    let halved = 1.0 / ((1.0 - p) + p / 2.0);
    let why = format!(
        "CPU {} of the wall time{}: halving the CPU work would give about {halved:.1}x",
        pct(p),
        if d.avg >= n - 0.5 {
            format!(
                ", and the program already keeps {:.1} threads busy for {n:.0} CPUs",
                d.avg
            )
        } else {
            String::new()
        }
    );
    out.push(rec("optimize-cpu", why, halved));
    out
}

/// Waits that overlapping cannot shorten: synchronous commits (ordered by
/// nature; batching is their remedy), terminal reads (one user typing), and
/// disk waits that are not the program's calls: page faults and D waits
/// without a known syscall, a runtime paging its own code in (on a cold
/// page cache, Node's start-up: 297 of them, 0.17 s, offered as a 1.08x
/// `async` gain on a program that already overlaps its fetches).
fn overlappable(w: &PathWait) -> bool {
    let commit = w.kind == WaitKind::Disk && is_sync(&w.what);
    is_io(w)
        && !commit
        && !waitkind::is_paging(w.kind, &w.what)
        && w.kind != WaitKind::Terminal
        && w.dependency != Dependency::Outside
}

/// I/O waits on the path: overlap them (async / thread-pool) when there are
/// several independent ones, batch synchronous commits, or say one
/// sequential wait cannot be split.
fn io_recs(cx: &Context<'_>, s: &Sides) -> Vec<Recommendation> {
    let waits: Vec<&PathWait> = cx.path.waits.iter().filter(|w| is_io(w)).collect();
    let ticks = schedule_threads(cx);
    let on_schedule = |w: &PathWait| {
        w.kind == WaitKind::Sleep
            && (&*w.what == waitkind::SCHEDULED_SLEEP || &*w.what == waitkind::ABS_SLEEP)
            && ticks.contains(&w.tid)
    };
    let concurrent = |w: &PathWait| w.what.ends_with(waitkind::OVERLAPPED);
    let over: Vec<&PathWait> = waits
        .iter()
        .copied()
        .filter(|w| overlappable(w) && !on_schedule(w) && !concurrent(w))
        .collect();
    let concurrent_s: f64 = waits
        .iter()
        .filter(|w| concurrent(w))
        .map(|w| w.ns())
        .sum::<f64>()
        / 1e9;
    let scheduled_s: f64 = waits
        .iter()
        .filter(|w| on_schedule(w))
        .map(|w| w.ns())
        .sum::<f64>()
        / 1e9;
    let io_s: f64 = waits.iter().map(|w| w.ns()).sum::<f64>() / 1e9;
    let total: f64 = over.iter().map(|w| w.ns()).sum::<f64>() / 1e9;
    let longest = over.iter().map(|w| w.ns()).fold(0.0, f64::max) / 1e9;
    let mut out = Vec::new();
    if let Some(r) = batch_rec(cx, &waits) {
        out.push(r);
    }
    let floor = (s.wall_s - total + longest).max(1e-3);
    let speedup = s.wall_s / floor;
    let scheduled = scheduled_s > 0.0 && scheduled_s >= 0.5 * io_s;
    let concurrent = concurrent_s > 0.0 && concurrent_s >= 0.5 * io_s;
    // A negligible overlap gain must not hide why nothing helps.
    let negligible = speedup < 1.05 && (scheduled || concurrent);
    if over.len() >= 2 && longest < 0.9 * total && !negligible {
        let how = match root_runtime(cx) {
            runtime::CPYTHON => " (asyncio.gather, or a ThreadPoolExecutor for blocking calls)",
            runtime::NODE => " (start them together and await Promise.all)",
            runtime::GO => " (a goroutine each, and a sync.WaitGroup)",
            runtime::JVM => " (an ExecutorService, or CompletableFuture)",
            runtime::SHELL => " (commands in the background with &, then wait; or xargs -P)",
            _ => "",
        };
        let why = format!(
            "{} waits totalling {total:.2} s ran one after another; overlapped{how}, they would take about the longest one, and the run about {floor:.2} s",
            over.len()
        );
        let first = match root_runtime(cx) {
            runtime::CPYTHON | runtime::NODE => ["async", "thread-pool"],
            _ => ["thread-pool", "async"],
        };
        out.push(rec(first[0], why.clone(), speedup));
        out.push(rec(first[1], why, speedup * 0.95));
    } else if scheduled {
        let why = format!(
            "the program sleeps on a fixed schedule ({scheduled_s:.2} s, {} of the wall time, until periodic absolute deadlines): its wall time is the rate it is meant to run at, and overlapping the ticks would change what it does",
            pct(scheduled_s / s.wall_s.max(1e-9))
        );
        out.push(rec("none", why, 1.0));
    } else if concurrent {
        let why = format!(
            "the program already overlaps its waits: an event loop waited {concurrent_s:.2} s ({} of the wall time) on several sockets at once",
            pct(concurrent_s / s.wall_s.max(1e-9))
        );
        out.push(rec("none", why, 1.0));
    } else if let Some(w) = waits.iter().max_by(|a, b| a.ns().total_cmp(&b.ns())) {
        let outside_s: f64 = waits
            .iter()
            .filter(|w| w.dependency == Dependency::Outside)
            .map(|w| w.ns())
            .sum::<f64>()
            / 1e9;
        let why = if w.dependency == Dependency::Outside {
            format!(
                "the program waits on another program ({outside_s:.2} s, {} of the wall time, in {}): it cannot go faster than that program, and nothing in reach of this one would overlap or shorten it",
                pct(outside_s / s.wall_s.max(1e-9)),
                w.what
            )
        } else if w.kind == WaitKind::Terminal {
            format!(
                "the program waits for input on a terminal ({:.2} s in {}): nothing in reach would overlap or shorten a user's typing",
                waits.iter().filter(|w| w.kind == WaitKind::Terminal).map(|w| w.ns()).sum::<f64>() / 1e9,
                w.what
            )
        } else {
            format!(
                "one sequential wait ({:.2} s in {}) that cannot be split or overlapped",
                w.ns() / 1e9,
                w.what
            )
        };
        out.push(rec("none", why, 1.0));
    }
    out
}

/// Threads that sleep on a periodic schedule: at least half of their
/// absolute-time sleeps on the path (by time) have periodic deadlines.
/// Their other absolute-time sleeps (the first ticks, before two steps
/// between deadlines were seen) are ticks of the same schedule. A thread
/// that sleeps for durations computed from the current time (CPython's
/// `time.sleep`) can hit two equal steps by chance, rarely, never most of
/// the time.
fn schedule_threads(cx: &Context<'_>) -> BTreeSet<Tid> {
    let mut by: BTreeMap<Tid, (f64, f64)> = BTreeMap::new();
    for w in cx.path.waits.iter().filter(|w| w.kind == WaitKind::Sleep) {
        let e = by.entry(w.tid).or_default();
        if &*w.what == waitkind::SCHEDULED_SLEEP {
            e.0 += w.ns();
        } else if &*w.what == waitkind::ABS_SLEEP {
            e.1 += w.ns();
        }
    }
    by.into_iter()
        .filter(|(_, (periodic, other))| *periodic > 0.0 && *periodic >= *other)
        .map(|(tid, _)| tid)
        .collect()
}

/// Many synchronous commits: grouping them into a few would remove nearly
/// all of their cost: the waits, the kernel CPU that issues each one (the
/// I/O stack's work per commit; the part that reads, copies or pins the
/// data stays), the user CPU of the program's commit routine, and the
/// committing threads' other write-side disk waits (a transaction's journal
/// written, truncated or deleted and waited for, once per commit). What
/// stays is the rest of the run plus one commit's wait. Runqueue time is
/// left out of both the run and the rest: it measures the machine's load
/// during this run (other processes, the profiler's own threads), not work
/// of the program, and the rest is small enough for it to matter.
fn batch_rec(cx: &Context<'_>, waits: &[&PathWait]) -> Option<Recommendation> {
    let syncs: Vec<&PathWait> = waits
        .iter()
        .copied()
        .filter(|w| w.kind == WaitKind::Disk && is_sync(&w.what))
        .collect();
    if syncs.len() < BATCH_MIN_COMMITS {
        return None;
    }
    let committers: BTreeSet<Tid> = syncs.iter().map(|w| w.tid).collect();
    let wall = cx.path.wall_ns as f64 / 1e9;
    let sync_s = syncs.iter().map(|w| w.ns()).sum::<f64>() / 1e9;
    let writes: Vec<&PathWait> = waits
        .iter()
        .copied()
        .filter(|w| w.kind == WaitKind::Disk && !is_sync(&w.what) && !is_disk_read(&w.what))
        .filter(|w| committers.contains(&w.tid))
        .collect();
    let writes_s = (writes.iter().map(|w| w.ns()).sum::<f64>() / 1e9).max(0.0);
    let n = syncs.len() as f64;
    let per_commit: Vec<&PathWait> = syncs.iter().chain(&writes).copied().collect();
    let routines = commits::commit_routines(cx.trace, &per_commit);
    let cpu = commits::commit_cpu(cx.trace, cx.path, &committers, &routines);
    let sys_s = (commit_cpu_s(cx, &syncs) - cpu.data_kernel_s).max(0.0);
    let user_s = cpu.routine_user_s + cpu.library_user_s;
    let runq_s = cx
        .path
        .waits
        .iter()
        .filter(|w| w.kind == WaitKind::CpuContention)
        .map(|w| w.ns())
        .sum::<f64>()
        / 1e9;
    let rest = (wall - runq_s - sync_s - sys_s - user_s - writes_s).max(0.0) + sync_s / n;
    let speedup = ((wall - runq_s).max(0.0) / rest.max(1e-3)).clamp(1.0, BATCH_MAX_SPEEDUP);
    let user_where = match &cpu.library {
        Some(lib) => format!("in the commit routine and the calls into {lib}"),
        None => "in the commit routine".to_string(),
    };
    let runq_note = if runq_s >= 0.0005 {
        format!(" (not counting {runq_s:.2} s runnable, waiting for a CPU)")
    } else {
        String::new()
    };
    // A direct write waits for the device to take its bytes: part of that
    // wait is the device's per-request latency, which larger writes remove,
    // and part its transfer of the bytes, which stays. Writes of one size
    // cannot tell the two apart, so the estimate is a range: transfer time
    // negligible (all of the wait goes) to the device already at its
    // transfer rate (all of it stays).
    let direct_s = syncs
        .iter()
        .filter(|w| is_direct_write(&w.what))
        .map(|w| w.ns())
        .sum::<f64>()
        / 1e9;
    if direct_s > 0.0 {
        let rest_low = rest + direct_s * (1.0 - 1.0 / n);
        let low = ((wall - runq_s).max(0.0) / rest_low.max(1e-3)).clamp(1.0, speedup);
        let why = format!(
            "{} synchronous writes took {sync_s:.2} s of waiting and about {:.2} s of CPU ({sys_s:.2} s in the kernel, {user_s:.2} s {user_where}); fewer, larger writes would remove the per-write kernel work and the device's latency per request, but not its transfer of the bytes, which is part of the {direct_s:.2} s the direct-I/O writes waited and which writes of one size cannot tell from the latency: the run would take about {rest:.2} s if the transfer is quick ({speedup:.1}x), {rest_low:.2} s if the device already writes at its full rate ({low:.1}x){runq_note}",
            syncs.len(),
            sys_s + user_s,
        );
        let mut r = rec("batch", why, speedup);
        r.estimated_range = Some([round2(low), r.estimated_speedup]);
        return Some(r);
    }
    let why = format!(
        "{} synchronous commits took {sync_s:.2} s of waiting and about {:.2} s of CPU ({sys_s:.2} s in the kernel, {user_s:.2} s {user_where}), with {writes_s:.2} s of other disk writes around them; grouped into one, the run would take about {rest:.2} s{runq_note}",
        syncs.len(),
        sys_s + user_s,
    );
    Some(rec("batch", why, speedup))
}

/// A direct-I/O write: its wait includes the device's transfer of the bytes.
fn is_direct_write(what: &str) -> bool {
    what.contains("direct-I/O write")
}

/// Disk waits that read data (they stay when commits are grouped).
fn is_disk_read(what: &str) -> bool {
    what.starts_with("read") || what.contains("page fault") || what.contains("direct-I/O read")
}

/// Fewer commits than this on the path: no batching advice.
pub const BATCH_MIN_COMMITS: usize = 8;
/// Batching estimates are capped: what stays after batching (the data
/// transfer itself, start-up) is not measured once the per-commit costs are
/// removed.
pub const BATCH_MAX_SPEEDUP: f64 = 100.0;

fn is_sync(what: &str) -> bool {
    what.contains("sync") || what.contains("direct-I/O")
}

/// Lock-bound: with the critical sections shortened, the lock waits go and
/// the threads' CPU work spreads over the CPUs: the run takes at least the
/// rest of the path and at least the tree's CPU time over `ncpus`.
fn lock_recs(cx: &Context<'_>, s: &Sides) -> Vec<Recommendation> {
    let cpu_s = cx.time.user_s + cx.time.system_s;
    let n = cx.ncpus.max(1) as f64;
    let floor = (s.wall_s * (1.0 - s.lock)).max(cpu_s / n).max(1e-3);
    let speedup = (s.wall_s / floor).clamp(1.0, 10.0);
    let why = format!("{} of the wall time waited on locks held by the program's own threads; with short critical sections the {cpu_s:.2} s of CPU work would spread over {n:.0} CPUs: about {speedup:.1}x", pct(s.lock));
    vec![rec("reduce-contention", why, speedup)]
}

/// A finding detector. New detectors (gil-contention,
/// blocking-call-in-event-loop, fsync-per-write) are added to [`DETECTORS`].
pub type Detector = fn(&Context<'_>) -> Option<Finding>;

pub const DETECTORS: &[Detector] = &[
    cpu_oversubscribed,
    lock_contention,
    gil_contention,
    blocking_call_in_event_loop,
    fsync_per_write,
];

/// Run every detector.
pub fn findings(cx: &Context<'_>) -> Vec<Finding> {
    DETECTORS.iter().filter_map(|d| d(cx)).collect()
}

fn finding(id: &str, severity: &str, message: String, evidence: Value) -> Finding {
    let evidence: Map<String, Value> = match evidence {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Finding {
        id: id.into(),
        severity: severity.into(),
        message,
        evidence,
    }
}

/// More threads wanted a CPU than there are CPUs for at least half the
/// run, and a fifth or more of their runnable time was spent waiting for a
/// CPU. The demand comes from the timelines (threads not blocked), so a
/// machine loaded by other processes does not make a program with few
/// threads look oversubscribed.
pub fn cpu_oversubscribed(cx: &Context<'_>) -> Option<Finding> {
    let on = cx.time.user_s + cx.time.system_s;
    let rq = cx.time.runqueue_s;
    let n = cx.ncpus.max(1) as f64;
    let d = demand(cx);
    if rq < 0.05 || rq / (on + rq) < 0.2 || d.over_share < OVERSUB_SHARE || d.avg <= n + 0.5 {
        return None;
    }
    let message = format!(
        "{:.1} threads wanted a CPU on average for {n:.0} CPUs, more than {n:.0} during {} of the run; they waited {rq:.2} s for a CPU",
        d.avg,
        pct(d.over_share)
    );
    let evidence = json!({ "avg_runnable_threads": d.avg, "oversubscribed_share": d.over_share, "ncpus": cx.ncpus, "runqueue_s": rq, "on_cpu_s": on });
    Some(finding("cpu-oversubscribed", "warning", message, evidence))
}

/// cpu-oversubscribed needs more threads than CPUs for this share of the run.
pub const OVERSUB_SHARE: f64 = 0.5;

/// Mutex waits (leaf futex/kernel locks) ended by a peer thread, repeatedly.
/// Without wakeup records, mutex waits in two or more threads count.
pub fn lock_contention(cx: &Context<'_>) -> Option<Finding> {
    let (mut count, mut ns, mut threads) = (0usize, 0u64, BTreeSet::new());
    for t in cx.trace.threads.values() {
        for o in &t.offcpu {
            let Some(c) = cx.classes.get(o.cause as usize) else {
                continue;
            };
            let convoy = c.kind == WaitKind::Lock
                && c.dependency == Dependency::Signal
                && cx.path.convoy.contains(&t.tid)
                && o.waker
                    .is_some_and(|w| w != t.tid && cx.path.convoy.contains(&w));
            if !convoy && (c.kind != WaitKind::Lock || c.dependency != Dependency::Leaf) {
                continue;
            }
            let by_peer = match o.waker {
                Some(w) => w != t.tid && cx.trace.threads.contains_key(&w),
                None => t.timeline != Fidelity::Switches,
            };
            if by_peer {
                count += 1;
                ns += o.blocked_ns(cx.trace.causes.get(o.cause).state);
                threads.insert(t.tid);
            }
        }
    }
    let secs = ns as f64 / 1e9;
    let wall = cx.path.wall_ns as f64 / 1e9;
    if count < 5
        || threads.len() < 2 && cx.trace.counts.wakeups == 0
        || secs < (0.02f64).max(0.05 * wall)
    {
        return None;
    }
    let on_path: f64 = cx
        .path
        .waits
        .iter()
        .filter(|w| w.kind == WaitKind::Lock)
        .map(|w| w.ns())
        .sum::<f64>()
        / 1e9;
    let severity = if on_path >= 0.1 * wall {
        "warning"
    } else {
        "info"
    };
    let message = format!(
        "{} threads waited {count} times on contended locks released by peer threads, {secs:.2} s in all ({on_path:.2} s on the critical path)",
        threads.len()
    );
    let evidence =
        json!({ "waits": count, "seconds": secs, "threads": threads, "critical_path_s": on_path });
    Some(finding("lock-contention", severity, message, evidence))
}

/// Turn-taking waits of an interpreter lock are shorter than this.
pub const TURN_MAX_NS: Ns = 20_000_000;

/// CPython threads taking turns on the GIL: in one CPython process, two or
/// more threads that each ran at least 10% of their life and each waited at
/// least 20 times in short (< 20 ms) condvar/semaphore futex waits, whose
/// CPU together adds up to about one core (0.5 to 1.3) over their common
/// span, on a machine with more than one CPU.
pub fn gil_contention(cx: &Context<'_>) -> Option<Finding> {
    if cx.ncpus < 2 {
        return None;
    }
    for p in cx.trace.processes.values() {
        if cx.runtimes.get(&p.pid).map(String::as_str) != Some(runtime::CPYTHON) {
            continue;
        }
        let mut busy: Vec<(Tid, f64, usize, f64, Ns, Ns)> = Vec::new();
        for tid in &p.threads {
            let (Some(t), Some(a)) = (cx.trace.threads.get(tid), cx.accounts.get(tid)) else {
                continue;
            };
            let (mut n, mut ns) = (0usize, 0u64);
            for o in &t.offcpu {
                let Some(c) = cx.classes.get(o.cause as usize) else {
                    continue;
                };
                let short = o.end - o.start < TURN_MAX_NS;
                if c.kind == WaitKind::Lock && c.dependency == Dependency::Signal && short {
                    n += 1;
                    ns += o.blocked_ns(cx.trace.causes.get(o.cause).state);
                }
            }
            if n >= 20 && a.on_cpu_s >= 0.1 * a.lifetime_s {
                busy.push((
                    *tid,
                    a.on_cpu_s,
                    n,
                    ns as f64 / 1e9,
                    t.start,
                    thread_end(cx.trace, t),
                ));
            }
        }
        if busy.len() < 2 {
            continue;
        }
        let span_s =
            (busy.iter().map(|b| b.5).max()? - busy.iter().map(|b| b.4).min()?) as f64 / 1e9;
        let cpu_s: f64 = busy.iter().map(|b| b.1).sum();
        let cores = cpu_s / span_s.max(1e-9);
        if !(0.5..=1.3).contains(&cores) {
            continue;
        }
        let waits: usize = busy.iter().map(|b| b.2).sum();
        let wait_s: f64 = busy.iter().map(|b| b.3).sum();
        let threads: Vec<Tid> = busy.iter().map(|b| b.0).collect();
        let message = format!(
            "{} Python threads took turns on the GIL: together they used {cores:.2} of {} CPUs ({cpu_s:.2} s of CPU in {span_s:.2} s) and waited {waits} times ({wait_s:.2} s) for the interpreter lock",
            threads.len(),
            cx.ncpus
        );
        let evidence = json!({ "pid": p.pid, "threads": threads, "cpu_s": cpu_s, "span_s": span_s, "cores_used": cores, "lock_waits": waits, "lock_wait_s": wait_s });
        return Some(finding("gil-contention", "warning", message, evidence));
    }
    None
}

/// A thread that runs an epoll loop (asyncio, libuv, Java NIO: it waited in
/// epoll at least once; a loop whose callbacks block may never come back to
/// epoll before the run ends, so one wait is enough) and, after
/// its first epoll wait, spends at least max(50 ms, 10% of the wall time)
/// blocked in other calls: sleeps, socket calls, file I/O, child waits,
/// pipes, or an epoll wait on a different epoll instance than its loop's (a
/// nested private loop, as in Node's execFileSync). Futex waits (locks,
/// interpreter hand-overs, scheduler parks), runqueue time, waits without
/// evidence, page faults and D waits outside a known syscall do not count.
/// Go processes are left out: Go's netpoller is not one thread's loop, and
/// the runtime hands the goroutines of a thread blocked in a system call to
/// another thread, so no call stalls it.
pub fn blocking_call_in_event_loop(cx: &Context<'_>) -> Option<Finding> {
    let wall = cx.path.wall_ns as f64 / 1e9;
    let mut best: Option<(Tid, f64, usize, BTreeMap<String, f64>)> = None;
    // Once per cause, not per interval: a ping-pong has hundreds of
    // thousands of intervals and a handful of causes.
    let epoll: Vec<bool> = cx
        .trace
        .causes
        .causes
        .iter()
        .map(|c| waitkind::is_epoll(cx.trace, c))
        .collect();
    let go = |pid: Pid| cx.runtimes.get(&pid).is_some_and(|r| r == runtime::GO);
    for t in cx.trace.threads.values().filter(|t| !go(t.pid)) {
        let mut loop_fd: Option<Option<i32>> = None;
        let (mut epolls, mut blocked_ns, mut calls) = (0usize, 0u64, 0usize);
        let mut by_what: BTreeMap<String, f64> = BTreeMap::new();
        for o in &t.offcpu {
            let cause = cx.trace.causes.get(o.cause);
            let Some(c) = cx.classes.get(o.cause as usize) else {
                continue;
            };
            let b = o.blocked_ns(cause.state);
            if epoll.get(o.cause as usize).copied().unwrap_or(false) {
                match loop_fd {
                    None => loop_fd = Some(cause.fd),
                    Some(fd) if fd.is_some() && cause.fd.is_some() && fd != cause.fd => {
                        blocked_ns += b;
                        calls += 1;
                        *by_what
                            .entry(format!("{} on a second epoll instance", c.what))
                            .or_insert(0.0) += b as f64 / 1e9;
                        continue;
                    }
                    _ => {}
                }
                epolls += 1;
                continue;
            }
            if loop_fd.is_none() || b == 0 {
                continue;
            }
            // Page faults (and D waits outside any known syscall) are not
            // calls the loop made: a runtime pages its own code in lazily,
            // and under someone else's disk load that can add up.
            let not_a_call = waitkind::is_paging(c.kind, &c.what)
                || c.kind == WaitKind::Disk
                    && cause.syscall_nr.is_none()
                    && cause.syscall_name.is_none();
            let counts = !matches!(c.kind, WaitKind::Lock | WaitKind::CpuContention)
                && c.what != waitkind::SCHED_PARK
                && c.dependency != Dependency::Unknown
                && cause.state != SwitchState::Preempted
                && !not_a_call;
            if counts {
                blocked_ns += b;
                calls += 1;
                *by_what.entry(c.what.clone()).or_insert(0.0) += b as f64 / 1e9;
            }
        }
        let secs = blocked_ns as f64 / 1e9;
        if epolls >= 1
            && secs >= (0.05f64).max(0.1 * wall)
            && best.as_ref().is_none_or(|b| secs > b.1)
        {
            best = Some((t.tid, secs, calls, by_what));
        }
    }
    let (tid, secs, calls, by_what) = best?;
    let mut top: Vec<(String, f64)> = by_what.into_iter().collect();
    top.sort_by(|a, b| b.1.total_cmp(&a.1));
    top.truncate(3);
    let names: Vec<String> = top.iter().map(|(w, s)| format!("{w} ({s:.2} s)")).collect();
    let message = format!(
        "thread {tid} runs an event loop (epoll) but blocked {calls} times in synchronous calls for {secs:.2} s ({} of the wall time), stalling the loop: {}",
        pct(secs / wall.max(1e-9)),
        names.join(", ")
    );
    let evidence = json!({ "tid": tid, "blocking_calls": calls, "blocked_s": secs, "share": secs / wall.max(1e-9), "top": top.iter().map(|(w, s)| json!({"what": w, "seconds": s})).collect::<Vec<_>>() });
    Some(finding(
        "blocking-call-in-event-loop",
        "warning",
        message,
        evidence,
    ))
}

/// Many short synchronous commits: at least 50 fsync/fdatasync/
/// sync_file_range/msync or direct-I/O write waits, with a median under
/// 20 ms, adding up to at least 20% of the wall time.
pub fn fsync_per_write(cx: &Context<'_>) -> Option<Finding> {
    let mut durs: Vec<u64> = Vec::new();
    let mut threads = BTreeSet::new();
    for t in cx.trace.threads.values() {
        for o in &t.offcpu {
            let Some(c) = cx.classes.get(o.cause as usize) else {
                continue;
            };
            if waitkind::is_sync_commit(c) {
                durs.push(o.blocked_ns(cx.trace.causes.get(o.cause).state));
                threads.insert(t.tid);
            }
        }
    }
    let wall = cx.path.wall_ns as f64 / 1e9;
    if durs.len() < FSYNC_MIN_COMMITS {
        return None;
    }
    durs.sort_unstable();
    let median_ms = durs[durs.len() / 2] as f64 / 1e6;
    let secs = durs.iter().sum::<u64>() as f64 / 1e9;
    if median_ms >= 20.0 || secs < 0.2 * wall {
        return None;
    }
    let message = format!(
        "{} synchronous commits (fsync/fdatasync or direct writes), {median_ms:.2} ms each (median), took {secs:.2} s, {} of the wall time: group them",
        durs.len(),
        pct(secs / wall.max(1e-9))
    );
    let evidence = json!({ "commits": durs.len(), "seconds": secs, "median_ms": median_ms, "share": secs / wall.max(1e-9), "threads": threads });
    Some(finding("fsync-per-write", "warning", message, evidence))
}

/// fsync-per-write needs at least this many commits.
pub const FSYNC_MIN_COMMITS: usize = 50;
