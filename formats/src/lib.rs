//! casefile's event model and capture file format.
//!
//! Data flows through this crate in one direction: a recorder (or a test) builds
//! [`event::OwnedEvent`]s, a [`writer::CaptureWriter`] packs them into compressed,
//! checksummed blocks, and a [`reader::CaptureReader`] maps a file and hands the same
//! [`event::Event`]s back, in order or as segments for parallel readers. The byte
//! layouts are specified in `docs/FORMAT.md` and `docs/EVENTS.md`.

pub mod block;
pub mod codec_table;
pub mod error;
pub mod event;
pub mod header;
pub mod reader;
pub mod render;
pub mod schema;
pub mod state;
pub mod synthetic;
pub mod text;
pub mod varint;
pub mod writer;
