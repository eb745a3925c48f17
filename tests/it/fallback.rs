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
