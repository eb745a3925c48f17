//! One thread's sampled off-CPU timeline: per-tick observations in
//! ([`Obs`]: when, the interned cause if the thread was blocked, and how much
//! CPU + runqueue time schedstat says it used since the previous tick), time-ordered,
//! non-overlapping [`OffCpu`] intervals out.
//!
//! Rules (the sampler's `//!` doc and `docs/procfs.md` explain why):
//! - consecutive blocked observations with the same cause form one interval;
//! - a boundary between two observations is placed using schedstat's
//!   "active" time `a` (on-CPU + runqueue delta) over the gap `[p, t]`:
//!   blocked → running ends the interval at `t - a` (it woke and has been
//!   active since); running → blocked starts it at `p + a`; blocked →
//!   blocked with another cause, or with the same cause but `a ≥ gap/10`
//!   (it clearly ran in between), cuts at the midpoint, leaving the active
//!   time `a` as a hole centred on it;
//! - same cause and `a < gap/10`: the short run is absorbed (≤ 10% error).

use crate::model::trace::{CauseId, Ns, OffCpu};

/// One tick's observation of a thread.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Obs {
    pub at: Ns,
    /// The cause when blocked (S, D, stopped); `None` when runnable.
    pub cause: Option<CauseId>,
    /// On-CPU + runqueue ns since the previous observation (since thread
    /// start for the first one).
    pub active_ns: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Timeline {
    open: Option<(CauseId, Ns)>,
    last_at: Option<Ns>,
    pub intervals: Vec<OffCpu>,
}

impl Timeline {
    /// Add an observation; `thread_start` bounds the first one.
    pub fn observe(&mut self, thread_start: Ns, obs: Obs) {
        let lo = self.last_at.unwrap_or(thread_start.min(obs.at));
        self.last_at = Some(obs.at);
        let gap = obs.at - lo.min(obs.at);
        let active = obs.active_ns.min(gap);
        match (self.open, obs.cause) {
            (None, None) => {}
            (None, Some(c)) => self.open = Some((c, lo + active)),
            (Some((oc, os)), None) => {
                self.push(os, (obs.at - active).max(lo), oc);
                self.open = None;
            }
            (Some((oc, _)), Some(c)) if oc == c && active * 10 < gap => {}
            (Some((oc, os)), Some(c)) => {
                let mid = lo + gap / 2;
                self.push(os, mid - active / 2, oc);
                self.open = Some((c, (mid + active / 2).min(obs.at)));
            }
        }
    }

    /// Close the open interval at `end` (the thread ended, or sampling
    /// stopped) and hand out the intervals.
    pub fn finish(&mut self, end: Ns) -> Vec<OffCpu> {
        if let Some((c, s)) = self.open.take() {
            self.push(s, end, c);
        }
        std::mem::take(&mut self.intervals)
    }

    fn push(&mut self, start: Ns, end: Ns, cause: CauseId) {
        let start = self.intervals.last().map_or(start, |l| start.max(l.end));
        if end > start {
            self.intervals.push(OffCpu {
                ustack: None,
                start,
                wake: None,
                end,
                cause,
                waker: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(at: Ns, cause: Option<CauseId>, active_ns: u64) -> Obs {
        Obs {
            at,
            cause,
            active_ns,
        }
    }

    fn spans(v: &[OffCpu]) -> Vec<(Ns, Ns, CauseId)> {
        v.iter().map(|o| (o.start, o.end, o.cause)).collect()
    }

    #[test]
    fn merges_same_cause_and_uses_active_time_at_edges() {
        let mut t = Timeline::default();
        t.observe(0, obs(100, None, 100));
        t.observe(0, obs(200, Some(1), 30)); // ran 30 more, then blocked at 130
        t.observe(0, obs(300, Some(1), 5)); // 5% active: absorbed
        t.observe(0, obs(400, None, 40)); // woke at 360
        assert_eq!(spans(&t.finish(500)), [(130, 360, 1)]);
    }

    #[test]
    fn cuts_on_cause_change_or_a_real_run() {
        let mut t = Timeline::default();
        t.observe(0, obs(0, Some(1), 0));
        t.observe(0, obs(100, Some(2), 0));
        t.observe(0, obs(200, Some(2), 40)); // ran 40 around 150
        assert_eq!(
            spans(&t.finish(250)),
            [(0, 50, 1), (50, 130, 2), (170, 250, 2)]
        );
    }

    #[test]
    fn first_observation_starts_at_thread_start() {
        let mut t = Timeline::default();
        t.observe(40, obs(100, Some(3), 10));
        t.observe(40, obs(200, Some(3), 0));
        let v = t.finish(200);
        assert_eq!(spans(&v), [(50, 200, 3)]);
        assert!(v.iter().all(|o| o.wake.is_none() && o.waker.is_none()));
    }
}
