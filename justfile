# fundledger developer recipes. `just --list` shows them.

# Run the Hunan 2020 demo (51.66M yuan) on a temporary database.
demo:
    cargo run --release -- demo

# The test suite (PostgreSQL tests run when FUNDLEDGER_TEST_PG is set).
test:
    cargo test --workspace

# Format check and clippy, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Everything CI runs (needs PostgreSQL on 127.0.0.1:5432 and hledger).
ci:
    bash .ci/run

# Benchmarks (issue 14 targets) at 10k/100k/1M vouchers on SQLite and PostgreSQL: import vs the raw bulk load, reconcile vs a hand-written query, verify and the journal/trail exports; writes docs/PERFORMANCE.md.
bench:
    bash scripts/bench.sh

# The same plus 10M vouchers × 100k lines (SQLite only unless BENCH_10M_PG=1) and the 10M-vs-1M scale table; needs about 30 GB free in target/bench (checked first), freed when the size is done.
bench-10m:
    BENCH_10M=1 bash scripts/bench.sh

# Fuzz each reader for a while (needs nightly and cargo-fuzz).
fuzz seconds="60":
    cd fuzz && cargo +nightly fuzz run fuzz_amount -- -max_total_time={{seconds}}
    cd fuzz && cargo +nightly fuzz run fuzz_long_csv -- -max_total_time={{seconds}}
    cd fuzz && cargo +nightly fuzz run fuzz_disbursement_csv -- -max_total_time={{seconds}}

# Pictures of the demo's html report and workbook summary in docs/img/ (needs chromium, libreoffice, poppler-utils, fonts-noto-cjk).
screenshots:
    bash scripts/screenshots.sh

# Regenerate the Hunan demo fixtures (deterministic; a test fails when they are stale).
fixtures:
    cargo run -p fundledger-devtools -- gen-hunan --out fixtures/hunan-2020
    cargo run -p fundledger-devtools -- gen-variants --out fixtures/hunan-2020-variants
    python3 scripts/gen_xls_fixture.py fixtures/hunan-2020-variants

# Walk the user guides literally and compare their quoted outputs with a real run.
docs-check:
    cargo build -p fundledger
    python3 scripts/docs_check.py
