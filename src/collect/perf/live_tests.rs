//! End-to-end checks of the perf collector on real processes (root only;
//! skipped when perf cannot be opened).

use super::*;
use crate::launch;

fn record(argv: &[&str]) -> Option<Trace> {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    launch::prepare().ok()?;
    let held = launch::spawn_held(&argv).ok()?;
    let target = Target {
        pid: held.pid,
        argv: argv.clone(),
        launched: held.launched,
        warmer: None,
        kallsyms: None,
        bpf: None,
    };
    let session = match open(
        target,
        &PerfConfig::default(),
        Box::new(crate::collect::procfs::waitset::WaitSets::new()),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("perf unavailable, skipping: {e}");
            held.abort();
            return None;
        }
    };
    let running = held.release().ok()?;
    let exit = running.wait();
    Some(session.finish(exit.reaped))
}

/// Ad-hoc (it makes the test process a subreaper): run with `--ignored`.
#[test]
#[ignore]
fn records_sleep_and_busy_shell() {
    let Some(t) = record(&[
        "sh",
        "-c",
        "sleep 0.3; i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done",
    ]) else {
        return;
    };
    eprintln!(
        "processes {:?}",
        t.processes
            .values()
            .map(|p| (p.pid, p.ppid, &p.comm, &p.argv, &p.exe))
            .collect::<Vec<_>>()
    );
    for th in t.threads.values() {
        let life = th.end.unwrap_or(t.reaped) - th.start;
        let blocked: u64 = th
            .offcpu
            .iter()
            .map(|o| o.blocked_ns(t.causes.get(o.cause).state))
            .sum();
        let runq: u64 = th
            .offcpu
            .iter()
            .map(|o| o.runqueue_ns(t.causes.get(o.cause).state))
            .sum();
        eprintln!(
            "tid {} {} life {:.3} on {:.3} blocked {:.3} runq {:.3} samples u{} k{} offcpu {}",
            th.tid,
            th.comm,
            life as f64 / 1e9,
            th.on_cpu_ns.unwrap_or(0) as f64 / 1e9,
            blocked as f64 / 1e9,
            runq as f64 / 1e9,
            th.samples_user,
            th.samples_kernel,
            th.offcpu.len()
        );
        for o in th.offcpu.iter().filter(|o| o.end - o.start > 50_000_000) {
            let c = t.causes.get(o.cause);
            eprintln!(
                "   {:.3}s {:?} {:?} fd {:?} {:?} waker {:?} stack {:?}",
                (o.end - o.start) as f64 / 1e9,
                c.state,
                c.syscall_name,
                c.fd,
                c.fd_kind,
                o.waker,
                c.kstack
                    .map(|k| t.kstack_names(k).into_iter().take(6).collect::<Vec<_>>())
            );
        }
    }
    eprintln!("counts {:?}", t.counts);
    assert!(t.processes.len() >= 2, "sh and sleep");
    assert!(t.counts.on_cpu_samples > 0);
}

/// Ad-hoc: `WALLPROF_LIVE_ARGV="prog args" cargo test --lib live_argv -- --ignored --nocapture`.
#[test]
#[ignore]
fn live_argv() {
    let argv = std::env::var("WALLPROF_LIVE_ARGV").unwrap_or_else(|_| "true".into());
    let argv: Vec<&str> = argv.split_whitespace().collect();
    let t0 = std::time::Instant::now();
    let Some(t) = record(&argv) else { return };
    eprintln!("recorded in {:?}", t0.elapsed());
    for th in t.threads.values() {
        let life = th.end.unwrap_or(t.reaped) - th.start;
        let blocked: u64 = th
            .offcpu
            .iter()
            .map(|o| o.blocked_ns(t.causes.get(o.cause).state))
            .sum();
        let runq: u64 = th
            .offcpu
            .iter()
            .map(|o| o.runqueue_ns(t.causes.get(o.cause).state))
            .sum();
        let on = th.on_cpu_ns.unwrap_or(0);
        eprintln!(
            "tid {} {} life {:.3} on {:.3} blocked {:.3} runq {:.3} sum/life {:.3} samples u{} k{} offcpu {} woken-by-known {}",
            th.tid, th.comm, life as f64 / 1e9, on as f64 / 1e9, blocked as f64 / 1e9, runq as f64 / 1e9,
            (on + blocked + runq) as f64 / life.max(1) as f64,
            th.samples_user, th.samples_kernel, th.offcpu.len(),
            th.offcpu.iter().filter(|o| o.waker.is_some()).count()
        );
    }
    eprintln!(
        "counts {:?} causes {} kstacks {}",
        t.counts,
        t.causes.causes.len(),
        t.kstacks.len()
    );
}
