//! The target's stdin, stdout and stderr are its own; wallprof's summary goes
//! to stderr and says what the profile says.

use crate::harness::*;

/// Deterministic, incompressible-looking bytes, every byte value included.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn stdin_to_stdout_is_untouched() {
    let input = noise(3 * 1024 * 1024 + 17);
    let r = wallprof_run_with(&[], &["cat"], Some(&input));
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.len(), input.len(), "stdout length differs");
    assert!(r.stdout == input, "stdout bytes differ from stdin");
    r.p();
}

#[test]
fn target_stderr_reaches_stderr() {
    let r = wallprof_run(&[], &["sh", "-c", "echo to-out; echo to-err-marker >&2"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.stdout_str(), "to-out\n");
    assert!(r.stderr.contains("to-err-marker\n"), "{}", r.stderr);
}

#[test]
fn summary_reports_the_profile() {
    let r = wallprof_run(&[], &["sleep", "0.5"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    let class = p["verdict"]["class"].as_str().unwrap();
    assert!(
        r.stderr.contains(class),
        "summary lacks the verdict {class}:\n{}",
        r.stderr
    );
    if let Some(top) = top_wait(p) {
        assert!(
            r.stderr.contains(&top),
            "summary lacks the top wait {top}:\n{}",
            r.stderr
        );
    }
    let strategy = p["recommendations"][0]["strategy"].as_str().unwrap();
    assert!(
        r.stderr.contains(strategy),
        "summary lacks {strategy}:\n{}",
        r.stderr
    );
    let dir = r.out_dir.path().join("profile");
    assert!(
        r.stderr.contains(s(&dir)),
        "summary does not say where the files are ({}):\n{}",
        dir.display(),
        r.stderr
    );
}

#[test]
fn quiet_prints_no_summary() {
    let r = wallprof_run(&["--quiet"], &["true"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let dir = r.out_dir.path().join("profile");
    assert!(
        !r.stderr.contains(s(&dir)),
        "--quiet printed a summary:\n{}",
        r.stderr
    );
    r.p();
}
