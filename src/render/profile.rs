//! Assemble the [`Profile`] (the contract of `profile.json`) from a trace, its
//! analysis and the run's metadata. Pure: no I/O.

use std::collections::BTreeMap;

use crate::analyze::Analysis;
use crate::model::profile::{
    Collector, CriticalPath, Exit, Process, Profile, Run, Samples, Target, Thread, Time, Tool,
    Wait, WaitDetail, SCHEMA,
};
use crate::model::trace::{CollectorState, Ns, Trace};
use crate::run::RunMeta;

fn secs(ns: u64) -> f64 {
    round(ns as f64 / 1e9)
}

/// Round to microseconds: enough for every time in the profile, and it keeps
/// the JSON readable.
pub fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn rel(t: Ns, launched: Ns) -> f64 {
    secs(t.saturating_sub(launched))
}

pub fn build(
    trace: &Trace,
    analysis: &Analysis,
    meta: &RunMeta,
    artifacts: BTreeMap<String, String>,
) -> Profile {
    let wall_ns = trace.reaped.saturating_sub(trace.launched);
    let mut processes: Vec<Process> = trace
        .processes
        .values()
        .map(|p| {
            let threads = p
                .threads
                .iter()
                .filter_map(|tid| {
                    let th = trace.threads.get(tid)?;
                    let acc = analysis.threads.get(tid);
                    Some(Thread {
                        tid: *tid,
                        name: th.comm.clone(),
                        on_cpu_s: acc.map_or(0.0, |a| round(a.on_cpu_s)),
                        runqueue_s: acc.map_or(0.0, |a| round(a.runqueue_s)),
                        blocked_s: acc.map_or(0.0, |a| round(a.blocked_s)),
                        idle: acc.is_some_and(|a| a.idle),
                        user_s: acc.map_or(0.0, |a| round(a.user_s)),
                        system_s: acc.map_or(0.0, |a| round(a.system_s)),
                        start_s: rel(th.start, trace.launched),
                        end_s: th.end.map(|e| rel(e, trace.launched)),
                        waits: acc
                            .map(|a| {
                                a.waits
                                    .iter()
                                    .map(|(k, v)| (k.clone(), round(*v)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                })
                .collect();
            let argv = if p.argv.is_empty() && !p.comm.is_empty() {
                vec![p.comm.clone()]
            } else {
                p.argv.clone()
            };
            Process {
                pid: p.pid,
                ppid: p.ppid,
                argv,
                exe: p.exe.clone(),
                runtime: analysis
                    .runtimes
                    .get(&p.pid)
                    .cloned()
                    .unwrap_or_else(|| "unknown".into()),
                start_s: rel(p.start, trace.launched),
                end_s: p.end.map(|e| rel(e, trace.launched)),
                threads,
                read_bytes: p.read_bytes,
                write_bytes: p.write_bytes,
            }
        })
        .collect();
    processes.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.pid.cmp(&b.pid)));

    let collectors = trace
        .collectors
        .iter()
        .map(|c| {
            let (status, reason) = match &c.state {
                CollectorState::Ok => ("ok", None),
                CollectorState::Degraded(r) => ("degraded", Some(r.clone())),
                CollectorState::Unavailable(r) => ("unavailable", Some(r.clone())),
            };
            Collector {
                name: c.name.clone(),
                status: status.into(),
                reason,
            }
        })
        .collect();

    let off_cpu: u64 = trace.threads.values().map(|t| t.offcpu.len() as u64).sum();
    Profile {
        schema: SCHEMA.into(),
        tool: Tool {
            name: "wallprof".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run: Run {
            host: hostname(),
            started_at: meta.started_at.clone(),
            freq_hz: trace.freq_hz,
            partial: meta.partial_reason.is_some(),
            partial_reason: meta.partial_reason.clone(),
            report_s: Some(round(
                crate::collect::monotonic_ns().saturating_sub(trace.reaped) as f64 / 1e9,
            )),
        },
        target: Target {
            argv: meta.argv.clone(),
            pid: trace.root_pid,
            exit: Exit {
                code: meta.exit.code,
                signal: meta.exit.signal_name(),
            },
        },
        wall_s: secs(wall_ns),
        collectors,
        time: Time {
            user_s: round(analysis.time.user_s),
            system_s: round(analysis.time.system_s),
            runqueue_s: round(analysis.time.runqueue_s),
            blocked_s: round(analysis.time.blocked_s),
            idle_s: round(analysis.time.idle_s),
        },
        critical_path: CriticalPath {
            on_cpu_s: round(analysis.critical_path.on_cpu_s),
            waiting_s: round(analysis.critical_path.waiting_s),
        },
        waits: analysis
            .waits
            .iter()
            .map(|w| Wait {
                kind: w.kind.clone(),
                seconds: round(w.seconds),
                share: round(w.share),
                detail: w
                    .detail
                    .iter()
                    .map(|d| WaitDetail {
                        what: d.what.clone(),
                        seconds: round(d.seconds),
                    })
                    .collect(),
            })
            .collect(),
        verdict: analysis.verdict.clone(),
        recommendations: analysis.recommendations.clone(),
        findings: analysis.findings.clone(),
        processes,
        samples: Samples {
            on_cpu: trace.counts.on_cpu_samples,
            off_cpu,
            lost: trace.counts.lost,
        },
        artifacts,
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}
