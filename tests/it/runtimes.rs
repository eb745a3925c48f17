//! Runtime detection and runtime-specific evidence on real programs: a Go
//! binary is told by its executable (it maps no runtime library), and its
//! scheduler's futex parks are looked through, never counted as locks.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::*;

/// Build `workloads/go/NAME.go` into the scratch dir; `None` when `go` is
/// not installed (`.ci/run` installs it).
fn go_workload(name: &str) -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("go is not installed: skipped");
        return None;
    }
    let src = repo().join("workloads/go").join(format!("{name}.go"));
    let bin = scratch().join("bin").join(format!("go-{name}"));
    std::fs::create_dir_all(bin.parent().unwrap()).expect("bin dir");
    // A build beside a profiled run would show in it as CPU contention.
    let _quiet = serial();
    let out = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bin)
}

#[test]
fn go_scheduler_parks_are_looked_through_not_locks() {
    let Some(bin) = go_workload("sleep_then_compute") else {
        return;
    };
    let r = wallprof_run(&["-q"], &[s(&bin)]);
    let p = r.p();
    check_contract(p, &r.dir());
    let ctx = r.context();
    let slept = printed(&r.stdout_str(), "sleep_s");
    let procs = processes(p);
    assert_eq!(procs.len(), 1, "{ctx}");
    assert_eq!(procs[0]["runtime"], "go", "{ctx}");
    // The main thread parks on a futex during time.Sleep; the runtime thread
    // that waited for the timer (epoll until its timeout) hands the
    // goroutine back: the path's wait is the sleep, measured by the program.
    assert!(
        close(wait_s(p, "sleep"), slept, 0.1, 0.03),
        "sleep {:.3} s on the path, the program slept {slept:.3} s\n{ctx}",
        wait_s(p, "sleep")
    );
    assert!(wait_s(p, "lock") < 0.01, "{ctx}");
    assert!(wait_s(p, "other") < 0.05, "{ctx}");
    let ids: Vec<&str> = p["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(!ids.contains(&"lock-contention"), "{ids:?}\n{ctx}");
    // The rest is the workers' computation: on a CPU, or runnable when
    // something else on this shared machine held the CPUs.
    let wall = f(&p["wall_s"]);
    let on = f(&p["critical_path"]["on_cpu_s"]);
    assert!(
        close(on + wait_s(p, "cpu-contention"), wall - slept, 0.15, 0.05),
        "{ctx}"
    );
    assert!(on > 0.3, "{ctx}");
}

#[test]
fn native_programs_are_not_go() {
    let bin = c_workload("busy");
    let r = wallprof_run(&["-q"], &[s(&bin), "0.1"]);
    let p = r.p();
    assert_eq!(processes(p)[0]["runtime"], "native", "{}", r.context());
}
