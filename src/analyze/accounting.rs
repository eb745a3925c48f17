//! Resource accounting: per-thread on-CPU, runqueue and blocked time, each
//! measured on its own (never as a remainder), and the tree-wide `time`
//! section of the profile.
//!
//! In: a [`Trace`] and the classification of each interned cause. Out: one
//! [`ThreadAccount`] per thread. Because the three parts come from different
//! measurements (switch pairs or schedstat or samples for on-CPU; the interval
//! timeline or schedstat for runqueue; the timeline for blocked), the identity
//! on-CPU + runqueue + blocked = lifetime is a check on the collectors:
//! [`identity_violations`] lists the threads where it fails.

use std::collections::BTreeMap;

use crate::analyze::waitkind::Classified;
use crate::model::profile;
use crate::model::trace::{Fidelity, Ns, ThreadTrace, Tid, Trace};

/// Per-thread numbers for `profile.processes[].threads[]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ThreadAccount {
    pub on_cpu_s: f64,
    pub user_s: f64,
    pub system_s: f64,
    pub runqueue_s: f64,
    pub blocked_s: f64,
    /// Set by the idle rule once the critical path is known.
    pub idle: bool,
    pub lifetime_s: f64,
    /// Blocked seconds by wait kind (contract spelling).
    pub waits: BTreeMap<String, f64>,
}

/// A thread whose parts do not add up to its lifetime (see
/// [`identity_violations`]).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentityViolation {
    pub tid: Tid,
    pub lifetime_s: f64,
    pub sum_s: f64,
    pub on_cpu_s: f64,
    pub runqueue_s: f64,
    pub blocked_s: f64,
}

/// Threads shorter than this are not checked: their parts are dominated by
/// measurement granularity.
pub const IDENTITY_MIN_LIFETIME_S: f64 = 0.1;
/// Allowed relative gap between the sum of the parts and the lifetime.
pub const IDENTITY_TOLERANCE: f64 = 0.05;

pub(crate) fn secs(ns: impl Into<f64>) -> f64 {
    ns.into() / 1e9
}

/// Account every thread of the trace.
pub fn account_threads(trace: &Trace, classes: &[Classified]) -> BTreeMap<Tid, ThreadAccount> {
    trace
        .threads
        .iter()
        .map(|(&tid, t)| (tid, account_thread(trace, t, classes)))
        .collect()
}

/// When the thread's life ends: its exit, or the reap of the target.
pub fn thread_end(trace: &Trace, t: &ThreadTrace) -> Ns {
    t.end.unwrap_or(trace.reaped).max(t.start)
}

/// Account one thread.
pub fn account_thread(trace: &Trace, t: &ThreadTrace, classes: &[Classified]) -> ThreadAccount {
    let on_cpu_s = secs(on_cpu_ns(trace, t) as f64);
    let (user_s, system_s) = split_user_system(t, on_cpu_s);
    let mut waits = BTreeMap::new();
    let mut blocked: Ns = 0;
    let mut runq_timeline: Ns = 0;
    for o in &t.offcpu {
        let state = trace.causes.get(o.cause).state;
        let b = o.blocked_ns(state);
        blocked += b;
        runq_timeline += o.runqueue_ns(state);
        if b > 0 {
            let kind = classes
                .get(o.cause as usize)
                .map_or("other", |c| c.kind.as_str());
            *waits.entry(kind.to_string()).or_insert(0.0) += secs(b as f64);
        }
    }
    let runqueue_ns = match (t.timeline, sched_delta(t)) {
        (Fidelity::Switches, _) => runq_timeline,
        (_, Some((_, rq))) => rq,
        _ => runq_timeline,
    };
    ThreadAccount {
        on_cpu_s,
        user_s,
        system_s,
        runqueue_s: secs(runqueue_ns as f64),
        blocked_s: secs(blocked as f64),
        idle: false,
        lifetime_s: secs((thread_end(trace, t) - t.start) as f64),
        waits,
    }
}

/// On-CPU ns: switch pairs, else the schedstat delta, else samples / freq.
pub fn on_cpu_ns(trace: &Trace, t: &ThreadTrace) -> u64 {
    if let Some(ns) = t.on_cpu_ns {
        return ns;
    }
    if let Some((on, _)) = sched_delta(t) {
        return on;
    }
    let samples = t.samples_user + t.samples_kernel;
    match trace.freq_hz {
        0 => 0,
        f => samples.saturating_mul(1_000_000_000) / f,
    }
}

/// (on-CPU, runqueue) deltas between the first and last schedstat reading.
fn sched_delta(t: &ThreadTrace) -> Option<(u64, u64)> {
    let (a, b) = (t.sched_first?, t.sched_last?);
    Some((
        b.on_cpu_ns.saturating_sub(a.on_cpu_ns),
        b.runqueue_ns.saturating_sub(a.runqueue_ns),
    ))
}

/// Split on-CPU seconds into user and system by the sample ratio, else the
/// utime/stime ratio, else all user.
fn split_user_system(t: &ThreadTrace, on_cpu_s: f64) -> (f64, f64) {
    let (u, k) = if t.samples_user + t.samples_kernel > 0 {
        (t.samples_user, t.samples_kernel)
    } else if let Some(s) = t.sched_last.filter(|s| s.utime_ns + s.stime_ns > 0) {
        let first = t.sched_first.unwrap_or_default();
        let (u, k) = (
            s.utime_ns.saturating_sub(first.utime_ns),
            s.stime_ns.saturating_sub(first.stime_ns),
        );
        if u + k > 0 {
            (u, k)
        } else {
            (s.utime_ns, s.stime_ns)
        }
    } else {
        (1, 0)
    };
    let user = on_cpu_s * u as f64 / (u + k) as f64;
    (user, on_cpu_s - user)
}

/// The tree-wide `time` section. `idle_s` is given by the caller: the part of
/// blocked time the critical path did not go through.
pub fn time(accounts: &BTreeMap<Tid, ThreadAccount>, idle_s: f64) -> profile::Time {
    let sum = |f: fn(&ThreadAccount) -> f64| accounts.values().map(f).sum::<f64>();
    profile::Time {
        user_s: sum(|a| a.user_s),
        system_s: sum(|a| a.system_s),
        runqueue_s: sum(|a| a.runqueue_s),
        blocked_s: sum(|a| a.blocked_s),
        idle_s,
    }
}

/// Debug helper: threads living at least 100 ms whose on-CPU + runqueue +
/// blocked is more than 5% away from their lifetime.
pub fn identity_violations(accounts: &BTreeMap<Tid, ThreadAccount>) -> Vec<IdentityViolation> {
    accounts
        .iter()
        .filter(|(_, a)| a.lifetime_s >= IDENTITY_MIN_LIFETIME_S)
        .filter_map(|(&tid, a)| {
            let sum_s = a.on_cpu_s + a.runqueue_s + a.blocked_s;
            let off = (sum_s - a.lifetime_s).abs() > IDENTITY_TOLERANCE * a.lifetime_s;
            off.then_some(IdentityViolation {
                tid,
                lifetime_s: a.lifetime_s,
                sum_s,
                on_cpu_s: a.on_cpu_s,
                runqueue_s: a.runqueue_s,
                blocked_s: a.blocked_s,
            })
        })
        .collect()
}
