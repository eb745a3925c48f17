//! Signals sent to wallprof itself, and descendants that outlive the root.
//! wallprof forwards SIGTERM/SIGHUP to the target and still writes what it
//! has; it neither forwards nor dies of a SIGINT sent to it alone (the
//! terminal delivers Ctrl-C to the whole foreground group already).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

fn spawn_wallprof(dir: &std::path::Path, argv: &[&str]) -> Child {
    Command::new(wallprof_bin())
        .args(["run", "-q", "-o"])
        .arg(dir)
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wallprof")
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a pid we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[test]
fn sigterm_is_forwarded_and_the_profile_is_kept() {
    let _g = serial();
    let out = tempfile::tempdir_in(scratch()).unwrap();
    let dir = out.path().join("p");
    let t0 = Instant::now();
    let child = spawn_wallprof(&dir, &["sleep", "30"]);
    std::thread::sleep(Duration::from_millis(700));
    signal(&child, libc::SIGTERM);
    let o = child.wait_with_output().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the target was not stopped"
    );
    assert_eq!(
        o.status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p = read_profile(&dir);
    assert!(!p.is_null(), "no profile written after SIGTERM");
    check_contract(&p, &dir);
    assert_eq!(p["run"]["partial"], true);
    assert_eq!(p["target"]["exit"]["signal"], "SIGTERM");
    assert!(p["wall_s"].as_f64().unwrap() >= 0.5, "{}", p["wall_s"]);
}

#[test]
fn sigint_to_wallprof_alone_is_not_forwarded() {
    let _g = serial();
    let out = tempfile::tempdir_in(scratch()).unwrap();
    let dir = out.path().join("p");
    let child = spawn_wallprof(&dir, &["sleep", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let p = read_profile(&dir);
    check_contract(&p, &dir);
    assert_eq!(p["target"]["exit"]["code"], 0);
    assert!(
        p["wall_s"].as_f64().unwrap() >= 0.9,
        "the target was cut short: {}",
        p["wall_s"]
    );
}

#[test]
fn descendants_outliving_the_root_are_listed_as_running() {
    let r = wallprof_run(&[], &["sh", "-c", "sleep 3 & echo $!; sleep 0.3"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let orphan: i64 = r
        .stdout_str()
        .trim()
        .parse()
        .expect("the shell printed the orphan's pid");
    let p = r.p();
    let proc_ = proc_by_pid(p, orphan)
        .unwrap_or_else(|| panic!("orphan {orphan} not listed\n{}", r.context()));
    assert!(
        proc_["end_s"].is_null(),
        "the orphan was still running: {}",
        proc_["end_s"]
    );
    assert!(
        p["wall_s"].as_f64().unwrap() < 2.0,
        "wallprof waited for the orphan"
    );
    // SAFETY: kill(2) on the orphan we were told about.
    unsafe { libc::kill(orphan as i32, libc::SIGKILL) };
}
