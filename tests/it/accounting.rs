//! The accounting identities: each thread's on-CPU + runqueue + blocked time
//! covers its lifetime (within 5%), and the critical path covers the wall
//! time (within 2%), with waits adding up to the waiting time.

use serde_json::Value;

use crate::harness::*;

fn check_threads(p: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    for pr in processes(p) {
        for t in threads(pr) {
            let start = f(&t["start_s"]);
            let Some(end) = t["end_s"].as_f64() else {
                bad.push(format!("tid {} has no end_s after the run", t["tid"]));
                continue;
            };
            let life = end - start;
            if life < 0.1 {
                continue;
            }
            let parts = [f(&t["on_cpu_s"]), f(&t["runqueue_s"]), f(&t["blocked_s"])];
            let sum: f64 = parts.iter().sum();
            if !close(sum, life, 0.05, 0.0) {
                bad.push(format!(
                    "pid {} tid {} ({}): on_cpu+runqueue+blocked = {:?} = {sum:.4} vs lifetime {life:.4}",
                    pr["pid"], t["tid"], t["name"], parts
                ));
            }
        }
    }
    bad
}

fn check_critical_path(p: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let wall = f(&p["wall_s"]);
    let (on, waiting) = (
        f(&p["critical_path"]["on_cpu_s"]),
        f(&p["critical_path"]["waiting_s"]),
    );
    if !close(on + waiting, wall, 0.02, 0.001) {
        bad.push(format!(
            "critical_path {on:.4} + {waiting:.4} vs wall_s {wall:.4}"
        ));
    }
    let ws = waits(p);
    let sum: f64 = ws.iter().map(|(_, sec)| sec).sum();
    if !close(sum, waiting, 0.02, 0.001) {
        bad.push(format!(
            "waits add up to {sum:.4}, waiting_s is {waiting:.4}"
        ));
    }
    if ws.windows(2).any(|w| w[0].1 < w[1].1) {
        bad.push(format!("waits are not biggest first: {ws:?}"));
    }
    for w in p["waits"].as_array().unwrap() {
        let share = f(&w["share"]);
        if !close(share, f(&w["seconds"]) / wall, 0.0, 0.005) {
            bad.push(format!(
                "share {share} != seconds / wall_s for {}",
                w["kind"]
            ));
        }
    }
    let shares: f64 = p["waits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| f(&w["share"]))
        .sum();
    if shares > 1.01 {
        bad.push(format!("shares add up to {shares}"));
    }
    bad
}

fn assert_identities(argv: &[&str]) {
    let r = wallprof_run(&[], argv);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let mut bad = check_threads(r.p());
    bad.extend(check_critical_path(r.p()));
    assert!(
        bad.is_empty(),
        "{argv:?}:\n{}\n{}",
        bad.join("\n"),
        r.context()
    );
}

#[test]
fn multithreaded_threads_add_up() {
    let bin = c_workload("mixed_threads");
    let r = wallprof_run(&[], &[s(&bin), "1.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    let long_lived = all_threads(p)
        .iter()
        .filter(|t| {
            t["end_s"]
                .as_f64()
                .is_some_and(|e| e - f(&t["start_s"]) >= 1.0)
        })
        .count();
    assert!(
        long_lived >= 5,
        "main + 4 workers should live ~1.5 s; {long_lived} did"
    );
    let bad = check_threads(p);
    assert!(bad.is_empty(), "{}\n{}", bad.join("\n"), r.context());
    // Three threads want the CPU most of the time on two cores: some runqueue.
    assert!(
        f(&p["time"]["runqueue_s"]) > 0.0,
        "no runqueue time\n{}",
        r.context()
    );
}

#[test]
fn multithreaded_critical_path_adds_up() {
    let bin = c_workload("mixed_threads");
    let r = wallprof_run(&[], &[s(&bin), "1.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let bad = check_critical_path(r.p());
    assert!(bad.is_empty(), "{}\n{}", bad.join("\n"), r.context());
}

#[test]
fn identities_hold_for_sleep() {
    assert_identities(&["sleep", "0.5"]);
}

#[test]
fn identities_hold_for_a_pipeline() {
    assert_identities(&["sh", "-c", "yes | head -c 50000000 | wc -c"]);
}

#[test]
fn identities_hold_for_lock_contention() {
    let bin = c_workload("mutex");
    assert_identities(&[s(&bin), "1.0"]);
}

#[test]
fn time_sums_threads() {
    let bin = c_workload("mixed_threads");
    let r = wallprof_run(&[], &[s(&bin), "1.0"]);
    let p = r.p();
    let ts = all_threads(p);
    for (field, total) in [
        ("runqueue_s", f(&p["time"]["runqueue_s"])),
        ("blocked_s", f(&p["time"]["blocked_s"])),
    ] {
        let sum: f64 = ts.iter().map(|t| f(&t[field])).sum();
        assert!(
            close(sum, total, 0.02, 0.002),
            "threads' {field} {sum} vs time.{field} {total}"
        );
    }
    let cpu: f64 = ts.iter().map(|t| f(&t["on_cpu_s"])).sum();
    let total = f(&p["time"]["user_s"]) + f(&p["time"]["system_s"]);
    assert!(
        close(cpu, total, 0.02, 0.002),
        "threads' on_cpu_s {cpu} vs user+system {total}"
    );
    let idle = f(&p["time"]["idle_s"]);
    assert!(
        idle <= f(&p["time"]["blocked_s"]) + 1e-6,
        "idle_s {idle} > blocked_s"
    );
}
