//! cgroup v2 ids → paths. The kernel side reports a task's cgroup by id (the inode
//! number of its directory in the cgroup2 filesystem); the capture stores paths, as
//! `/proc/PID/cgroup` shows them, because paths name containers and pods.

use casefile_formats::state::ByteString;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The cgroup2 mount point, from `/proc/self/mountinfo` (hybrid hosts mount it below
/// `/sys/fs/cgroup`, e.g. at `/sys/fs/cgroup/unified`; never assume where).
pub fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read("/proc/self/mountinfo").ok()?;
    mountinfo_cgroup2(&mountinfo)
}

fn mountinfo_cgroup2(mountinfo: &[u8]) -> Option<PathBuf> {
    for line in mountinfo.split(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        // Fields: id parent major:minor root mountpoint options... - fstype source ...
        let Some((before, after)) = text.split_once(" - ") else {
            continue;
        };
        if after.split(' ').next() != Some("cgroup2") {
            continue;
        }
        if let Some(mount_point) = before.split(' ').nth(4) {
            return Some(PathBuf::from(unescape_mountinfo(mount_point)));
        }
    }
    None
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 4 <= bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves cgroup ids, caching what it learns. A miss first asks the process
/// (`/proc/PID/cgroup`, exact while it lives), then rescans the hierarchy.
pub struct CgroupResolver {
    root: Option<PathBuf>,
    paths: HashMap<u64, ByteString>,
    last_scan: Option<Instant>,
}

/// Rescanning a large hierarchy costs; a burst of unknown ids must not repeat it.
const RESCAN_INTERVAL: Duration = Duration::from_millis(200);

impl CgroupResolver {
    pub fn new() -> CgroupResolver {
        CgroupResolver::with_root(cgroup2_mount())
    }

    pub fn with_root(root: Option<PathBuf>) -> CgroupResolver {
        let mut resolver = CgroupResolver {
            root,
            paths: HashMap::new(),
            last_scan: None,
        };
        resolver.rescan();
        resolver
    }

    /// The path of cgroup `id` (as `/proc/PID/cgroup` writes it, `/` for the root), or
    /// `None` when it cannot be found (deleted already, or no cgroup2 on this host).
    pub fn path(&mut self, id: u64, pid: u32) -> Option<ByteString> {
        if let Some(path) = self.paths.get(&id) {
            return Some(path.clone());
        }
        if let Some(path) = self.ask_process(id, pid) {
            self.paths.insert(id, path.clone());
            return Some(path);
        }
        if self
            .last_scan
            .is_none_or(|t| t.elapsed() >= RESCAN_INTERVAL)
        {
            self.rescan();
        }
        self.paths.get(&id).cloned()
    }

    /// The id of a cgroup path, for `--cgroup` scoping: its inode and its depth.
    pub fn id_of(&self, path: &Path) -> Option<(u64, u32)> {
        let root = self.root.as_ref()?;
        let relative = path.strip_prefix(root).unwrap_or(path);
        let relative = relative.strip_prefix("/").unwrap_or(relative);
        let full = root.join(relative);
        let meta = std::fs::metadata(&full).ok()?;
        if !meta.is_dir() {
            return None;
        }
        let level = relative.components().count() as u32;
        Some((meta.ino(), level))
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    fn ask_process(&self, id: u64, pid: u32) -> Option<ByteString> {
        let root = self.root.as_ref()?;
        let text = std::fs::read(format!("/proc/{pid}/cgroup")).ok()?;
        let line = text
            .split(|b| *b == b'\n')
            .find(|line| line.starts_with(b"0::"))?;
        let path = &line[3..];
        let dir = root.join(Path::new(std::ffi::OsStr::from_bytes(
            path.strip_prefix(b"/").unwrap_or(path),
        )));
        let meta = std::fs::metadata(dir).ok()?;
        (meta.ino() == id).then(|| ByteString(path.to_vec()))
    }

    fn rescan(&mut self) {
        self.last_scan = Some(Instant::now());
        let Some(root) = self.root.clone() else {
            return;
        };
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(meta) = std::fs::metadata(&dir) else {
                continue;
            };
            let relative = dir.strip_prefix(&root).unwrap_or(&dir);
            let mut path = b"/".to_vec();
            path.extend_from_slice(relative.as_os_str().as_bytes());
            self.paths.insert(meta.ino(), ByteString(path));
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
}

impl Default for CgroupResolver {
    fn default() -> Self {
        CgroupResolver::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_mountinfo_wherever_it_is() {
        let hybrid = b"24 31 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n\
25 24 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n\
26 24 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        assert_eq!(
            mountinfo_cgroup2(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let escaped = b"25 24 0:23 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mountinfo_cgroup2(escaped),
            Some(PathBuf::from("/mnt/cg two"))
        );
        assert_eq!(mountinfo_cgroup2(b"garbage\n\n - \n"), None);
    }

    #[test]
    fn resolves_ids_in_a_directory_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kubepods.slice/pod-a")).unwrap();
        let mut resolver = CgroupResolver::with_root(Some(dir.path().to_path_buf()));
        let ino = std::fs::metadata(dir.path().join("kubepods.slice/pod-a"))
            .unwrap()
            .ino();
        assert_eq!(
            resolver.path(ino, 0).unwrap().as_bytes(),
            b"/kubepods.slice/pod-a"
        );
        let root_ino = std::fs::metadata(dir.path()).unwrap().ino();
        assert_eq!(resolver.path(root_ino, 0).unwrap().as_bytes(), b"/");
        assert_eq!(
            resolver.id_of(&dir.path().join("kubepods.slice/pod-a")),
            Some((ino, 2))
        );
        // A directory made after the first scan is found by a rescan.
        std::fs::create_dir(dir.path().join("late")).unwrap();
        let late = std::fs::metadata(dir.path().join("late")).unwrap().ino();
        std::thread::sleep(RESCAN_INTERVAL);
        assert_eq!(resolver.path(late, 0).unwrap().as_bytes(), b"/late");
    }
}
