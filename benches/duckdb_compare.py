#!/usr/bin/env python3
"""Cross-check a casefile export in DuckDB: the same queries, the same answers, and how long.

A `casefile export` directory is plain Parquet, so another engine must read it back and
answer the query pack exactly as `casefile sql` (DataFusion) does. This script runs every
`*.sql` file of a query directory in both engines, compares the rows (--check) and times
them side by side (--time).

Run it (needs python3 and `pip install duckdb`; nothing else beyond the standard library):

    cargo build --release --bin casefile
    target/release/casefile export samples/scarleteel/scarleteel.case -o /tmp/exp \\
        -r samples/scarleteel/rules/scarleteel_rules.yaml -q   # [--partition host,date]
    python3 benches/duckdb_compare.py --export /tmp/exp --check --time

Options: --casefile BIN (default target/release/casefile, else target/debug/casefile),
--queries DIR (default samples/queries/scarleteel), --repeat N (timing runs, default 3).
With --check the exit status is 1 if any query fails in either engine or answers
differently, and the first differing rows are printed. `cargo test --test duckdb` runs
the check on the sample, plain and partitioned, when DuckDB is installed.

How DuckDB sees the export: one view per table over
`read_parquet('DIR/<table>/**/*.parquet', hive_partitioning = <manifest partitioning>,
union_by_name = true)`, with `hive_types_autocast = false` so that the `host` and `date`
partition columns are VARCHAR, as they are in casefile. The timestamps (Parquet
TIMESTAMP(NANOS, UTC)) are read by DuckDB as TIMESTAMPTZ_NS at full nanosecond
precision; the views present them as TIMESTAMP_NS (the same UTC instant, with the session
time zone set to UTC) because DuckDB's Python client needs the `pytz` module to hand out
time-zone-aware values. Joins, comparisons and min/max therefore still work on
nanoseconds inside DuckDB, but Python datetimes only carry microseconds, so before
comparing, EVERY timestamp on both sides (DuckDB datetimes and casefile's RFC 3339 strings
alike) is normalized to microsecond precision UTC ISO text (truncated, not rounded:
`2026-11-23T09:25:43.254469Z`).

Row comparison: each row becomes a dict column -> canonical value (ints as ints, strings,
timestamps as above, lists element-wise, NULL or absent -> None; column names matched
case-insensitively). The queries end with ORDER BY, so rows are compared in order; if the
order differs but the sorted rows are equal, the query passes as "same rows, tie order
differs" (rows that tie on the ORDER BY key may come back in either order).

Timing: casefile is timed as a subprocess, `casefile sql --on DIR --format json --file Q`,
so its time INCLUDES process start, opening the export and planning (the baseline line
shows that cost for `SELECT 1`); DuckDB is timed in process, `con.execute(sql).fetchall()`
on a connection whose views already exist. Each figure is the median of --repeat runs.
"""

import argparse
import datetime as dt
import decimal
import json
import os
import re
import statistics
import subprocess
import sys
import time

TABLES = ["events", "processes", "files", "connections", "alerts", "captures"]

TIMESTAMP_TEXT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_casefile():
    root = repo_root()
    for profile in ("release", "debug"):
        path = os.path.join(root, "target", profile, "casefile")
        if os.access(path, os.X_OK):
            return path
    return os.path.join(root, "target", "release", "casefile")


# --- canonical values -------------------------------------------------------------------


def canon_timestamp_text(text):
    """An RFC 3339 / ISO timestamp string as microsecond UTC ISO text, or None if not one."""
    m = TIMESTAMP_TEXT.match(text)
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    if zone not in (None, "Z", "+00", "+00:00", "+0000", "-00:00"):
        # A non-UTC offset: let datetime do the arithmetic (microseconds, truncated).
        frac6 = (frac or "").ljust(6, "0")[:6]
        parsed = dt.datetime.fromisoformat(f"{date}T{clock}.{frac6}{fix_zone(zone)}")
        return canon_datetime(parsed)
    return f"{date}T{clock}.{(frac or '').ljust(6, '0')[:6]}Z"


def fix_zone(zone):
    if len(zone) == 3:
        return zone + ":00"
    if ":" not in zone:
        return zone[:3] + ":" + zone[3:]
    return zone


def canon_datetime(value):
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canon(value):
    """One value, from either engine, in a form both agree on."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return float(f"{value:.12g}")
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(f"{float(value):.12g}")
    if isinstance(value, dt.datetime):
        return canon_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        ts = canon_timestamp_text(value)
        return ts if ts is not None else value
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canon(v) for k, v in value.items()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def sort_key(row, columns):
    return [(type(row[c]).__name__, json.dumps(row[c], sort_keys=True)) for c in columns]


# --- the two engines --------------------------------------------------------------------


def read_manifest(export):
    path = os.path.join(export, "casefile-export.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except OSError as e:
        sys.exit(f"duckdb_compare: {export} is not a casefile export ({e})")
    parts = manifest.get("partitioning") or {}
    return manifest, bool(parts.get("host") or parts.get("date"))


def sql_quote(text):
    return "'" + text.replace("'", "''") + "'"


def duckdb_connect(export, partitioned):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    notes = []
    for table in TABLES:
        if not os.path.isdir(os.path.join(export, table)):
            continue
        glob = os.path.join(os.path.abspath(export), table, "**", "*.parquet")
        source = (
            f"read_parquet({sql_quote(glob)}, hive_partitioning = {str(partitioned).lower()}, "
            "hive_types_autocast = false, union_by_name = true)"
        )
        described = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
        tz_columns = [name for name, typ, *_ in described if typ.startswith("TIMESTAMP WITH TIME ZONE")
                      or typ.startswith("TIMESTAMPTZ")]
        ns = [name for name, typ, *_ in described if typ == "TIMESTAMPTZ_NS"]
        if tz_columns and len(ns) != len(tz_columns):
            notes.append(f"{table}: DuckDB reads some timestamps below nanosecond precision")
        if tz_columns:
            replace = ", ".join(
                f'CAST("{c}" AS {"TIMESTAMP_NS" if c in ns else "TIMESTAMP"}) AS "{c}"'
                for c in tz_columns
            )
            select = f"SELECT * REPLACE ({replace}) FROM {source}"
        else:
            select = f"SELECT * FROM {source}"
        con.execute(f"CREATE VIEW {table} AS {select}")
    return con, notes


def duckdb_rows(con, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return names, cur.fetchall()


def casefile_run(casefile, export, query_file):
    return subprocess.run(
        [casefile, "sql", "--on", export, "--format", "json", "--file", query_file],
        capture_output=True,
        text=True,
    )


def casefile_rows(casefile, export, query_file):
    out = casefile_run(casefile, export, query_file)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"exit status {out.returncode}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return rows


# --- comparison -------------------------------------------------------------------------


def normalize(names, duck_raw, cf_raw):
    """Both results as lists of dicts over the same lower-cased column names."""
    columns = [n.lower() for n in names]
    duck = [{c: canon(v) for c, v in zip(columns, row)} for row in duck_raw]
    extra = set()
    cf = []
    for obj in cf_raw:
        lowered = {k.lower(): v for k, v in obj.items()}
        extra.update(k for k in lowered if k not in columns)
        cf.append({c: canon(lowered.get(c)) for c in columns})
    return columns, duck, cf, sorted(extra)


def show_row(row):
    return json.dumps(row, ensure_ascii=False)


def diff(columns, cf, duck, limit=3):
    lines = []
    if len(cf) != len(duck):
        lines.append(f"    rows: casefile {len(cf)}, duckdb {len(duck)}")
    shown = 0
    for i in range(max(len(cf), len(duck))):
        a = cf[i] if i < len(cf) else None
        b = duck[i] if i < len(duck) else None
        if a == b:
            continue
        lines.append(f"    row {i}:")
        if a is None or b is None:
            lines.append(f"      casefile: {show_row(a) if a is not None else '(no row)'}")
            lines.append(f"      duckdb:   {show_row(b) if b is not None else '(no row)'}")
        else:
            for c in columns:
                if a[c] != b[c]:
                    lines.append(f"      {c}: casefile {show_row(a[c])} | duckdb {show_row(b[c])}")
        shown += 1
        if shown >= limit:
            break
    return lines


def check_query(name, path, sql, casefile, export, con):
    """(ok, lines to print)."""
    try:
        cf_raw = casefile_rows(casefile, export, path)
    except RuntimeError as e:
        return False, [f"FAIL {name}: casefile could not run it:", f"    {e}"]
    try:
        names, duck_raw = duckdb_rows(con, sql)
    except Exception as e:  # duckdb.Error and its kin: a dialect or binder problem.
        first = str(e).strip().splitlines()
        return False, [f"FAIL {name}: DuckDB could not run it ({type(e).__name__}):"] + [
            "    " + line for line in first[:6]
        ]
    columns, duck, cf, extra = normalize(names, duck_raw, cf_raw)
    if extra:
        return False, [
            f"FAIL {name}: casefile returned columns DuckDB did not: {', '.join(extra)}"
            f" (DuckDB: {', '.join(columns)})"
        ]
    if cf == duck:
        return True, [f"ok   {name}: {len(cf)} rows identical"]
    if len(cf) == len(duck) and sorted(cf, key=lambda r: sort_key(r, columns)) == sorted(
        duck, key=lambda r: sort_key(r, columns)
    ):
        return True, [f"ok   {name}: {len(cf)} rows, same rows, tie order differs"]
    return False, [f"FAIL {name}: the answers differ"] + diff(columns, cf, duck)


def median_ms(samples):
    return statistics.median(samples) * 1000.0


def time_query(path, sql, casefile, export, con, repeat):
    cf_times, duck_times = [], []
    rows = None
    for _ in range(repeat):
        start = time.perf_counter()
        out = casefile_run(casefile, export, path)
        cf_times.append(time.perf_counter() - start)
        if out.returncode != 0:
            cf_times = None
            break
    for _ in range(repeat):
        try:
            start = time.perf_counter()
            result = con.execute(sql).fetchall()
            duck_times.append(time.perf_counter() - start)
            rows = len(result)
        except Exception:
            duck_times = None
            break
    return rows, cf_times, duck_times


def main():
    ap = argparse.ArgumentParser(
        description="Run a query pack on a casefile export in casefile and DuckDB: compare, time."
    )
    ap.add_argument("--export", required=True, help="a `casefile export` directory")
    ap.add_argument("--casefile", default=None, help="the casefile binary")
    ap.add_argument(
        "--queries",
        default=os.path.join(repo_root(), "samples", "queries", "scarleteel"),
        help="a directory of .sql files",
    )
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per query (median)")
    ap.add_argument("--check", action="store_true", help="compare the rows; exit 1 on a mismatch")
    ap.add_argument("--time", action="store_true", help="print a timing table")
    args = ap.parse_args()
    if not args.check and not args.time:
        args.check = True
    casefile = args.casefile or default_casefile()
    if not os.access(casefile, os.X_OK):
        sys.exit(f"duckdb_compare: no casefile binary at {casefile} (cargo build --release)")
    try:
        import duckdb
    except ImportError:
        sys.exit("duckdb_compare: the python3 module duckdb is not installed (pip install duckdb)")

    export = args.export
    _, partitioned = read_manifest(export)
    con, notes = duckdb_connect(export, partitioned)
    queries = sorted(f for f in os.listdir(args.queries) if f.endswith(".sql"))
    if not queries:
        sys.exit(f"duckdb_compare: no .sql files in {args.queries}")
    pack = []
    for f in queries:
        path = os.path.join(args.queries, f)
        with open(path) as fh:
            pack.append((f[: -len(".sql")], path, fh.read()))

    layout = "partitioned (hive)" if partitioned else "unpartitioned"
    print(f"export {export} ({layout}); casefile {casefile}; DuckDB {duckdb.__version__}")
    for note in notes:
        print(f"note: {note}")

    failed = 0
    if args.check:
        for name, path, sql in pack:
            ok, lines = check_query(name, path, sql, casefile, export, con)
            failed += not ok
            print("\n".join(lines))
        print(
            f"check: {len(pack) - failed} of {len(pack)} queries answer the same in casefile and DuckDB"
            " (timestamps compared at microsecond precision, UTC)"
        )

    if args.time:
        repeat = max(1, args.repeat)
        base = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(
                [casefile, "sql", "--on", export, "--format", "json", "SELECT 1"],
                capture_output=True,
            )
            base.append(time.perf_counter() - start)
        print()
        print(
            f"timing: median of {repeat} runs; casefile = `casefile sql --on DIR --file Q` as a"
            " subprocess (includes process start, opening the export, planning);"
        )
        print("        duckdb = con.execute(sql).fetchall() in process, views already created")
        print(f"casefile baseline, `SELECT 1` (process start + open): {median_ms(base):.1f} ms")
        header = f"{'query':<34} {'rows':>6} {'casefile ms':>12} {'duckdb ms':>10}"
        print(header)
        print("-" * len(header))
        for name, path, sql in pack:
            rows, cf_t, duck_t = time_query(path, sql, casefile, export, con, repeat)
            cf_s = f"{median_ms(cf_t):.1f}" if cf_t else "error"
            duck_s = f"{median_ms(duck_t):.1f}" if duck_t else "error"
            rows_s = str(rows) if rows is not None else "-"
            print(f"{name:<34} {rows_s:>6} {cf_s:>12} {duck_s:>10}")

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
