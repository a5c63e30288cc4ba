//! Just enough process tracking to name the process of each event in `cat` output:
//! names from the capture's snapshot, inherited on fork, replaced on exec.
//!
//! The full state engine (fd tables, ancestry, users) belongs to the rules crate; this
//! is deliberately only a pid → name map.

use casefile_formats::event::{Arg, Event, EventKind};
use casefile_formats::schema::syscall_nr;
use casefile_formats::state::StateSnapshot;
use std::collections::HashMap;

#[derive(Default)]
pub struct ProcessNames {
    names: HashMap<u32, Vec<u8>>,
    execve: u16,
    execveat: u16,
}

impl ProcessNames {
    pub fn new(snapshot: Option<&StateSnapshot>) -> Self {
        let mut names = HashMap::new();
        if let Some(snapshot) = snapshot {
            for p in &snapshot.processes {
                names.insert(p.pid, p.comm.0.clone());
            }
        }
        ProcessNames {
            names,
            execve: syscall_nr("execve").unwrap_or(u16::MAX),
            execveat: syscall_nr("execveat").unwrap_or(u16::MAX),
        }
    }

    /// The name of the event's process, after applying what the event itself changes.
    pub fn observe(&mut self, event: &Event<'_>) -> &[u8] {
        if event.kind == EventKind::FORK {
            if let Some(Arg::Uint(child)) = event.args.get(0) {
                if let (Ok(child), Some(name)) =
                    (u32::try_from(child), self.names.get(&event.pid).cloned())
                {
                    self.names.insert(child, name);
                }
            }
        } else if (event.kind.0 == self.execve || event.kind.0 == self.execveat) && event.ret == 0 {
            if let Some(Arg::Str(comm)) = event.arg("comm") {
                self.names.insert(event.pid, comm.to_vec());
            }
        }
        self.names.get(&event.pid).map_or(b"?", |n| n.as_slice())
    }

    /// Forgets a process that exited (after its exit event was shown).
    pub fn exited(&mut self, event: &Event<'_>) {
        if event.kind == EventKind::PROC_EXIT && event.pid == event.tid {
            self.names.remove(&event.pid);
        }
    }
}
