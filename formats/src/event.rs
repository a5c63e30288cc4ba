//! The event model: the one stream that flows from live capture (or a capture file) into
//! the state engine, the rule evaluator, exports and the TUI.
//!
//! An [`Event`] is a fixed header (time, cpu, pid, tid, kind, return value) plus an
//! [`ArgList`]: typed arguments in a compact tagged encoding, borrowed zero-copy from the
//! block they were decoded from. The meaning and names of the arguments of each kind are
//! in [`crate::schema`]; the byte layout is specified in `docs/EVENTS.md`.

use crate::varint::{self, Cursor};
use std::fmt;

/// What an event is. Values below [`EventKind::SYSCALL_LIMIT`] are x86_64 syscall numbers;
/// the rest are process lifecycle, other-source and capture meta events.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKind(pub u16);

impl EventKind {
    /// Syscall numbers occupy `0..SYSCALL_LIMIT`.
    pub const SYSCALL_LIMIT: u16 = 1024;
    /// `sched_process_fork`: a new thread or process, in the parent's context.
    pub const FORK: EventKind = EventKind(1024);
    /// `sched_process_exit`: a thread ended (Falco's `procexit`).
    pub const PROC_EXIT: EventKind = EventKind(1025);
    /// A record from another source on the same timeline (CloudTrail, Kubernetes audit…).
    pub const SOURCE: EventKind = EventKind(1100);
    /// The recorder started capturing (configuration in the arguments).
    pub const CAPTURE_START: EventKind = EventKind(1200);
    /// The recorder stopped capturing (reason in the arguments).
    pub const CAPTURE_STOP: EventKind = EventKind(1201);
    /// Events the kernel side could not deliver (ring buffer full), per CPU.
    pub const DROPS: EventKind = EventKind(1202);
    /// The capture configuration changed while recording.
    pub const CONFIG_CHANGE: EventKind = EventKind(1203);

    pub const fn syscall(nr: u16) -> EventKind {
        EventKind(nr)
    }

    /// The syscall number, when this is a syscall event.
    pub fn syscall_nr(self) -> Option<u16> {
        (self.0 < Self::SYSCALL_LIMIT).then_some(self.0)
    }

    pub fn is_syscall(self) -> bool {
        self.0 < Self::SYSCALL_LIMIT
    }

    /// The event type name, as Falco's `evt.type` spells it.
    pub fn name(self) -> &'static str {
        crate::schema::kind_info(self).name
    }
}

impl fmt::Debug for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One event: a completed syscall, a process lifecycle change, a record from another
/// source or a capture meta event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Nanoseconds since boot (CLOCK_BOOTTIME, as the kernel's `bpf_ktime_get_boot_ns`);
    /// add the header's `boot_time_ns` for wall-clock time.
    pub ts: u64,
    pub cpu: u16,
    /// Thread group id (what userspace calls the pid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub kind: EventKind,
    /// A syscall's return value (negative errno on failure); 0 for other kinds.
    pub ret: i64,
    pub args: ArgList<'a>,
}

impl<'a> Event<'a> {
    pub fn to_owned_event(&self) -> OwnedEvent {
        OwnedEvent {
            ts: self.ts,
            cpu: self.cpu,
            pid: self.pid,
            tid: self.tid,
            kind: self.kind,
            ret: self.ret,
            args: self.args.as_bytes().to_vec(),
        }
    }

    /// The argument named `name` in this kind's layout, if present.
    pub fn arg(&self, name: &str) -> Option<Arg<'a>> {
        let index = crate::schema::kind_info(self.kind)
            .params
            .iter()
            .position(|p| p.name == name)?;
        self.args.get(index)
    }

    /// Wall-clock nanoseconds since the Unix epoch, given the capture's boot time.
    pub fn wall_ns(&self, boot_time_ns: u64) -> u64 {
        boot_time_ns.saturating_add(self.ts)
    }
}

/// An event that owns its argument bytes: for building streams and keeping events past
/// the life of the block they came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedEvent {
    pub ts: u64,
    pub cpu: u16,
    pub pid: u32,
    pub tid: u32,
    pub kind: EventKind,
    pub ret: i64,
    /// Encoded arguments (see [`ArgsBuilder`]).
    pub args: Vec<u8>,
}

impl OwnedEvent {
    pub fn as_event(&self) -> Event<'_> {
        Event {
            ts: self.ts,
            cpu: self.cpu,
            pid: self.pid,
            tid: self.tid,
            kind: self.kind,
            ret: self.ret,
            args: ArgList::trusted(&self.args),
        }
    }
}

/// One argument value. Strings are raw bytes as the kernel saw them: paths and names
/// need not be UTF-8 (render them with [`crate::text::escape`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg<'a> {
    /// The value could not be read (user memory not mapped, field not applicable).
    Absent,
    Int(i64),
    Uint(u64),
    /// A file descriptor (or `AT_FDCWD`, -100).
    Fd(i64),
    /// A path or name.
    Str(&'a [u8]),
    /// A snapshot of an I/O buffer, truncated to the capture's snaplen.
    Bytes(&'a [u8]),
    /// A list of strings (argv, environment).
    StrList(StrList<'a>),
    /// A socket address.
    Sock(SockAddr<'a>),
}

impl Arg<'_> {
    /// The value of an integer argument, whichever integer form it was written in: the
    /// kernel writes a pid as signed, a synthetic fixture may write it unsigned.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Arg::Uint(v) => Some(v),
            Arg::Int(v) | Arg::Fd(v) => Some(v as u64),
            _ => None,
        }
    }

    /// As [`Arg::as_u64`], read as signed.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_u64().map(|v| v as i64)
    }
}

/// Argument tags in the encoding; see `docs/EVENTS.md`.
pub(crate) mod tag {
    pub const ABSENT: u8 = 0;
    pub const INT: u8 = 1;
    pub const UINT: u8 = 2;
    pub const FD: u8 = 3;
    pub const STR: u8 = 4;
    pub const BYTES: u8 = 5;
    pub const STR_LIST: u8 = 6;
    pub const SOCK: u8 = 7;
}

/// Socket address families as Linux numbers them.
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SockAddr<'a> {
    Inet {
        addr: [u8; 4],
        port: u16,
    },
    Inet6 {
        addr: [u8; 16],
        port: u16,
    },
    /// A unix socket path (abstract names start with a NUL byte).
    Unix(&'a [u8]),
    /// Any other family, with its raw address bytes.
    Other {
        family: u16,
        data: &'a [u8],
    },
}

impl SockAddr<'_> {
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Inet { .. } => AF_INET,
            SockAddr::Inet6 { .. } => AF_INET6,
            SockAddr::Unix(_) => AF_UNIX,
            SockAddr::Other { family, .. } => *family,
        }
    }

    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            SockAddr::Inet { addr, .. } => Some(std::net::Ipv4Addr::from(*addr).into()),
            SockAddr::Inet6 { addr, .. } => Some(std::net::Ipv6Addr::from(*addr).into()),
            _ => None,
        }
    }

    pub fn port(&self) -> Option<u16> {
        match self {
            SockAddr::Inet { port, .. } | SockAddr::Inet6 { port, .. } => Some(*port),
            _ => None,
        }
    }
}

impl fmt::Display for SockAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddr::Inet { addr, port } => {
                write!(f, "{}:{port}", std::net::Ipv4Addr::from(*addr))
            }
            SockAddr::Inet6 { addr, port } => {
                write!(f, "[{}]:{port}", std::net::Ipv6Addr::from(*addr))
            }
            SockAddr::Unix(path) => write!(f, "unix:{}", crate::text::escape(path)),
            SockAddr::Other { family, data } => {
                write!(f, "af{family}:")?;
                data.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

/// An encoded list of strings; iterate it with [`StrList::iter`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StrList<'a> {
    count: usize,
    encoded: &'a [u8],
}

impl<'a> StrList<'a> {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut cursor = Cursor::new(self.encoded);
        std::iter::from_fn(move || cursor.len_prefixed())
    }
}

impl fmt::Debug for StrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(crate::text::escape))
            .finish()
    }
}

/// The encoded arguments of one event. Lists handed out by the reader have been
/// validated when their block was decoded, so iteration cannot fail; a list built
/// from unchecked bytes must go through [`ArgList::parse`].
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ArgList<'a>(&'a [u8]);

/// Arguments that do not follow the encoding (damaged or hostile input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed argument encoding at byte {offset} of the argument list")]
pub struct MalformedArgs {
    pub offset: usize,
}

impl<'a> ArgList<'a> {
    /// Checks that `bytes` is a well-formed argument list.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MalformedArgs> {
        let mut cursor = Cursor::new(bytes);
        while !cursor.is_empty() {
            let offset = cursor.position();
            if decode_arg(&mut cursor).is_none() {
                return Err(MalformedArgs { offset });
            }
        }
        Ok(ArgList(bytes))
    }

    /// Checks the first `count` arguments at the start of `bytes` and returns them with
    /// the number of bytes they take (how a block stores argument lists back to back).
    pub fn parse_prefix(bytes: &'a [u8], count: usize) -> Result<(Self, usize), MalformedArgs> {
        let mut cursor = Cursor::new(bytes);
        for _ in 0..count {
            let offset = cursor.position();
            if decode_arg(&mut cursor).is_none() {
                return Err(MalformedArgs { offset });
            }
        }
        let used = cursor.position();
        Ok((ArgList(&bytes[..used]), used))
    }

    /// For bytes produced by [`ArgsBuilder`] or already validated.
    pub(crate) fn trusted(bytes: &'a [u8]) -> Self {
        ArgList(bytes)
    }

    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    pub fn iter(&self) -> ArgIter<'a> {
        ArgIter {
            cursor: Cursor::new(self.0),
        }
    }

    pub fn get(&self, index: usize) -> Option<Arg<'a>> {
        // Skipping the arguments before `index` needs only their lengths, not their
        // values: the state engine and the fields read arguments by index on every event.
        let mut cursor = Cursor::new(self.0);
        for _ in 0..index {
            if cursor.is_empty() {
                return None;
            }
            skip_arg(&mut cursor)?;
        }
        if cursor.is_empty() {
            return None;
        }
        decode_arg(&mut cursor)
    }

    pub fn len(&self) -> usize {
        let mut cursor = Cursor::new(self.0);
        let mut count = 0;
        while !cursor.is_empty() && skip_arg(&mut cursor).is_some() {
            count += 1;
        }
        count
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ArgList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

pub struct ArgIter<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Iterator for ArgIter<'a> {
    type Item = Arg<'a>;

    fn next(&mut self) -> Option<Arg<'a>> {
        if self.cursor.is_empty() {
            return None;
        }
        decode_arg(&mut self.cursor)
    }
}

/// The extent of one encoded argument starting at `start`: its tag, where it ends, and
/// for strings and byte buffers the range of their content. `None` if malformed.
#[inline(always)]
pub(crate) fn arg_span(
    bytes: &[u8],
    start: usize,
) -> Option<(u8, usize, Option<std::ops::Range<usize>>)> {
    let mut cursor = Cursor::new(bytes.get(start..)?);
    let tag = *bytes.get(start)?;
    let content = skip_arg(&mut cursor)?;
    let end = start + cursor.position();
    Some((tag, end, content.map(|c| start + c.start..start + c.end)))
}

/// Steps over one argument, accepting exactly what [`decode_arg`] accepts, and returns
/// the range of a string's or buffer's content (relative to the cursor's buffer).
#[inline(always)]
fn skip_arg(cursor: &mut Cursor<'_>) -> Option<Option<std::ops::Range<usize>>> {
    match cursor.u8()? {
        tag::ABSENT => {}
        tag::INT | tag::UINT | tag::FD => {
            cursor.u64()?;
        }
        tag::STR | tag::BYTES => {
            let len = usize::try_from(cursor.u64()?).ok()?;
            let start = cursor.position();
            cursor.bytes(len)?;
            return Some(Some(start..start + len));
        }
        other => {
            decode_compound(other, cursor)?;
        }
    }
    Some(None)
}

#[inline]
fn decode_arg<'a>(cursor: &mut Cursor<'a>) -> Option<Arg<'a>> {
    Some(match cursor.u8()? {
        tag::ABSENT => Arg::Absent,
        tag::INT => Arg::Int(cursor.i64()?),
        tag::UINT => Arg::Uint(cursor.u64()?),
        tag::FD => Arg::Fd(cursor.i64()?),
        tag::STR => Arg::Str(cursor.len_prefixed()?),
        tag::BYTES => Arg::Bytes(cursor.len_prefixed()?),
        other => return decode_compound(other, cursor),
    })
}

/// String lists, sockets and unknown tags (after the tag byte): rare, and their
/// validation is kept out of the inlined common path.
#[inline(never)]
fn decode_compound<'a>(tag: u8, cursor: &mut Cursor<'a>) -> Option<Arg<'a>> {
    Some(match tag {
        tag::STR_LIST => {
            let count = usize::try_from(cursor.u64()?).ok()?;
            let encoded = cursor.len_prefixed()?;
            let mut inner = Cursor::new(encoded);
            for _ in 0..count {
                inner.len_prefixed()?;
            }
            if !inner.is_empty() {
                return None;
            }
            Arg::StrList(StrList { count, encoded })
        }
        tag::SOCK => {
            let mut inner = Cursor::new(cursor.len_prefixed()?);
            let family = u16::try_from(inner.u64()?).ok()?;
            let rest = inner.rest();
            Arg::Sock(match family {
                AF_INET if rest.len() == 6 => Arg4::inet(rest),
                AF_INET6 if rest.len() == 18 => Arg4::inet6(rest),
                AF_INET | AF_INET6 => return None,
                AF_UNIX => SockAddr::Unix(rest),
                family => SockAddr::Other { family, data: rest },
            })
        }
        _ => return None,
    })
}

/// Helpers to build fixed-size socket addresses from their encoded bytes.
struct Arg4;

impl Arg4 {
    fn inet(rest: &[u8]) -> SockAddr<'static> {
        let mut addr = [0u8; 4];
        addr.copy_from_slice(&rest[..4]);
        SockAddr::Inet {
            addr,
            port: u16::from_be_bytes([rest[4], rest[5]]),
        }
    }

    fn inet6(rest: &[u8]) -> SockAddr<'static> {
        let mut addr = [0u8; 16];
        addr.copy_from_slice(&rest[..16]);
        SockAddr::Inet6 {
            addr,
            port: u16::from_be_bytes([rest[16], rest[17]]),
        }
    }
}

/// Builds an encoded argument list, one argument after another in the kind's layout order.
#[derive(Default, Clone, Debug)]
pub struct ArgsBuilder {
    buf: Vec<u8>,
}

impl ArgsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.buf.clear();
    }

    pub fn absent(&mut self) -> &mut Self {
        self.buf.push(tag::ABSENT);
        self
    }

    pub fn int(&mut self, v: i64) -> &mut Self {
        self.buf.push(tag::INT);
        varint::put_i64(&mut self.buf, v);
        self
    }

    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.buf.push(tag::UINT);
        varint::put_u64(&mut self.buf, v);
        self
    }

    pub fn fd(&mut self, v: i64) -> &mut Self {
        self.buf.push(tag::FD);
        varint::put_i64(&mut self.buf, v);
        self
    }

    pub fn str(&mut self, s: &[u8]) -> &mut Self {
        self.buf.push(tag::STR);
        self.put_bytes(s);
        self
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.push(tag::BYTES);
        self.put_bytes(b);
        self
    }

    pub fn str_list<'s>(&mut self, items: impl IntoIterator<Item = &'s [u8]>) -> &mut Self {
        let mut inner = Vec::new();
        let mut count = 0u64;
        for item in items {
            varint::put_u64(&mut inner, item.len() as u64);
            inner.extend_from_slice(item);
            count += 1;
        }
        self.buf.push(tag::STR_LIST);
        varint::put_u64(&mut self.buf, count);
        self.put_bytes(&inner);
        self
    }

    pub fn sock(&mut self, addr: &SockAddr<'_>) -> &mut Self {
        let mut inner = Vec::with_capacity(24);
        varint::put_u64(&mut inner, u64::from(addr.family()));
        match addr {
            SockAddr::Inet { addr, port } => {
                inner.extend_from_slice(addr);
                inner.extend_from_slice(&port.to_be_bytes());
            }
            SockAddr::Inet6 { addr, port } => {
                inner.extend_from_slice(addr);
                inner.extend_from_slice(&port.to_be_bytes());
            }
            SockAddr::Unix(path) => inner.extend_from_slice(path),
            SockAddr::Other { data, .. } => inner.extend_from_slice(data),
        }
        self.buf.push(tag::SOCK);
        self.put_bytes(&inner);
        self
    }

    pub fn push(&mut self, arg: &Arg<'_>) -> &mut Self {
        match arg {
            Arg::Absent => self.absent(),
            Arg::Int(v) => self.int(*v),
            Arg::Uint(v) => self.uint(*v),
            Arg::Fd(v) => self.fd(*v),
            Arg::Str(s) => self.str(s),
            Arg::Bytes(b) => self.bytes(b),
            Arg::StrList(list) => self.str_list(list.iter()),
            Arg::Sock(addr) => self.sock(addr),
        }
    }

    fn put_bytes(&mut self, b: &[u8]) {
        varint::put_u64(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn as_list(&self) -> ArgList<'_> {
        ArgList::trusted(&self.buf)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_argument_type_round_trips() {
        let args = [
            Arg::Absent,
            Arg::Int(-5),
            Arg::Uint(u64::MAX),
            Arg::Fd(-100),
            Arg::Str(b"/etc/\xffpasswd"),
            Arg::Bytes(b"\x00\x01GET / HTTP/1.1"),
            Arg::Sock(SockAddr::Inet {
                addr: [169, 254, 169, 254],
                port: 80,
            }),
            Arg::Sock(SockAddr::Inet6 {
                addr: [0xfe; 16],
                port: 443,
            }),
            Arg::Sock(SockAddr::Unix(b"\0abstract")),
            Arg::Sock(SockAddr::Other {
                family: 17,
                data: b"\x01\x02",
            }),
        ];
        let mut builder = ArgsBuilder::new();
        for a in &args {
            builder.push(a);
        }
        builder.str_list([&b"curl"[..], b"-s", b""]);
        let parsed = ArgList::parse(builder.as_bytes()).expect("well formed");
        let decoded: Vec<_> = parsed.iter().collect();
        assert_eq!(&decoded[..args.len()], &args[..]);
        match decoded[args.len()] {
            Arg::StrList(list) => {
                assert_eq!(list.iter().collect::<Vec<_>>(), [&b"curl"[..], b"-s", b""])
            }
            other => panic!("expected a string list, got {other:?}"),
        }
    }

    proptest::proptest! {
        /// Indexed access and the argument count skip arguments without decoding them;
        /// they must agree with full decoding on any bytes, well formed or not.
        #[test]
        fn skipping_agrees_with_decoding(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![0u8..8, proptest::prelude::any::<u8>()],
                0..64,
            ),
            index in 0usize..12,
        ) {
            let list = ArgList(&bytes);
            proptest::prop_assert_eq!(list.get(index), list.iter().nth(index));
            proptest::prop_assert_eq!(list.len(), list.iter().count());
            let mut cursor = Cursor::new(&bytes);
            let mut start = 0;
            while let Some((tag, end, content)) = arg_span(&bytes, start) {
                let arg = decode_arg(&mut cursor);
                proptest::prop_assert!(arg.is_some());
                proptest::prop_assert_eq!(cursor.position(), end);
                proptest::prop_assert_eq!(tag, bytes[start]);
                match arg {
                    Some(Arg::Str(c) | Arg::Bytes(c)) => {
                        proptest::prop_assert_eq!(content.map(|r| &bytes[r]), Some(c))
                    }
                    _ => proptest::prop_assert!(content.is_none()),
                }
                start = end;
            }
            proptest::prop_assert!(decode_arg(&mut cursor).is_none());
        }
    }

    #[test]
    fn malformed_lists_are_rejected_with_offset() {
        let mut builder = ArgsBuilder::new();
        builder.int(1).str(b"abc");
        let mut bytes = builder.finish();
        bytes.pop();
        assert_eq!(ArgList::parse(&bytes), Err(MalformedArgs { offset: 2 }));
        assert!(ArgList::parse(&[42]).is_err());
        // An inet address of the wrong length.
        assert!(ArgList::parse(&[tag::SOCK, 3, 2, 1, 2]).is_err());
    }
}
