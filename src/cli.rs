//! The command line (clap derive only). Arguments become plain config structs
//! ([`RunConfig`]) so nothing past here sees clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use wallprof::run::{RunConfig, DEFAULT_FREQ};

#[derive(Debug, Parser)]
#[command(
    name = "wallprof",
    version,
    about = "What bounds this program: CPU, disk, network, timers or locks? And which concurrency strategy would make it faster?"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command to completion and profile it and everything it starts.
    ///
    /// The command's stdin, stdout and stderr are untouched; wallprof exits
    /// with the command's exit code (128+N when it was killed by signal N).
    #[command(arg_required_else_help = true)]
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Directory for profile.json and the other results [default: ./wallprof-out].
    /// A previous run there is moved to DIR.old; a directory holding other
    /// files is left alone and the results go to a new temporary directory.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// On-CPU sampling frequency in Hz.
    #[arg(long, value_name = "HZ", default_value_t = DEFAULT_FREQ, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub freq: u64,

    /// Do not print the summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,

    /// Profile from /proc alone, as wallprof does when perf is unavailable.
    #[arg(long)]
    pub no_perf: bool,

    /// Runtimes whose JIT symbol maps (/tmp/perf-PID.map) wallprof turns on:
    /// a comma-separated list of node, python, java, all, none. Node's are on
    /// by default (nothing the target prints changes); python (3.12+) and
    /// java (the JVM announces JAVA_TOOL_OPTIONS on stderr) are opt-in.
    #[arg(long, value_name = "LIST", default_value = "node", value_parser = parse_jit)]
    pub jit_maps: wallprof::collect::jit::JitMaps,

    /// Which tasks the perf events watch: `cpu` (the default) opens CPU-wide
    /// events where permitted (root, CAP_PERFMON or perf_event_paranoid <= 0)
    /// and keeps only the target's process tree: much cheaper per context
    /// switch. Where that is not permitted it falls back to `task`, which
    /// follows the target's own tasks (inherited events); `task` asks for
    /// that directly.
    #[arg(long, value_name = "SCOPE", default_value = "cpu", value_parser = parse_scope)]
    pub perf_scope: wallprof::collect::perf::Scope,

    /// Record context switches with CPU-wide perf tracepoints instead of
    /// wallprof's BPF programs. The BPF collector is used by default at
    /// `--perf-scope cpu` where permitted (root, or CAP_BPF with
    /// CAP_PERFMON): it costs a program that blocks often much less.
    #[arg(long)]
    pub no_bpf: bool,

    /// The command to profile, and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl RunArgs {
    pub fn into_config(self) -> RunConfig {
        let mut c = RunConfig::new(self.command);
        c.out_dir = self.output;
        c.freq = self.freq;
        c.quiet = self.quiet;
        c.no_perf = self.no_perf;
        c.jit = self.jit_maps;
        c.perf_scope = self.perf_scope;
        c.no_bpf = self.no_bpf;
        c
    }
}

fn parse_jit(s: &str) -> Result<wallprof::collect::jit::JitMaps, String> {
    wallprof::collect::jit::JitMaps::parse(s)
}

fn parse_scope(s: &str) -> Result<wallprof::collect::perf::Scope, String> {
    use wallprof::collect::perf::Scope;
    match s {
        "cpu" => Ok(Scope::Cpu),
        "task" => Ok(Scope::Task),
        _ => Err(format!("{s:?} is not a scope: use task or cpu")),
    }
}
