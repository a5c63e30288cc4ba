//! Offline evaluation of captures. A [`set::CaptureSet`] orders one or more capture files
//! (a rotated flight-recorder set) into one timeline of segments; [`run::replay`] feeds
//! their events through the rule engine that `record --rules` runs live — sequentially,
//! or segment by segment in parallel with the same alerts in the same order; and
//! [`case`] turns a capture plus expected alerts into a rule regression test.

pub mod case;
pub mod fixture;
pub mod run;
pub mod set;

pub use run::{replay, replay_observed, Observer, ReplayOptions, ReplayReport};
pub use set::CaptureSet;
