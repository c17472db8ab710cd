#!/usr/bin/env bash
# Benchmarks the write path and the whole-ledger reads against the raw
# database tools, on SQLite and PostgreSQL (issue 14): the import against a
# raw bulk load of its CSV and against the database's own tool loading
# exactly the rows it wrote, the reconciliation against a hand-written query, and
# `verify`, `export journal` and `export trail` on the ledger just imported.
# Writes the figures into docs/PERFORMANCE.md (between the bench:begin /
# bench:end markers, so the hand-written analysis around them survives a
# re-run).
#
# Usage: scripts/bench.sh            (what `just bench` runs)
#        BENCH_10M=1 scripts/bench.sh (what `just bench-10m` runs)
# Environment:
#   FUNDLEDGER_TEST_PG  PostgreSQL server URL (any database on it; a scratch
#                       database is created and dropped per size). Unset or
#                       empty: PostgreSQL is skipped and the table says so.
#   BENCH_SIZES         "VOUCHERS:LINES ..." (default "10000:1000 100000:10000 1000000:100000")
#   BENCH_10M=1         also 10M vouchers × 100k lines ("10000000:100000"), and
#                       the 10M-vs-1M scale table. Needs about 30 GB free in
#                       BENCH_DIR (checked first); the size's files are
#                       removed when it is done, or if the script stops.
#   BENCH_10M_PG=1      run PostgreSQL at 10M too (by default SQLite only
#                       there; about 36 GB more on the server's disk: the
#                       ledger and its copy from before the import)
#   BENCH_DIR           scratch directory (default target/bench; removed files are regenerated)
#   BENCH_OUT           report file (default docs/PERFORMANCE.md)
#   BENCH_MARK_VOUCHERS "ONE_M TEN_M": the voucher counts treated as 1M and
#                       10M for the targets, the scale table, the PostgreSQL
#                       skip and the clean-up (default "1000000 10000000";
#                       change it only to try the report on small sizes)
#   CARGO_TARGET_DIR    as for cargo
#   BENCH_SKIP_BUILD=1  use the release binaries already built
#
# Needs: cargo, sqlite3, psql (for PostgreSQL), and /usr/bin/time or a C
# compiler (`cc`, which the Rust toolchain needs anyway) for peak RSS.
# Speed is measured here, never asserted: the script fails only if a command
# fails, not if a target is missed.

set -Eeuo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SIZES=${BENCH_SIZES:-"10000:1000 100000:10000 1000000:100000"}
if [ "${BENCH_10M:-}" = 1 ]; then
    SIZES="$SIZES 10000000:100000"
fi
read -r MARK_1M MARK_10M <<<"${BENCH_MARK_VOUCHERS:-1000000 10000000}"
case "$MARK_1M:$MARK_10M" in
*[!0-9:]* | :* | *:) echo 'BENCH_MARK_VOUCHERS: two voucher counts, e.g. "1000000 10000000"' >&2; exit 2 ;;
esac
WORK=${BENCH_DIR:-$ROOT/target/bench}
OUT=${BENCH_OUT:-$ROOT/docs/PERFORMANCE.md}
PG=${FUNDLEDGER_TEST_PG-postgres://postgres@127.0.0.1:5432/test}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
AS_OF=2020-12-31

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

mkdir -p "$WORK"
# Everything the measured commands print on stderr; shown if one fails.
ERRLOG=$WORK/stderr.log
: >"$ERRLOG"
trap 'log "a command failed; last lines of $ERRLOG:"; tail -20 "$ERRLOG" >&2' ERR
if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
    log "building release binaries"
    cargo build --release -q -p fundledger -p fundledger-devtools
fi
FL=$TARGET/release/fundledger
DEVTOOLS=$TARGET/release/fundledger-devtools

# ---------------------------------------------------------------- peak RSS
# measure OUTFILE CMD...: runs CMD, leaves "WALL_SECONDS MAXRSS_KB CPU_SECONDS"
# in OUTFILE (CPU = user + system of CMD and its waited-for children).
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e %M %U %S' -o /dev/null true 2>/dev/null; then
    measure() {
        local out=$1
        shift
        /usr/bin/time -f '%e %M %U %S' -o "$out.raw" "$@"
        # GNU time puts "Command exited with non-zero status" first on failure.
        awk 'END { printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$out.raw" >"$out"
    }
    RSS_TOOL="GNU time (/usr/bin/time -f '%e %M %U %S')"
else
    # A fresh machine without GNU time: a 30-line wait4() wrapper.
    cat >"$WORK/rusage.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* rusage OUTFILE CMD...: runs CMD, writes "WALL_S MAXRSS_KB CPU_S" to OUTFILE. */
int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: rusage OUTFILE CMD...\n"); return 2; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) { execvp(argv[2], argv + 2); perror(argv[2]); _exit(127); }
    int status; struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 2; }
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
               + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    fprintf(f, "%.2f %ld %.2f\n", secs, ru.ru_maxrss, cpu);
    fclose(f);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
EOF
    cc -O2 -o "$WORK/rusage" "$WORK/rusage.c"
    measure() { "$WORK/rusage" "$@"; }
    RSS_TOOL="wait4() wrapper (no /usr/bin/time on this machine)"
fi

# ------------------------------------------------------------------ SQL text
RAW_VOUCHERS_COLUMNS="voucher_no TEXT, paid_on TEXT, region_code TEXT, project_code TEXT, \
doc_no TEXT, fiscal_year TEXT, amount_yuan TEXT, original_voucher_no TEXT, payee TEXT, memo TEXT"

# The hand-written equivalent of the reconciliation's money columns: allocated
# (lines plus reductions) and disbursed (vouchers up to the report date) per
# (region, project), straight from the ledger's own tables.
hand_query() {
    cat <<EOF
SELECT region_code, project_code,
       SUM(allocated_fen) AS allocated_fen, SUM(disbursed_fen) AS disbursed_fen
FROM (
    SELECT region_code, project_code, amount_fen AS allocated_fen, 0 AS disbursed_fen
      FROM indicator_lines WHERE doc_date <= '$AS_OF'
    UNION ALL
    SELECT region_code, project_code, amount_fen, 0
      FROM reductions WHERE doc_date <= '$AS_OF'
    UNION ALL
    SELECT region_code, project_code, 0, amount_fen
      FROM vouchers WHERE paid_on <= '$AS_OF'
) AS money
GROUP BY region_code, project_code
ORDER BY region_code, project_code;
EOF
}

# ------------------------------------------------------------------- results
RESULTS=$WORK/results.tsv
: >"$RESULTS"
# record SIZE_LABEL BACKEND WHAT MEASUREFILE
record() {
    local secs kb cpu
    read -r secs kb cpu <"$4"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$secs" "$kb" "$cpu" >>"$RESULTS"
    log "$1 $2 $3: ${secs}s wall, ${cpu}s CPU, $((kb / 1024)) MB peak RSS"
}

# ------------------------------------------------------------------ backends
# ledger_run SIZE BACKEND URL DIR: the fundledger side.
ledger_run() {
    local size=$1 backend=$2 url=$3 dir=$4 m=$WORK/m.txt
    local pool
    pool=$(cat "$dir/pool.txt")
    {
        "$FL" --db "$url" init >/dev/null
        "$FL" --db "$url" budget set --fiscal-year 2020 --amount-yuan "$pool" >/dev/null
        "$FL" --db "$url" projects import "$ROOT/fixtures/reference/projects.csv"
    } 2>>"$ERRLOG"
    measure "$m" "$FL" --db "$url" import indicators "$dir/bench_lines.csv" 2>>"$ERRLOG"
    record "$size" "$backend" import_lines "$m"
    "${backend}_before_import" "$url" "$dir"
    measure "$m" "$FL" --db "$url" import disbursements "$dir/bench_vouchers.csv" 2>>"$ERRLOG"
    record "$size" "$backend" import "$m"
    measure "$m" sh -c "exec \"\$0\" --db \"\$1\" reconcile --as-of $AS_OF --format csv >/dev/null" "$FL" "$url" 2>>"$ERRLOG"
    record "$size" "$backend" reconcile "$m"
    whole_ledger_reads "$size" "$backend" "$url" "$dir"
    "${backend}_rows_load" "$size" "$url" "$dir"
}

# ------------------------------------------------------ the import's own rows
# The floor of this row layout: the ledger as it was before the import,
# loaded by the database's own tool with exactly the rows the import added
# (and the balances it changed), in one transaction. The tables an import
# writes, parents first:
IMPORT_TABLES="batches journal postings vouchers seals"
# and `balances`, upserted. Every table's row count is compared afterwards:
# a floor that missed a table the import writes fails the run.

# sqlite_before_import URL DIR: a copy of the ledger file (each command
# leaves its WAL empty) to load the rows into later.
sqlite_before_import() {
    local db=${1#sqlite:}
    sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    cp "$db" "$2/before.db"
}

# sqlite_rows_load SIZE URL DIR: INSERT … SELECT from the imported ledger,
# attached, with the pragmas of the import's writer (foreign keys on,
# synchronous FULL, a 32 MB cache, temporary files in memory).
sqlite_rows_load() {
    local size=$1 db=${2#sqlite:} dir=$3 m=$WORK/m.txt t
    {
        echo "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -32000; PRAGMA temp_store = MEMORY;"
        echo "ATTACH '$db' AS src;"
        echo "BEGIN IMMEDIATE;"
        echo "CREATE TEMP TABLE before_import AS SELECT"
        echo "  (SELECT coalesce(max(entry_no), 0) FROM main.journal) AS entry_no,"
        echo "  (SELECT coalesce(max(batch_id), 0) FROM main.batches) AS batch_id;"
        for t in $IMPORT_TABLES; do
            echo "INSERT INTO main.$t SELECT * FROM src.$t WHERE $(import_key "$t") > (SELECT $(import_key "$t") FROM before_import);"
        done
        echo "INSERT INTO main.balances SELECT * FROM src.balances WHERE true"
        echo "  ON CONFLICT (account) DO UPDATE SET balance_fen = excluded.balance_fen"
        echo "  WHERE balance_fen IS NOT excluded.balance_fen;"
        echo "COMMIT;"
    } >"$dir/rows_load.sql"
    # shellcheck disable=SC2016 # $0 and $1 are for the inner sh
    measure "$m" sh -c 'exec sqlite3 -bail "$0" <"$1" >/dev/null' "$dir/before.db" "$dir/rows_load.sql" 2>>"$ERRLOG"
    record "$size" sqlite rows_load "$m"
    for t in $(sqlite3 "$db" "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"); do
        same_count "$t" "$(sqlite3 "$db" "SELECT count(*) FROM $t")" "$(sqlite3 "$dir/before.db" "SELECT count(*) FROM $t")"
    done
    rm -f "$dir/before.db" "$dir/before.db"-*
}

# postgres_before_import URL DIR: a copy of the database.
postgres_before_import() {
    psql "$PG_ADMIN" -qAtc "CREATE DATABASE ${PG_DB}_before TEMPLATE $PG_DB" >/dev/null
}

# postgres_rows_load SIZE URL DIR: `\copy` of the rows exported (text
# format) from the imported ledger.
postgres_rows_load() {
    local size=$1 url=$2 dir=$3 m=$WORK/m.txt t key
    local before_url=${PG_BASE}/${PG_DB}_before
    # The last entry and batch before the import, as sqlite_rows_load's
    # before_import table holds them, by import_key's column name.
    local -A before
    read -r "before[entry_no]" "before[batch_id]" < <(psql "$before_url" -qAt -F ' ' -c \
        "SELECT (SELECT coalesce(max(entry_no), 0) FROM journal), (SELECT coalesce(max(batch_id), 0) FROM batches)")
    {
        echo "BEGIN;"
        for t in $IMPORT_TABLES; do
            key=$(import_key "$t")
            psql "$url" -qAtc "\\copy (SELECT * FROM $t WHERE $key > ${before[$key]} ORDER BY $key) TO '$dir/rows_$t.copy'"
            echo "\\copy $t FROM '$dir/rows_$t.copy'"
        done
        psql "$url" -qAtc "\\copy balances TO '$dir/rows_balances.copy'"
        echo "CREATE TEMP TABLE import_balances (LIKE balances);"
        echo "\\copy import_balances FROM '$dir/rows_balances.copy'"
        echo "INSERT INTO balances SELECT * FROM import_balances"
        echo "  ON CONFLICT (account) DO UPDATE SET balance_fen = EXCLUDED.balance_fen"
        echo "  WHERE balances.balance_fen IS DISTINCT FROM EXCLUDED.balance_fen;"
        echo "COMMIT;"
    } >"$dir/rows_load.sql"
    # shellcheck disable=SC2016 # $0 and $1 are for the inner sh
    measure "$m" sh -c 'exec psql "$0" -qAt -v ON_ERROR_STOP=1 -f "$1" >/dev/null' "$before_url" "$dir/rows_load.sql" 2>>"$ERRLOG"
    record "$size" postgres rows_load "$m"
    for t in $(psql "$url" -qAtc "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"); do
        same_count "$t" "$(psql "$url" -qAtc "SELECT count(*) FROM $t")" "$(psql "$before_url" -qAtc "SELECT count(*) FROM $t")"
    done
    rm -f "$dir"/rows_*.copy
    psql "$PG_ADMIN" -qAtc "DROP DATABASE ${PG_DB}_before" >/dev/null
}

# import_key TABLE: the column that numbers an import's new rows.
import_key() {
    case $1 in
    batches | seals) echo batch_id ;;
    *) echo entry_no ;;
    esac
}

# same_count TABLE IMPORTED LOADED: the rows load left TABLE as the import did.
same_count() {
    if [ "$2" != "$3" ]; then
        log "rows load: $1 holds $3 rows, the imported ledger $2"
        return 1
    fi
}

# whole_ledger_reads SIZE BACKEND URL DIR: verify and the two whole-ledger
# exports of the ledger just imported. The trail goes to a file (with its
# manifest) in DIR, removed at once: at 10M it is gigabytes.
whole_ledger_reads() {
    local size=$1 backend=$2 url=$3 dir=$4 m=$WORK/m.txt
    local trail=$dir/trail.csv
    measure "$m" "$FL" --db "$url" verify >/dev/null 2>>"$ERRLOG"
    record "$size" "$backend" verify "$m"
    measure "$m" "$FL" --db "$url" export journal >/dev/null 2>>"$ERRLOG"
    record "$size" "$backend" export_journal "$m"
    rm -f "$trail" "$trail.manifest.json"
    measure "$m" "$FL" --db "$url" export trail --output "$trail" >/dev/null 2>>"$ERRLOG"
    record "$size" "$backend" export_trail "$m"
    log "$size $backend trail: $(du -h "$trail" | cut -f1)"
    rm -f "$trail" "$trail.manifest.json"
}

sqlite_run() {
    local size=$1 dir=$2 m=$WORK/m.txt
    local db=$dir/ledger.db raw=$dir/raw.db
    rm -f "$db" "$db"-* "$raw"
    ledger_run "$size" sqlite "sqlite:$db" "$dir"
    sqlite3 "$raw" "CREATE TABLE raw_vouchers ($RAW_VOUCHERS_COLUMNS);"
    measure "$m" sqlite3 "$raw" -cmd ".mode csv" ".import --skip 1 $dir/bench_vouchers.csv raw_vouchers" 2>>"$ERRLOG"
    record "$size" sqlite raw_import "$m"
    hand_query >"$dir/hand.sql"
    # shellcheck disable=SC2016 # $0 and $1 are for the inner sh
    measure "$m" sh -c 'exec sqlite3 "$0" <"$1" >/dev/null' "$db" "$dir/hand.sql" 2>>"$ERRLOG"
    record "$size" sqlite hand_query "$m"
    log "$size sqlite ledger file: $(du -ch "$db"* | tail -1 | cut -f1)"
    rm -f "$db" "$db"-* "$raw"
}

PG_DB=""
pg_drop() {
    if [ -n "$PG_DB" ]; then
        psql "$PG_ADMIN" -qAt -c "SET client_min_messages = warning" \
            -c "DROP DATABASE IF EXISTS ${PG_DB}_before" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null || true
        PG_DB=""
    fi
}
# The scratch directory of a 10M size (CSVs of about a gigabyte, a ledger of
# many): removed when the size is done, or when the script stops early.
BIG_DIR=""
big_drop() {
    if [ -n "$BIG_DIR" ]; then
        rm -rf "$BIG_DIR"
        BIG_DIR=""
    fi
}
trap 'pg_drop; big_drop' EXIT

postgres_run() {
    local size=$1 dir=$2 m=$WORK/m.txt
    PG_DB=fundledger_bench_$$_$size
    psql "$PG_ADMIN" -qAt -c "SET client_min_messages = warning" \
        -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
    local url=${PG_BASE}/$PG_DB
    ledger_run "$size" postgres "$url" "$dir"
    psql "$url" -qAtc "CREATE TABLE raw_vouchers ($RAW_VOUCHERS_COLUMNS)" >/dev/null
    measure "$m" psql "$url" -qAtc "\\copy raw_vouchers FROM '$dir/bench_vouchers.csv' WITH (FORMAT csv, HEADER true)" 2>>"$ERRLOG"
    record "$size" postgres raw_import "$m"
    hand_query >"$dir/hand.sql"
    # shellcheck disable=SC2016 # $0 and $1 are for the inner sh
    measure "$m" sh -c 'exec psql "$0" -qAt -v ON_ERROR_STOP=1 -f "$1" >/dev/null' "$url" "$dir/hand.sql" 2>>"$ERRLOG"
    record "$size" postgres hand_query "$m"
    log "$size postgres database: $(psql "$url" -qAtc "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    pg_drop
}

if [ -n "$PG" ]; then
    # Same server, any database name: strip the path (and query) to reach
    # the server, and use the maintenance database `postgres` for DDL.
    PG_BASE=${PG%%\?*}
    PG_BASE=${PG_BASE%/*}
    PG_ADMIN=$PG_BASE/postgres
    PG_VERSION=$(psql "$PG_ADMIN" -qAtc "SHOW server_version" | cut -d' ' -f1)
fi

# disk_check VOUCHERS: refuse a size early rather than fail an hour into it.
# At its peak a size holds its CSVs, the SQLite ledger and the trail export
# at once: about 2.5 KB per voucher (1.1 KB ledger, 1.25 KB trail, 0.08 KB
# CSV at 20k vouchers), so 3 KB per voucher in BENCH_DIR, 30 GB at 10M. (The
# ledger's copy from before the import, into which the rows are loaded
# after the trail is removed, grows to the ledger's size: less than that.)
# PostgreSQL's own database is on the server's disk, not checked here.
disk_check() {
    local need_kb=$(($1 * 3)) free_kb
    free_kb=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
    if [ "$free_kb" -lt "$need_kb" ]; then
        log "$1 vouchers need about $((need_kb / 1048576 + 1)) GB free in $WORK; $((free_kb / 1048576)) GB are"
        exit 1
    fi
}

START=$(date +%s)
PG_SKIPPED=""
for pair in $SIZES; do
    n=${pair%%:*}
    lines=${pair##*:}
    size="${n}x${lines}"
    dir=$WORK/$size
    big=""
    if [ "$n" -ge "$MARK_10M" ]; then
        big=yes
        BIG_DIR=$dir
    fi
    disk_check "$n"
    log "generating $n vouchers, $lines lines"
    "$DEVTOOLS" gen-bench --vouchers "$n" --lines "$lines" --out "$dir" >/dev/null
    log "sqlite $size"
    sqlite_run "$size" "$dir"
    if [ -n "$PG" ] && { [ -z "$big" ] || [ "${BENCH_10M_PG:-}" = 1 ]; }; then
        log "postgres $size"
        postgres_run "$size" "$dir"
    elif [ -n "$PG" ]; then
        log "postgres $size skipped (BENCH_10M_PG=1 runs it)"
        PG_SKIPPED="$PG_SKIPPED $size"
    fi
    big_drop
done
ELAPSED=$(($(date +%s) - START))

# ------------------------------------------------------------------- report
TABLE=$WORK/table.md
awk -F'\t' -v rss_tool="$RSS_TOOL" -v elapsed="$ELAPSED" -v pg="${PG:+yes}" \
    -v at1m="$MARK_1M" -v at10m="$MARK_10M" -v pg_skipped="$PG_SKIPPED" '
function mb(k) { return sprintf("%.0f", k / 1024) }
function ratio(a, b) { return (b > 0) ? sprintf((a < 10 * b) ? "%.2f×" : "%.1f×", a / b) : "n/a" }
function count(x) { return (x >= 1000000) ? (x / 1000000) "M" : (x >= 1000) ? (x / 1000) "k" : x }
function label(s,   p) { split(s, p, "x"); return count(p[1]) " × " count(p[2]) }
function vouchers(s,   p) { split(s, p, "x"); return p[1] + 0 }
# "WHAT ✓" or "WHAT ✗"; appended to a target cell with ", " between.
function mark(ok, what) { return what " " (ok ? "✓" : "✗") }
function add(cell, m) { return (cell == "") ? m : cell ", " m }
# Peak RSS ≤ 64 MB, marked at the 1M and 10M sizes only.
function rss(cell, s, be, what) {
  if (vouchers(s) != at1m + 0 && vouchers(s) != at10m + 0) return cell
  return add(cell, mark(kb[s, be, what] <= 65536, "RSS"))
}
# Wall time ≤ LIMIT × the reference, "n/a" when the reference rounds to 0.
function times(a, r, limit) { return (r > 0) ? mark(a <= limit * r, limit "×") : limit "× n/a" }
{ secs[$1, $2, $3] = $4; kb[$1, $2, $3] = $5; cpu[$1, $2, $3] = $6
  if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
END {
  split("sqlite postgres", backends, " ")
  one = count(at1m); ten = count(at10m)
  print "### Import: `fundledger import disbursements` vs the raw bulk load"
  print ""
  print "Raw load: `sqlite3 .import` / `psql \\copy` of the same CSV into a plain table of"
  print "the same ten columns (no keys, no indexes). Target (issue 14): ≤ 3× the raw load"
  print "(wall time), stretch ≤ 2×; peak RSS ≤ 64 MB at " one " and " ten " vouchers. CPU is user +"
  print "system of the measured client process only (on PostgreSQL most of the work is in"
  print "the server, not counted there). The indicator lines are imported first (their time"
  print "is shown for reference). Its rows: the ledger as it was before the import, loaded"
  print "with exactly the rows the import added (batches, journal, postings, vouchers, seals,"
  print "and the balances it changed) by `sqlite3` (`INSERT … SELECT` from the imported"
  print "ledger, attached; the pragmas of the import) or `psql \\copy` (of text"
  print "files exported after the import), in one transaction: the least any client of this"
  print "row layout spends, with every key, index and trigger the ledger has."
  print ""
  print "| vouchers × lines | backend | import s | raw load s | ratio | its rows s | ratio to its rows | import CPU s | import RSS MB | raw RSS MB | lines import s | target |"
  print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for (i = 1; i <= n; i++) for (b = 1; b <= 2; b++) {
    s = order[i]; be = backends[b]
    if (!((s, be, "import") in secs)) continue
    a = secs[s, be, "import"]; r = secs[s, be, "raw_import"]; f = secs[s, be, "rows_load"]
    ok = rss(add(times(a, r, 3), times(a, r, 2)), s, be, "import")
    printf "| %s | %s | %.2f | %.2f | %s | %.2f | %s | %.2f | %s | %s | %.2f | %s |\n", label(s), be, a, r, ratio(a, r),
      f, ratio(a, f), cpu[s, be, "import"], mb(kb[s, be, "import"]), mb(kb[s, be, "raw_import"]),
      secs[s, be, "import_lines"], ok
  }
  print ""
  print "### Reconcile: `fundledger reconcile --as-of 2020-12-31 --format csv > /dev/null` vs a hand-written query"
  print ""
  print "Hand-written query: allocated (lines + reductions) and disbursed per (region, project),"
  print "one GROUP BY over the ledger'"'"'s own tables, run by `sqlite3` / `psql` with output to"
  print "/dev/null. Target (issue 14): ≤ 1.5× the query (wall time) at every size; memory"
  print "bounded by lines, not vouchers."
  print ""
  print "| vouchers × lines | backend | reconcile s | hand query s | ratio | reconcile CPU s | reconcile RSS MB | query client RSS MB | target |"
  print "|---|---|---:|---:|---:|---:|---:|---:|---|"
  for (i = 1; i <= n; i++) for (b = 1; b <= 2; b++) {
    s = order[i]; be = backends[b]
    if (!((s, be, "reconcile") in secs)) continue
    a = secs[s, be, "reconcile"]; r = secs[s, be, "hand_query"]
    printf "| %s | %s | %.2f | %.2f | %s | %.2f | %s | %s | %s |\n", label(s), be, a, r, ratio(a, r),
      cpu[s, be, "reconcile"], mb(kb[s, be, "reconcile"]), mb(kb[s, be, "hand_query"]), times(a, r, 1.5)
  }
  print ""
  print "### Verify and export: `fundledger verify`, `export journal`, `export trail`"
  print ""
  print "On the ledger just imported: `verify > /dev/null`, `export journal > /dev/null`, and"
  print "`export trail --output FILE` (FILE and its manifest in the scratch directory, removed"
  print "after). Target (issue 14): ≤ 5 s each at " one " vouchers (wall time); peak RSS ≤ 64 MB"
  print "at " one " and " ten ". No target at the smaller sizes (—)."
  print ""
  print "| vouchers × lines | backend | command | wall s | CPU s | peak RSS MB | target |"
  print "|---|---|---|---:|---:|---:|---|"
  split("verify export_journal export_trail", reads, " ")
  for (i = 1; i <= n; i++) for (b = 1; b <= 2; b++) for (c = 1; c <= 3; c++) {
    s = order[i]; be = backends[b]; w = reads[c]
    if (!((s, be, w) in secs)) continue
    ok = (vouchers(s) == at1m + 0) ? mark(secs[s, be, w] <= 5, "5 s") : ""
    ok = rss(ok, s, be, w)
    cmd = w; sub(/_/, " ", cmd)
    printf "| %s | %s | %s | %.2f | %.2f | %s | %s |\n", label(s), be, cmd, secs[s, be, w],
      cpu[s, be, w], mb(kb[s, be, w]), (ok == "") ? "—" : ok
  }
  print ""
  print "### Scale: " ten " vs " one " vouchers"
  print ""
  for (i = n; i >= 1; i--) {
    if (vouchers(order[i]) == at1m + 0) small = order[i]
    if (vouchers(order[i]) == at10m + 0) big = order[i]
  }
  if (small == "" || big == "") {
    print "Not run: `just bench-10m` (`BENCH_10M=1`) adds 10M × 100k and this table."
  } else {
    limit = 1.1 * at10m / at1m
    print label(big) " against " label(small) ": " (at10m / at1m) "× the vouchers. Target (issue 14):"
    print "≤ " limit "× the wall time (linear growth, 10% slack); peak RSS ≤ 64 MB at " ten "."
    print ""
    print "| backend | command | " one " s | " ten " s | ratio | " one " RSS MB | " ten " RSS MB | target |"
    print "|---|---|---:|---:|---:|---:|---:|---|"
    split("import verify", scaled, " ")
    for (b = 1; b <= 2; b++) for (c = 1; c <= 2; c++) {
      be = backends[b]; w = scaled[c]
      if (!((small, be, w) in secs) || !((big, be, w) in secs)) continue
      a = secs[big, be, w]; r = secs[small, be, w]
      ok = (r > 0) ? mark(a <= limit * r, limit "×") : limit "× n/a"
      printf "| %s | %s | %.2f | %.2f | %s | %s | %s | %s |\n", be, w, r, a, ratio(a, r),
        mb(kb[small, be, w]), mb(kb[big, be, w]), add(ok, mark(kb[big, be, w] <= 65536, "RSS"))
    }
  }
  print ""
  if (pg != "yes") print "PostgreSQL: not run (FUNDLEDGER_TEST_PG empty).\n"
  else if (pg_skipped != "") {
    m = split(pg_skipped, skipped, " "); names = ""
    for (k = 1; k <= m; k++) names = names (k > 1 ? ", " : "") label(skipped[k])
    print "PostgreSQL at " names ": not run (`BENCH_10M_PG=1` runs it).\n"
  }
  print "Wall time and peak RSS by " rss_tool "; on PostgreSQL the server'"'"'s"
  print "own memory is not included. Whole run: " elapsed " s after the build."
}' "$RESULTS" >"$TABLE"

{
    echo "<!-- bench:begin (written by scripts/bench.sh; edit outside the markers) -->"
    # shellcheck disable=SC2016 # the backquotes are Markdown, not commands
    if [ "${BENCH_10M:-}" = 1 ]; then
        run_by='`just bench-10m` (`BENCH_10M=1 scripts/bench.sh`)'
    else
        run_by='`just bench` (`scripts/bench.sh`)'
    fi
    echo "Produced by $run_by on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown):"
    echo "$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM,"
    echo "$(sqlite3 --version | cut -d' ' -f1) (sqlite3 CLI), PostgreSQL ${PG_VERSION:-not run}, $(rustc --version | cut -d' ' -f1-2), release build."
    echo
    cat "$TABLE"
    echo "<!-- bench:end -->"
} >"$WORK/section.md"

if [ -f "$OUT" ] && grep -q '<!-- bench:begin' "$OUT" && grep -q '<!-- bench:end -->' "$OUT"; then
    awk -v section="$WORK/section.md" '
        /<!-- bench:begin/ { while ((getline l < section) > 0) print l; skip = 1; next }
        /<!-- bench:end -->/ { skip = 0; next }
        !skip { print }' "$OUT" >"$OUT.tmp"
    mv "$OUT.tmp" "$OUT"
else
    mkdir -p "$(dirname "$OUT")"
    { echo "# Performance"; echo; cat "$WORK/section.md"; } >"$OUT"
fi
log "wrote $OUT"
cat "$TABLE"
