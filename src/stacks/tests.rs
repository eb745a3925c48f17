//! Live tests of the stack pipeline: real processes sampled with
//! `perf_event_open` (user registers and a 16 KiB user stack copy per
//! sample), unwound online as records arrive, symbolized after the process
//! has exited.
//!
//! The capture helper forks the target held on a pipe ([`spawn_held`]), opens
//! one counter on it with `enable_on_exec`, releases it, and drains the ring
//! buffer until the target is gone: MMAP2 records go to
//! [`Unwinder::add_mapping`], samples to [`Unwinder::unwind`]. Tests skip
//! (with a message) when perf events or the needed tools are unavailable.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use perf_event::data::Record;
use perf_event::events::Software;
use perf_event::{Builder, SampleFlag};

use super::symbolize::{SymbolizeOptions, Symbols};
use super::unwind::Unwinder;
use crate::launch::spawn_held;
use crate::model::trace::{Mapping, ProcessTrace, Trace};

/// `sample_regs_user` mask: BP(6), SP(7), IP(8); values come in that order.
const REGS: u64 = (1 << 6) | (1 << 7) | (1 << 8);
const STACK_BYTES: u32 = 16384;

struct Capture {
    pid: i32,
    mappings: Vec<Mapping>,
    /// Unwound stacks (leaf first), one per sample of the target's process.
    stacks: Vec<Vec<u64>>,
    /// Raw samples (ip, sp, bp, stack bytes), kept for the benchmark only.
    raw: Option<Vec<RawSample>>,
}

type RawSample = (u64, u64, u64, Vec<u8>);

/// What to sample: on-CPU time, or every context switch (switch-outs).
#[derive(Clone, Copy)]
enum Event {
    CpuClock,
    Switches,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stacks")
        .join(name)
}

/// Build a C fixture with `-O2 -fomit-frame-pointer` into `dir`.
fn build_c(src: &str, dir: &Path, out: &str) -> Option<PathBuf> {
    let exe = dir.join(out);
    let ok = Command::new("gcc")
        .args(["-O2", "-fomit-frame-pointer", "-o"])
        .arg(&exe)
        .arg(fixture(src))
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(exe)
}

fn open_counter(pid: i32, event: Event) -> std::io::Result<perf_event::Sampler> {
    let mut b = match event {
        Event::CpuClock => Builder::new(Software::CPU_CLOCK),
        Event::Switches => Builder::new(Software::CONTEXT_SWITCHES),
    };
    b.observe_pid(pid)
        .any_cpu()
        .enabled(false)
        .enable_on_exec(true)
        .exclude_hv(true)
        .mmap(true)
        .mmap2(true)
        .sample(SampleFlag::IP | SampleFlag::TID | SampleFlag::REGS_USER | SampleFlag::STACK_USER)
        .sample_regs_user(REGS)
        .sample_stack_user(STACK_BYTES);
    match event {
        Event::CpuClock => b.sample_frequency(999),
        // Switches happen in kernel mode: kernel events must be counted.
        Event::Switches => b.sample_period(1).include_kernel(),
    };
    b.build()?.sampled(4 << 20)
}

/// Run `argv` under a counter and unwind its samples online.
fn capture(argv: &[String], event: Event) -> Option<Capture> {
    capture_with(argv, event, false)
}

fn capture_with(argv: &[String], event: Event, keep_raw: bool) -> Option<Capture> {
    let held = spawn_held(argv).ok()?;
    let pid = held.pid;
    let mut sampler = match open_counter(pid, event) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skipping: perf_event_open failed: {e}");
            return None;
        }
    };
    let _running = held.release().ok()?;
    let mut cap = Capture {
        pid,
        mappings: Vec::new(),
        stacks: Vec::new(),
        raw: keep_raw.then(Vec::new),
    };
    let mut unwinder = Unwinder::new();
    let mut scratch = Vec::with_capacity(256);
    let mut done = false;
    loop {
        while let Some(rec) = sampler.next_record() {
            let Ok(rec) = rec.parse_record() else {
                continue;
            };
            on_record(&rec, &mut cap, &mut unwinder, &mut scratch);
        }
        if done {
            break;
        }
        // Another test may reap our child (waitpid(-1)): ECHILD means gone too.
        // SAFETY: plain waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        done = r != 0;
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(cap)
}

fn on_record(rec: &Record<'_>, cap: &mut Capture, u: &mut Unwinder, scratch: &mut Vec<u64>) {
    match rec {
        Record::Mmap2(m) if m.pid as i32 == cap.pid => {
            let path = String::from_utf8_lossy(&m.filename).into_owned();
            if !path.starts_with('/') {
                return;
            }
            let mapping = Mapping {
                start: m.addr,
                end: m.addr + m.len,
                pgoff: m.pgoff,
                path,
            };
            u.add_mapping(cap.pid, &mapping);
            cap.mappings.push(mapping);
        }
        Record::Sample(s) if s.pid() == Some(cap.pid as u32) => {
            let Some(regs) = s.regs_user() else { return };
            let [bp, sp, ip] = regs.regs[..] else { return };
            scratch.clear();
            let stack = s.stack_user().unwrap_or(&[]);
            u.unwind(cap.pid, ip, sp, bp, stack, scratch);
            if let Some(raw) = cap.raw.as_mut() {
                raw.push((ip, sp, bp, stack.to_vec()));
            }
            cap.stacks.push(scratch.clone());
        }
        _ => {}
    }
}

/// Name every captured stack (leaf first) from the recorded mappings.
fn symbolize(cap: &Capture) -> Vec<Vec<String>> {
    let mut trace = Trace::default();
    trace.processes.insert(
        cap.pid,
        ProcessTrace {
            pid: cap.pid,
            mappings: cap.mappings.clone(),
            ..Default::default()
        },
    );
    let addrs = cap.stacks.iter().flatten().map(|&a| (cap.pid, a));
    let opts = SymbolizeOptions {
        perf_map_dir: Some(PathBuf::from("/tmp")),
        debug_info: false,
    };
    let syms = Symbols::resolve(&trace, addrs, &opts);
    cap.stacks.iter().map(|s| syms.names(s, cap.pid)).collect()
}

/// Share of stacks that contain `chain` (leaf-most first) as consecutive
/// frames.
fn share_with(stacks: &[Vec<String>], chain: &[&str]) -> f64 {
    let hits = stacks
        .iter()
        .filter(|s| s.windows(chain.len()).any(|w| w == chain))
        .count();
    hits as f64 / stacks.len().max(1) as f64
}

fn show(stacks: &[Vec<String>]) -> String {
    stacks
        .iter()
        .take(5)
        .map(|s| s.join(" <- "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn deep_c_stacks_reach_main_without_frame_pointers() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build_c("deep.c", dir.path(), "deep") else {
        eprintln!("skipping: gcc unavailable");
        return;
    };
    let argv = vec![exe.display().to_string(), "12".into()];
    let Some(cap) = capture(&argv, Event::CpuClock) else {
        return;
    };
    let stacks = symbolize(&cap);
    assert!(stacks.len() >= 200, "only {} samples", stacks.len());
    let chain = ["hot_loop", "deep_three", "deep_two", "deep_one", "main"];
    let share = share_with(&stacks, &chain);
    eprintln!(
        "{share:.3} of {} samples; first:\n{}",
        stacks.len(),
        show(&stacks)
    );
    assert!(
        share >= 0.9,
        "{share:.2} of samples reach main:\n{}",
        show(&stacks)
    );
}

#[test]
fn deleted_binary_still_gives_module_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build_c("deep.c", dir.path(), "doomed") else {
        return;
    };
    let argv = vec![exe.display().to_string(), "6".into()];
    let Some(cap) = capture(&argv, Event::CpuClock) else {
        return;
    };
    std::fs::remove_file(&exe).unwrap();
    let stacks = symbolize(&cap);
    // hot_loop, deep_three, deep_two, deep_one and main are all in the
    // deleted file: five consecutive `doomed+0x...` frames.
    let deep = stacks
        .iter()
        .filter(|s| {
            s.windows(5)
                .any(|w| w.iter().all(|f| f.starts_with("doomed+0x")))
        })
        .count();
    let share = deep as f64 / stacks.len().max(1) as f64;
    assert!(share >= 0.9, "{share:.2}:\n{}", show(&stacks));
}

#[test]
fn off_cpu_nanosleep_names_its_caller() {
    let dir = tempfile::tempdir().unwrap();
    let Some(exe) = build_c("sleeper.c", dir.path(), "sleeper") else {
        return;
    };
    let argv = vec![exe.display().to_string(), "40".into()];
    let Some(cap) = capture(&argv, Event::Switches) else {
        return;
    };
    let stacks = symbolize(&cap);
    let sleeping: Vec<Vec<String>> = stacks
        .into_iter()
        .filter(|s| s.iter().any(|f| f.contains("nanosleep")))
        .collect();
    assert!(
        sleeping.len() >= 30,
        "{} nanosleep switch-outs of {}:\n{}",
        sleeping.len(),
        cap.stacks.len(),
        show(&symbolize(&cap))
    );
    let share = share_with(&sleeping, &["nap_caller", "main"]);
    eprintln!(
        "{share:.3} of {}; first:\n{}",
        sleeping.len(),
        show(&sleeping)
    );
    assert!(share >= 0.9, "{share:.2}:\n{}", show(&sleeping));
}

/// The real CPython interpreter (pyenv installs a shell shim first in PATH).
fn python() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.is_file().then_some(path)
}

#[test]
fn cpython_stacks_reach_main_through_the_eval_loop() {
    let Some(py) = python() else {
        eprintln!("skipping: no python3");
        return;
    };
    let code = "import time\n\
                def work(n):\n    s = 0\n    for i in range(n):\n        s += i * i\n    return s\n\
                def outer():\n    t = time.time()\n    while time.time() - t < 1.0:\n        work(20000)\n\
                outer()\n";
    let argv = vec![py.display().to_string(), "-c".into(), code.into()];
    let Some(cap) = capture(&argv, Event::CpuClock) else {
        return;
    };
    let stacks = symbolize(&cap);
    assert!(stacks.len() >= 200, "only {} samples", stacks.len());
    let roots = [
        "main",
        "_start",
        "Py_RunMain",
        "__libc_start_main",
        "Py_BytesMain",
    ];
    let reach = stacks
        .iter()
        .filter(|s| {
            let Some(eval) = s.iter().position(|f| f == "_PyEval_EvalFrameDefault") else {
                return false;
            };
            s[eval..].iter().any(|f| roots.contains(&f.as_str()))
        })
        .count();
    let share = reach as f64 / stacks.len() as f64;
    eprintln!(
        "{share:.3} of {} samples; first:\n{}",
        stacks.len(),
        show(&stacks)
    );
    assert!(share >= 0.9, "{share:.2}:\n{}", show(&stacks));
}

/// Issue 6 benchmark: unwind 59,940 samples (60 s at 999 Hz, replayed from a
/// real CPython capture) and symbolize every distinct address once, with
/// DWARF lines and inlining. Run it in release mode:
/// `cargo test --release --lib stacks::tests::bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_unwind_and_symbolize_a_minute_at_999_hz() {
    let py = python().expect("python3");
    let code = "import json\n\
                def work(n):\n    return [json.dumps({'k': i, 'v': [i] * 8}) for i in range(n)]\n\
                import time\nt = time.time()\nwhile time.time() - t < 2.0:\n    work(2000)\n";
    let argv = vec![py.display().to_string(), "-c".into(), code.into()];
    let cap = capture_with(&argv, Event::CpuClock, true).expect("perf events");
    let raw = cap.raw.as_ref().unwrap();
    const N: usize = 60 * 999;
    let t0 = std::time::Instant::now();
    let mut u = Unwinder::new();
    for m in &cap.mappings {
        u.add_mapping(cap.pid, m);
    }
    let mut table = crate::model::trace::StackTable::default();
    let mut scratch = Vec::with_capacity(256);
    for i in 0..N {
        let (ip, sp, bp, stack) = &raw[i % raw.len()];
        scratch.clear();
        u.unwind(cap.pid, *ip, *sp, *bp, stack, &mut scratch);
        table.intern(&scratch);
    }
    let unwind = t0.elapsed();
    let t1 = std::time::Instant::now();
    let mut trace = Trace::default();
    trace.processes.insert(
        cap.pid,
        ProcessTrace {
            pid: cap.pid,
            mappings: cap.mappings.clone(),
            ..Default::default()
        },
    );
    let addrs = table
        .stacks
        .iter()
        .flat_map(|s| s.iter().map(|&a| (cap.pid, a)));
    let syms = Symbols::resolve(&trace, addrs, &SymbolizeOptions::default());
    let symbolize = t1.elapsed();
    let stats = u.stats();
    println!(
        "unwind: {N} samples ({} captured, {} distinct stacks, {:.1} frames/sample, {} truncated) in {:.3} s ({:.2} µs/sample)",
        raw.len(),
        table.len(),
        stats.frames as f64 / stats.samples as f64,
        stats.truncated,
        unwind.as_secs_f64(),
        unwind.as_secs_f64() * 1e6 / N as f64,
    );
    println!(
        "symbolize: {} distinct addresses in {:.3} s; total {:.3} s",
        syms.len(),
        symbolize.as_secs_f64(),
        (unwind + symbolize).as_secs_f64()
    );
    assert!((unwind + symbolize).as_secs_f64() < 5.0);
}

#[test]
fn node_jit_frames_are_named_from_the_perf_map() {
    let Ok(out) = Command::new("node").arg("--version").output() else {
        eprintln!("skipping: no node");
        return;
    };
    assert!(out.status.success());
    let code = "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\n\
                const t = Date.now(); let s = 0;\n\
                while (Date.now() - t < 1000) s += fib(22);\n";
    // Node 20's --perf-basic-prof also writes an isolate-*-v8.log into the
    // working directory: send it to a temporary directory.
    let dir = tempfile::tempdir().unwrap();
    let log = format!("--logfile={}", dir.path().join("v8.log").display());
    let argv: Vec<String> = vec![
        "node".into(),
        "--perf-basic-prof".into(),
        "--no-logfile-per-isolate".into(),
        log,
        "-e".into(),
        code.into(),
    ];
    let Some(cap) = capture(&argv, Event::CpuClock) else {
        return;
    };
    let stacks = symbolize(&cap);
    let _ = std::fs::remove_file(format!("/tmp/perf-{}.map", cap.pid));
    let fib = stacks
        .iter()
        .filter(|s| s.iter().any(|f| f.contains("fib") && f.ends_with("_[j]")))
        .count();
    let share = fib as f64 / stacks.len().max(1) as f64;
    let mut leaves: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &stacks {
        *leaves
            .entry(s.first().map_or("", |f| f.as_str()))
            .or_default() += 1;
    }
    let mut leaves: Vec<_> = leaves.into_iter().collect();
    leaves.sort_by_key(|l| std::cmp::Reverse(l.1));
    eprintln!("leaves: {:?}", &leaves[..leaves.len().min(12)]);
    let jit: Vec<Vec<String>> = stacks
        .iter()
        .filter(|s| {
            s.iter()
                .any(|f| f.ends_with("_[j]") || f.starts_with("[unknown]"))
        })
        .take(3)
        .cloned()
        .collect();
    eprintln!(
        "{share:.3} of {} samples name fib:\n{}",
        stacks.len(),
        show(&jit)
    );
    assert!(share >= 0.5, "{share:.2}:\n{}", show(&stacks));
}
