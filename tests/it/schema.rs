//! `docs/profile.schema.json` against the contract's example, broken copies of
//! it, and the serde model in `src/model/profile.rs`.

use serde_json::{json, Value};

use crate::harness::{repo, schema, schema_errors};

fn example() -> Value {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/profile-example.json"))
        .expect("read fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn rejected(profile: &Value, what: &str) {
    assert!(
        !schema_errors(profile).is_empty(),
        "schema accepted a profile with {what}"
    );
}

#[test]
fn schema_is_valid_draft_2020_12() {
    assert_eq!(
        schema()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::draft202012::meta::validate(schema()).expect("schema is a valid 2020-12 schema");
}

#[test]
fn contract_example_is_valid() {
    let errors = schema_errors(&example());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn added_fields_are_allowed() {
    let mut p = example();
    p["timeline"] = json!("timeline.json");
    p["run"]["partial_reason"] = json!("SIGTERM");
    p["processes"][0]["threads"][0]["waits"] = json!({ "network": 2.9 });
    p["waits"][0]["detail"] = json!([{ "what": "recvfrom() on a TCP socket", "seconds": 2.9 }]);
    let errors = schema_errors(&p);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn killed_target_exit_is_valid() {
    let mut p = example();
    p["target"]["exit"] = json!({ "code": null, "signal": "SIGKILL" });
    let errors = schema_errors(&p);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn broken_profiles_are_rejected() {
    let mut p = example();
    p.as_object_mut().unwrap().remove("verdict");
    rejected(&p, "no verdict");

    let mut p = example();
    p["verdict"]["class"] = json!("slow");
    rejected(&p, "verdict.class \"slow\"");

    let mut p = example();
    p["waits"][0]["kind"] = json!("io");
    rejected(&p, "waits[].kind \"io\"");

    let mut p = example();
    p["recommendations"] = json!([]);
    rejected(&p, "no recommendations");

    let mut p = example();
    p["recommendations"][0]["strategy"] = json!("rewrite-in-rust");
    rejected(&p, "an unknown strategy");

    let mut p = example();
    p["findings"] = json!([{ "id": "x", "severity": "fatal", "message": "m", "evidence": {} }]);
    rejected(&p, "severity \"fatal\"");

    let mut p = example();
    p["processes"][0]["runtime"] = json!("ruby-ish");
    rejected(&p, "an unknown runtime");

    let mut p = example();
    p["collectors"][0]["status"] = json!("fine");
    rejected(&p, "collector status \"fine\"");

    let mut p = example();
    p["artifacts"]["report"] = json!(1);
    rejected(&p, "a non-string artifact");

    let mut p = example();
    p["wall_s"] = json!("3.1");
    rejected(&p, "wall_s as a string");

    let mut p = example();
    p["schema"] = json!("wallprof.profile/2");
    rejected(&p, "another schema number");
}

/// The serde model writes what the schema accepts, so the binary cannot
/// drift from the contract through its types.
#[test]
fn serde_model_round_trips_through_schema() {
    let mut p = example();
    let t = &mut p["processes"][0]["threads"][0];
    t["user_s"] = json!(0.12);
    t["system_s"] = json!(0.06);
    t["start_s"] = json!(0.0);
    t["end_s"] = json!(3.1);
    let model: wallprof::model::profile::Profile =
        serde_json::from_value(p).expect("fixture deserializes into the model");
    let back = serde_json::to_value(&model).expect("model serializes");
    let errors = schema_errors(&back);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
