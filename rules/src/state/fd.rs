//! File descriptors as the state engine keeps them: what each refers to, with the
//! names Falco's `fd.*` fields show (`fd.name` of a connected socket is
//! `client_ip:port->server_ip:port`).

use casefile_formats::event::{Arg, SockAddr, AF_INET, AF_INET6, AF_UNIX};
use casefile_formats::state::{ByteString, SocketInfo};
use std::net::{IpAddr, SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Pipe,
    Memfd,
    Other,
}

impl FdKind {
    /// Falco's `fd.typechar`.
    pub fn typechar(self) -> char {
        char::from(self.typechar_str().as_bytes()[0])
    }

    /// [`FdKind::typechar`] as a string, which `fd.typechar` borrows instead of allocating.
    pub fn typechar_str(self) -> &'static str {
        match self {
            FdKind::File | FdKind::Memfd => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Pipe => "p",
            FdKind::Other => "o",
        }
    }

    /// Falco's `fd.type`.
    pub fn type_name(self) -> &'static str {
        match self {
            FdKind::File | FdKind::Memfd => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Pipe => "pipe",
            FdKind::Other => "other",
        }
    }
}

/// Which end of a connection a socket is: one representation with the snapshot's.
pub use casefile_formats::state::SocketRole as Role;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Socket {
    /// 6 TCP, 17 UDP, 0 unknown.
    pub l4proto: u8,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    pub role: Role,
}

impl Socket {
    /// Falco's `fd.l4proto` (`tcp`, `udp`, `icmp`, `raw`); `None` while the protocol is
    /// unknown, which the field shows as `<NA>` and SQL as NULL. The one spelling the
    /// rules and the tables share.
    pub fn l4proto_name(&self) -> Option<&'static str> {
        l4proto_name(self.l4proto)
    }
}

/// [`Socket::l4proto_name`] of an IP protocol number.
pub fn l4proto_name(proto: u8) -> Option<&'static str> {
    match proto {
        0 => None,
        6 => Some("tcp"),
        17 => Some("udp"),
        1 | 58 => Some("icmp"),
        _ => Some("raw"),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fd {
    pub kind: FdKind,
    /// Falco's `fd.name`: the resolved path, or the connection, or `pipe:[ino]`.
    pub name: ByteString,
    /// The path as the program passed it (`fd.nameraw`), for files opened here.
    pub name_raw: ByteString,
    /// Open flags (`O_*`), for files.
    pub flags: u32,
    pub cloexec: bool,
    pub socket: Option<Socket>,
}

const SOCK_CLOEXEC: u64 = 0o2_000_000;

impl Fd {
    pub fn new(kind: FdKind, name: ByteString, flags: u32, cloexec: bool) -> Fd {
        Fd {
            kind,
            name_raw: name.clone(),
            name,
            flags,
            cloexec,
            socket: None,
        }
    }

    pub fn socket(domain: u16, kind: u64, proto: u8) -> Fd {
        let fd_kind = match domain {
            AF_INET => FdKind::Ipv4,
            AF_INET6 => FdKind::Ipv6,
            AF_UNIX => FdKind::Unix,
            _ => FdKind::Other,
        };
        let l4proto = match (proto, kind & 0xf) {
            (0, 1) if domain != AF_UNIX => 6,
            (0, 2) if domain != AF_UNIX => 17,
            (p, _) => p,
        };
        Fd {
            kind: fd_kind,
            name: ByteString::default(),
            name_raw: ByteString::default(),
            flags: 0,
            cloexec: kind & SOCK_CLOEXEC != 0,
            socket: Some(Socket {
                l4proto,
                ..Socket::default()
            }),
        }
    }

    pub(crate) fn from_socket_info(info: &SocketInfo) -> Fd {
        let mut fd = Fd::socket(info.family, 1, info.l4proto);
        if let Some(socket) = fd.socket.as_mut() {
            socket.local = info.local.parse().ok();
            socket.remote = info
                .remote
                .parse()
                .ok()
                .filter(|r: &SocketAddr| r.port() != 0);
            socket.role = Role::Unknown;
        }
        fd.name = ByteString(format!("{}->{}", info.local, info.remote).into_bytes());
        fd
    }

    /// Records the ends of a connection; `remote` and `local` are sockaddr arguments.
    pub(crate) fn connect(&mut self, remote: Option<Arg<'_>>, local: Option<Arg<'_>>, role: Role) {
        let remote = sock(remote);
        let local = sock(local);
        if let Some(SockAddr::Unix(path)) = remote.or(local) {
            self.kind = FdKind::Unix;
            if !path.is_empty() {
                self.name = ByteString(path.to_vec());
            }
            return;
        }
        let socket = self.socket.get_or_insert_with(Socket::default);
        if let Some(addr) = remote.and_then(inet) {
            socket.remote = Some(addr);
            self.kind = if addr.is_ipv4() {
                FdKind::Ipv4
            } else {
                FdKind::Ipv6
            };
        }
        if let Some(addr) = local.and_then(inet) {
            socket.local = Some(addr);
        }
        if socket.l4proto == 0 {
            socket.l4proto = 6;
        }
        socket.role = role;
        let show = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_else(|| "?".into());
        let (client, server) = match role {
            Role::Server => (socket.remote, socket.local),
            _ => (socket.local, socket.remote),
        };
        self.name = ByteString(format!("{}->{}", show(client), show(server)).into_bytes());
    }

    pub(crate) fn bind(&mut self, local: Option<Arg<'_>>) {
        match sock(local) {
            Some(SockAddr::Unix(path)) => {
                self.kind = FdKind::Unix;
                self.name = ByteString(path.to_vec());
            }
            Some(addr) => {
                if let (Some(addr), Some(socket)) = (inet(addr), self.socket.as_mut()) {
                    socket.local = Some(addr);
                    self.name = ByteString(addr.to_string().into_bytes());
                }
            }
            None => {}
        }
    }
}

fn sock(arg: Option<Arg<'_>>) -> Option<SockAddr<'_>> {
    match arg {
        Some(Arg::Sock(s)) => Some(s),
        _ => None,
    }
}

fn inet(addr: SockAddr<'_>) -> Option<SocketAddr> {
    match addr {
        SockAddr::Inet { addr, port } => Some(SocketAddr::new(IpAddr::from(addr), port)),
        SockAddr::Inet6 { addr, port } => Some(SocketAddr::new(IpAddr::from(addr), port)),
        _ => None,
    }
}
