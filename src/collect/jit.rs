//! JIT symbol maps: ask runtimes that generate code to write
//! `/tmp/perf-PID.map`, so their frames have names, and remove afterwards the
//! files that wallprof caused to be written.
//!
//! In: which runtimes to turn on ([`JitMaps`]) and the environment wallprof
//! passes to the target. Out: the environment changes (applied before the
//! target is forked) and, after the run, the list of files removed.
//!
//! | runtime | switch | default | why |
//! |---|---|---|---|
//! | Node | `NODE_OPTIONS += --perf-basic-prof --interpreted-frames-native-stack` | on | changes nothing the target prints; Node also writes `isolate-*-PID-v8.log` into its working directory, which wallprof removes |
//! | CPython ≥ 3.12 | `PYTHONPERFSUPPORT=1` (3.12 trampolines), `PYTHON_PERF_JIT_SUPPORT=1` (3.13 `-X perf_jit`) | off | the 3.12 trampolines need frame pointers to unwind through; 3.11 and older ignore both |
//! | JVM | `JAVA_TOOL_OPTIONS += -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit` | off | the JVM announces JAVA_TOOL_OPTIONS on stderr, which changes the target's output |

use std::path::{Path, PathBuf};

use crate::model::trace::Trace;

/// Which runtimes get perf maps turned on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JitMaps {
    pub node: bool,
    pub python: bool,
    pub java: bool,
}

impl Default for JitMaps {
    fn default() -> Self {
        JitMaps {
            node: true,
            python: false,
            java: false,
        }
    }
}

impl JitMaps {
    pub const NONE: JitMaps = JitMaps {
        node: false,
        python: false,
        java: false,
    };

    /// Parse a comma-separated list: `node`, `python`, `java`, `all`, `none`.
    pub fn parse(list: &str) -> Result<JitMaps, String> {
        let mut m = JitMaps::NONE;
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "node" => m.node = true,
                "python" => m.python = true,
                "java" => m.java = true,
                "all" => {
                    m = JitMaps {
                        node: true,
                        python: true,
                        java: true,
                    }
                }
                "none" => m = JitMaps::NONE,
                other => {
                    return Err(format!(
                        "unknown runtime `{other}` (expected node, python, java, all or none)"
                    ))
                }
            }
        }
        Ok(m)
    }
}

const NODE_FLAGS: &[&str] = &["--perf-basic-prof", "--interpreted-frames-native-stack"];
const JAVA_FLAGS: &str = "-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit";

/// The environment changes for `maps`, given the current values of the
/// variables involved (`get`). Returns (variable, new value) pairs and what
/// wallprof turned on, in words.
pub fn env_changes(
    maps: JitMaps,
    get: &dyn Fn(&str) -> Option<String>,
) -> (Vec<(String, String)>, Vec<String>) {
    let mut set = Vec::new();
    let mut said = Vec::new();
    if maps.node {
        let cur = get("NODE_OPTIONS").unwrap_or_default();
        let missing: Vec<&str> = NODE_FLAGS
            .iter()
            .copied()
            .filter(|f| !cur.split_whitespace().any(|w| w == *f))
            .collect();
        if missing.contains(&"--perf-basic-prof") {
            let v = if cur.trim().is_empty() {
                missing.join(" ")
            } else {
                format!("{cur} {}", missing.join(" "))
            };
            set.push(("NODE_OPTIONS".to_string(), v));
            said.push(format!(
                "Node perf maps (NODE_OPTIONS += {})",
                missing.join(" ")
            ));
        }
    }
    if maps.python {
        for var in ["PYTHONPERFSUPPORT", "PYTHON_PERF_JIT_SUPPORT"] {
            if get(var).is_none() {
                set.push((var.to_string(), "1".to_string()));
            }
        }
        said.push(
            "CPython perf maps (PYTHONPERFSUPPORT=1, PYTHON_PERF_JIT_SUPPORT=1; 3.12 and later)"
                .into(),
        );
    }
    if maps.java {
        let cur = get("JAVA_TOOL_OPTIONS").unwrap_or_default();
        if !cur.contains("DumpPerfMapAtExit") {
            let v = if cur.trim().is_empty() {
                JAVA_FLAGS.to_string()
            } else {
                format!("{cur} {JAVA_FLAGS}")
            };
            set.push(("JAVA_TOOL_OPTIONS".to_string(), v));
            said.push(format!(
                "JVM perf maps at exit (JAVA_TOOL_OPTIONS += {JAVA_FLAGS})"
            ));
        }
    }
    (set, said)
}

/// Apply `env_changes` to wallprof's own environment, which the target
/// inherits. Call before any thread is started.
pub fn enable(maps: JitMaps) -> (Vec<(String, String)>, Vec<String>) {
    let (set, said) = env_changes(maps, &|k| std::env::var(k).ok());
    for (k, v) in &set {
        // Single-threaded at this point (before the collectors start).
        std::env::set_var(k, v);
    }
    (set, said)
}

/// The files a runtime wrote because wallprof turned its maps on: the perf
/// map of every process whose runtime it enabled, and Node's isolate logs in
/// `cwd`. Only variables wallprof set count (`set`).
pub fn caused_files(
    trace: &Trace,
    set: &[(String, String)],
    cwd: &Path,
    runtime_of: &dyn Fn(i32) -> String,
) -> Vec<PathBuf> {
    let node = set.iter().any(|(k, _)| k == "NODE_OPTIONS");
    let python = set
        .iter()
        .any(|(k, _)| k == "PYTHONPERFSUPPORT" || k == "PYTHON_PERF_JIT_SUPPORT");
    let java = set.iter().any(|(k, _)| k == "JAVA_TOOL_OPTIONS");
    let mut files = Vec::new();
    let logs: Vec<String> = std::fs::read_dir(cwd)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    for &pid in trace.processes.keys() {
        let rt = runtime_of(pid);
        let ours = (node && rt == "node") || (python && rt == "cpython") || (java && rt == "jvm");
        if !ours {
            continue;
        }
        files.push(PathBuf::from(format!("/tmp/perf-{pid}.map")));
        if rt == "node" {
            let suffix = format!("-{pid}-v8.log");
            files.extend(
                logs.iter()
                    .filter(|n| n.starts_with("isolate-") && n.ends_with(&suffix))
                    .map(|n| cwd.join(n)),
            );
        }
    }
    files.retain(|f| f.exists());
    files
}

/// Remove the files; returns how many were removed.
pub fn remove(files: &[PathBuf]) -> usize {
    files
        .iter()
        .filter(|f| std::fs::remove_file(f).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        assert_eq!(JitMaps::parse("node").unwrap(), JitMaps::default());
        assert_eq!(JitMaps::parse("none").unwrap(), JitMaps::NONE);
        assert!(JitMaps::parse("all").unwrap().java);
        assert!(JitMaps::parse("ruby").is_err());
    }

    #[test]
    fn appends_to_node_options_once() {
        let get = |k: &str| (k == "NODE_OPTIONS").then(|| "--max-old-space-size=64".to_string());
        let (set, said) = env_changes(JitMaps::default(), &get);
        assert_eq!(
            set,
            vec![(
                "NODE_OPTIONS".into(),
                "--max-old-space-size=64 --perf-basic-prof --interpreted-frames-native-stack"
                    .into()
            )]
        );
        assert_eq!(said.len(), 1);
        // Already on: nothing to do, and nothing of the user's is removed later.
        let get = |k: &str| (k == "NODE_OPTIONS").then(|| "--perf-basic-prof".to_string());
        let (set, _) = env_changes(JitMaps::default(), &get);
        assert!(set.is_empty());
    }

    #[test]
    fn java_and_python_are_opt_in() {
        let (set, _) = env_changes(JitMaps::default(), &|_| None);
        assert!(set.iter().all(|(k, _)| k == "NODE_OPTIONS"));
        let (set, _) = env_changes(
            JitMaps {
                node: false,
                python: true,
                java: true,
            },
            &|_| None,
        );
        let keys: Vec<&str> = set.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "PYTHONPERFSUPPORT",
                "PYTHON_PERF_JIT_SUPPORT",
                "JAVA_TOOL_OPTIONS"
            ]
        );
    }
}
