//! Users and groups from `/etc/passwd` and `/etc/group` under a root directory (the
//! host's `/`, or a container's `/proc/PID/root`). Names are bytes: nothing promises
//! UTF-8. Malformed lines are skipped; missing or unreadable files give empty lists,
//! because a capture must start even on a host with a broken passwd file.

use casefile_formats::state::{ByteString, GroupEntry, UserEntry};
use std::path::Path;

/// The users and groups of the system rooted at `root`.
pub fn load(root: &Path) -> (Vec<UserEntry>, Vec<GroupEntry>) {
    let read = |name: &str| std::fs::read(root.join(name)).unwrap_or_default();
    (
        parse_passwd(&read("etc/passwd")),
        parse_group(&read("etc/group")),
    )
}

fn fields(line: &[u8]) -> Vec<&[u8]> {
    line.split(|b| *b == b':').collect()
}

fn number(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.trim().parse().ok()
}

/// Lines worth parsing. Files edited on other systems may end lines with `\r\n`, and the
/// `\r` would otherwise end up in the shell's name.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
}

/// `name:password:uid:gid:gecos:home:shell` lines.
pub fn parse_passwd(text: &[u8]) -> Vec<UserEntry> {
    lines(text)
        .filter_map(|line| {
            let f = fields(line);
            if f.len() != 7 || f[0].is_empty() {
                return None;
            }
            Some(UserEntry {
                name: ByteString(f[0].to_vec()),
                uid: number(f[2])?,
                gid: number(f[3])?,
                home: ByteString(f[5].to_vec()),
                shell: ByteString(f[6].to_vec()),
            })
        })
        .collect()
}

/// `name:password:gid:members` lines; a missing members field is tolerated, as it costs
/// nothing we keep.
pub fn parse_group(text: &[u8]) -> Vec<GroupEntry> {
    lines(text)
        .filter_map(|line| {
            let f = fields(line);
            if !(3..=4).contains(&f.len()) || f[0].is_empty() {
                return None;
            }
            Some(GroupEntry {
                name: ByteString(f[0].to_vec()),
                gid: number(f[2])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_files_parse_and_bad_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            b"root:x:0:0:root:/root:/bin/bash\n\
              # comment\n\
              broken line\n\
              nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
              bad:x:notanumber:1::/:/bin/sh\n\
              short:x:5:5\n\
              toolong:x:5:5::/:/bin/sh:extra\n\
              :x:6:6::/:/bin/sh\n\
              big:x:4294967296:1::/:/bin/sh\n\
              neg:x:-1:1::/:/bin/sh\n\
              +::::::\n\
              \n\
              caf\xe9:x:1000:1000::/home/caf\xe9:/bin/sh\n\
              dos:x:1001:1001::/home/dos:/bin/sh\r\n\
              last:x:4294967295:0::/:/bin/false",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            b"root:x:0:\nwheel:x:10:alice,bob\n:x:5:\nnogid:x::\nbad:x:ten:\nshort:x:3\nlong:x:4:a:b\n\xff\xfe:x:11:\n",
        )
        .unwrap();
        let (users, groups) = load(dir.path());
        let names: Vec<&[u8]> = users.iter().map(|u| u.name.as_bytes()).collect();
        assert_eq!(
            names,
            [&b"root"[..], b"nobody", b"caf\xe9", b"dos", b"last"]
        );
        assert_eq!((users[0].uid, users[0].gid), (0, 0));
        assert_eq!(users[0].home.as_bytes(), b"/root");
        assert_eq!(users[1].uid, 65534);
        assert_eq!(users[1].shell.as_bytes(), b"/usr/sbin/nologin");
        assert_eq!(users[2].home.as_bytes(), b"/home/caf\xe9");
        assert_eq!(users[3].shell.as_bytes(), b"/bin/sh", "no \\r left over");
        assert_eq!(users[4].uid, u32::MAX);

        let groups: Vec<(u32, &[u8])> = groups.iter().map(|g| (g.gid, g.name.as_bytes())).collect();
        assert_eq!(
            groups,
            [
                (0, &b"root"[..]),
                (10, b"wheel"),
                (3, b"short"),
                (11, b"\xff\xfe")
            ]
        );
    }

    #[test]
    fn missing_and_unreadable_files_give_empty_lists() {
        let dir = tempfile::tempdir().unwrap();
        let (none, nothing) = load(&dir.path().join("missing"));
        assert!(none.is_empty() && nothing.is_empty());
        // Directories where the files should be: read fails, nothing panics.
        std::fs::create_dir_all(dir.path().join("etc/passwd")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc/group")).unwrap();
        let (none, nothing) = load(dir.path());
        assert!(none.is_empty() && nothing.is_empty());
    }

    #[test]
    fn binary_garbage_is_skipped_without_panicking() {
        let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        assert!(parse_passwd(&garbage).is_empty());
        assert!(parse_group(&garbage).is_empty());
        assert!(parse_passwd(b":::::::\n::::::\n").is_empty());
        assert!(parse_group(b":::\n::\n").is_empty());
    }
}
