//! `report.html`: written beside `profile.json`, listed among its artifacts,
//! drawn from the same numbers, and self-contained.

use base64::Engine;

use crate::harness::*;

/// A contended mutex (a finding, a lock wait, three flamegraphs): the
/// report shows the profile's verdict, every critical-path wait with its
/// seconds, every finding, and each listed flamegraph byte for byte, and
/// loads nothing from elsewhere.
#[test]
fn report_is_drawn_from_the_profile_and_self_contained() {
    let bin = c_workload("mutex");
    let r = wallprof_run(&[], &[s(&bin), "0.6"]);
    assert_eq!(r.code(), Some(0), "{}", r.stderr);
    let p = r.p();
    assert_eq!(p["artifacts"]["report"].as_str(), Some("report.html"));
    let html = std::fs::read_to_string(r.dir().join("report.html")).expect("report.html");

    let class = p["verdict"]["class"].as_str().unwrap();
    assert!(
        html.contains(&format!("<span class=\"badge c-{class}\">{class}</span>")),
        "verdict {class} not shown"
    );
    let waits = p["waits"].as_array().unwrap();
    assert!(!waits.is_empty(), "{}", r.context());
    for w in waits {
        let row = format!(
            "<tr><td>{}</td><td class=\"num\">{:.3}</td>",
            w["kind"].as_str().unwrap(),
            w["seconds"].as_f64().unwrap()
        );
        assert!(html.contains(&row), "wait row {row} missing");
    }
    for f in p["findings"].as_array().unwrap() {
        let id = f["id"].as_str().unwrap();
        assert!(html.contains(&format!("<code>{id}</code>")), "finding {id}");
    }

    // Each flamegraph the profile lists is embedded whole.
    let b64 = base64::engine::general_purpose::STANDARD;
    let embedded: Vec<Vec<u8>> = html
        .split("src=\"data:image/svg+xml;base64,")
        .skip(1)
        .map(|rest| b64.decode(rest.split('"').next().unwrap()).expect("base64"))
        .collect();
    let mut listed = 0;
    for role in ["wall_svg", "oncpu_svg", "offcpu_svg"] {
        let Some(file) = p["artifacts"][role].as_str() else {
            continue;
        };
        listed += 1;
        let svg = std::fs::read(r.dir().join(file)).expect("listed svg");
        assert!(embedded.contains(&svg), "{file} is not embedded as written");
    }
    assert!(listed > 0, "no flamegraph listed");
    assert_eq!(embedded.len(), listed);

    // Self-contained: no scripts, styles or images fetched from anywhere.
    // (The SVGs' xmlns strings are names, not fetches; they sit inside the
    // base64 data.)
    for fetch in [
        "src=\"http",
        "href=\"http",
        "<link",
        "<script src",
        "@import",
        "url(",
    ] {
        assert!(
            !html.contains(fetch),
            "report.html fetches something: {fetch}"
        );
    }
}
