//! What a scoped recording (`--pid`, `--cgroup`, `-- COMMAND`) takes from the host at
//! its start: the processes in scope, and only the lineage of the rest.

use crate::cgroups::CgroupResolver;
use crate::probe::Scope;
use casefile_formats::state::ProcessEntry;
use std::collections::{HashMap, HashSet};

/// The snapshot's share of a scoped recording: the processes in scope in full, and
/// their ancestors reduced to what lineage needs (pid, parent, name, executable), so
/// that a recording of one command or container does not carry the command lines,
/// environments and files of everything else on the host. With `-- COMMAND` nothing is
/// in scope yet: the recorder's own ancestors give the command its lineage.
pub fn scope_snapshot(processes: Vec<ProcessEntry>, scope: &Scope) -> Vec<ProcessEntry> {
    let in_scope: HashSet<u32> = match scope {
        Scope::All => return processes,
        Scope::Pids(pids) => {
            let mut set: HashSet<u32> = pids.iter().copied().collect();
            set.extend(descendants(&processes, pids));
            set
        }
        Scope::Cgroup { id, .. } => {
            let resolver = CgroupResolver::new();
            processes
                .iter()
                .filter(|p| in_cgroup(&resolver, p.cgroup.as_bytes(), *id))
                .map(|p| p.pid)
                .collect()
        }
    };
    let parent: HashMap<u32, u32> = processes.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut lineage = HashSet::new();
    let starts = in_scope.iter().copied().chain([std::process::id()]);
    for start in starts {
        let mut pid = parent.get(&start).copied().unwrap_or(0);
        while pid != 0 && !in_scope.contains(&pid) && lineage.insert(pid) {
            pid = parent.get(&pid).copied().unwrap_or(0);
        }
    }
    lineage.insert(std::process::id());
    processes
        .into_iter()
        .filter_map(|p| {
            if in_scope.contains(&p.pid) {
                Some(p)
            } else if lineage.contains(&p.pid) {
                Some(ProcessEntry {
                    pid: p.pid,
                    ppid: p.ppid,
                    tids: vec![p.pid],
                    comm: p.comm,
                    exe: p.exe,
                    exepath: p.exepath,
                    uid: p.uid,
                    euid: p.euid,
                    gid: p.gid,
                    egid: p.egid,
                    loginuid: p.loginuid,
                    start_ts: p.start_ts,
                    cgroup: p.cgroup,
                    container_id: p.container_id,
                    pod_uid: p.pod_uid,
                    ..Default::default()
                })
            } else {
                None
            }
        })
        .collect()
}

/// Whether a cgroup path (relative to the cgroup2 root) is the directory with inode
/// `id` or below it.
fn in_cgroup(resolver: &CgroupResolver, path: &[u8], id: u64) -> bool {
    let Some(root) = resolver.root() else {
        return false;
    };
    let relative = String::from_utf8_lossy(path);
    let mut dir = root.join(relative.trim_start_matches('/'));
    loop {
        if resolver.id_of(&dir).is_some_and(|(found, _)| found == id) {
            return true;
        }
        if dir == root || !dir.pop() {
            return false;
        }
    }
}

/// Every process below `roots` in the process tree (the roots excluded).
pub fn descendants(processes: &[ProcessEntry], roots: &[u32]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier: Vec<u32> = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for child in processes
            .iter()
            .filter(|p| p.ppid == parent && p.pid != parent)
        {
            if !found.contains(&child.pid) && !roots.contains(&child.pid) {
                found.push(child.pid);
                frontier.push(child.pid);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scoped_snapshot_keeps_the_scope_whole_and_only_the_lineage_of_the_rest() {
        let p = |pid, ppid| ProcessEntry {
            pid,
            ppid,
            args: vec!["--secret".into()],
            ..Default::default()
        };
        let tree = vec![p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(21, 20)];
        let kept = scope_snapshot(tree.clone(), &Scope::Pids(vec![11]));
        let pids: Vec<u32> = kept.iter().map(|p| p.pid).collect();
        assert_eq!(
            pids,
            [1, 10, 11, 12],
            "the scope, its children and its ancestors"
        );
        assert!(kept[2].args == ["--secret".into()] && kept[3].args.len() == 1);
        assert!(
            kept[0].args.is_empty() && kept[1].args.is_empty(),
            "ancestors are reduced"
        );
        assert_eq!(scope_snapshot(tree.clone(), &Scope::All), tree);
    }

    #[test]
    fn descendants_follow_the_tree() {
        let p = |pid, ppid| ProcessEntry {
            pid,
            ppid,
            ..Default::default()
        };
        let tree = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(13, 10)];
        let mut found = descendants(&tree, &[10]);
        found.sort();
        assert_eq!(found, [11, 12, 13]);
        assert!(descendants(&tree, &[12]).is_empty());
    }
}
