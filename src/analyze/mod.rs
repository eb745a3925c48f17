//! Analysis: a [`Trace`] in, an [`Analysis`] out (the profile's `time`,
//! `critical_path`, `waits`, `verdict`, `recommendations`, `findings`, and the
//! per-thread and per-process numbers). Pure: no I/O except
//! [`kallsyms::load`], which collectors call.
//!
//! Steps: classify every interned cause once ([`waitkind`]); account each
//! thread ([`accounting`]); walk the critical path ([`critical_path`]); apply
//! the idle rule; make the verdict, recommendations and findings from the path
//! ([`verdict`]); detect runtimes ([`runtime`]). `docs/classification.md` and
//! `docs/wait-kinds.md` describe the model.

pub mod accounting;
pub mod commits;
pub mod critical_path;
pub mod kallsyms;
pub mod runtime;
pub mod verdict;
pub mod waitkind;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::profile;
use crate::model::trace::{Cause, CauseId, Pid, Tid, Trace};

pub use accounting::{identity_violations, IdentityViolation, ThreadAccount};
pub use critical_path::Path;
pub use waitkind::{classify, Classified, Dependency};

/// Everything the analysis adds to a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub time: profile::Time,
    pub critical_path: profile::CriticalPath,
    pub waits: Vec<profile::Wait>,
    pub verdict: profile::Verdict,
    pub recommendations: Vec<profile::Recommendation>,
    pub findings: Vec<profile::Finding>,
    /// Per-thread numbers for `profile.processes[].threads[]`.
    pub threads: BTreeMap<Tid, ThreadAccount>,
    /// Runtime per process: "cpython" | "node" | "jvm" | "go" | "native" |
    /// "shell" | "unknown".
    pub runtimes: BTreeMap<Pid, String>,
}

/// How many `what`s each wait kind lists in its `detail`.
pub const DETAIL_LEN: usize = 5;

/// Analyze one run. `ncpus` is the number of CPUs the target could use.
pub fn analyze(trace: &Trace, ncpus: usize) -> Analysis {
    analyze_with(trace, ncpus, None)
}

/// As [`analyze`], with a namer for user stacks so that reasons can name the
/// program's function that waits.
pub fn analyze_with(trace: &Trace, ncpus: usize, namer: Option<verdict::Namer<'_>>) -> Analysis {
    // A trace that has not had its runtime marks (wallprof's own pipeline
    // marks in place before symbolizing) is marked on a copy.
    let marked;
    let trace = if unmarked_parks(trace) {
        let mut t = trace.clone();
        mark_scheduler_parks(&mut t);
        marked = t;
        &marked
    } else {
        trace
    };
    let classes = classify_all(trace);
    let mut threads = accounting::account_threads(trace, &classes);
    let parked = critical_path::parked_threads(trace, &classes);
    let path = critical_path::critical_path(trace, &classes, &parked);
    apply_idle_rule(trace, &path, &mut threads);
    let time = accounting::time(&threads, idle_s(&path, &threads));
    let runtimes = trace
        .processes
        .iter()
        .map(|(&pid, p)| (pid, runtime::detect(p).to_string()))
        .collect();
    let cx = verdict::Context {
        trace,
        namer,
        classes: &classes,
        path: &path,
        time: &time,
        accounts: &threads,
        runtimes: &runtimes,
        ncpus,
        demand: Default::default(),
    };
    let verdict = verdict::verdict(&cx);
    let recommendations = verdict::recommendations(&cx, &verdict);
    let findings = verdict::findings(&cx);
    Analysis {
        critical_path: profile::CriticalPath {
            on_cpu_s: path.on_cpu_ns / 1e9,
            waiting_s: path.waiting_ns() / 1e9,
        },
        waits: waits(&path),
        time,
        verdict,
        recommendations,
        findings,
        threads,
        runtimes,
    }
}

/// Processes whose runtime parks idle OS threads on futexes (Go).
fn parking_runtimes(trace: &Trace) -> BTreeSet<Pid> {
    trace
        .processes
        .iter()
        .filter(|(_, p)| runtime::detect(p) == runtime::GO)
        .map(|(&pid, _)| pid)
        .collect()
}

/// The causes of Go processes' threads that are futex waits not yet marked
/// as scheduler parks.
fn unmarked_go_futexes(trace: &Trace, go: &BTreeSet<Pid>) -> BTreeSet<CauseId> {
    let used: BTreeSet<CauseId> = trace
        .threads
        .values()
        .filter(|t| go.contains(&t.pid))
        .flat_map(|t| t.offcpu.iter().map(|o| o.cause))
        .collect();
    used.into_iter()
        .filter(|&id| {
            let c = trace.causes.get(id);
            !c.sched_park && waitkind::is_futex_wait(trace, c)
        })
        .collect()
}

/// Whether a thread of a Go process has a futex wait not yet marked.
fn unmarked_parks(trace: &Trace) -> bool {
    let go = parking_runtimes(trace);
    !go.is_empty() && !unmarked_go_futexes(trace, &go).is_empty()
}

/// Mark the futex waits of Go processes' threads as scheduler parks
/// ([`Cause::sched_park`](crate::model::trace::Cause::sched_park)): the
/// runtime parks an OS thread on a futex when it has no goroutine to run,
/// and the thread that hands it one ends the wait, so the critical path
/// looks through it and no finding counts it as a lock. Needs the whole
/// recording (a process's runtime is known from its executable), so it is
/// a step of the analysis, not of a collector. Idempotent.
pub fn mark_scheduler_parks(trace: &mut Trace) {
    let go = parking_runtimes(trace);
    if go.is_empty() {
        return;
    }
    let remap: HashMap<CauseId, CauseId> = unmarked_go_futexes(trace, &go)
        .into_iter()
        .map(|id| {
            let marked = Cause {
                sched_park: true,
                ..trace.causes.get(id).clone()
            };
            (id, trace.causes.intern(marked))
        })
        .collect();
    if remap.is_empty() {
        return;
    }
    for t in trace.threads.values_mut().filter(|t| go.contains(&t.pid)) {
        for o in &mut t.offcpu {
            if let Some(&id) = remap.get(&o.cause) {
                o.cause = id;
            }
        }
    }
}

/// The classification of every interned cause, indexed by cause id.
pub fn classify_all(trace: &Trace) -> Vec<Classified> {
    trace
        .causes
        .causes
        .iter()
        .map(|c| classify(trace, c))
        .collect()
}

/// The idle rule (docs/classification.md): a thread other than the main
/// thread is idle when the critical path spent (almost) no time in it and it
/// was blocked for at least half its life.
pub fn apply_idle_rule(trace: &Trace, path: &Path, threads: &mut BTreeMap<Tid, ThreadAccount>) {
    for (&tid, a) in threads.iter_mut() {
        let on_path_s = path.time_in(tid) / 1e9;
        let unused = on_path_s < (0.001f64).max(0.01 * a.lifetime_s);
        a.idle = tid != trace.root_pid && unused && a.blocked_s >= 0.5 * a.lifetime_s;
    }
}

/// `time.idle_s`: blocked thread-seconds the critical path did not go
/// through (the contract's definition).
fn idle_s(path: &Path, threads: &BTreeMap<Tid, ThreadAccount>) -> f64 {
    threads
        .iter()
        .map(|(tid, a)| {
            let on_path_wait = path.per_thread.get(tid).map_or(0.0, |p| p.1) / 1e9;
            (a.blocked_s - on_path_wait).max(0.0)
        })
        .sum()
}

/// Kinds on the path, biggest first, with their top `what`s.
pub fn waits(path: &Path) -> Vec<profile::Wait> {
    let wall = path.wall_ns.max(1) as f64;
    let mut out: Vec<profile::Wait> = path
        .kinds
        .iter()
        .filter(|(_, k)| k.ns > 0.0)
        .map(|(kind, k)| {
            let mut detail: Vec<profile::WaitDetail> = k
                .whats
                .iter()
                .map(|(what, ns)| profile::WaitDetail {
                    what: what.clone(),
                    seconds: ns / 1e9,
                })
                .collect();
            detail.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
            detail.truncate(DETAIL_LEN);
            profile::Wait {
                kind: kind.as_str().into(),
                seconds: k.ns / 1e9,
                share: k.ns / wall,
                detail,
            }
        })
        .collect();
    out.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    out
}
