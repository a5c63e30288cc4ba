//! `casefile tui`: the interactive investigator. An investigator opens a capture and
//! walks the incident — from an alert to the process that caused it, its ancestors and
//! children, what it touched, back and forth in time — over SSH if need be.
//!
//! [`capture`] reads the file lazily through its block index; [`analysis`] runs the
//! rules and builds the process tree in the background; [`filter`] narrows the timeline
//! on background threads; [`app`] is the state machine keys drive; [`ui`] draws it;
//! [`terminal`] owns the real terminal; [`ext`] is where the SQL console and the
//! Connections and Files views plug in.

pub mod analysis;
pub mod app;
pub mod capture;
pub mod ext;
pub mod filter;
pub mod terminal;
pub mod ui;

pub use app::{Action, App, AppOptions, View};
pub use capture::Capture;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error(transparent)]
    Format(#[from] casefile_formats::error::FormatError),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}
