//! What the block codec predicts of each event kind, frozen per event layout version.
//!
//! An events block codes an event's argument count as the difference from its kind's
//! usual count, and its return value against the kind's size argument (`docs/FORMAT.md`).
//! Those predictions are part of the file format, so they are written down here once per
//! [`EVENT_LAYOUT_VERSION`](crate::schema::EVENT_LAYOUT_VERSION) instead of being read
//! from the display schema: a layout that gains an argument gets a new version and a new
//! table, and files of the older version still decode with theirs. A test checks that the
//! current schema agrees with the current version's table, so a layout change cannot
//! slip in without one.

use crate::event::EventKind;
use std::sync::OnceLock;

/// The codec's prediction for one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindCodec {
    /// The number of arguments an event of this kind usually has.
    pub args: u8,
    /// The argument holding the byte count an I/O call asks for, which its return value
    /// usually equals.
    pub size_arg: Option<u8>,
}

/// The predictions of one layout version for every event kind.
#[derive(Debug)]
pub struct CodecTable {
    version: u32,
    /// Indexed by event kind, up to the highest kind the table names; kinds past it
    /// take the defaults.
    kinds: Vec<KindCodec>,
}

/// A syscall without a decoded layout carries its six raw register arguments.
const RAW_SYSCALL: KindCodec = KindCodec {
    args: 6,
    size_arg: None,
};
/// A non-syscall kind this table does not name (written by a newer casefile).
const UNNAMED: KindCodec = KindCodec {
    args: 0,
    size_arg: None,
};

fn default_codec(kind: EventKind) -> KindCodec {
    if kind.is_syscall() {
        RAW_SYSCALL
    } else {
        UNNAMED
    }
}

impl CodecTable {
    /// A table from the kinds whose prediction differs from the default (six arguments
    /// for a syscall, none for anything else; no size argument).
    pub fn new(version: u32, exceptions: impl IntoIterator<Item = (EventKind, KindCodec)>) -> Self {
        let mut kinds: Vec<KindCodec> = (0..EventKind::SYSCALL_LIMIT)
            .map(|nr| default_codec(EventKind::syscall(nr)))
            .collect();
        for (kind, codec) in exceptions {
            let index = usize::from(kind.0);
            while kinds.len() <= index {
                kinds.push(default_codec(EventKind(kinds.len() as u16)));
            }
            kinds[index] = codec;
        }
        CodecTable { version, kinds }
    }

    /// The table of an event layout version, if this casefile can decode it.
    pub fn for_layout(version: u32) -> Option<&'static CodecTable> {
        match version {
            1 => Some(v1()),
            _ => None,
        }
    }

    /// The table files are written with.
    pub fn current() -> &'static CodecTable {
        v1()
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn kind(&self, kind: EventKind) -> KindCodec {
        self.kinds
            .get(usize::from(kind.0))
            .copied()
            .unwrap_or_else(|| default_codec(kind))
    }
}

fn v1() -> &'static CodecTable {
    static TABLE: OnceLock<CodecTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        CodecTable::new(
            1,
            LAYOUT_V1
                .iter()
                .map(|&(kind, args, size_arg)| (EventKind(kind), KindCodec { args, size_arg })),
        )
    })
}

/// Layout version 1: (kind, argument count, size argument) of every kind that differs
/// from the default. Frozen: never edit a row, add a table for a new version instead.
#[rustfmt::skip]
const LAYOUT_V1: &[(u16, u8, Option<u8>)] = &[
    (0, 3, Some(1)), // read
    (1, 3, Some(1)), // write
    (2, 5, None), // open
    (3, 1, None), // close
    (10, 3, None), // mprotect
    (17, 4, Some(1)), // pread64
    (18, 4, Some(1)), // pwrite64
    (19, 3, Some(1)), // readv
    (20, 3, Some(1)), // writev
    (22, 3, None), // pipe
    (32, 1, None), // dup
    (33, 2, None), // dup2
    (41, 3, None), // socket
    (42, 3, None), // connect
    (43, 4, None), // accept
    (44, 4, Some(1)), // sendto
    (45, 4, Some(1)), // recvfrom
    (46, 4, Some(1)), // sendmsg
    (47, 4, Some(1)), // recvmsg
    (48, 2, None), // shutdown
    (49, 2, None), // bind
    (50, 2, None), // listen
    (53, 5, None), // socketpair
    (56, 1, None), // clone
    (57, 0, None), // fork
    (58, 0, None), // vfork
    (59, 22, None), // execve
    (62, 2, None), // kill
    (72, 3, None), // fcntl
    (76, 2, None), // truncate
    (77, 2, None), // ftruncate
    (80, 1, None), // chdir
    (81, 1, None), // fchdir
    (82, 2, None), // rename
    (83, 2, None), // mkdir
    (84, 1, None), // rmdir
    (85, 4, None), // creat
    (86, 2, None), // link
    (87, 1, None), // unlink
    (88, 2, None), // symlink
    (90, 2, None), // chmod
    (91, 2, None), // fchmod
    (92, 3, None), // chown
    (93, 3, None), // fchown
    (94, 3, None), // lchown
    (101, 4, None), // ptrace
    (105, 1, None), // setuid
    (106, 1, None), // setgid
    (113, 2, None), // setreuid
    (114, 2, None), // setregid
    (117, 3, None), // setresuid
    (119, 3, None), // setresgid
    (122, 1, None), // setfsuid
    (123, 1, None), // setfsgid
    (126, 3, None), // capset
    (157, 3, None), // prctl
    (161, 1, None), // chroot
    (165, 4, None), // mount
    (166, 2, None), // umount2
    (175, 2, None), // init_module
    (176, 2, None), // delete_module
    (200, 2, None), // tkill
    (234, 3, None), // tgkill
    (258, 3, None), // mkdirat
    (260, 5, None), // fchownat
    (263, 3, None), // unlinkat
    (264, 4, None), // renameat
    (265, 5, None), // linkat
    (266, 3, None), // symlinkat
    (268, 3, None), // fchmodat
    (272, 1, None), // unshare
    (288, 4, None), // accept4
    (292, 3, None), // dup3
    (293, 4, None), // pipe2
    (295, 4, Some(1)), // preadv
    (296, 4, Some(1)), // pwritev
    (308, 2, None), // setns
    (313, 3, None), // finit_module
    (316, 5, None), // renameat2
    (319, 2, None), // memfd_create
    (321, 1, None), // bpf
    (322, 24, None), // execveat
    (323, 1, None), // userfaultfd
    (425, 2, None), // io_uring_setup
    (435, 1, None), // clone3
    (437, 7, None), // openat2
    (1024, 3, None), // procfork
    (1025, 4, None), // procexit
    (1100, 2, None), // pluginevent
    (1200, 1, None), // capture_start
    (1201, 3, None), // capture_stop
    (1202, 3, None), // drops
    (1203, 2, None), // config_change
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{kind_info, EVENT_LAYOUT_VERSION};

    #[test]
    fn the_current_layout_is_the_frozen_table_of_its_version() {
        let table = CodecTable::for_layout(EVENT_LAYOUT_VERSION)
            .expect("the current layout version has a codec table");
        assert_eq!(CodecTable::current().version(), EVENT_LAYOUT_VERSION);
        for kind in 0..=u16::MAX {
            let info = kind_info(EventKind(kind));
            let schema = KindCodec {
                args: info.params.len() as u8,
                size_arg: info.size_param.map(|i| i as u8),
            };
            assert_eq!(
                table.kind(EventKind(kind)),
                schema,
                "the layout of `{}` ({kind}) changed: bump EVENT_LAYOUT_VERSION and \
                 freeze a codec table for the new version beside LAYOUT_V1",
                info.name
            );
        }
    }

    #[test]
    fn unnamed_kinds_take_the_defaults() {
        let table = CodecTable::current();
        assert_eq!(table.kind(EventKind::syscall(1000)), RAW_SYSCALL);
        assert_eq!(table.kind(EventKind(60000)), UNNAMED);
        assert!(CodecTable::for_layout(0).is_none());
    }
}
