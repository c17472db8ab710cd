//! Benchmark data: a long indicator file with M lines and a disbursement file
//! with N vouchers, written row by row (memory does not grow with N or M) and
//! a pure function of (N, M).

use crate::reference::{catalog, hunan_prefectures_2020};
use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDate};
use fundledger_core::{Fen, RegionCode};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub const LINES_FILE: &str = "bench_lines.csv";
pub const VOUCHERS_FILE: &str = "bench_vouchers.csv";
pub const POOL_FILE: &str = "pool.txt";

/// What was written: the pool a benchmark must `budget set` at least.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchTotals {
    pub allocated: Fen,
    pub disbursed: Fen,
}

/// The (region, project) grid every document repeats; doc numbers change
/// every grid so keys stay unique however many lines are asked for.
struct Grid {
    regions: Vec<RegionCode>,
    projects: Vec<String>,
    dates: Vec<String>,
}

impl Grid {
    fn new() -> Grid {
        let mut regions = Vec::new();
        for prefecture in hunan_prefectures_2020() {
            regions.push(prefecture.code);
            regions.extend(prefecture.counties.iter().map(|c| c.code));
        }
        let projects = catalog().iter().map(|p| p.code.to_string()).collect();
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date");
        let dates = (0..366)
            .map(|d| (start + Duration::days(d)).format("%Y-%m-%d").to_string())
            .collect();
        Grid {
            regions,
            projects,
            dates,
        }
    }

    fn keys_per_doc(&self) -> u64 {
        u64::try_from(self.regions.len() * self.projects.len()).expect("fits")
    }

    /// (doc number, doc day of year, region, project) of line `i`.
    fn line(&self, i: u64) -> (u64, usize, RegionCode, &str) {
        let doc = i / self.keys_per_doc();
        let k = usize::try_from(i % self.keys_per_doc()).expect("fits");
        let projects = self.projects.len();
        let doc_day = usize::try_from(doc % 180).expect("fits");
        (
            100 + doc,
            doc_day,
            self.regions[k / projects],
            &self.projects[k % projects],
        )
    }
}

/// Fen allocated to line `i`: varied, and large enough that each of its
/// `per_line` vouchers gets at least one yuan.
fn line_amount(i: u64, per_line: u64) -> Fen {
    let varied = 1_000_000 + (i % 97) * 10_000;
    let fen = varied.max(per_line * 100);
    Fen::new(i64::try_from(fen).expect("fits"))
}

fn write_yuan(out: &mut impl Write, amount: Fen) -> std::io::Result<()> {
    write!(
        out,
        "{}.{:02}",
        amount.as_i64() / 100,
        amount.as_i64() % 100
    )
}

pub fn gen_bench(out_dir: &Path, vouchers: u64, lines: u64) -> Result<BenchTotals> {
    if lines == 0 {
        bail!("--lines must be at least 1");
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let grid = Grid::new();
    let per_line = vouchers.div_ceil(lines).max(1);
    let allocated = write_lines(&grid, &out_dir.join(LINES_FILE), lines, per_line)?;
    let disbursed = write_vouchers(
        &grid,
        &out_dir.join(VOUCHERS_FILE),
        vouchers,
        lines,
        per_line,
    )?;
    assert!(disbursed <= allocated, "benchmark never over-disburses");
    std::fs::write(out_dir.join(POOL_FILE), format!("{allocated}\n"))?;
    Ok(BenchTotals {
        allocated,
        disbursed,
    })
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

fn write_lines(grid: &Grid, path: &Path, lines: u64, per_line: u64) -> Result<Fen> {
    let mut out = create(path)?;
    writeln!(out, "doc_no,doc_date,region_code,project_code,amount_yuan")?;
    let mut total = Fen::ZERO;
    for i in 0..lines {
        let (doc, doc_day, region, project) = grid.line(i);
        let amount = line_amount(i, per_line);
        total = total.checked_add(amount)?;
        write!(
            out,
            "湘财社指〔2020〕{doc}号,{},{region},{project},",
            grid.dates[doc_day]
        )?;
        write_yuan(&mut out, amount)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(total)
}

fn write_vouchers(
    grid: &Grid,
    path: &Path,
    vouchers: u64,
    lines: u64,
    per_line: u64,
) -> Result<Fen> {
    let mut out = create(path)?;
    writeln!(
        out,
        "voucher_no,paid_on,region_code,project_code,doc_no,fiscal_year,amount_yuan,original_voucher_no,payee,memo"
    )?;
    let mut total = Fen::ZERO;
    for j in 0..vouchers {
        let i = j % lines;
        let round = j / lines;
        let (doc, doc_day, region, project) = grid.line(i);
        // Paid 1..30 days after the document: always within 2020 (doc dates
        // stop at day 180) and never before its line exists.
        let paid_day = doc_day + 1 + usize::try_from(round % 30).expect("fits");
        let per_line_fen = i64::try_from(per_line).expect("fits");
        let amount = Fen::new(line_amount(i, per_line).as_i64() / per_line_fen);
        total = total.checked_add(amount)?;
        write!(
            out,
            "BV{j:010},{},{region},{project},",
            grid.dates[paid_day]
        )?;
        // Every fourth voucher leaves doc_no blank, to exercise matching by
        // (fiscal year, region, project).
        if j % 4 != 3 {
            write!(out, "湘财社指〔2020〕{doc}号")?;
        }
        write!(out, ",2020,")?;
        write_yuan(&mut out, amount)?;
        writeln!(out, ",,计生协,")?;
    }
    out.flush()?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_is_deterministic_and_within_pool() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let totals = gen_bench(first.path(), 5000, 2000).unwrap();
        gen_bench(second.path(), 5000, 2000).unwrap();
        for name in [LINES_FILE, VOUCHERS_FILE, POOL_FILE] {
            let a = std::fs::read(first.path().join(name)).unwrap();
            let b = std::fs::read(second.path().join(name)).unwrap();
            assert_eq!(a, b, "{name}");
        }
        assert!(totals.disbursed <= totals.allocated);
        let pool = std::fs::read_to_string(first.path().join(POOL_FILE)).unwrap();
        assert_eq!(pool, format!("{}\n", totals.allocated));
        let lines = std::fs::read_to_string(first.path().join(LINES_FILE)).unwrap();
        assert_eq!(lines.lines().count(), 2001);
        let vouchers = std::fs::read_to_string(first.path().join(VOUCHERS_FILE)).unwrap();
        assert_eq!(vouchers.lines().count(), 5001);
    }

    #[test]
    fn line_keys_are_unique() {
        let grid = Grid::new();
        let mut keys: Vec<(u64, RegionCode, String)> = (0..5000)
            .map(|i| {
                let (doc, _, region, project) = grid.line(i);
                (doc, region, project.to_string())
            })
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 5000);
    }

    #[test]
    fn zero_lines_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = gen_bench(dir.path(), 10, 0).unwrap_err();
        assert!(err.to_string().contains("--lines"));
    }
}
