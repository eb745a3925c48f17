//! Without perf (`--no-perf`, as when perf_event_open is refused) wallprof
//! still runs the target and writes a complete profile from /proc, and says
//! which collector was missing.

use crate::harness::*;

#[test]
fn no_perf_still_profiles_from_proc() {
    let r = wallprof_run(&["--no-perf"], &["sleep", "0.6"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    let collectors = p["collectors"].as_array().expect("collectors");
    let missing: Vec<_> = collectors.iter().filter(|c| c["status"] != "ok").collect();
    assert!(
        !missing.is_empty(),
        "--no-perf but every collector is ok: {collectors:?}"
    );
    for c in &missing {
        let reason = c["reason"].as_str().unwrap_or("");
        assert!(
            !reason.is_empty(),
            "collector {} is {} without a reason",
            c["name"],
            c["status"]
        );
    }
    assert!(
        collectors.iter().any(|c| c["status"] == "ok"),
        "no collector ran: {collectors:?}"
    );
    assert!(f(&p["wall_s"]) >= 0.55, "wall_s {}", p["wall_s"]);
    assert!(!processes(p).is_empty(), "no process recorded");
    assert_eq!(top_wait(p).as_deref(), Some("sleep"), "{}", r.context());
}

/// As an unprivileged user (perf_event_paranoid 2 here: user-only samples
/// and context switches, no tracepoints), wallprof degrades and still gets
/// the verdict right: the shell's wait for its child is looked through to the
/// child's sleep.
#[test]
fn unprivileged_user_degrades_and_keeps_the_verdict() {
    if !is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("needs root and setpriv to become an unprivileged user: skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let _g = serial();
    let out = tempfile::tempdir_in(scratch()).unwrap();
    std::fs::set_permissions(out.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let dir = out.path().join("p");
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(wallprof_bin())
        .args(["run", "-q", "-o"])
        .arg(&dir)
        .args(["--", "sh", "-c", "sleep 0.6; true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let p = read_profile(&dir);
    assert!(
        !p.is_null(),
        "no profile written as an unprivileged user: {stderr}"
    );
    check_contract(&p, &dir);
    let degraded: Vec<_> = p["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok")
        .collect();
    assert!(
        degraded
            .iter()
            .all(|c| c["reason"].as_str().is_some_and(|r| !r.is_empty())),
        "{degraded:?}"
    );
    // BPF needs CAP_BPF and CAP_PERFMON: asked for by default, refused, and
    // said so (not silently dropped).
    let bpf = p["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "bpf")
        .unwrap_or_else(|| panic!("no bpf collector status: {}", p["collectors"]));
    assert_eq!(bpf["status"], "unavailable", "{bpf}");
    assert_eq!(
        top_wait(&p).as_deref(),
        Some("sleep"),
        "waits: {}",
        p["waits"]
    );
    assert!(wait_s(&p, "sleep") >= 0.5, "waits: {}", p["waits"]);
    assert_eq!(p["verdict"]["class"], "io-bound", "{}", p["verdict"]);
}
