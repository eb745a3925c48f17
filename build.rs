//! Compiles the BPF scheduler collector (`src/collect/bpf/sched.bpf.c`)
//! with clang when it is available, and sets `cfg(wallprof_bpf)`.
//!
//! Without clang (or with `WALLPROF_NO_BPF=1`) wallprof is built without it
//! and records context switches with perf tracepoints, which cost the
//! profiled program more per context switch (docs/performance.md). clang is
//! looked up as `$WALLPROF_CLANG`, then `clang`, then `clang-20` down to
//! `clang-14`; `.ci/run` installs Debian's `clang`.

use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "src/collect/bpf/sched.bpf.c";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(wallprof_bpf)");
    println!("cargo::rerun-if-changed={SOURCE}");
    println!("cargo::rerun-if-env-changed=WALLPROF_CLANG");
    println!("cargo::rerun-if-env-changed=WALLPROF_NO_BPF");

    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        // The program reads x86-64 registers and stack layout.
        return;
    }
    if std::env::var_os("WALLPROF_NO_BPF").is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("sched.bpf.o");
    let mut candidates: Vec<String> = std::env::var("WALLPROF_CLANG").into_iter().collect();
    candidates.push("clang".into());
    candidates.extend((14..=20).rev().map(|v| format!("clang-{v}")));
    for clang in &candidates {
        let result = Command::new(clang)
            .args([
                "-O2", "-g", "-target", "bpf", "-Wall", "-Werror", "-c", SOURCE, "-o",
            ])
            .arg(&out)
            .output();
        match result {
            Ok(o) if o.status.success() => {
                println!("cargo::rustc-cfg=wallprof_bpf");
                return;
            }
            // A compiler that runs and refuses the program: a bug to fix,
            // not a reason to build something else quietly.
            Ok(o) => panic!(
                "{clang} could not compile {SOURCE}:\n{}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot run {clang}: {e}"),
        }
    }
    println!(
        "cargo::warning=clang was not found: wallprof is built without its BPF collector and \
         will record context switches with perf tracepoints, which cost more per switch \
         (apt-get install clang, then rebuild)"
    );
}
