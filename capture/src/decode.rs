//! Kernel records → casefile events. Most parameters map one to one onto the kind's
//! layout; exec needs the recorder's help (the path of the program, the cgroup's path),
//! and raw socket addresses are parsed here.

use crate::cgroups::CgroupResolver;
use casefile_ebpf::record::{Param, Record, RecordError, KIND_FORK, KIND_PROC_EXIT};
use casefile_formats::event::{
    ArgsBuilder, Event, EventKind, SockAddr, AF_INET, AF_INET6, AF_UNIX,
};
use casefile_formats::schema::syscall_nr;

/// Falco's execve flag for a program run from a memfd (`PPM_EXE_FROM_MEMFD`).
pub const EXE_FROM_MEMFD: u64 = 1 << 2;

/// Where facts sit in the execve layout (`casefile_formats::schema`), counted from
/// `filename`; execveat puts its dirfd before them.
mod exec_slot {
    pub const FILENAME: usize = 0;
    pub const EXEPATH: usize = 1;
    pub const CGROUP: usize = 14;
    pub const FLAGS: usize = 15;
    pub const COUNT: usize = 22;
}

pub struct Decoder {
    args: ArgsBuilder,
    cgroups: CgroupResolver,
    execve: u16,
    execveat: u16,
}

impl Decoder {
    pub fn new(cgroups: CgroupResolver) -> Decoder {
        Decoder {
            args: ArgsBuilder::new(),
            cgroups,
            execve: syscall_nr("execve").unwrap_or(59),
            execveat: syscall_nr("execveat").unwrap_or(322),
        }
    }

    /// The event a record stands for, borrowing this decoder's argument buffer.
    pub fn decode<'a>(&'a mut self, record: &Record<'_>) -> Result<Event<'a>, RecordError> {
        let header = record.header;
        self.args.clear();
        let params: Vec<Param<'_>> = record.params().collect::<Result<_, _>>()?;
        let is_exec = header.kind == self.execve || header.kind == self.execveat;
        if is_exec {
            self.exec_args(
                header.kind == self.execveat,
                header.pid,
                header.ret,
                &params,
            );
        } else {
            for param in &params {
                push_param(&mut self.args, param);
            }
        }
        let kind = match header.kind {
            KIND_FORK => EventKind::FORK,
            KIND_PROC_EXIT => EventKind::PROC_EXIT,
            nr => EventKind::syscall(nr),
        };
        Ok(Event {
            ts: header.ts,
            cpu: header.cpu,
            pid: header.pid,
            tid: header.tid,
            kind,
            ret: header.ret,
            args: self.args.as_list(),
        })
    }

    fn exec_args(&mut self, at: bool, pid: u32, ret: i64, params: &[Param<'_>]) {
        // execveat: dirfd first, the facts, then at_flags (sent last by the kernel).
        let (prefix, facts, suffix) = if at && !params.is_empty() {
            let at_flags = if params.len() > 1 {
                &params[params.len() - 1..]
            } else {
                &[][..]
            };
            (
                &params[..1],
                &params[1..params.len() - at_flags.len()],
                at_flags,
            )
        } else {
            (&[][..], params, &[][..])
        };
        for param in prefix {
            push_param(&mut self.args, param);
        }
        let filename = match facts.get(exec_slot::FILENAME) {
            Some(Param::Str(s)) => Some(*s),
            _ => None,
        };
        // The kernel's full path, or the file's own name (see `exepath`).
        let exe_name = match facts.get(exec_slot::EXEPATH) {
            Some(Param::Str(s)) if ret == 0 => Some(*s),
            _ => None,
        };
        let from_memfd = exe_name.is_some_and(|n| n.starts_with(b"memfd:"));
        for index in 0..exec_slot::COUNT.max(facts.len()) {
            let param = facts.get(index).copied().unwrap_or(Param::Absent);
            match index {
                exec_slot::EXEPATH if ret == 0 => match exepath(pid, filename, exe_name) {
                    Some(path) => self.args.str(&path),
                    None => self.args.absent(),
                },
                exec_slot::CGROUP => match param {
                    Param::Uint(id) => match self.cgroups.path(id, pid) {
                        Some(path) => self.args.str(path.as_bytes()),
                        None => self.args.absent(),
                    },
                    other => {
                        push_param(&mut self.args, &other);
                        &mut self.args
                    }
                },
                exec_slot::FLAGS if ret == 0 => {
                    self.args.uint(if from_memfd { EXE_FROM_MEMFD } else { 0 })
                }
                _ if index >= facts.len() && ret != 0 => {
                    // A failed exec only has the filename and argv; leave out the rest
                    // rather than pad it with absent values.
                    break;
                }
                _ => {
                    push_param(&mut self.args, &param);
                    &mut self.args
                }
            };
        }
        for param in suffix {
            push_param(&mut self.args, param);
        }
    }
}

/// The executable's path. The kernel sends the full path from the process's root when it
/// could build it (always absolute); otherwise the file's own name, never absolute (a
/// pseudo file such as a memfd, or a path over `PATH_MAX` or 64 steps deep), and only then
/// is it resolved here, as `/proc/PID/exe` would show it.
fn exepath(pid: u32, filename: Option<&[u8]>, exe_name: Option<&[u8]>) -> Option<Vec<u8>> {
    let name = exe_name?;
    if name.starts_with(b"/") {
        return Some(name.to_vec());
    }
    if name.starts_with(b"memfd:") {
        let mut path = b"/".to_vec();
        path.extend_from_slice(name);
        path.extend_from_slice(b" (deleted)");
        return Some(path);
    }
    if let Some(filename) = filename {
        if filename.starts_with(b"/") && filename.rsplit(|b| *b == b'/').next() == Some(name) {
            return Some(filename.to_vec());
        }
    }
    // Relative paths, symlinks and /dev/fd/N: ask the process while it lives.
    use std::os::unix::ffi::OsStrExt;
    if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/exe")) {
        return Some(link.as_os_str().as_bytes().to_vec());
    }
    Some(filename.unwrap_or(name).to_vec())
}

fn push_param(args: &mut ArgsBuilder, param: &Param<'_>) {
    match *param {
        Param::Absent => args.absent(),
        Param::Int(v) => args.int(v),
        Param::Uint(v) => args.uint(v),
        Param::Fd(v) => args.fd(v),
        Param::Str(s) => args.str(s),
        Param::Bytes(b) => args.bytes(b),
        Param::StrList(list) => {
            // The memory holds each item NUL-terminated; a cut list ends mid-item.
            let list = list.strip_suffix(b"\0").unwrap_or(list);
            if list.is_empty() {
                args.str_list(std::iter::empty())
            } else {
                args.str_list(list.split(|b| *b == 0))
            }
        }
        Param::Sock(raw) => match parse_sockaddr(raw) {
            Some(addr) => args.sock(&addr),
            None => args.absent(),
        },
    };
}

/// A raw `struct sockaddr` (family in host byte order, then the address).
pub fn parse_sockaddr(raw: &[u8]) -> Option<SockAddr<'_>> {
    let family = u16::from_le_bytes([*raw.first()?, *raw.get(1)?]);
    let port = || Some(u16::from_be_bytes([*raw.get(2)?, *raw.get(3)?]));
    Some(match family {
        AF_INET => SockAddr::Inet {
            port: port()?,
            addr: raw.get(4..8)?.try_into().ok()?,
        },
        AF_INET6 => SockAddr::Inet6 {
            port: port()?,
            addr: raw.get(8..24)?.try_into().ok()?,
        },
        AF_UNIX => {
            let path = raw.get(2..).unwrap_or_default();
            // Pathname sockets end at their NUL; abstract ones start with one and run to
            // the length given.
            let path = match path.first() {
                Some(0) => path,
                _ => path.split(|b| *b == 0).next().unwrap_or_default(),
            };
            SockAddr::Unix(path)
        }
        family => SockAddr::Other {
            family,
            data: raw.get(2..).unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addresses_parse() {
        let mut v4 = vec![2, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.extend_from_slice(&[0; 8]);
        assert_eq!(
            parse_sockaddr(&v4),
            Some(SockAddr::Inet {
                addr: [127, 0, 0, 1],
                port: 8080
            })
        );
        let mut v6 = vec![10, 0, 0, 80, 0, 0, 0, 0];
        let mut addr = [0u8; 16];
        addr[15] = 1;
        v6.extend_from_slice(&addr);
        v6.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse_sockaddr(&v6),
            Some(SockAddr::Inet6 { addr, port: 80 })
        );
        assert_eq!(
            parse_sockaddr(b"\x01\x00/run/x.sock\0\0\0"),
            Some(SockAddr::Unix(b"/run/x.sock"))
        );
        assert_eq!(
            parse_sockaddr(b"\x01\x00\0abstract"),
            Some(SockAddr::Unix(b"\0abstract"))
        );
        assert_eq!(parse_sockaddr(&[2, 0, 1]), None);
        assert_eq!(parse_sockaddr(&[]), None);
    }

    #[test]
    fn memfd_programs_get_the_kernels_exe_link_text() {
        assert_eq!(
            exepath(0, Some(b"/proc/self/fd/3"), Some(b"memfd:payload")).unwrap(),
            b"/memfd:payload (deleted)"
        );
        assert_eq!(
            exepath(0, Some(b"/usr/bin/curl"), Some(b"curl")).unwrap(),
            b"/usr/bin/curl"
        );
    }

    #[test]
    fn a_path_the_kernel_built_is_kept_as_it_is() {
        // Not the filename asked for (a symlink), nor anything from /proc: pid 0 has none.
        assert_eq!(
            exepath(0, Some(b"/bin/echo"), Some(b"/usr/bin/echo")).unwrap(),
            b"/usr/bin/echo"
        );
        assert_eq!(
            exepath(0, Some(b"./x"), Some(b"/srv/app/x")).unwrap(),
            b"/srv/app/x"
        );
    }
}
