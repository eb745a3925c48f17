//! wallprof's entry point: parse the command line, run, and map the outcome
//! to an exit code in one place.

mod cli;

use clap::Parser;

fn main() {
    let timing = std::env::var_os("WALLPROF_TIMING").is_some();
    let rt = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    };
    if timing {
        eprintln!("wallprof: main starts at {}", rt());
    }
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Run(args) => wallprof::run::run(&args.into_config()),
    };
    if timing {
        eprintln!("wallprof: main ends at {}", rt());
    }
    std::process::exit(code);
}
