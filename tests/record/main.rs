//! End-to-end tests of `casefile record` on this machine's kernel: they load the real
//! eBPF programs, so they need root and BTF. Elsewhere each test says it is skipped.
//!
//! One test target (`cargo test --test record`), one module per concern, each test
//! asserting one thing, so that a first failure does not hide the rest. Tests that
//! start a workload beside a recorder wait for its ready signal (`--ready-fd`), never
//! for time to pass.

mod common;
mod drops;
mod exec;
mod exits;
mod live;
mod ready;
mod rotation;
mod scope;
mod stopping;
mod workload;
