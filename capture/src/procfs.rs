//! The `/proc` scan that becomes a capture's state snapshot: every process with its
//! threads, command line, credentials, cgroup, namespaces and open file descriptors,
//! sockets resolved through the socket tables of each network namespace.
//!
//! Everything here is read from a live, changing system: a process that ends mid-scan
//! is skipped, a field that cannot be read stays at its default, and no content is
//! trusted to be well formed. Container ids come from the cgroup path through
//! `casefile_rules::state::container`, which the state engine shares.

use casefile_formats::state::{
    ByteString, FdEntry, FdTarget, Namespaces, ProcessEntry, SocketInfo,
};
use casefile_rules::state::container;
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// What a scan found, and what kept it from seeing the whole system.
#[derive(Debug, Default)]
pub struct ProcScan {
    /// Sorted by pid.
    pub processes: Vec<ProcessEntry>,
    /// Problems with `/proc` as a whole, never with single processes: those come and
    /// go during any scan.
    pub warnings: Vec<String>,
}

/// Inet and unix sockets of one network namespace, by inode.
#[derive(Default)]
struct SocketTable {
    inet: HashMap<u64, SocketInfo>,
    unix: HashMap<u64, ByteString>,
}

/// Socket tables by network namespace inode. Parsing them costs more than the rest of a
/// process together, and most hosts run all processes in one namespace.
type TableCache = HashMap<u64, SocketTable>;

pub fn scan(proc_root: &Path) -> ProcScan {
    let mut warnings = Vec::new();
    let entries = match std::fs::read_dir(proc_root) {
        Ok(entries) => entries,
        Err(e) => {
            warnings.push(format!(
                "{}: cannot list processes ({e}); the capture starts without a process table",
                proc_root.display()
            ));
            return ProcScan {
                processes: Vec::new(),
                warnings,
            };
        }
    };
    let mut pids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    if pids.is_empty() {
        // At least the scanner itself runs, so an empty listing means no procfs here.
        warnings.push(format!(
            "{}: no processes listed (is proc mounted?); the capture starts without a process table",
            proc_root.display()
        ));
    }
    pids.sort_unstable();
    let mut tables = TableCache::new();
    let tick_ns = clock_tick_ns();
    let processes = pids
        .into_iter()
        .filter_map(|pid| read_with(proc_root, pid, &mut tables, tick_ns))
        .collect();
    ProcScan {
        processes,
        warnings,
    }
}

/// One process, for filling in a process the event stream meets before knowing it.
///
/// `pid` must be a thread group id: `/proc` also answers for thread ids that it does not
/// list, and those give `None` rather than a second, bogus copy of their process.
pub fn read_process(proc_root: &Path, pid: u32) -> Option<ProcessEntry> {
    read_with(proc_root, pid, &mut TableCache::new(), clock_tick_ns())
}

fn clock_tick_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        1_000_000_000 / ticks as u64
    } else {
        10_000_000
    }
}

fn read_with(
    proc_root: &Path,
    pid: u32,
    tables: &mut TableCache,
    tick_ns: u64,
) -> Option<ProcessEntry> {
    let dir = proc_root.join(pid.to_string());
    // `stat` first: a process that is gone is skipped whole.
    let stat = parse_stat(&std::fs::read(dir.join("stat")).ok()?)?;
    let status = std::fs::read(dir.join("status")).unwrap_or_default();
    if status_line(&status, b"Tgid:")
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|tgid| tgid != pid)
    {
        return None;
    }
    let ids = |key: &[u8]| status_ids(&status, key);
    let (uid, euid) = ids(b"Uid:").unwrap_or((0, 0));
    let (gid, egid) = ids(b"Gid:").unwrap_or((0, 0));
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let mut argv = split_nul(&cmdline).into_iter();
    let cgroup = read_cgroup(&std::fs::read(dir.join("cgroup")).unwrap_or_default());
    let found = container::from_cgroup(cgroup.as_bytes());
    let namespaces = Namespaces {
        pid: ns_inode(&dir, "pid"),
        mnt: ns_inode(&dir, "mnt"),
        net: ns_inode(&dir, "net"),
        uts: ns_inode(&dir, "uts"),
        ipc: ns_inode(&dir, "ipc"),
        user: ns_inode(&dir, "user"),
        cgroup: ns_inode(&dir, "cgroup"),
    };
    let mut tids: Vec<u32> = std::fs::read_dir(dir.join("task"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if tids.is_empty() {
        tids.push(pid);
    }
    tids.sort_unstable();
    let mut sockets = Sockets {
        dir: &dir,
        netns: namespaces.net,
        tables,
        own: None,
    };
    let fds = read_fds(&dir, &mut sockets);
    let exe = ExeFile::of(&dir);
    Some(ProcessEntry {
        pid,
        ppid: stat.ppid,
        tids,
        comm: ByteString(stat.comm),
        exe: argv.next().map(ByteString).unwrap_or_default(),
        exepath: read_link(&dir.join("exe")),
        args: argv.map(ByteString).collect(),
        cwd: read_link(&dir.join("cwd")),
        uid,
        euid,
        gid,
        egid,
        loginuid: std::fs::read_to_string(dir.join("loginuid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX),
        tty: stat.tty,
        sid: stat.sid,
        pgid: stat.pgid,
        start_ts: stat.start_ticks.saturating_mul(tick_ns),
        container_id: found.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        pod_uid: found.map(|c| c.pod_uid).unwrap_or_default(),
        cgroup,
        namespaces,
        cap_inheritable: status_hex(&status, b"CapInh:"),
        cap_permitted: status_hex(&status, b"CapPrm:"),
        cap_effective: status_hex(&status, b"CapEff:"),
        fds,
        exe_ino: exe.ino,
        exe_ctime: exe.ctime,
        exe_mtime: exe.mtime,
        exe_from_memfd: None,
    })
}

/// The executable's inode and times (`proc.exe_ino*`), as the exec event gives them
/// for processes started during the capture. Unknown (0, `None`) for kernel threads and
/// processes whose `exe` link is not ours to follow.
#[derive(Default)]
struct ExeFile {
    ino: u64,
    ctime: Option<u64>,
    mtime: Option<u64>,
}

impl ExeFile {
    fn of(dir: &Path) -> ExeFile {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(dir.join("exe")) else {
            return ExeFile::default();
        };
        // Whole seconds, as the recorder's exec event reads them from the inode, so that
        // a process shows the same times whether met in the snapshot or at its exec.
        let ns = |secs: i64| u64::try_from(secs).ok()?.checked_mul(1_000_000_000);
        ExeFile {
            ino: meta.ino(),
            ctime: ns(meta.ctime()),
            mtime: ns(meta.mtime()),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Stat {
    comm: Vec<u8>,
    ppid: u32,
    pgid: u32,
    sid: u32,
    tty: u32,
    start_ticks: u64,
}

/// `/proc/PID/stat`. The name sits in parentheses and may itself hold spaces and `)`,
/// so the fields after it are found from the last `)`.
fn parse_stat(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|b| *b == b'(')?;
    let close = text.iter().rposition(|b| *b == b')')?;
    if close < open {
        return None;
    }
    let comm = text[open + 1..close].to_vec();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // After the name: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) … starttime(22).
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    Some(Stat {
        comm,
        ppid: field(4)? as u32,
        pgid: field(5).unwrap_or(0) as u32,
        sid: field(6).unwrap_or(0) as u32,
        tty: field(7).unwrap_or(0) as u32,
        start_ticks: field(22).unwrap_or(0).max(0) as u64,
    })
}

fn status_line<'a>(status: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let line = status.split(|b| *b == b'\n').find(|l| l.starts_with(key))?;
    std::str::from_utf8(&line[key.len()..]).ok()
}

/// The real and effective ids of a `Uid:` or `Gid:` line (real, effective, saved, fs).
fn status_ids(status: &[u8], key: &[u8]) -> Option<(u32, u32)> {
    let mut ids = status_line(status, key)?.split_ascii_whitespace();
    let real = ids.next()?.parse().ok()?;
    let effective = ids.next()?.parse().ok()?;
    Some((real, effective))
}

fn status_hex(status: &[u8], key: &[u8]) -> Option<u64> {
    let text = status_line(status, key)?.trim();
    // from_str_radix would also take a sign.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

fn split_nul(bytes: &[u8]) -> Vec<Vec<u8>> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// The cgroup v2 line (`0::/path`), or on v1-only hosts the cpu controller's.
fn read_cgroup(text: &[u8]) -> ByteString {
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    if let Some(line) = lines.iter().find(|l| l.starts_with(b"0::")) {
        return ByteString(line[3..].to_vec());
    }
    for line in &lines {
        let mut parts = line.splitn(3, |b| *b == b':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        if let (Some(controllers), Some(path)) = (controllers, path) {
            if controllers.split(|b| *b == b',').any(|c| c == b"cpu") {
                return ByteString(path.to_vec());
            }
        }
    }
    ByteString::default()
}

fn read_link(path: &Path) -> ByteString {
    std::fs::read_link(path)
        .map(|p| ByteString(p.as_os_str().as_bytes().to_vec()))
        .unwrap_or_default()
}

/// `pid:[4026531836]` → 4026531836.
fn ns_inode(dir: &Path, name: &str) -> u64 {
    bracketed_number(read_link(&dir.join("ns").join(name)).as_bytes()).unwrap_or(0)
}

fn bracketed_number(text: &[u8]) -> Option<u64> {
    let open = text.iter().position(|b| *b == b'[')?;
    let close = text.iter().rposition(|b| *b == b']')?;
    let digits = text.get(open + 1..close)?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One process's way to its network namespace's sockets. The tables are parsed only
/// when the process has a socket open: kernel threads and most daemons never pay.
struct Sockets<'a> {
    dir: &'a Path,
    netns: u64,
    tables: &'a mut TableCache,
    /// The table of a process whose namespace is unknown (its `ns/net` unreadable):
    /// sharing it under a made-up key could pair sockets with the wrong namespace.
    own: Option<SocketTable>,
}

impl Sockets<'_> {
    fn table(&mut self) -> &SocketTable {
        if self.netns == 0 {
            return self.own.get_or_insert_with(|| read_socket_table(self.dir));
        }
        let dir = self.dir;
        self.tables
            .entry(self.netns)
            .or_insert_with(|| read_socket_table(dir))
    }
}

fn read_fds(dir: &Path, sockets: &mut Sockets<'_>) -> Vec<FdEntry> {
    let Ok(entries) = std::fs::read_dir(dir.join("fd")) else {
        return Vec::new();
    };
    let mut fds: Vec<FdEntry> = entries
        .flatten()
        .filter_map(|entry| {
            let fd: i64 = entry.file_name().to_str()?.parse().ok()?;
            let link_path = entry.path();
            let link = read_link(&link_path);
            // Closed between listing and reading, or not ours to read.
            if link.is_empty() {
                return None;
            }
            Some(FdEntry::new(
                fd,
                fd_target(dir, fd, &link_path, link, sockets),
            ))
        })
        .collect();
    fds.sort_by_key(|f| f.fd);
    fds
}

fn fd_target(
    dir: &Path,
    fd: i64,
    link_path: &Path,
    link: ByteString,
    sockets: &mut Sockets<'_>,
) -> FdTarget {
    let text = link.as_bytes();
    if text.starts_with(b"socket:[") {
        let Some(ino) = bracketed_number(text) else {
            return FdTarget::Other { name: link };
        };
        let table = sockets.table();
        if let Some(info) = table.inet.get(&ino) {
            return FdTarget::Socket(info.clone());
        }
        if let Some(path) = table.unix.get(&ino) {
            return FdTarget::Unix { path: path.clone() };
        }
        // Netlink, raw, packet, vsock… and sockets made after the tables were read.
        return FdTarget::Other { name: link };
    }
    if text.starts_with(b"pipe:[") {
        return FdTarget::Pipe {
            ino: bracketed_number(text).unwrap_or(0),
        };
    }
    if let Some(name) = text.strip_prefix(b"/memfd:") {
        let name = name.strip_suffix(b" (deleted)").unwrap_or(name);
        return FdTarget::Memfd {
            name: ByteString(name.to_vec()),
        };
    }
    if !text.starts_with(b"/") {
        return FdTarget::Other { name: link };
    }
    // The fd link itself, not the path text: that may be deleted, replaced, or elsewhere
    // in another mount namespace.
    if std::fs::metadata(link_path).is_ok_and(|m| m.is_dir()) {
        return FdTarget::Directory { path: link };
    }
    let flags = std::fs::read(dir.join("fdinfo").join(fd.to_string()))
        .ok()
        .and_then(|info| fdinfo_flags(&info))
        .unwrap_or(0);
    FdTarget::File { path: link, flags }
}

/// The octal `flags:` line of `/proc/PID/fdinfo/FD`.
fn fdinfo_flags(info: &[u8]) -> Option<u32> {
    let text = status_line(info, b"flags:")?.trim();
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok()
}

fn read_socket_table(dir: &Path) -> SocketTable {
    let mut table = SocketTable::default();
    for (file, family, proto) in [
        ("tcp", 2u16, 6u8),
        ("tcp6", 10, 6),
        ("udp", 2, 17),
        ("udp6", 10, 17),
    ] {
        let text = std::fs::read(dir.join("net").join(file)).unwrap_or_default();
        for line in text.split(|b| *b == b'\n').skip(1) {
            if let Some((ino, info)) = parse_inet_line(line, family, proto) {
                table.inet.insert(ino, info);
            }
        }
    }
    let unix = std::fs::read(dir.join("net/unix")).unwrap_or_default();
    for line in unix.split(|b| *b == b'\n').skip(1) {
        if let Some((ino, path)) = parse_unix_line(line) {
            table.unix.insert(ino, path);
        }
    }
    table
}

/// One line of `/proc/net/tcp*` or `udp*`: `sl local rem st tx:rx tr:when retr uid timeout inode`.
fn parse_inet_line(line: &[u8], family: u16, proto: u8) -> Option<(u64, SocketInfo)> {
    let text = std::str::from_utf8(line).ok()?;
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let local = parse_endpoint(fields.get(1)?, family)?;
    let remote = parse_endpoint(fields.get(2)?, family)?;
    let ino = fields.get(9)?.parse().ok()?;
    Some((
        ino,
        SocketInfo {
            family,
            l4proto: proto,
            local,
            remote,
        },
    ))
}

/// `0100007F:1F90` (IPv4 as one 32-bit word) or 32 hex digits (IPv6 as four words),
/// then the port in hex. The kernel prints each word as it sits in memory read as a
/// native integer, so its native-endian bytes are the address bytes in network order.
fn parse_endpoint(field: &str, family: u16) -> Option<String> {
    let (addr, port) = field.split_once(':')?;
    // Checked first: slicing below assumes ASCII, and from_str_radix accepts a sign.
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(addr) || !hex(port) {
        return None;
    }
    let port = u16::from_str_radix(port, 16).ok()?;
    match family {
        2 => {
            if addr.len() != 8 {
                return None;
            }
            let word = u32::from_str_radix(addr, 16).ok()?;
            Some(format!("{}:{port}", Ipv4Addr::from(word.to_ne_bytes())))
        }
        _ => {
            if addr.len() != 32 {
                return None;
            }
            let mut bytes = [0u8; 16];
            for word in 0..4 {
                let value = u32::from_str_radix(&addr[word * 8..word * 8 + 8], 16).ok()?;
                bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_ne_bytes());
            }
            Some(format!("[{}]:{port}", Ipv6Addr::from(bytes)))
        }
    }
}

/// One line of `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode [Path]`.
/// The path is everything after the single space that follows the inode: it may hold
/// spaces itself, and abstract names start with `@`.
fn parse_unix_line(line: &[u8]) -> Option<(u64, ByteString)> {
    let mut rest = line;
    let mut inode: &[u8] = &[];
    for _ in 0..7 {
        let start = rest.iter().position(|b| *b != b' ')?;
        rest = &rest[start..];
        let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
        inode = &rest[..end];
        rest = &rest[end..];
    }
    if inode.is_empty() || !inode.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ino = std::str::from_utf8(inode).ok()?.parse().ok()?;
    let path = rest.strip_prefix(b" ").unwrap_or(rest);
    Some((ino, ByteString(path.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_hostile_names_parse() {
        let line = b"4242 (evil) (name x) S 1 4242 4242 34816 4242 4194560 0 0 0 0 0 0 0 0 20 0 1 0 123456 0 0\n";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.comm, b"evil) (name x");
        assert_eq!(
            (stat.ppid, stat.pgid, stat.sid, stat.tty),
            (1, 4242, 4242, 34816)
        );
        assert_eq!(stat.start_ticks, 123456);
        // A name holding what looks like the fields that follow it.
        let forged = b"7 (x) S 999 999 999 0 (y) S 3 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0\n";
        let stat = parse_stat(forged).unwrap();
        assert_eq!(stat.comm, b"x) S 999 999 999 0 (y");
        assert_eq!((stat.ppid, stat.pgid, stat.start_ticks), (3, 7, 55));
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b") (x"), None);
        assert_eq!(parse_stat(b"1 (x)"), None);
    }

    #[test]
    fn socket_table_addresses_decode() {
        assert_eq!(
            parse_endpoint("0100007F:1F90", 2).unwrap(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            parse_endpoint("00000000000000000000000001000000:0050", 10).unwrap(),
            "[::1]:80"
        );
        assert_eq!(
            parse_endpoint("0000000000000000FFFF00000100007F:01BB", 10).unwrap(),
            "[::ffff:127.0.0.1]:443"
        );
        let line = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0";
        let (ino, info) = parse_inet_line(line, 2, 6).unwrap();
        assert_eq!(ino, 31337);
        assert_eq!(info.local, "127.0.0.1:8080");
        assert_eq!(info.remote, "0.0.0.0:0");
        assert_eq!(parse_endpoint("zz:1", 2), None);
        assert_eq!(parse_endpoint("+100007F:1F90", 2), None);
        assert_eq!(parse_endpoint("0100007F:-1", 2), None);
        assert_eq!(parse_endpoint("0100007F", 2), None);
        // 32 bytes of text that are not 32 ASCII digits must not be sliced mid-character.
        let wide = format!("{}:0050", "é".repeat(16));
        assert_eq!(parse_endpoint(&wide, 10), None);
    }

    #[test]
    fn unix_socket_lines_keep_paths_with_spaces_and_abstract_names() {
        let named = b"0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/my socket";
        assert_eq!(
            parse_unix_line(named),
            Some((23456, ByteString::from("/run/my socket")))
        );
        let abstract_ =
            b"0000000000000000: 00000002 00000000 00010000 0001 01  1626 @/tmp/.X11-unix/X0";
        assert_eq!(
            parse_unix_line(abstract_),
            Some((1626, ByteString::from("@/tmp/.X11-unix/X0")))
        );
        let unnamed = b"00000000fa8c7e21: 00000003 00000000 00000000 0001 03  1626";
        assert_eq!(
            parse_unix_line(unnamed),
            Some((1626, ByteString::default()))
        );
        assert_eq!(parse_unix_line(b"Num RefCount"), None);
        assert_eq!(parse_unix_line(b"a b c d e f notanumber /x"), None);
        assert_eq!(parse_unix_line(b""), None);
    }

    #[test]
    fn status_and_fdinfo_fields() {
        let status = b"Name:\tsleep\nTgid:\t12\nUid:\t1000\t0\t0\t0\nGid:\t5\nCapEff:\t000001ffffffffff\nCapPrm:\t-1\n";
        assert_eq!(status_ids(status, b"Uid:"), Some((1000, 0)));
        assert_eq!(status_ids(status, b"Gid:"), None);
        assert_eq!(status_hex(status, b"CapEff:"), Some(0x1ff_ffff_ffff));
        assert_eq!(status_hex(status, b"CapPrm:"), None);
        assert_eq!(status_hex(status, b"CapInh:"), None);
        assert_eq!(
            fdinfo_flags(b"pos:\t0\nflags:\t0100001\nmnt_id:\t20\n"),
            Some(0o100001)
        );
        assert_eq!(fdinfo_flags(b"flags:\t0100009\n"), None);
        assert_eq!(bracketed_number(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(bracketed_number(b"net:[-1]"), None);
        assert_eq!(bracketed_number(b"]["), None);
    }

    #[test]
    fn cgroup_files_prefer_v2() {
        let hybrid = b"12:memory:/user.slice\n4:cpu,cpuacct:/user.slice/x\n0::/user.slice/user-0.slice/session-3.scope\n";
        assert_eq!(
            read_cgroup(hybrid).as_bytes(),
            b"/user.slice/user-0.slice/session-3.scope"
        );
        assert_eq!(
            read_cgroup(b"4:cpu,cpuacct:/docker/abc\n").as_bytes(),
            b"/docker/abc"
        );
        assert_eq!(
            read_cgroup(b"2:cpuacct:/a\n1:cpu:/b\n").as_bytes(),
            b"/b",
            "cpuacct alone is not cpu"
        );
        assert!(read_cgroup(b"").is_empty());
    }

    /// Arbitrary bytes through every parser: none may panic.
    #[test]
    fn random_bytes_never_panic() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Bias towards the bytes the parsers split on, so they get past the first check.
        const ALPHABET: &[u8] = b"()[]: \n\x000123456789abcdefABCDEF/@-\xff\xc3\xa9";
        for round in 0..20_000 {
            let len = (next() % 96) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if round % 2 == 0 {
                        ALPHABET[(r % ALPHABET.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            let _ = parse_stat(&bytes);
            let _ = status_ids(&bytes, b"Uid:");
            let _ = status_hex(&bytes, b"CapEff:");
            let _ = fdinfo_flags(&bytes);
            let _ = read_cgroup(&bytes);
            let _ = bracketed_number(&bytes);
            let _ = split_nul(&bytes);
            let _ = parse_inet_line(&bytes, 2, 6);
            let _ = parse_inet_line(&bytes, 10, 17);
            let _ = parse_unix_line(&bytes);
            let _ = container::from_cgroup(&bytes);
        }
    }
}
