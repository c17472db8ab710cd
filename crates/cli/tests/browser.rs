//! The demo's html report in a real browser: headless Chromium takes a
//! screenshot (not blank), prints it to PDF (the expected page count: rows
//! never spill) and dumps the DOM (every prefecture with its rate, as the
//! CSV report gives it). The page fetches nothing: no URL in the file, a
//! strict Content-Security-Policy, and Chromium reports no violation of it
//! (a wrong style hash would be one). Without Chromium the test fails under
//! CI (CI set) and otherwise says loudly that it did not run.

mod support;

use fundledger_formats::report_html::EXCEPTION_ROWS_PER_PAGE;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed but CI is set: .ci/run must install it"
        );
        eprintln!(
            "\n*** browser check of the html report NOT RUN: chromium is not installed \
             (apt-get install chromium) ***\n"
        );
    }
    found
}

/// Runs headless Chromium on `page` with `extra`; returns (stdout, stderr).
fn run_chromium(bin: &Path, profile: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    assert!(
        !stderr.contains("Content Security Policy"),
        "the page broke its own Content-Security-Policy: {stderr}"
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The screenshot has content: not one colour, and a fair share of pixels
/// that are not the background.
fn check_not_blank(png_path: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).expect("screenshot written"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let pixel = info.color_type.samples() * usize::from(info.bit_depth as u8).div_ceil(8);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(pixel).collect();
    let background = pixels[0];
    let other = pixels.iter().filter(|p| *p != &background).count();
    assert!(
        other * 100 > pixels.len() * 3,
        "screenshot is (nearly) blank: {other} of {} pixels differ from the background",
        pixels.len()
    );
}

/// Pages of a PDF: the `/Type /Page` objects, which must agree with the
/// page tree's largest `/Count`.
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    let pages = text
        .match_indices("/Type /Page")
        .filter(|(i, m)| !text[i + m.len()..].starts_with('s'))
        .count();
    let count = text
        .match_indices("/Count ")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .expect("a page tree with /Count");
    assert_eq!(pages, count, "page objects against the page tree");
    pages
}

/// The attribute `name` of the element that starts at `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(&tag[start..start + end])
}

/// Per prefecture code: (allocated, disbursed, overdue count, 市本级 name).
fn csv_prefectures(csv: &str) -> BTreeMap<String, (i64, i64, usize, Option<String>)> {
    let mut out: BTreeMap<String, (i64, i64, usize, Option<String>)> = BTreeMap::new();
    for r in csv_rows(csv).iter().filter(|r| r["status"] != "unmatched") {
        let code = format!("{}00", &r["region_code"][..4]);
        let e = out.entry(code.clone()).or_default();
        e.0 += fen(&r["allocated"]);
        e.1 += fen(&r["disbursed"]);
        e.2 += usize::from(r["status"] == "overdue");
        if r["region_code"] == code {
            e.3 = Some(r["region_name"].clone());
        }
    }
    out
}

/// disbursed / allocated, two places, rounded half up: restated here.
fn rate(disbursed: i64, allocated: i64) -> String {
    let bp = (2 * disbursed as i128 * 10_000 + allocated as i128) / (2 * allocated as i128);
    format!("{}.{:02}%", bp / 100, bp % 100)
}

/// Offline by construction: no URL at all, and a policy that loads nothing.
fn check_offline(html: &str) {
    for forbidden in [
        "http://", "https://", "src=", "href=", "url(", "@import", "<script",
    ] {
        assert!(!html.contains(forbidden), "the page contains {forbidden:?}");
    }
    assert!(
        html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-"
        ),
        "no strict Content-Security-Policy meta tag"
    );
}

/// The printed page count: heading and chart, summary, then the exceptions
/// a fixed number a page (more pages would mean rows spilled).
fn check_pdf(pdf: &Path, csv: &str) {
    let exceptions = csv_rows(csv)
        .iter()
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                "overdue" | "over" | "late" | "unmatched"
            )
        })
        .count();
    assert_eq!(
        exceptions, 130,
        "the demo's exceptions (see the table snapshot)"
    );
    let want_pages = 2 + exceptions.div_ceil(EXCEPTION_ROWS_PER_PAGE);
    assert_eq!(pdf_pages(&std::fs::read(pdf).unwrap()), want_pages);
}

/// Every prefecture of the CSV has its bar, name, rate and overdue count,
/// visible as text in the chart and in the summary table.
fn check_dom(dom: &str, csv: &str) {
    let bars: Vec<&str> = dom.split("<g class=\"bar\"").skip(1).collect();
    let want = csv_prefectures(csv);
    assert_eq!(bars.len(), want.len(), "one bar per prefecture");
    for (bar, (code, (allocated, disbursed, overdue, name))) in bars.iter().zip(&want) {
        let tag = &bar[..bar.find('>').unwrap()];
        let rate = rate(*disbursed, *allocated);
        assert_eq!(attr(tag, "data-code"), Some(code.as_str()));
        assert_eq!(attr(tag, "data-rate"), Some(rate.as_str()), "{code}");
        let overdue = overdue.to_string();
        assert_eq!(attr(tag, "data-overdue"), Some(overdue.as_str()), "{code}");
        let shown = attr(tag, "data-prefecture").unwrap();
        if let Some(name) = name {
            assert_eq!(shown, name, "{code}");
        }
        assert!(bar.contains(&format!(">{shown}</text>")), "{code}");
        assert!(bar.contains(&format!(">{rate}</text>")), "{code}");
        let summary_row = format!("<td>{code}</td><td>{shown}</td>");
        assert!(dom.contains(&summary_row), "{code}: summary row");
        let rate_cell = format!("<td class=\"num\">{rate}</td>");
        assert!(dom.contains(&rate_cell), "{code}");
    }
}

#[test]
fn demo_html_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let db = TestDb::sqlite();
    let out = out_dir.to_str().unwrap();
    let demo = ["demo", "--format", "csv", "--output-dir", out];
    let csv = fl(&db, &demo).ok().stdout;
    let page = out_dir.join("reconcile_2020-12-31.html");
    check_offline(&std::fs::read_to_string(&page).unwrap());

    let profile = dir.path().join("profile");
    let shot = dir.path().join("shot.png");
    let screenshot = [format!("--screenshot={}", shot.display())];
    run_chromium(&bin, &profile, &page, &screenshot);
    check_not_blank(&shot);

    let pdf = dir.path().join("page.pdf");
    let print = [
        format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer".into(),
    ];
    run_chromium(&bin, &profile, &page, &print);
    check_pdf(&pdf, &csv);

    let (dom, _) = run_chromium(&bin, &profile, &page, &["--dump-dom".into()]);
    check_dom(&dom, &csv);
}
