//! The bundled samples as regression tests: `casefile test samples/` passes, a copy with
//! a wrong expectation fails with a diff naming it, and a truncated copy of the
//! SCARLETEEL capture still replays everything intact.

use casefile_formats::reader::CaptureReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn casefile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .output()
        .expect("casefile runs")
}

fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
}

fn sample() -> PathBuf {
    repo().join("samples/scarleteel")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_samples_pass_their_regression_cases() {
    let out = casefile(&["test", repo().join("samples").to_str().unwrap()]);
    let stdout = text(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("PASS {}", sample().display())),
        "{stdout}"
    );
    assert!(stdout.contains(" 0 failed, "), "{stdout}");
    let falco = repo().join("../shared/corpus/falco/falco_rules.yaml");
    if falco.exists() {
        assert!(
            stdout.contains(&format!("PASS {}", sample().join("falco-stable").display())),
            "the Falco stable case runs when the corpus is present: {stdout}"
        );
    } else {
        assert!(stdout.contains("SKIPPED"), "{stdout}");
        eprintln!(
            "NOTE: {} is absent; the Falco stable case was skipped",
            falco.display()
        );
    }
}

/// The first `count: N` of a case file.
fn first_count(case: &str) -> (usize, u64) {
    case.lines()
        .enumerate()
        .find_map(|(i, line)| {
            let n = line.trim().strip_prefix("count:")?.trim().parse().ok()?;
            Some((i, n))
        })
        .expect("the case has an exact count")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn a_wrong_expectation_fails_with_a_diff_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("scarleteel");
    copy_dir(&sample(), &copy);
    std::fs::remove_dir_all(copy.join("falco-stable")).ok();
    let case_path = copy.join("case.yaml");
    let case = std::fs::read_to_string(&case_path).unwrap();
    let (line, n) = first_count(&case);
    let wrong: Vec<String> = case
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == line {
                l.replace(&format!("count: {n}"), &format!("count: {}", n + 5))
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&case_path, wrong.join("\n") + "\n").unwrap();
    let out = casefile(&["test", copy.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("FAIL {}", copy.display())),
        "{stdout}"
    );
    let mismatch = stdout
        .lines()
        .find(|l| l.contains("MISMATCH"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        mismatch.contains(&format!("expected {} alerts", n + 5))
            && mismatch.contains(&format!("got {n}")),
        "{mismatch}"
    );
    assert!(stdout.contains("1 failed"), "{stdout}");
}

#[test]
fn a_truncated_copy_of_the_sample_replays_what_is_intact() {
    let capture = sample().join("scarleteel.case");
    let rules = sample().join("rules/scarleteel_rules.yaml");
    let reader = CaptureReader::open(&capture).unwrap();
    let blocks: Vec<_> = reader.event_blocks().copied().collect();
    assert!(
        blocks.len() >= 2,
        "the sample spans several blocks ({} here)",
        blocks.len()
    );
    // Cut in the middle of the last events block: every block before it is intact.
    let last = blocks.last().unwrap();
    let cut_at = last.offset as usize + 64;
    let intact_events: u64 = blocks[..blocks.len() - 1]
        .iter()
        .map(|b| u64::from(b.header.count))
        .sum();
    drop(reader);
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.case");
    std::fs::write(&cut, &std::fs::read(&capture).unwrap()[..cut_at]).unwrap();

    let full = casefile(&[
        "replay",
        capture.to_str().unwrap(),
        "-r",
        rules.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    let part = casefile(&[
        "replay",
        cut.to_str().unwrap(),
        "-r",
        rules.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    assert!(part.status.success(), "{}", text(&part.stderr));
    let stderr = text(&part.stderr);
    assert!(
        stderr.contains("not a complete block"),
        "the truncation is reported: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{intact_events} events read")),
        "{stderr}"
    );
    let (full, part) = (text(&full.stdout), text(&part.stdout));
    assert!(
        full.starts_with(&part),
        "the intact part gives the same first alerts"
    );
}
