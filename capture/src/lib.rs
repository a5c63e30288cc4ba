//! The live recorder: loads casefile's eBPF programs, turns kernel records into the
//! `Event` stream, keeps host state (processes, fds, users) from `/proc` and the events,
//! and writes capture files.

pub mod cgroups;
pub mod decode;
pub mod error;
pub mod probe;
pub mod procfs;
pub mod recorder;
pub mod scope;
pub mod syscalls;
pub mod users;

pub use error::CaptureError;
