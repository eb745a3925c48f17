//! Combine the perf trace and the /proc trace into one [`Trace`].
//!
//! perf is the source of truth for timelines, samples and the process tree
//! when it ran; /proc adds what perf cannot give (argv and exe of processes
//! perf saw only briefly, storage I/O bytes, schedstat counters) and, when
//! perf's switch records carry no cause (tracepoints unavailable), the cause
//! of each off-CPU interval from the /proc observation that overlaps it most.
//! Without perf, the /proc trace is used as it is.

use crate::launch::{ExitInfo, Running};
use crate::model::trace::{Cause, Fidelity, Ns, OffCpu, ThreadTrace, Trace};

pub fn merge(
    perf: Option<Trace>,
    proc_: Trace,
    launched: Ns,
    running: &Running,
    exit: &ExitInfo,
) -> Trace {
    let mut trace = match perf {
        Some(mut t) if !t.threads.is_empty() => {
            enrich(&mut t, &proc_);
            t
        }
        Some(t) => {
            // perf opened but saw nothing (it can happen when the target
            // exits at once): fall back to /proc, keep perf's counts.
            let mut p = proc_;
            p.counts.lost += t.counts.lost;
            p.kallsyms = t.kallsyms;
            p
        }
        None => proc_,
    };
    trace.root_pid = running.pid;
    trace.launched = launched;
    trace.exec.get_or_insert(running.exec_at);
    trace.reaped = exit.reaped;
    trace
}

fn enrich(t: &mut Trace, p: &Trace) {
    t.counts.proc_ticks = p.counts.proc_ticks;
    for (pid, pp) in &p.processes {
        match t.processes.get_mut(pid) {
            Some(tp) => {
                if tp.argv.is_empty() {
                    tp.argv = pp.argv.clone();
                }
                if tp.exe.is_none() {
                    tp.exe = pp.exe.clone();
                }
                if tp.comm.is_empty() {
                    tp.comm = pp.comm.clone();
                }
                tp.read_bytes = pp.read_bytes.or(tp.read_bytes);
                tp.write_bytes = pp.write_bytes.or(tp.write_bytes);
            }
            None => {
                // Seen by /proc only (perf missed it, e.g. it lived outside
                // the events' inheritance): keep it, without a timeline.
                t.processes.insert(*pid, pp.clone());
                for tid in &pp.threads {
                    if let Some(th) = p.threads.get(tid) {
                        t.threads.entry(*tid).or_insert_with(|| th.clone());
                    }
                }
            }
        }
    }
    let causes_from_proc = t.kstacks.is_empty();
    for (tid, th) in t.threads.iter_mut() {
        let Some(pth) = p.threads.get(tid) else {
            continue;
        };
        th.sched_first = th.sched_first.or(pth.sched_first);
        th.sched_last = pth.sched_last.or(th.sched_last);
        if th.comm.is_empty() {
            th.comm = pth.comm.clone();
        }
        if causes_from_proc && th.timeline == Fidelity::Switches {
            borrow_causes(th, pth, &mut t.causes, &p.causes);
        }
    }
}

/// Give each perf interval that has no cause the cause of the /proc interval
/// overlapping it most.
fn borrow_causes(
    th: &mut ThreadTrace,
    pth: &ThreadTrace,
    causes: &mut crate::model::trace::CauseTable,
    pcauses: &crate::model::trace::CauseTable,
) {
    let mut j = 0;
    for iv in th.offcpu.iter_mut() {
        let own: &Cause = causes.get(iv.cause);
        if own.kstack.is_some() || own.syscall_nr.is_some() || own.wchan.is_some() {
            continue;
        }
        while j < pth.offcpu.len() && pth.offcpu[j].end <= iv.start {
            j += 1;
        }
        let best = pth.offcpu[j..]
            .iter()
            .take_while(|o| o.start < iv.end)
            .max_by_key(|o| overlap(o, iv));
        if let Some(b) = best {
            let mut c = pcauses.get(b.cause).clone();
            c.state = if own.state == crate::model::trace::SwitchState::Preempted {
                own.state
            } else {
                c.state
            };
            iv.cause = causes.intern(c);
        }
    }
}

fn overlap(a: &OffCpu, b: &OffCpu) -> u64 {
    a.end.min(b.end).saturating_sub(a.start.max(b.start))
}
