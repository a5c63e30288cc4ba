//! Users and groups from `/etc/passwd` and `/etc/group` under a root directory (the
//! host's `/`, or a container's `/proc/PID/root`). Names are bytes: nothing promises
//! UTF-8. Malformed lines are skipped; missing files give empty lists.

use casefile_formats::state::{ByteString, GroupEntry, UserEntry};
use std::path::Path;

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

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
}

pub fn parse_passwd(text: &[u8]) -> Vec<UserEntry> {
    lines(text)
        .filter_map(|line| {
            let f = fields(line);
            if f.len() < 7 || f[0].is_empty() {
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

pub fn parse_group(text: &[u8]) -> Vec<GroupEntry> {
    lines(text)
        .filter_map(|line| {
            let f = fields(line);
            if f.len() < 3 || f[0].is_empty() {
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
              caf\xe9:x:1000:1000::/home/cafe:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            b"root:x:0:\nwheel:x:10:alice,bob\n:x:5:\n",
        )
        .unwrap();
        let (users, groups) = load(dir.path());
        let names: Vec<&[u8]> = users.iter().map(|u| u.name.as_bytes()).collect();
        assert_eq!(names, [&b"root"[..], b"nobody", b"caf\xe9"]);
        assert_eq!(users[1].uid, 65534);
        assert_eq!(users[1].shell.as_bytes(), b"/usr/sbin/nologin");
        assert_eq!(groups.len(), 2);
        assert_eq!(
            (groups[1].gid, groups[1].name.as_bytes()),
            (10, &b"wheel"[..])
        );
        let (none, nothing) = load(&dir.path().join("missing"));
        assert!(none.is_empty() && nothing.is_empty());
    }
}
