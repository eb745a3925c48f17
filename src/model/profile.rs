//! The serde types of `profile.json` (schema `wallprof.profile/1`).
//!
//! These mirror `../shared/profile-contract.md` field for field; the JSON
//! Schema in `docs/profile.schema.json` is the same contract, and the tests
//! validate every profile they produce against it. Fields may be added; none
//! may be renamed or moved without a new schema number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "wallprof.profile/1";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    pub schema: String,
    pub tool: Tool,
    pub run: Run,
    pub target: Target,
    pub wall_s: f64,
    pub collectors: Vec<Collector>,
    pub time: Time,
    pub critical_path: CriticalPath,
    pub waits: Vec<Wait>,
    pub verdict: Verdict,
    pub recommendations: Vec<Recommendation>,
    pub findings: Vec<Finding>,
    pub processes: Vec<Process>,
    pub samples: Samples,
    pub artifacts: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub host: String,
    pub started_at: String,
    pub freq_hz: u64,
    pub partial: bool,
    /// Why the run is partial, when it is (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_reason: Option<String>,
    /// Seconds from the target's reaping to this profile being written:
    /// draining, analysis, symbolization and flamegraphs (added field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Target {
    pub argv: Vec<String>,
    pub pid: i32,
    pub exit: Exit,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Collector {
    pub name: String,
    /// `ok`, `degraded` or `unavailable`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Time {
    pub user_s: f64,
    pub system_s: f64,
    pub runqueue_s: f64,
    pub blocked_s: f64,
    pub idle_s: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct CriticalPath {
    pub on_cpu_s: f64,
    pub waiting_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Wait {
    pub kind: String,
    pub seconds: f64,
    pub share: f64,
    /// What the waits of this kind were, most time first (added field):
    /// for example "recvfrom() on a TCP socket".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<WaitDetail>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WaitDetail {
    pub what: String,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Verdict {
    pub class: String,
    pub confidence: f64,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Recommendation {
    pub strategy: String,
    pub why: String,
    pub estimated_speedup: f64,
    /// Added field: `[low, high]` when the estimate depends on a quantity
    /// this run could not measure (the device's transfer rate for batched
    /// direct writes); `estimated_speedup` is then `high`, the estimate with
    /// that quantity at its favourable extreme, and `why` says what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_range: Option<[f64; 2]>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub id: String,
    pub severity: String,
    pub message: String,
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub argv: Vec<String>,
    pub exe: Option<String>,
    pub runtime: String,
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub threads: Vec<Thread>,
    /// Storage bytes from /proc/PID/io, when readable (added fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bytes: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Thread {
    pub tid: i32,
    pub name: String,
    pub on_cpu_s: f64,
    pub runqueue_s: f64,
    pub blocked_s: f64,
    pub idle: bool,
    /// Added fields: user/system split of on_cpu_s, lifetime, and the wait
    /// kinds of this thread's blocked time (thread-seconds).
    #[serde(default)]
    pub user_s: f64,
    #[serde(default)]
    pub system_s: f64,
    #[serde(default)]
    pub start_s: f64,
    #[serde(default)]
    pub end_s: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub waits: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Samples {
    pub on_cpu: u64,
    pub off_cpu: u64,
    pub lost: u64,
}
