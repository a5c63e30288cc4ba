//! Records the kernel could not deliver are counted, attributed and written down.

use crate::common::*;
use casefile_formats::event::EventKind;

#[test]
fn drops_from_a_full_ring_are_counted_and_written_down() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("drops.case");
    // A one-page ring cannot hold a burst of 200k syscalls between two drains.
    let events = record_events(
        &["--ring-size", "4k", "--syscalls", "all"],
        &capture,
        &[
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1",
            "count=100000",
            "status=none",
        ],
    );
    let a = kernel_accounting(&events);
    assert_eq!(
        a.kernel_sent, a.in_file,
        "every delivered record is in the file"
    );
    assert!(a.kernel_drops > 0, "a 4 KiB ring must overflow");
    assert_eq!(
        a.kernel_drops, a.drops_in_file,
        "every drop is written down"
    );
    // The drops are attributed to the syscalls that lost records.
    let read_nr = kind("read").0 as u64;
    assert!(events.iter().any(|e| e.kind == EventKind::DROPS
        && uint_arg(e, "syscall").is_some_and(|nr| nr == read_nr || nr == read_nr + 1)));
    let info = casefile()
        .args(["info", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(value["drops"].as_u64(), Some(a.kernel_drops));
}
