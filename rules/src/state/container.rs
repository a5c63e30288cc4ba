//! Container and Kubernetes pod from a cgroup path: the runtimes' naming schemes
//! (docker, containerd, CRI-O, podman; cgroupfs and systemd drivers), nothing else.
//!
//! A pod's own cgroup (the pod slice, without a container below it) is not a
//! container: it gives `None`, as the host does.

/// The container a cgroup path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    /// The runtime's full id (64 hex digits).
    pub id: String,
    pub runtime: &'static str,
    /// The Kubernetes pod uid with dashes, or empty outside Kubernetes.
    pub pod_uid: String,
}

/// Prefixes of a container's own directory, and the runtime each means.
const SCOPES: &[(&str, &str)] = &[
    ("cri-containerd-", "containerd"),
    ("docker-", "docker"),
    ("crio-", "cri-o"),
    ("libpod-", "podman"),
];

pub fn from_cgroup(path: &[u8]) -> Option<ContainerRef> {
    let text = std::str::from_utf8(path).ok()?;
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
    let pod_uid = parts.iter().find_map(|p| pod_uid_of(p)).unwrap_or_default();
    let kubepods = parts.iter().any(|p| p.starts_with("kubepods"));
    // The innermost part that names a container wins (nested runtimes name the inner).
    for (index, part) in parts.iter().enumerate().rev() {
        let name = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, runtime) in SCOPES {
            if let Some(id) = name.strip_prefix(prefix) {
                if is_container_id(id) {
                    return Some(ContainerRef {
                        id: id.to_string(),
                        runtime,
                        pod_uid,
                    });
                }
            }
        }
        if is_container_id(name) {
            // cgroupfs drivers: /docker/<id>, /kubepods/<qos>/pod<uid>/<id>, /libpod_parent/…
            let parent = index.checked_sub(1).map(|i| parts[i]).unwrap_or("");
            let runtime = if parent == "docker" {
                "docker"
            } else if kubepods {
                "containerd"
            } else if parent.starts_with("libpod") || parent.starts_with("machine.slice") {
                "podman"
            } else {
                continue;
            };
            return Some(ContainerRef {
                id: name.to_string(),
                runtime,
                pod_uid,
            });
        }
    }
    None
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid>.slice` (systemd, underscores).
fn pod_uid_of(part: &str) -> Option<String> {
    let name = part.strip_suffix(".slice").unwrap_or(part);
    let at = name.rfind("pod")?;
    if at > 0 && !name[..at].ends_with('-') {
        return None;
    }
    let uid = name[at + 3..].replace('_', "-");
    let valid = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    valid.then_some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170695e4d3";
    const POD: &str = "1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d";

    fn check(path: &str, runtime: &str, pod: &str) {
        let found = from_cgroup(path.as_bytes()).unwrap_or_else(|| panic!("{path}"));
        assert_eq!(found.id, ID, "{path}");
        assert_eq!(found.runtime, runtime, "{path}");
        assert_eq!(found.pod_uid, pod, "{path}");
    }

    #[test]
    fn every_runtime_naming_scheme() {
        let pod_us = POD.replace('-', "_");
        check(&format!("/docker/{ID}"), "docker", "");
        check(&format!("/system.slice/docker-{ID}.scope"), "docker", "");
        check(
            &format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_us}.slice/cri-containerd-{ID}.scope"),
            "containerd",
            POD,
        );
        check(
            &format!("/kubepods.slice/kubepods-pod{pod_us}.slice/cri-containerd-{ID}.scope"),
            "containerd",
            POD,
        );
        check(
            &format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_us}.slice/crio-{ID}.scope"),
            "cri-o",
            POD,
        );
        check(
            &format!("/kubepods/besteffort/pod{POD}/{ID}"),
            "containerd",
            POD,
        );
        check(&format!("/kubepods/pod{POD}/{ID}"), "containerd", POD);
        check(&format!("/machine.slice/libpod-{ID}.scope"), "podman", "");
        check(&format!("/libpod_parent/libpod-{ID}"), "podman", "");
        check(&format!("/crio-{ID}"), "cri-o", "");
    }

    #[test]
    fn the_host_and_pod_slices_are_not_containers() {
        for path in [
            "/",
            "",
            "/user.slice/user-0.slice/session-1.scope",
            "/system.slice/sshd.service",
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_4a1b_8c2d_3e4f5a6b7c8d.slice",
            "/docker/not-an-id",
            "/system.slice/docker-1234.scope",
        ] {
            assert_eq!(from_cgroup(path.as_bytes()), None, "{path}");
        }
    }

    #[test]
    fn hostile_input_is_harmless() {
        assert_eq!(from_cgroup(b"/docker/\xff\xfe"), None);
        let long = "/a".repeat(100_000);
        assert_eq!(from_cgroup(long.as_bytes()), None);
        assert_eq!(from_cgroup(b"/kubepods/pod/"), None);
    }
}
