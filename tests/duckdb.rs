//! The export reads back in another engine: the SCARLETEEL sample is exported (plain and
//! partitioned by host and date) and `benches/duckdb_compare.py --check` runs the query
//! pack of `samples/queries/scarleteel/` in DuckDB and in `casefile sql`, and must find
//! the same rows. Skipped, with a line on stderr, when python3 or its duckdb module is
//! missing (`pip install duckdb`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn duckdb_available() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|out| out.status.success())
}

fn export(dir: &Path, extra: &[&str]) {
    let root = repo();
    let capture = root.join("samples/scarleteel/scarleteel.case");
    let rules = root.join("samples/scarleteel/rules/scarleteel_rules.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_casefile"))
        .arg("export")
        .arg(&capture)
        .arg("-o")
        .arg(dir)
        .arg("-r")
        .arg(&rules)
        .arg("-q")
        .args(extra)
        .output()
        .expect("casefile runs");
    assert!(out.status.success(), "export failed: {}", text(&out.stderr));
}

fn compare(dir: &Path) -> Output {
    Command::new("python3")
        .arg(repo().join("benches/duckdb_compare.py"))
        .arg("--export")
        .arg(dir)
        .arg("--casefile")
        .arg(env!("CARGO_BIN_EXE_casefile"))
        .arg("--queries")
        .arg(repo().join("samples/queries/scarleteel"))
        .arg("--check")
        .output()
        .expect("python3 runs")
}

#[test]
fn duckdb_answers_the_query_pack_as_casefile_does_plain_and_partitioned() {
    if !duckdb_available() {
        // CI installs it (scripts/setup): there, a cross-check that skips is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 module duckdb is not installed: scripts/setup installs the pinned version"
        );
        // Written to the terminal directly: libtest hides eprintln! of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED duckdb cross-check: python3 module duckdb is not installed (pip install duckdb)"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("plain", &[][..]),
        ("partitioned", &["--partition", "host,date"][..]),
    ] {
        let dir = tmp.path().join(name);
        export(&dir, extra);
        let out = compare(&dir);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "DuckDB and casefile disagree on the {name} export:\n{stdout}\n{}",
            text(&out.stderr)
        );
        // Every query of the pack was run and compared, none skipped.
        let queries = std::fs::read_dir(repo().join("samples/queries/scarleteel"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "sql")
            })
            .count();
        assert!(queries > 0);
        assert_eq!(
            stdout.lines().filter(|l| l.starts_with("ok ")).count(),
            queries,
            "{stdout}"
        );
    }
}
