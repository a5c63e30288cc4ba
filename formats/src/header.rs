//! The file header (what host, when, how it was captured) and the trailer statistics.
//!
//! On disk the header is a fixed prefix — magic, major and minor format version, length —
//! followed by a CBOR map and its CRC-32 (`docs/FORMAT.md`). CBOR keeps the header
//! extensible: a reader ignores fields it does not know, and a field a newer writer adds
//! never breaks an older reader of the same major version.

use serde::{Deserialize, Serialize};

/// The first eight bytes of every capture file.
pub const MAGIC: [u8; 8] = *b"CASEFILE";
/// Readers refuse files of a newer major version.
pub const FORMAT_MAJOR: u16 = 1;
/// Newer minor versions only add things older readers may skip.
pub const FORMAT_MINOR: u16 = 0;
/// magic (8) + major (2) + minor (2) + CBOR length (4).
pub const PREFIX_LEN: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileHeader {
    /// The program that wrote the file, e.g. `casefile 0.1.0`.
    pub writer: String,
    /// Version of the event argument layouts (`schema::EVENT_LAYOUT_VERSION`).
    pub event_layout_version: u32,
    /// When capture started: nanoseconds since boot (the events' clock).
    pub start_ts: u64,
    pub host: HostInfo,
    pub config: CaptureConfig,
}

impl FileHeader {
    /// Wall-clock start, nanoseconds since the Unix epoch.
    pub fn start_wall_ns(&self) -> u64 {
        self.host.boot_time_ns.saturating_add(self.start_ts)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostInfo {
    pub hostname: String,
    /// `uname -r`.
    pub kernel_release: String,
    /// `uname -v`.
    pub kernel_version: String,
    pub machine_id: String,
    /// Wall-clock time of boot, nanoseconds since the Unix epoch: event time + this = wall
    /// time.
    pub boot_time_ns: u64,
    pub cpus: u32,
    /// The cloud instance id, when the machine says so without a network call.
    pub cloud_instance_id: Option<String>,
}

impl HostInfo {
    /// Reads this machine's facts from `/proc`, `/etc` and `/sys`. Missing files leave
    /// fields empty: a capture is never refused for lack of a hostname.
    pub fn detect() -> HostInfo {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let cloud_instance_id = ["/sys/devices/virtual/dmi/id/board_asset_tag"]
            .iter()
            .map(|p| read(p))
            .find(|id| id.starts_with("i-"));
        HostInfo {
            hostname: read("/proc/sys/kernel/hostname"),
            kernel_release: read("/proc/sys/kernel/osrelease"),
            kernel_version: read("/proc/sys/kernel/version"),
            machine_id: read("/etc/machine-id"),
            boot_time_ns: boot_time_ns(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u32)
                .unwrap_or(0),
            cloud_instance_id,
        }
    }
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes to it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Nanoseconds since boot on the clock the kernel side stamps events with
/// (`bpf_ktime_get_boot_ns`, CLOCK_BOOTTIME: it keeps counting through suspend, so wall
/// time derived from it stays right).
pub fn now_boot_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// Wall-clock time of boot in nanoseconds since the Unix epoch.
pub fn boot_time_ns() -> u64 {
    let realtime = clock_ns(libc::CLOCK_REALTIME);
    let boot = clock_ns(libc::CLOCK_BOOTTIME);
    realtime.saturating_sub(boot)
}

/// How the capture was taken.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureConfig {
    /// `all`, `security`, or `list`.
    pub syscall_set: String,
    /// The syscall numbers captured (empty = all).
    pub syscalls: Vec<u16>,
    /// Bytes of I/O buffers kept per event (0 = none).
    pub snaplen: u32,
    /// Scope filters as given on the command line (`pid=…`, `cgroup=…`).
    pub filters: Vec<String>,
    /// Free-form description of what produced the file (`record`, `synthetic`, a test).
    pub source: String,
}

/// Totals written into the trailer by a writer that finished cleanly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaptureStats {
    pub events: u64,
    /// Events the kernel side reported lost (sum of `drops` events).
    pub drops: u64,
    /// Blocks of every kind before the index.
    pub blocks: u64,
    /// Uncompressed bytes of event payloads.
    pub raw_bytes: u64,
    /// Timestamp of the last event (nanoseconds since boot).
    pub end_ts: u64,
}

/// One block in the trailer's index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexEntry {
    pub offset: u64,
    pub kind: u8,
    pub seq: u64,
    pub first_ts: u64,
    pub last_ts: u64,
    pub count: u32,
}

/// The payload of the index block a clean finish writes last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IndexPayload {
    pub entries: Vec<IndexEntry>,
    pub stats: CaptureStats,
}

/// The last bytes of a cleanly finished file: where the index block starts.
pub const FOOTER_MAGIC: [u8; 4] = *b"CFND";
/// index offset (8) + CRC-32 of it (4) + magic (4).
pub const FOOTER_LEN: usize = 16;

pub fn encode_footer(index_offset: u64) -> [u8; FOOTER_LEN] {
    let mut out = [0u8; FOOTER_LEN];
    out[0..8].copy_from_slice(&index_offset.to_le_bytes());
    let crc = crc32fast::hash(&out[0..8]);
    out[8..12].copy_from_slice(&crc.to_le_bytes());
    out[12..16].copy_from_slice(&FOOTER_MAGIC);
    out
}

/// The index offset, if `tail` is a valid footer.
pub fn decode_footer(tail: &[u8]) -> Option<u64> {
    if tail.len() != FOOTER_LEN || tail[12..16] != FOOTER_MAGIC {
        return None;
    }
    let crc = u32::from_le_bytes(tail[8..12].try_into().ok()?);
    (crc32fast::hash(&tail[0..8]) == crc)
        .then(|| u64::from_le_bytes(tail[0..8].try_into().unwrap_or_default()))
}

/// Serializes `value` as CBOR.
pub(crate) fn to_cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Serializing plain structs into a Vec cannot fail.
    ciborium::into_writer(value, &mut out).expect("CBOR serialization into memory");
    out
}

pub(crate) fn from_cbor<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

impl FileHeader {
    /// The on-disk header: magic, versions, CBOR length, CBOR, CRC-32 of the CBOR.
    pub fn to_bytes(&self) -> Vec<u8> {
        let cbor = to_cbor(self);
        let mut out = Vec::with_capacity(PREFIX_LEN + cbor.len() + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_MAJOR.to_le_bytes());
        out.extend_from_slice(&FORMAT_MINOR.to_le_bytes());
        out.extend_from_slice(&(cbor.len() as u32).to_le_bytes());
        out.extend_from_slice(&cbor);
        out.extend_from_slice(&crc32fast::hash(&cbor).to_le_bytes());
        out
    }
}
