//! The whole process tree: shell pipelines, a parent waiting on its child,
//! and exec chains each appear with their own threads, time, argv and links.

use std::process::Command;

use serde_json::Value;

use crate::harness::*;

/// The pid chain from `pid` up to the target through `ppid` links.
fn leads_to_target(p: &Value, pid: i64) -> bool {
    let target = p["target"]["pid"].as_i64().expect("target.pid");
    let mut pid = pid;
    for _ in 0..64 {
        if pid == target {
            return true;
        }
        match proc_by_pid(p, pid) {
            Some(pr) => pid = pr["ppid"].as_i64().expect("ppid"),
            None => return false,
        }
    }
    false
}

fn only<'a>(p: &'a Value, name: &str) -> &'a Value {
    let found = procs_named(p, name);
    assert_eq!(
        found.len(),
        1,
        "expected one {name} process, found {}",
        found.len()
    );
    found[0]
}

#[test]
fn shell_pipeline_shows_every_process() {
    let bytes = 100_000_000u64;
    let script = format!("yes | head -c {bytes} | wc -c");
    let r = wallprof_run(&[], &["sh", "-c", &script]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout_str().trim(),
        bytes.to_string(),
        "the pipeline's own output"
    );
    let p = r.p();
    let target = p["target"]["pid"].as_i64().unwrap();
    assert_eq!(p["target"]["argv"], serde_json::json!(["sh", "-c", script]));
    let sh = proc_by_pid(p, target).expect("the root sh process is listed");
    assert_eq!(sh["argv"][0], "sh");
    let wall = f(&p["wall_s"]);
    for (name, argv) in [
        ("yes", vec!["yes"]),
        ("head", vec!["head", "-c", &bytes.to_string()]),
        ("wc", vec!["wc", "-c"]),
    ] {
        let pr = only(p, name);
        assert_eq!(pr["argv"], serde_json::json!(argv), "{name} argv");
        let pid = pr["pid"].as_i64().unwrap();
        assert_ne!(pid, target, "{name} has its own pid");
        assert!(
            leads_to_target(p, pid),
            "{name}'s ppid chain does not reach the target"
        );
        assert_eq!(threads(pr).len(), 1, "{name} is single-threaded");
        assert_eq!(
            threads(pr)[0]["tid"].as_i64(),
            Some(pid),
            "{name}'s main thread tid"
        );
        let on_cpu = proc_sum(pr, "on_cpu_s");
        assert!(
            on_cpu > 0.01,
            "{name} moved {bytes} bytes with on_cpu_s {on_cpu}"
        );
        assert!(
            on_cpu <= wall * 1.05,
            "{name} on_cpu_s {on_cpu} > wall {wall}"
        );
    }
    // Each process's time is its own: together they exceed any one of them.
    let per_proc: Vec<f64> = processes(p)
        .iter()
        .map(|pr| proc_sum(pr, "on_cpu_s"))
        .collect();
    let total = f(&p["time"]["user_s"]) + f(&p["time"]["system_s"]);
    assert!(
        close(per_proc.iter().sum(), total, 0.05, 0.01),
        "sum of threads' on_cpu_s {:?} vs time.user_s+system_s {total}",
        per_proc
    );
}

#[test]
fn parent_waiting_on_child() {
    let bin = c_workload("forkwait");
    let r = wallprof_run(&[], &[s(&bin), "0.5", "0.3"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let out = r.stdout_str();
    let (parent_pid, child_pid) = (
        printed(&out, "parent") as i64,
        printed(&out, "child") as i64,
    );
    let p = r.p();
    assert_eq!(p["target"]["pid"].as_i64(), Some(parent_pid));
    let parent = proc_by_pid(p, parent_pid).expect("parent listed");
    let child = proc_by_pid(p, child_pid).expect("child listed");
    assert_eq!(child["ppid"].as_i64(), Some(parent_pid));
    assert_eq!(parent["argv"][0].as_str(), Some(s(&bin)));
    assert_eq!(
        child["argv"], parent["argv"],
        "a fork without exec keeps argv"
    );
    // Each process's own time, against what each measured of itself.
    let child_cpu = proc_sum(child, "on_cpu_s");
    let child_measured = printed(&out, "child_cpu_s");
    assert!(
        child_measured >= 0.2,
        "the child got only {child_measured}s of CPU"
    );
    assert!(
        close(child_cpu, child_measured, 0.1, 0.01),
        "child on_cpu_s {child_cpu} vs {child_measured} it measured itself"
    );
    assert!(
        proc_sum(child, "blocked_s") >= 0.25,
        "child slept 0.3 s\n{}",
        r.context()
    );
    let parent_cpu = proc_sum(parent, "on_cpu_s");
    let parent_measured = printed(&out, "parent_cpu_s");
    assert!(
        parent_cpu < 0.05 && close(parent_cpu, parent_measured, 0.5, 0.01),
        "the parent only waits: on_cpu_s {parent_cpu}, measured {parent_measured}"
    );
    assert!(
        proc_sum(parent, "blocked_s") >= 0.7,
        "the parent waited ~0.8 s\n{}",
        r.context()
    );
    // The contract looks through a child wait: the path is the child's CPU, then its sleep.
    assert!(
        wait_s(p, "sleep") >= 0.25,
        "the child's sleep is not on the path\n{}",
        r.context()
    );
    assert!(
        f(&p["critical_path"]["on_cpu_s"]) >= 0.8 * child_measured,
        "the child's {child_measured}s of CPU are not on the path\n{}",
        r.context()
    );
    assert_ne!(top_wait(p).as_deref(), Some("child"), "{}", r.context());
}

/// Where `python3` on PATH really lands after shims and symlinks.
fn real_python() -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn python_exec_chain_reaches_the_interpreter() {
    let real = real_python();
    let r = wallprof_run(
        &[],
        &["python3", "-c", "print(sum(i * i for i in range(300000)))"],
    );
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.stdout_str().trim(), "8999955000050000");
    let p = r.p();
    let exes: Vec<&str> = processes(p)
        .iter()
        .filter_map(|pr| pr["exe"].as_str())
        .collect();
    let interp = processes(p)
        .iter()
        .find(|pr| {
            pr["exe"]
                .as_str()
                .and_then(|e| std::fs::canonicalize(e).ok())
                == std::fs::canonicalize(&real).ok()
        })
        .unwrap_or_else(|| panic!("no process has exe {real}; exes: {exes:?}"));
    assert_eq!(interp["runtime"], "cpython");
    let pid = interp["pid"].as_i64().unwrap();
    assert!(
        leads_to_target(p, pid),
        "the interpreter is not in the target's tree"
    );
    assert!(
        proc_sum(interp, "on_cpu_s") > 0.0,
        "the interpreter did the work"
    );
}
