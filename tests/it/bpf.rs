//! The BPF scheduler collector (docs/collectors.md, "BPF"): where permitted
//! it records context switches, wakeups and the stacks of waits instead of
//! the CPU-wide perf tracepoints. Both ways must describe a program the same
//! way; `--no-bpf` must switch it off; and where it cannot run, the profile
//! must say why.

use crate::harness::*;

/// Whether the BPF collector ran, or `None` (with the reason printed) when
/// this wallprof was built without it: a build without clang. `.ci/run`
/// installs clang, so CI always takes the checked path.
fn bpf_ran(r: &RunResult) -> Option<bool> {
    let c = collector(r.p(), "bpf")?;
    let reason = c["reason"].as_str().unwrap_or("");
    if reason.contains("built without") {
        eprintln!("wallprof was built without its BPF collector: {reason}");
        return None;
    }
    Some(c["status"] == "ok")
}

/// The pipe ping-pong under both collectors: every blocking switch the
/// kernel counted is an off-CPU interval, nothing is lost, and the waits are
/// pipe waits. (Its verdict depends on whether the scheduler put both
/// processes on one CPU, under either collector: the next test compares
/// verdicts.)
#[test]
fn bpf_and_perf_tracepoints_see_the_same_switches() {
    if !is_root() {
        eprintln!("BPF needs root here: skipped");
        return;
    }
    let bin = c_workload("pingpong");
    let argv = [s(&bin), "-n", "20000"];
    let bpf = wallprof_run(&[], &argv);
    let perf = wallprof_run(&["--no-bpf"], &argv);
    if bpf_ran(&bpf).is_none() {
        return;
    }
    assert_eq!(bpf_ran(&bpf), Some(true), "{}", bpf.context());
    assert_eq!(
        collector(perf.p(), "bpf").map(|c| c["status"].clone()),
        Some("unavailable".into()),
        "--no-bpf\n{}",
        perf.context()
    );
    for r in [&bpf, &perf] {
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        let p = r.p();
        for name in ["sched-switch", "sched-wakeup", "offcpu-stacks", "cpu-wide"] {
            assert_eq!(
                collector(p, name).map(|c| c["status"].clone()),
                Some("ok".into()),
                "{name}\n{}",
                r.context()
            );
        }
        let blocked = printed(&r.stdout_str(), "voluntary_switches");
        assert!(blocked >= 20000.0, "blocked only {blocked} times");
        let off = p["samples"]["off_cpu"].as_u64().unwrap();
        assert!(
            off as f64 >= blocked,
            "{off} off-CPU intervals for {blocked} blocking switches the kernel counted\n{}",
            r.context()
        );
        assert_eq!(p["samples"]["lost"], 0, "{}", r.context());
        let ipc: f64 = all_threads(p).iter().map(|t| thread_wait_s(t, "ipc")).sum();
        assert!(ipc > 0.0, "no pipe waits\n{}", r.context());
    }
}

/// Two threads taking turns on a mutex: telling contention from an idle
/// park needs every wakeup's waker (the peer thread that unlocked). Both
/// collectors give the same verdict, top wait and lock-contention finding.
#[test]
fn bpf_and_perf_tracepoints_give_the_same_verdict() {
    if !is_root() {
        eprintln!("BPF needs root here: skipped");
        return;
    }
    let bin = c_workload("mutex");
    let argv = [s(&bin), "0.6"];
    let bpf = wallprof_run(&[], &argv);
    let perf = wallprof_run(&["--no-bpf"], &argv);
    if bpf_ran(&bpf).is_none() {
        return;
    }
    assert_eq!(bpf_ran(&bpf), Some(true), "{}", bpf.context());
    let findings = |p: &serde_json::Value| -> Vec<String> {
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    for r in [&bpf, &perf] {
        assert_eq!(r.code(), Some(0), "{}", r.stderr);
        assert_eq!(top_wait(r.p()).as_deref(), Some("lock"), "{}", r.context());
        assert!(
            findings(r.p()).contains(&"lock-contention".to_string()),
            "{}",
            r.context()
        );
    }
    assert_eq!(
        bpf.p()["verdict"]["class"],
        perf.p()["verdict"]["class"],
        "BPF:\n{}\nperf:\n{}",
        bpf.context(),
        perf.context()
    );
    let share = |p: &serde_json::Value| wait_s(p, "lock") / f(&p["wall_s"]);
    assert!(
        (share(bpf.p()) - share(perf.p())).abs() < 0.1,
        "lock share: BPF {:.2}, perf {:.2}",
        share(bpf.p()),
        share(perf.p())
    );
}

/// Waits recorded by BPF carry their kernel and user stacks: a C program's
/// sleep is named with its caller, and the kernel frames start at the
/// scheduler (the BPF program's own frames are cut off).
#[test]
fn bpf_wait_stacks_reach_the_caller() {
    if !is_root() {
        eprintln!("BPF needs root here: skipped");
        return;
    }
    // deep: 0.1 s of computation, then 0.2 s of nanosleep from nap_caller().
    let bin = c_workload("deep");
    let r = wallprof_run(&[], &[s(&bin), "0.1"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    if bpf_ran(&r).is_none() {
        return;
    }
    assert_eq!(bpf_ran(&r), Some(true), "{}", r.context());
    let folded = std::fs::read_to_string(r.dir().join("offcpu.folded")).expect("offcpu.folded");
    let sleep_line = folded
        .lines()
        .filter(|l| l.contains("[sleep]"))
        .max_by_key(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .unwrap_or_else(|| panic!("no sleep stack\n{folded}"));
    assert!(
        sleep_line.contains("nap_caller"),
        "the sleep's user stack does not reach its caller: {sleep_line}"
    );
    let frames: Vec<&str> = sleep_line.split(';').collect();
    let kernel_leaf = frames
        .iter()
        .rev()
        .nth(1)
        .expect("a frame under the wait kind");
    assert!(
        kernel_leaf.starts_with("__schedule"),
        "the kernel stack does not end at the scheduler: {sleep_line}"
    );
    assert!(
        !sleep_line.contains("bpf_"),
        "the BPF program's frames leaked into the stack: {sleep_line}"
    );
}

/// A process forked without exec (a fork-based worker pool) runs its
/// parent's image, which it mapped before it existed: its stacks are
/// symbolized from the parent's mappings (they were `[unknown]`).
#[test]
fn forked_children_have_named_stacks() {
    // forkwait: the child computes 0.05 s, then sleeps 0.2 s; no exec.
    let bin = c_workload("forkwait");
    let r = wallprof_run(&[], &[s(&bin), "0.05", "0.2"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let root = r.p()["target"]["pid"].as_i64().unwrap();
    let folded = std::fs::read_to_string(r.dir().join("offcpu.folded")).expect("offcpu.folded");
    let child_sleep = folded
        .lines()
        .find(|l| l.contains("[sleep]") && !l.starts_with(&format!("forkwait {root};")))
        .unwrap_or_else(|| panic!("no sleep of the child\n{folded}"));
    assert!(
        child_sleep.contains(";main;") && !child_sleep.contains("[unknown]"),
        "the forked child's stack is not symbolized: {child_sleep}"
    );
}
