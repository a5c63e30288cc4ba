//! How casefile's own views (`cat`, the replay timeline, the TUI, SQL tables) name the
//! process of an event from the state, the known and the unknown alike: one definition,
//! so that every view shows the same name.

use super::{Process, StateEngine};
use casefile_formats::event::{Event, EventKind};
use std::borrow::Cow;

/// How casefile's own views (`cat`, the replay timeline, the TUI, SQL tables) name a
/// process the capture does not know: one that is in neither the snapshot nor a fork of
/// the capture, until it execs. A recorder cannot know a process that started before it
/// attached and was gone before its `/proc` scan; scap captures have them too.
pub fn unknown_process_name(pid: u32) -> String {
    format!("<unknown pid {pid}>")
}

/// The name of an event's process as casefile's views show it, from the state after
/// the event (an exec renames its process on its own event): [`display_name`] for what
/// a process did; for the recorder's own events (capture start and stop, drops) and
/// other sources' events, which are no process's doing, the name if known, else `-`.
pub fn event_process_name<'s>(state: &'s StateEngine, event: &Event<'_>) -> Cow<'s, [u8]> {
    let known = state
        .process_of_thread(event.tid)
        .or_else(|| state.process(event.pid));
    let kind = event.kind;
    if kind.is_syscall() || kind == EventKind::FORK || kind == EventKind::PROC_EXIT {
        display_name(known, event.pid)
    } else {
        Cow::Borrowed(known.map_or(&b"-"[..], |p| p.comm.as_bytes()))
    }
}

/// The name casefile's views show for `pid`: its command name, or
/// [`unknown_process_name`] when the state has no name for it.
pub fn display_name(process: Option<&Process>, pid: u32) -> Cow<'_, [u8]> {
    match process {
        Some(p) if !p.comm.is_empty() => Cow::Borrowed(p.comm.as_bytes()),
        _ => Cow::Owned(unknown_process_name(pid).into_bytes()),
    }
}

impl Process {
    /// [`display_name`] of this process.
    pub fn display_name(&self) -> Cow<'_, [u8]> {
        display_name(Some(self), self.pid)
    }
}
