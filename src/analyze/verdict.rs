//! Verdict, recommendations and findings, made from the critical path.
//!
//! In: a [`Context`] (the trace, the walked [`Path`], the accounting and the
//! detected runtimes). Out: the profile's `verdict`, `recommendations` (never
//! empty) and `findings`. The class comes from wall-clock shares of the path
//! only, never from thread-second sums, so idle threads cannot sway it.
//! Thresholds and speedup formulas are documented in
//! `docs/classification.md`; they are constants here so a later calibration on
//! a corpus changes numbers, not structure.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::analyze::accounting::ThreadAccount;
use crate::analyze::critical_path::{Path, PathWait};
use crate::analyze::runtime;
use crate::analyze::waitkind::{Classified, Dependency};
use crate::model::profile::{Finding, Recommendation, Time, Verdict};
use crate::model::trace::{Fidelity, Pid, Tid, Trace};
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

/// The verdict: class, confidence and reasons.
pub fn verdict(cx: &Context<'_>) -> Verdict {
    let s = Sides::of(cx.path);
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
    let (class, share) = classify_sides(&s);
    let confidence = match class {
        "mixed" => mixed_confidence(&s),
        _ => share,
    } * fidelity_factor(cx.trace);
    let mut reasons = vec![top_wait_reason(cx), cpu_reason(cx, &s)];
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
    for w in cx.path.waits.iter().filter(|w| w.what == what) {
        let th = cx.trace.threads.get(&w.tid)?;
        let i = th.offcpu.partition_point(|o| o.end <= w.start);
        let Some(iv) = th.offcpu.get(i).filter(|o| o.start <= w.start) else {
            continue;
        };
        if let Some(name) = iv.ustack.and_then(|u| namer(th.pid, u)) {
            *by_name.entry(name).or_insert(0.0) += w.ns();
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
    let s = Sides::of(cx.path);
    let mut out = Vec::new();
    match verdict.class.as_str() {
        "cpu-bound" => out.extend(cpu_recs(cx, &s)),
        "io-bound" => out.extend(io_recs(cx, &s)),
        "lock-bound" => out.extend(lock_recs(&s)),
        "mixed" => {
            out.extend(io_recs(cx, &s));
            out.extend(cpu_recs(cx, &s));
            if s.lock >= 0.2 {
                out.extend(lock_recs(&s));
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

/// CPU-bound: Amdahl over `ncpus` for the on-CPU share, unless the CPUs are
/// already busy; plus "make it cheaper" (halving the CPU work).
fn cpu_recs(cx: &Context<'_>, s: &Sides) -> Vec<Recommendation> {
    let p = s.on_cpu.clamp(0.0, 1.0);
    let n = cx.ncpus.max(1) as f64;
    let busy = (cx.time.user_s + cx.time.system_s) / s.wall_s.max(1e-9);
    let mut out = Vec::new();
    if n > 1.0 && busy < n - 0.5 {
        let amdahl = 1.0 / ((1.0 - p) + p / n);
        let (strategy, how) = match root_runtime(cx) {
            runtime::CPYTHON => (
                "process-pool",
                "processes (the GIL lets only one thread run Python code)",
            ),
            _ => ("thread-pool", "threads"),
        };
        let why = format!(
            "on-CPU {} of the wall time with {busy:.1} of {n:.0} CPUs busy: split across {how}, Amdahl gives at most {amdahl:.1}x",
            pct(p)
        );
        out.push(rec(strategy, why, amdahl));
    }
    let halved = 1.0 / ((1.0 - p) + p / 2.0);
    let why = format!(
        "on-CPU {} of the wall time: halving the CPU work would give about {halved:.1}x",
        pct(p)
    );
    out.push(rec("optimize-cpu", why, halved));
    out
}

/// I/O waits on the path: overlap them (async / thread-pool) when there are
/// several, batch fsyncs, or say one sequential wait cannot be split.
fn io_recs(cx: &Context<'_>, s: &Sides) -> Vec<Recommendation> {
    let waits: Vec<&PathWait> = cx.path.waits.iter().filter(|w| is_io(w)).collect();
    let total: f64 = waits.iter().map(|w| w.ns()).sum::<f64>() / 1e9;
    let longest = waits.iter().map(|w| w.ns()).fold(0.0, f64::max) / 1e9;
    let mut out = Vec::new();
    if let Some(r) = batch_rec(cx, &waits) {
        out.push(r);
    }
    if waits.len() >= 2 && longest < 0.9 * total {
        let floor = s.wall_s * (s.on_cpu + s.contention) + longest;
        let speedup = s.wall_s / floor.max(1e-9);
        let why = format!(
            "{} waits totalling {total:.2} s ran one after another; overlapped, the run would take about on-CPU plus the longest wait ({floor:.2} s)",
            waits.len()
        );
        let first = match root_runtime(cx) {
            runtime::CPYTHON | runtime::NODE => ["async", "thread-pool"],
            _ => ["thread-pool", "async"],
        };
        out.push(rec(first[0], why.clone(), speedup));
        out.push(rec(first[1], why, speedup * 0.95));
    } else if total > 0.0 {
        let what = waits
            .iter()
            .max_by(|a, b| a.ns().total_cmp(&b.ns()))
            .map_or("", |w| w.what.as_str());
        let why = format!(
            "one sequential wait ({longest:.2} s in {what}) that cannot be split or overlapped"
        );
        out.push(rec("none", why, 1.0));
    }
    out
}

/// Many fsync-like disk waits: grouping them into one commit would save all
/// but one of them.
fn batch_rec(cx: &Context<'_>, waits: &[&PathWait]) -> Option<Recommendation> {
    let syncs: Vec<&&PathWait> = waits
        .iter()
        .filter(|w| w.kind == WaitKind::Disk && is_sync(&w.what))
        .collect();
    if syncs.len() < 8 {
        return None;
    }
    let wall = cx.path.wall_ns as f64 / 1e9;
    let sync_s = syncs.iter().map(|w| w.ns()).sum::<f64>() / 1e9;
    let n = syncs.len() as f64;
    let speedup = wall / (wall - sync_s + sync_s / n).max(1e-9);
    let why = format!(
        "{} synchronous commits took {sync_s:.2} s; grouping them into one would save most of it",
        syncs.len()
    );
    Some(rec("batch", why, speedup))
}

fn is_sync(what: &str) -> bool {
    what.contains("sync") || what.contains("direct-I/O")
}

/// Lock-bound: removing the lock waits entirely is the upper bound.
fn lock_recs(s: &Sides) -> Vec<Recommendation> {
    let speedup = (1.0 / (1.0 - s.lock).max(0.1)).min(10.0);
    let why = format!("{} of the wall time waited on locks held by the program's own threads; shorter or split critical sections give up to {speedup:.1}x", pct(s.lock));
    vec![rec("reduce-contention", why, speedup)]
}

/// A finding detector. New detectors (gil-contention,
/// blocking-call-in-event-loop, fsync-per-write) are added to [`DETECTORS`].
pub type Detector = fn(&Context<'_>) -> Option<Finding>;

pub const DETECTORS: &[Detector] = &[cpu_oversubscribed, lock_contention];

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

/// More runnable threads than CPUs on average, with a fifth or more of the
/// runnable time spent waiting for a CPU.
pub fn cpu_oversubscribed(cx: &Context<'_>) -> Option<Finding> {
    let wall = cx.path.wall_ns as f64 / 1e9;
    let on = cx.time.user_s + cx.time.system_s;
    let rq = cx.time.runqueue_s;
    let runnable = (on + rq) / wall.max(1e-9);
    let n = cx.ncpus.max(1) as f64;
    if rq < 0.05 || rq / (on + rq) < 0.2 || runnable <= n {
        return None;
    }
    let message = format!(
        "{runnable:.1} threads were runnable on average for {n:.0} CPUs; they waited {rq:.2} s for a CPU"
    );
    let evidence = json!({ "avg_runnable_threads": runnable, "ncpus": cx.ncpus, "runqueue_s": rq, "on_cpu_s": on });
    Some(finding("cpu-oversubscribed", "warning", message, evidence))
}

/// Mutex waits (leaf futex/kernel locks) ended by a peer thread, repeatedly.
/// Without wakeup records, mutex waits in two or more threads count.
pub fn lock_contention(cx: &Context<'_>) -> Option<Finding> {
    let (mut count, mut ns, mut threads) = (0usize, 0u64, BTreeSet::new());
    for t in cx.trace.threads.values() {
        for o in &t.offcpu {
            let Some(c) = cx.classes.get(o.cause as usize) else {
                continue;
            };
            if c.kind != WaitKind::Lock || c.dependency != Dependency::Leaf {
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
