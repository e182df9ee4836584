use anyhow::Result;
use clap::Parser;

use pgvector_rs_bench::cli::{Cli, Command};
use pgvector_rs_bench::commands;

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => commands::run::run(&args),
        Command::Plot(args) => commands::plot::run(&args),
        Command::Groundtruth(args) => commands::groundtruth::run(&args),
    }
}
