//! Runtime detection: which language runtime a process runs, from its exe,
//! argv[0] and mapped files.
//!
//! In: a [`ProcessTrace`]. Out: one of the contract's runtime strings
//! (`cpython`, `node`, `jvm`, `go`, `native`, `shell`, `unknown`). Mapped
//! libraries win over names (a renamed `python3.11` still maps libpython or is
//! called python*); a process whose exe could not be read and whose names say
//! nothing is `unknown`. Go binaries are mostly static and map no runtime
//! library: they are told by their executable, which carries the Go
//! toolchain's build information (a `.go.buildinfo` section, kept by
//! `-ldflags=-s -w`) or its build-id note (`.note.go.buildid`). The answer
//! is cached per executable path for the life of the process.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use object::{Object, ObjectSection};

use crate::model::trace::ProcessTrace;

pub const CPYTHON: &str = "cpython";
pub const NODE: &str = "node";
pub const JVM: &str = "jvm";
pub const GO: &str = "go";
pub const NATIVE: &str = "native";
pub const SHELL: &str = "shell";
pub const UNKNOWN: &str = "unknown";

/// Detect the runtime of one process.
pub fn detect(p: &ProcessTrace) -> &'static str {
    if let Some(r) = p.mappings.iter().find_map(|m| from_mapping(&m.path)) {
        return r;
    }
    let names = p.exe.iter().chain(p.argv.first()).map(|s| basename(s));
    if let Some(r) = names.into_iter().find_map(from_name) {
        return r;
    }
    if p.exe.as_deref().is_some_and(is_go_executable) {
        return GO;
    }
    if p.exe.is_some() || !p.mappings.is_empty() {
        NATIVE
    } else {
        UNKNOWN
    }
}

/// ELF sections only the Go toolchain writes.
const GO_SECTIONS: &[&str] = &[".go.buildinfo", ".note.go.buildid", ".gopclntab"];

/// Whether the file at `path` is an executable built by the Go toolchain
/// (cached per path). Unreadable files and non-ELF files are not.
pub fn is_go_executable(path: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let path = path.trim_end_matches(" (deleted)");
    if let Some(&known) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
        return known;
    }
    let go = std::fs::File::open(path)
        .ok()
        // SAFETY: a read-only private map; a file truncated meanwhile makes
        // the parse fail or fault, as for any reader of the file.
        .and_then(|f| unsafe { memmap2::Mmap::map(&f) }.ok())
        .is_some_and(|m| has_go_sections(&m));
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(path.to_string(), go);
    go
}

/// Whether ELF bytes hold one of the Go toolchain's sections.
pub fn has_go_sections(bytes: &[u8]) -> bool {
    object::File::parse(bytes).is_ok_and(|f| {
        f.sections()
            .any(|s| s.name().is_ok_and(|n| GO_SECTIONS.contains(&n)))
    })
}

fn basename(path: &str) -> &str {
    path.trim_end_matches(" (deleted)")
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

fn from_mapping(path: &str) -> Option<&'static str> {
    let base = basename(path);
    if base.starts_with("libpython") {
        Some(CPYTHON)
    } else if base.starts_with("libjvm") {
        Some(JVM)
    } else if base.starts_with("libnode") {
        Some(NODE)
    } else {
        None
    }
}

fn from_name(base: &str) -> Option<&'static str> {
    let is_python = base
        .strip_prefix("python")
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if is_python {
        return Some(CPYTHON);
    }
    Some(match base {
        "node" | "nodejs" => NODE,
        "java" => JVM,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "ash" | "busybox" | "mksh" => SHELL,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::trace::Mapping;

    fn proc_with(exe: Option<&str>, argv0: &str, maps: &[&str]) -> ProcessTrace {
        ProcessTrace {
            exe: exe.map(String::from),
            argv: vec![argv0.to_string()],
            mappings: maps
                .iter()
                .map(|p| Mapping {
                    start: 0,
                    end: 1,
                    pgoff: 0,
                    path: p.to_string(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn go_sections_only_in_go_executables() {
        // Positive cases need a Go toolchain: tests/it/runtimes.rs builds one.
        assert!(!has_go_sections(b"\x7fELF but not really"));
        assert!(!has_go_sections(b""));
        let me = std::env::current_exe().unwrap();
        assert!(!is_go_executable(me.to_str().unwrap()));
        assert!(!is_go_executable("/nonexistent/wallprof-test"));
    }

    #[test]
    fn names_and_mappings() {
        assert_eq!(
            detect(&proc_with(Some("/usr/bin/python3.11"), "python3", &[])),
            CPYTHON
        );
        assert_eq!(
            detect(&proc_with(
                Some("/usr/local/bin/app"),
                "app",
                &["/usr/lib/libpython3.11.so.1.0"]
            )),
            CPYTHON
        );
        assert_eq!(detect(&proc_with(Some("/usr/bin/node"), "node", &[])), NODE);
        assert_eq!(
            detect(&proc_with(Some("/usr/lib/jvm/bin/java"), "java", &[])),
            JVM
        );
        assert_eq!(detect(&proc_with(Some("/usr/bin/dash"), "sh", &[])), SHELL);
        assert_eq!(detect(&proc_with(Some("/usr/bin/dd"), "dd", &[])), NATIVE);
        assert_eq!(detect(&proc_with(None, "mystery", &[])), UNKNOWN);
        assert_eq!(detect(&proc_with(None, "bash", &[])), SHELL);
        assert_eq!(
            detect(&proc_with(Some("/usr/bin/pythonista"), "x", &[])),
            NATIVE
        );
    }
}
