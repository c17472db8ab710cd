#!/usr/bin/env bash
# Regenerates the report pictures in docs/img/ (`just screenshots`): the
# demo's html page as headless Chromium shows it, and the workbook's summary
# sheet as LibreOffice prints it (its print setup: A4 landscape, one page
# wide). Needs chromium, libreoffice (calc) and pdftoppm (poppler-utils);
# fonts-noto-cjk for the Chinese text. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in chromium soffice pdftoppm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "screenshots: $tool is not installed" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --quiet -p fundledger
./target/debug/fundledger demo --output-dir "$work" --format csv >/dev/null
mkdir -p docs/img
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --window-size=1280,1000 \
    --screenshot="$PWD/docs/img/report-html.png" \
    "file://$work/reconcile_2020-12-31.html" 2>/dev/null
soffice -env:UserInstallation="file://$work/libreoffice" --headless \
    --convert-to pdf --outdir "$work" "$work/reconcile_2020-12-31.xlsx" >/dev/null
# Page 1 of the printed workbook is the summary sheet (汇总).
pdftoppm -f 1 -l 1 -r 110 -png -singlefile "$work/reconcile_2020-12-31.pdf" docs/img/report-xlsx-summary
echo "wrote docs/img/report-html.png and docs/img/report-xlsx-summary.png"
