//! `wallprof run`: launch → collect → analyze → render, in that order.
//!
//! In: a [`RunConfig`] (plain values; the CLI never reaches past here). Out:
//! the files in the output directory, the summary on stderr, and the exit
//! code to return (the target's). The target always runs to completion as it
//! would have without wallprof: a collector that cannot start degrades to the
//! next one, and an output directory that cannot be used falls back to a
//! fresh temporary directory, with a message saying so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::collect::{self, perf, procfs};
use crate::launch::{self, ExitInfo, LaunchError};
use crate::model::trace::{CollectorState, CollectorStatus, Ns};
use crate::render;

/// Everything `wallprof run` needs, independent of the CLI.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub argv: Vec<String>,
    /// Explicit `-o DIR`, or `None` for the default (`./wallprof-out`).
    pub out_dir: Option<PathBuf>,
    pub freq: u64,
    pub quiet: bool,
    /// Skip perf altogether and profile from /proc alone.
    pub no_perf: bool,
    /// /proc sampling period when perf provides the timelines, and when /proc
    /// is the only source.
    pub proc_interval: Duration,
    pub proc_only_interval: Duration,
    /// Runtimes whose JIT symbol maps wallprof turns on.
    pub jit: collect::jit::JitMaps,
    /// CPU-wide perf events where permitted, or per-task ones.
    pub perf_scope: perf::Scope,
    /// Record context switches with perf tracepoints, not BPF.
    pub no_bpf: bool,
}

/// The on-CPU sampling frequency. Each sample is a timer interrupt, about
/// 13 µs in a KVM guest (measured: `perf record -a -F 4999` slows a
/// CPU-bound loop 6.8%), so 999 Hz alone costs 1.4% of the target's CPU and
/// leaves no room for the 3% budget (docs/performance.md). 499 Hz halves it;
/// on-CPU and off-CPU *times* come from context switches, not from samples,
/// so only the flamegraphs' resolution (2 ms) depends on it.
pub const DEFAULT_FREQ: u64 = 499;
pub const DEFAULT_OUT: &str = "wallprof-out";

impl RunConfig {
    pub fn new(argv: Vec<String>) -> Self {
        RunConfig {
            argv,
            out_dir: None,
            freq: DEFAULT_FREQ,
            quiet: false,
            no_perf: false,
            proc_interval: Duration::from_millis(100),
            proc_only_interval: Duration::from_millis(10),
            jit: collect::jit::JitMaps::default(),
            perf_scope: perf::Scope::default(),
            no_bpf: false,
        }
    }
}

/// Metadata of the run that the trace does not hold.
#[derive(Clone, Debug)]
pub struct RunMeta {
    pub argv: Vec<String>,
    pub exit: ExitInfo,
    pub started_at: String,
    pub freq: u64,
    pub partial_reason: Option<String>,
    pub notes: Vec<String>,
}

/// Run the target under wallprof; returns the exit code wallprof should exit
/// with (the target's, or 127/126 when it could not be started).
pub fn run(cfg: &RunConfig) -> i32 {
    let mut startup = Timing::new();
    // The BPF programs load first: the slowest step before the target can
    // run (the kernel's BTF is parsed: 20-30 ms), it overlaps everything
    // else. The target is forked meanwhile, which is safe: between fork and
    // exec the child makes only async-signal-safe calls (launch::child).
    let use_bpf = !cfg.no_perf && !cfg.no_bpf && cfg.perf_scope == perf::Scope::Cpu;
    let bpf = use_bpf.then(collect::bpf::preload);
    let mut notes = Vec::new();
    let out = prepare_out_dir(cfg.out_dir.as_deref(), &mut notes);
    startup.mark("out dir");

    if let Err(e) = launch::prepare() {
        eprintln!("wallprof: {e}");
        return e.exit_code();
    }
    let started_at = now_rfc3339();
    let (jit_set, jit_said) = collect::jit::enable(cfg.jit);

    startup.mark("prepare");
    let held = match launch::spawn_held(&cfg.argv) {
        Ok(h) => h,
        Err(e) => return launch_failed(&e),
    };
    startup.mark("spawn");
    // Kernel symbols, read while the collectors attach (the perf collector
    // needs them before the target runs). After the fork: the target is
    // forked while wallprof is single-threaded.
    let kallsyms = (!cfg.no_perf).then(crate::analyze::kallsyms::preload);
    let bpf_off = match (cfg.no_perf, cfg.no_bpf, cfg.perf_scope) {
        (true, _, _) => None,
        (_, true, _) => Some("disabled with --no-bpf"),
        (_, _, perf::Scope::Task) => {
            Some("not used with --perf-scope task: it watches every CPU, like CPU-wide events")
        }
        _ => None,
    };

    // Reads the target's files for symbolization while it runs, on CPU time
    // nothing else wants.
    let sym_opts = crate::stacks::symbolize::SymbolizeOptions::default();
    let symbol_service = crate::stacks::service::SymbolService::start(sym_opts.debug_info);

    // Collectors attach while the child is held: nothing is missed.
    let mut statuses: Vec<CollectorStatus> = Vec::new();
    let perf_session = if cfg.no_perf {
        statuses.push(CollectorStatus {
            name: "perf-sampling".into(),
            state: CollectorState::Unavailable("disabled with --no-perf".into()),
        });
        None
    } else {
        let target = perf::Target {
            pid: held.pid,
            argv: cfg.argv.clone(),
            launched: held.launched,
            warmer: symbol_service.as_ref().map(|s| s.warmer()),
            kallsyms,
            bpf,
        };
        let pcfg = perf::PerfConfig {
            freq: cfg.freq,
            scope: cfg.perf_scope,
            ..perf::PerfConfig::default()
        };
        match perf::open(target, &pcfg, Box::new(procfs::waitset::WaitSets::new())) {
            Ok(s) => {
                statuses.extend(s.statuses.iter().cloned());
                if let Some(why) = bpf_off {
                    statuses.push(CollectorStatus {
                        name: "bpf".into(),
                        state: CollectorState::Unavailable(why.into()),
                    });
                }
                if s.tracefs_mounted_by_us {
                    notes
                        .push("mounted tracefs at /sys/kernel/tracing (it was not mounted)".into());
                }
                Some(s)
            }
            Err(why) => {
                statuses.push(CollectorStatus {
                    name: "perf-sampling".into(),
                    state: CollectorState::Unavailable(why),
                });
                None
            }
        }
    };
    startup.mark("perf open");
    let timelines_from_proc = perf_session.as_ref().is_none_or(|s| {
        s.statuses
            .iter()
            .any(|st| st.name == "sched-switch" && st.state != CollectorState::Ok)
    });
    let sampler = procfs::start(procfs::ProcfsConfig {
        interval: if perf_session.is_some() {
            cfg.proc_interval
        } else {
            cfg.proc_only_interval
        },
        record_timeline: timelines_from_proc,
    });

    // Wall time runs from the moment the target is let go: the time
    // wallprof spent attaching is its own, not the target's.
    startup.mark("procfs start");
    startup.report("before the target runs");
    let launched = collect::monotonic_ns();
    let running = match held.release() {
        Ok(r) => r,
        Err(e) => {
            let _ = sampler.stop();
            if let Some(s) = perf_session {
                let _ = s.finish(collect::monotonic_ns());
            }
            return launch_failed(&e);
        }
    };
    let exit = running.wait();

    let mut timing = Timing::new();
    let perf_trace = perf_session.map(|s| s.finish(exit.reaped));
    timing.mark("drain");
    let proc_trace = sampler.stop();
    timing.mark("procfs stop");
    // After the /proc sampler stopped: the helper process it starts is
    // wallprof's child, and the sampler would take it for an orphan of the
    // target's tree.
    perf::release_events();
    timing.mark("release events");
    let proc_status = proc_trace
        .collectors
        .iter()
        .find(|c| c.name == "procfs")
        .cloned();
    statuses.push(proc_status.unwrap_or(CollectorStatus {
        name: "procfs".into(),
        state: CollectorState::Ok,
    }));
    let mut trace = collect::merge::merge(perf_trace, proc_trace, launched, &running, &exit);
    // Runtime-specific evidence, in place (the analysis would otherwise do
    // it on a copy): Go's scheduler parks its idle threads on futexes.
    crate::analyze::mark_scheduler_parks(&mut trace);
    trace.collectors = statuses;
    trace.freq_hz = if trace.counts.on_cpu_samples > 0 || !cfg.no_perf {
        cfg.freq
    } else {
        0
    };

    let partial_reason = (!exit.forwarded.is_empty()).then(|| {
        let names: Vec<String> = exit.forwarded.iter().map(|&s| signal_name(s)).collect();
        format!(
            "wallprof received {} and forwarded it to the target",
            names.join(", ")
        )
    });
    let mut meta = RunMeta {
        argv: cfg.argv.clone(),
        exit: exit.clone(),
        started_at,
        freq: cfg.freq,
        partial_reason,
        notes,
    };
    let ncpus = perf::online_cpus().len().max(1);
    // Symbolize once, after the target exited, from the mappings recorded
    // during the run; the analysis names functions with it, the flamegraphs
    // draw with it.
    timing.mark("merge");
    let symbols =
        crate::stacks::Symbols::for_trace_with(&trace, &sym_opts, symbol_service.as_ref());
    timing.mark("symbolize");
    let namer = |pid: i32, stack: u32| {
        let exe = trace.processes.get(&pid).and_then(|p| p.exe.as_deref());
        symbols.user_function(trace.stacks.get(stack), pid, exe)
    };
    let analysis = crate::analyze::analyze_with(&trace, ncpus, Some(&namer));
    timing.mark("analyze");
    let written = render::write_all(&out, &trace, &analysis, &meta, &symbols);
    timing.mark("render");
    timing.report("after exit");
    // After symbolization: remove the JIT maps wallprof caused.
    // Say what was turned on only for runtimes that actually ran.
    let ran = |rt: &str| analysis.runtimes.values().any(|r| r == rt);
    for said in &jit_said {
        let rt = match said.split_whitespace().next() {
            Some("Node") => "node",
            Some("CPython") => "cpython",
            _ => "jvm",
        };
        if ran(rt) {
            meta.notes.push(format!("turned on {said}"));
        }
    }
    if !jit_set.is_empty() {
        let cwd = std::env::current_dir().unwrap_or_default();
        let runtime_of = |pid: i32| analysis.runtimes.get(&pid).cloned().unwrap_or_default();
        let files = collect::jit::caused_files(&trace, &jit_set, &cwd, &runtime_of);
        let n = collect::jit::remove(&files);
        if n > 0 {
            meta.notes.push(format!(
                "removed {n} JIT map/log file{} that wallprof caused",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    match written {
        Ok(profile) => {
            if !cfg.quiet {
                eprint!("{}", render::terminal::summary(&profile, &out, &meta));
            }
        }
        Err(e) => eprintln!(
            "wallprof: could not write the results to {}: {e:#}",
            out.display()
        ),
    }
    // wallprof exits next: freeing the trace, the analysis and the symbol
    // tables piece by piece (a million intervals after a blocking-heavy
    // run) would only delay the exit the caller waits for.
    std::mem::forget(analysis);
    std::mem::forget(symbols);
    std::mem::forget(trace);
    exit.exit_code()
}

fn launch_failed(e: &LaunchError) -> i32 {
    eprintln!("wallprof: {e}");
    e.exit_code()
}

fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// Names of the files wallprof writes: a directory holding `profile.json` is
/// taken to be a previous run.
pub const OWN_FILES: &[&str] = &[
    "profile.json",
    "report.html",
    "flamegraph.svg",
    "offcpu.svg",
    "wall.svg",
    "oncpu.folded",
    "offcpu.folded",
    "wall.folded",
];

/// Choose and prepare the output directory. A previous run in it is moved
/// aside to `DIR.old` (replacing an older `DIR.old`), so two runs never mix.
/// A directory that holds other files, or cannot be created, is not used:
/// the results go to a fresh temporary directory instead, and a note says so.
pub fn prepare_out_dir(requested: Option<&Path>, notes: &mut Vec<String>) -> PathBuf {
    let dir = requested
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_OUT));
    match try_prepare(&dir) {
        Ok(Some(old)) => {
            notes.push(format!(
                "the previous run in {} was moved to {}",
                dir.display(),
                old.display()
            ));
            dir
        }
        Ok(None) => dir,
        Err(why) => {
            let tmp = std::env::temp_dir().join(format!(
                "wallprof-{}-{}",
                std::process::id(),
                collect::monotonic_ns() / 1_000_000
            ));
            let _ = std::fs::create_dir_all(&tmp);
            let msg = format!(
                "cannot use {}: {why}; writing the results to {} instead",
                dir.display(),
                tmp.display()
            );
            eprintln!("wallprof: {msg}");
            notes.push(msg);
            tmp
        }
    }
}

fn try_prepare(dir: &Path) -> Result<Option<PathBuf>, String> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        return Ok(None);
    }
    if !dir.is_dir() {
        return Err("it exists and is not a directory".into());
    }
    let entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .collect();
    if entries.is_empty() {
        return writable(dir).map(|_| None);
    }
    if !dir.join("profile.json").exists() {
        return Err(
            "it is not empty and holds no wallprof profile (choose another -o DIR, or empty it)"
                .into(),
        );
    }
    let mut old = dir.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    if old.exists() {
        std::fs::remove_dir_all(&old)
            .map_err(|e| format!("cannot remove {}: {e}", old.display()))?;
    }
    std::fs::rename(dir, &old).map_err(|e| format!("cannot move it to {}: {e}", old.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    Ok(Some(old))
}

fn writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(".wallprof-write-test");
    std::fs::write(&probe, b"").map_err(|e| format!("not writable: {e}"))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// UTC now as RFC 3339 (seconds).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Phases of the work after the target exits, printed on stderr when
/// `WALLPROF_TIMING` is set (for performance work; see docs/performance.md).
struct Timing {
    on: bool,
    last: Ns,
    phases: Vec<(&'static str, Ns)>,
}

impl Timing {
    fn new() -> Self {
        Timing {
            on: std::env::var_os("WALLPROF_TIMING").is_some(),
            last: collect::monotonic_ns(),
            phases: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        if self.on {
            let now = collect::monotonic_ns();
            self.phases.push((phase, now - self.last));
            self.last = now;
        }
    }

    fn report(&self, when: &str) {
        if self.on {
            let parts: Vec<String> = self
                .phases
                .iter()
                .map(|(p, ns)| format!("{p} {:.1} ms", *ns as f64 / 1e6))
                .collect();
            eprintln!("wallprof: {when}: {}", parts.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_600_800), "2026-11-25T10:00:00Z");
    }

    #[test]
    fn out_dir_rules() {
        let base = tempfile::tempdir().unwrap();
        let mut notes = Vec::new();
        let d = base.path().join("out");
        assert_eq!(prepare_out_dir(Some(&d), &mut notes), d);
        std::fs::write(d.join("profile.json"), "{}").unwrap();
        assert_eq!(prepare_out_dir(Some(&d), &mut notes), d);
        assert!(base.path().join("out.old/profile.json").exists());
        assert!(std::fs::read_dir(&d).unwrap().next().is_none());
        let foreign = base.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("keep.txt"), "mine").unwrap();
        let got = prepare_out_dir(Some(&foreign), &mut notes);
        assert_ne!(got, foreign);
        assert_eq!(
            std::fs::read_to_string(foreign.join("keep.txt")).unwrap(),
            "mine"
        );
    }
}
