//! `fundledger-devtools`: generators for the demo fixtures and benchmarks.

// Short functions (clippy.toml: at most 70 lines) outside tests.
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

use anyhow::Result;
use clap::{Parser, Subcommand};
use fundledger_devtools::{bench, hunan::Model, hunan_files, variants};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "fundledger-devtools",
    about = "Fixture and benchmark generators for fundledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the Hunan 2020 demo (36号, 37号, monthly disbursements, README, expected summary).
    #[command(name = "gen-hunan")]
    Hunan {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the 36号 table in every container and layout (ODS, HTML and
    /// tab-separated "xls", two-level header, cover sheet) and the files that
    /// must be refused; then run scripts/gen_xls_fixture.py for the .xls copy.
    #[command(name = "gen-variants")]
    Variants {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write benchmark files: M indicator lines, N vouchers and the pool they need.
    #[command(name = "gen-bench")]
    Bench {
        #[arg(long)]
        vouchers: u64,
        #[arg(long)]
        lines: u64,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Hunan { out } => {
            let model = Model::build();
            hunan_files::write_all(&model, &out)?;
            println!(
                "wrote {}: {} lines, {} vouchers, allocated {} yuan",
                out.display(),
                model.lines.len(),
                model.vouchers.len(),
                model.total_allocated()
            );
        }
        Command::Variants { out } => {
            variants::write_all(&Model::build(), &out)?;
            println!("wrote {}", out.display());
        }
        Command::Bench {
            vouchers,
            lines,
            out,
        } => {
            let totals = bench::gen_bench(&out, vouchers, lines)?;
            println!(
                "wrote {}: {lines} lines ({} yuan allocated), {vouchers} vouchers ({} yuan)",
                out.display(),
                totals.allocated,
                totals.disbursed
            );
        }
    }
    Ok(())
}
