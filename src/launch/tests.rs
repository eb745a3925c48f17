//! Launcher tests. `prepare` makes the whole process a subreaper and
//! `wait` reaps any child, which would disturb other tests of the same
//! binary, so the real test body runs in a fresh copy of the test binary
//! (re-exec'd with `WALLPROF_LAUNCH_TEST_CHILD=1`), one test at a time.

use super::*;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "WALLPROF_LAUNCH_TEST_CHILD";

fn sv(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn run(args: &[&str]) -> ExitInfo {
    let held = spawn_held(&sv(args)).expect("spawn");
    assert!(held.pid > 0 && held.launched > 0);
    let running = held.release().expect("release");
    running.wait()
}

#[test]
fn launcher_in_a_fresh_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return launcher_body();
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "launch::tests::launcher_in_a_fresh_process"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "launcher tests failed ({}):\n{text}",
        out.status
    );
    assert!(text.contains("1 passed"), "test did not run:\n{text}");
}

fn launcher_body() {
    prepare().expect("prepare");
    exit_codes();
    exec_failures();
    abort_kills_the_held_child();
    forwards_sigterm();
    orphans_are_reaped();
}

fn exit_codes() {
    let e = run(&["true"]);
    assert_eq!((e.code, e.signal, e.exit_code()), (Some(0), None, 0));
    assert_eq!(run(&["false"]).exit_code(), 1);
    assert_eq!(run(&["sh", "-c", "exit 3"]).exit_code(), 3);
    let k = run(&["sh", "-c", "kill -9 $$"]);
    assert_eq!((k.code, k.signal, k.exit_code()), (None, Some(9), 137));
    assert_eq!(k.signal_name().as_deref(), Some("SIGKILL"));
    assert!(k.reaped > 0 && k.forwarded.is_empty());
}

fn exec_failures() {
    let err = spawn_held(&sv(&["wallprof-no-such-command-xyz"]))
        .unwrap()
        .release()
        .unwrap_err();
    assert!(matches!(err, LaunchError::NotFound(_)), "{err:?}");
    assert_eq!(err.exit_code(), 127);
    assert!(err.to_string().contains("wallprof-no-such-command-xyz"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-executable.sh");
    std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
    let p = path.to_str().unwrap().to_string();
    let err = spawn_held(&[p]).unwrap().release().unwrap_err();
    assert!(matches!(err, LaunchError::NotExecutable(_)), "{err:?}");
    assert_eq!(err.exit_code(), 126);
    assert_eq!(LaunchError::Other("x".into()).exit_code(), 125);
    assert!(matches!(spawn_held(&[]), Err(LaunchError::Other(_))));
}

fn abort_kills_the_held_child() {
    let held = spawn_held(&sv(&["true"])).unwrap();
    let pid = held.pid;
    held.abort();
    // SAFETY: probing a pid with signal 0.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "held child {pid} still exists after abort");
}

fn forwards_sigterm() {
    let running = spawn_held(&sv(&["sleep", "5"])).unwrap().release().unwrap();
    let t0 = Instant::now();
    // Thread-directed: libtest's other threads do not block SIGTERM, so a
    // process-directed one could kill the test binary.
    // SAFETY: tgkill to this very thread, where SIGTERM is blocked.
    unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            libc::gettid(),
            libc::SIGTERM,
        )
    };
    let e = running.wait();
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert_eq!(e.forwarded, vec![libc::SIGTERM]);
    assert_eq!(e.signal, Some(libc::SIGTERM));
    assert_eq!(e.exit_code(), 143);
}

fn orphans_are_reaped() {
    let e = run(&["sh", "-c", "sleep 0.2 & exit 0"]);
    assert_eq!(e.exit_code(), 0);
    let mut reaped = e.orphans_reaped;
    let t0 = Instant::now();
    while reaped == 0 && t0.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(50));
        reaped += reap_exited();
    }
    assert_eq!(reaped, 1, "the orphaned sleep was not reaped");
}
