//! End-to-end sampler test: the sampler finds the test process's children,
//! just as it finds wallprof's.

use super::*;
use crate::model::trace::FdKind;
use std::process::Child;
use std::time::Instant;

/// Wait for a child. Another test of this binary may have made the process
/// a subreaper and reaped it with `waitpid(-1)`: then wait for it to vanish.
fn wait_child(mut child: Child) {
    if child.wait().is_err() {
        let proc_dir = format!("/proc/{}", child.id());
        let t0 = Instant::now();
        while std::path::Path::new(&proc_dir).exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn follows_a_sleeping_child() {
    let cfg = ProcfsConfig {
        interval: Duration::from_millis(10),
        record_timeline: true,
    };
    let handle = start(cfg);
    let t0 = Instant::now();
    let child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.5"])
        .spawn()
        .unwrap();
    let root = child.id() as Pid;
    wait_child(child);
    let waited = t0.elapsed();
    std::thread::sleep(Duration::from_millis(50));
    let trace = handle.stop();

    assert!(
        trace.counts.proc_ticks >= 10,
        "ticks: {}",
        trace.counts.proc_ticks
    );
    assert_eq!(trace.collectors.len(), 1);
    let root_proc = trace.processes.get(&root).expect("root process recorded");
    assert!(root_proc.end.is_some(), "the root exited during sampling");
    // The sleep runs in the root itself (sh exec'd it) or in a child of it.
    let sleeps: Vec<&ThreadTrace> = trace
        .threads
        .values()
        .filter(|t| t.comm == "sleep" && (t.pid == root || trace.processes[&t.pid].ppid == root))
        .collect();
    assert_eq!(sleeps.len(), 1, "one sleep thread: {:?}", trace.threads);
    let sleep = sleeps[0];
    assert_eq!(sleep.timeline, Fidelity::Sampled);
    let first = sleep.sched_first.unwrap();
    let last = sleep.sched_last.unwrap();
    assert!(last.on_cpu_ns >= first.on_cpu_ns);
    let nanosleep: u64 = sleep
        .offcpu
        .iter()
        .filter(|o| trace.causes.get(o.cause).syscall_nr == Some(230))
        .map(|o| o.end - o.start)
        .sum();
    let all: u64 = sleep.offcpu.iter().map(|o| o.end - o.start).sum();
    eprintln!("waited {waited:?}, clock_nanosleep {nanosleep} ns, all off-CPU {all} ns");
    assert!(
        nanosleep >= 350_000_000,
        "clock_nanosleep intervals sum to {nanosleep} ns"
    );
    let life = sleep.end.expect("sleep ended") - sleep.start;
    assert!(
        all <= life,
        "off-CPU {all} ns exceeds the thread's life {life} ns"
    );
    assert!(life <= waited.as_nanos() as u64 + 50_000_000);
    for w in sleep.offcpu.windows(2) {
        assert!(w[0].end <= w[1].start, "intervals overlap: {w:?}");
    }
    let cause = sleep
        .offcpu
        .iter()
        .map(|o| trace.causes.get(o.cause))
        .find(|c| c.syscall_nr == Some(230));
    let cause = cause.unwrap();
    assert_eq!(cause.state, SwitchState::Sleeping);
    assert_eq!(cause.wchan.as_deref(), Some("hrtimer_nanosleep"));
}

#[test]
fn records_fd_kind_of_a_pipe_read_and_argv() {
    let handle = start(ProcfsConfig {
        interval: Duration::from_millis(10),
        record_timeline: true,
    });
    let child = std::process::Command::new("sh")
        .args(["-c", "sleep 0.3 | cat"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let root = child.id() as Pid;
    wait_child(child);
    let trace = handle.stop();
    assert_eq!(trace.processes[&root].argv, ["sh", "-c", "sleep 0.3 | cat"]);
    let cat = trace
        .threads
        .values()
        .find(|t| t.comm == "cat" && trace.processes[&t.pid].ppid == root);
    let cat = cat.expect("cat observed");
    assert_eq!(trace.processes[&cat.pid].argv, ["cat"]);
    let kinds: Vec<_> = cat
        .offcpu
        .iter()
        .map(|o| trace.causes.get(o.cause))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|c| c.syscall_nr == Some(0) && c.fd == Some(0) && c.fd_kind == Some(FdKind::Pipe)),
        "cat's read of its stdin pipe: {kinds:?}"
    );
}
