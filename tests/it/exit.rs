//! wallprof exits as the target did: its code, 128+N for a signal, 127/126
//! when it cannot be started, with a clear message.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::*;

/// A file under the scratch dir with `mode`.
fn file_with_mode(name: &str, body: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = scratch().join(name);
    std::fs::write(&path, body).expect("write file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn exit_code_is_passed_through() {
    let r = wallprof_run(&[], &["sh", "-c", "exit 3"]);
    assert_eq!(r.code(), Some(3), "{}", r.stderr);
    let exit = &r.p()["target"]["exit"];
    assert_eq!(exit["code"], 3);
    assert_eq!(exit["signal"], Value::Null);
}

#[test]
fn success_is_zero() {
    let r = wallprof_run(&[], &["true"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    assert_eq!(r.p()["target"]["exit"]["code"], 0);
}

#[test]
fn killed_by_signal_is_128_plus_n() {
    let r = wallprof_run(&[], &["sh", "-c", "kill -TERM $$"]);
    assert_eq!(r.code(), Some(128 + 15), "{}", r.stderr);
    let exit = &r.p()["target"]["exit"];
    assert_eq!(exit["signal"], "SIGTERM");
    assert_eq!(exit["code"], Value::Null);
}

#[test]
fn missing_command_is_127_with_a_message() {
    let name = "wallprof-it-no-such-command";
    let r = wallprof_run(&[], &[name, "arg"]);
    assert_eq!(r.code(), Some(127), "stderr:\n{}", r.stderr);
    let msg = r.stderr.to_lowercase();
    assert!(
        msg.contains(name),
        "stderr does not name the command:\n{}",
        r.stderr
    );
    assert!(
        msg.contains("not found") || msg.contains("no such file"),
        "stderr does not say it was not found:\n{}",
        r.stderr
    );
}

#[test]
fn missing_path_is_127() {
    let missing = scratch().join("no-such-dir/no-such-program");
    let r = wallprof_run(&[], &[s(&missing)]);
    assert_eq!(r.code(), Some(127), "stderr:\n{}", r.stderr);
    assert!(r.stderr.contains(s(&missing)), "stderr:\n{}", r.stderr);
}

#[test]
fn non_executable_file_is_126() {
    let path = file_with_mode("not-executable.sh", "#!/bin/sh\necho hi\n", 0o644);
    let r = wallprof_run(&[], &[s(&path)]);
    assert_eq!(r.code(), Some(126), "stderr:\n{}", r.stderr);
    let msg = r.stderr.to_lowercase();
    assert!(
        msg.contains(s(&path)),
        "stderr does not name the file:\n{}",
        r.stderr
    );
    assert!(
        msg.contains("permission denied") || msg.contains("not executable"),
        "stderr does not say why:\n{}",
        r.stderr
    );
    assert_eq!(r.stdout_str(), "", "the file must not have run");
}
