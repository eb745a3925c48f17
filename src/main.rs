//! wallprof's entry point: parse the command line, run, and map the outcome
//! to an exit code in one place.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Run(args) => wallprof::run::run(&args.into_config()),
    };
    std::process::exit(code);
}
