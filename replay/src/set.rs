//! A set of capture files replayed as one timeline: opened, ordered by start time, and
//! cut into work units (a state block and the event blocks it starts).

use casefile_formats::error::FormatError;
use casefile_formats::reader::{BlockInfo, CaptureReader};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("no capture files given")]
    Empty,
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{first} and {second} were recorded on different hosts ({first_host} and {second_host}); replay them separately")]
    MixedHosts {
        first: PathBuf,
        second: PathBuf,
        first_host: String,
        second_host: String,
    },
    #[error("{first} and {second} overlap in time ({second} starts before {first} ends); a rotated set never overlaps — is one file in the list twice?")]
    Overlap { first: PathBuf, second: PathBuf },
}

/// How far consecutive files of one rotated recording may overlap in time.
const OVERLAP_TOLERANCE_NS: u64 = 1_000_000_000;

/// One unit of replay work: where its state comes from and which event blocks follow.
#[derive(Clone, Debug)]
pub struct WorkUnit {
    /// Index of the file in [`CaptureSet::files`].
    pub file: usize,
    /// The snapshot or checkpoint to start from; `None` when the file's first state
    /// block is missing (damaged), in which case the state starts empty.
    pub state: Option<BlockInfo>,
    pub blocks: Vec<BlockInfo>,
    /// Events (by block header counts) in the whole set before this unit: the unit's
    /// first `evt.num` is this plus one.
    pub events_before: u64,
    /// Whether this unit starts a file (its state is the file's own snapshot).
    pub starts_file: bool,
}

impl WorkUnit {
    pub fn events(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.header.count)).sum()
    }

    pub fn first_ts(&self) -> u64 {
        self.blocks.first().map_or(u64::MAX, |b| b.header.first_ts)
    }

    pub fn last_ts(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| b.header.last_ts)
            .max()
            .unwrap_or(0)
    }
}

pub struct CaptureSet {
    files: Vec<CaptureReader>,
}

impl CaptureSet {
    /// Opens every file and orders them by start time. Files of different hosts, or
    /// files that overlap in time, are refused: they are not one timeline.
    pub fn open(paths: &[impl AsRef<Path>]) -> Result<CaptureSet, SetError> {
        if paths.is_empty() {
            return Err(SetError::Empty);
        }
        let mut files = paths
            .iter()
            .map(|p| CaptureReader::open(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        files.sort_by_key(|f| f.header().start_ts);
        for pair in files.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let (host_a, host_b) = (&a.header().host, &b.header().host);
            // Boot time is derived from two clocks read one after the other, so files of
            // one boot differ in it by microseconds.
            let same_boot = host_a.boot_time_ns.abs_diff(host_b.boot_time_ns) < 1_000_000_000;
            if host_a.machine_id != host_b.machine_id || !same_boot {
                return Err(SetError::MixedHosts {
                    first: a.path().into(),
                    second: b.path().into(),
                    first_host: format!("{} boot {}", host_a.hostname, host_a.boot_time_ns),
                    second_host: format!("{} boot {}", host_b.hostname, host_b.boot_time_ns),
                });
            }
            let a_end = a
                .event_blocks()
                .map(|b| b.header.last_ts)
                .max()
                .unwrap_or(0);
            let b_start = b.event_blocks().map(|b| b.header.first_ts).min();
            // CPUs share one ring, so a stream is ordered only to within microseconds
            // and consecutive files of a rotation may overlap that much; a file given
            // twice, or a file of another recording, overlaps by far more.
            if a.header().start_ts == b.header().start_ts
                || b_start.is_some_and(|start| start.saturating_add(OVERLAP_TOLERANCE_NS) < a_end)
            {
                return Err(SetError::Overlap {
                    first: a.path().into(),
                    second: b.path().into(),
                });
            }
        }
        Ok(CaptureSet { files })
    }

    pub fn files(&self) -> &[CaptureReader] {
        &self.files
    }

    /// The first file's reader, whose header describes the host.
    pub fn first(&self) -> &CaptureReader {
        &self.files[0]
    }

    /// Every segment of every file, in timeline order, with running event counts.
    pub fn work_units(&self) -> Vec<WorkUnit> {
        let mut units = Vec::new();
        let mut events_before = 0;
        for (index, file) in self.files.iter().enumerate() {
            for (n, segment) in file.segments().into_iter().enumerate() {
                if segment.blocks.is_empty() && n > 0 {
                    continue;
                }
                let unit = WorkUnit {
                    file: index,
                    state: segment.state,
                    blocks: segment.blocks,
                    events_before,
                    starts_file: n == 0,
                };
                events_before += unit.events();
                units.push(unit);
            }
        }
        units
    }

    /// Event blocks in the set (by header counts, including blocks that may not decode).
    pub fn total_events(&self) -> u64 {
        self.files
            .iter()
            .flat_map(|f| f.event_blocks())
            .map(|b| u64::from(b.header.count))
            .sum()
    }
}
