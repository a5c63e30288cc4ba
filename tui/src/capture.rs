//! The open capture as the investigator sees it: one numbered list of events, read lazily.
//!
//! Opening reads only the file header and the block index; an event's position (its
//! `evt.num` minus one) is found from the block headers' counts, and a block is inflated
//! only when something on screen needs it. [`RowCache`] keeps the last few decoded
//! blocks, with each event's process name from the state engine, which it runs from the
//! nearest checkpoint (the segment's state block) rather than from the start of the file.

use crate::TuiError;
use casefile_formats::block::DecodedBlock;
use casefile_formats::reader::{BlockInfo, CaptureReader};
use casefile_formats::state::StateSnapshot;
use casefile_rules::state::{event_process_name, StateEngine};
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// An events block and where its events sit in the capture's numbering.
#[derive(Clone, Copy, Debug)]
pub struct BlockEntry {
    pub info: BlockInfo,
    /// Position of the block's first event in the whole capture.
    pub first: u64,
    /// Index into [`Capture::segments`].
    pub segment: usize,
}

impl BlockEntry {
    pub fn count(&self) -> u64 {
        u64::from(self.info.header.count)
    }
}

/// A state block and the event blocks that follow it (see `docs/FORMAT.md`).
#[derive(Clone, Debug)]
pub struct SegmentEntry {
    pub state: Option<BlockInfo>,
    /// Indices into [`Capture::blocks`].
    pub blocks: Range<usize>,
}

/// A capture file opened for browsing; shared read-only with background workers.
pub struct Capture {
    reader: CaptureReader,
    blocks: Vec<BlockEntry>,
    segments: Vec<SegmentEntry>,
    total: u64,
}

impl Capture {
    pub fn open(path: &Path) -> Result<Capture, TuiError> {
        Ok(Capture::from_reader(CaptureReader::open(path)?))
    }

    pub fn from_reader(reader: CaptureReader) -> Capture {
        let mut blocks = Vec::new();
        let mut segments = Vec::new();
        let mut total = 0;
        for segment in reader.segments() {
            // A file's only state block may be followed by nothing; later empty
            // segments (two checkpoints in a row) hold no events to show.
            if segment.blocks.is_empty() && !segments.is_empty() {
                continue;
            }
            let start = blocks.len();
            for info in &segment.blocks {
                blocks.push(BlockEntry {
                    info: *info,
                    first: total,
                    segment: segments.len(),
                });
                total += u64::from(info.header.count);
            }
            segments.push(SegmentEntry {
                state: segment.state,
                blocks: start..blocks.len(),
            });
        }
        Capture {
            reader,
            blocks,
            segments,
            total,
        }
    }

    pub fn reader(&self) -> &CaptureReader {
        &self.reader
    }

    pub fn path(&self) -> &Path {
        self.reader.path()
    }

    pub fn boot_time_ns(&self) -> u64 {
        self.reader.header().host.boot_time_ns
    }

    pub fn hostname(&self) -> &str {
        &self.reader.header().host.hostname
    }

    /// Events in the file, by the block headers' counts.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn blocks(&self) -> &[BlockEntry] {
        &self.blocks
    }

    pub fn segments(&self) -> &[SegmentEntry] {
        &self.segments
    }

    /// Time of the first and last event (event clock), from the block headers.
    pub fn time_range(&self) -> Option<(u64, u64)> {
        let first = self.blocks.iter().map(|b| b.info.header.first_ts).min()?;
        let last = self.blocks.iter().map(|b| b.info.header.last_ts).max()?;
        Some((first, last))
    }

    /// The block holding event `index` and the event's row in it.
    pub fn locate(&self, index: u64) -> Option<(usize, usize)> {
        if index >= self.total {
            return None;
        }
        let block = self
            .blocks
            .partition_point(|b| b.first + b.count() <= index);
        let entry = self.blocks.get(block)?;
        Some((block, (index - entry.first) as usize))
    }

    /// The first block whose events may reach `ts` (blocks are in time order up to the
    /// reordering between CPUs, which is far below a block's span).
    pub fn block_at_time(&self, ts: u64) -> usize {
        self.blocks
            .partition_point(|b| b.info.header.last_ts < ts)
            .min(self.blocks.len().saturating_sub(1))
    }

    /// The state to start segment `segment` from; `None` when its state block is missing
    /// or does not read (events then show without process context until they exec).
    pub fn segment_state(&self, segment: usize) -> Option<StateSnapshot> {
        let block = self.segments.get(segment)?.state?;
        self.reader.read_state(&block).ok()
    }

    pub fn state_engine_for(&self, segment: usize) -> StateEngine {
        match self.segment_state(segment) {
            Some(snapshot) => StateEngine::from_snapshot(&snapshot),
            None => StateEngine::new(),
        }
    }

    pub fn decode(&self, block: usize) -> Result<DecodedBlock, String> {
        let entry = self
            .blocks
            .get(block)
            .ok_or_else(|| format!("no block {block}"))?;
        self.reader
            .decode_events(&entry.info)
            .map_err(|e| e.to_string())
    }
}

/// A decoded block with each event's process name.
pub struct BlockRows {
    pub decoded: DecodedBlock,
    /// Per event, an index into `names`; empty when the block was decoded without
    /// naming ([`RowCache::decoded`]).
    pub name_of: Vec<u32>,
    pub names: Vec<Box<[u8]>>,
    /// Why the block could not be read, when it could not.
    pub error: Option<String>,
}

impl BlockRows {
    pub fn name(&self, row: usize) -> &[u8] {
        self.name_of
            .get(row)
            .and_then(|&i| self.names.get(i as usize))
            .map_or(b"?", |n| n)
    }
}

/// Interns the process names of one block: a block holds thousands of events of a few
/// dozen processes.
#[derive(Default)]
struct NameTable {
    names: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, u32>,
}

impl NameTable {
    fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }
}

/// A state engine that has applied every event before `next` (a capture position).
struct Positioned {
    segment: usize,
    next: u64,
    engine: StateEngine,
}

/// The last few decoded blocks, and the state engines that named their processes.
pub struct RowCache {
    capacity: usize,
    /// Most recently used last.
    blocks: Vec<(usize, Arc<BlockRows>)>,
    /// Where naming left off: scrolling down continues from here instead of from the
    /// segment's checkpoint.
    naming: Option<Positioned>,
    /// The state at the event the detail pane shows.
    detail: Option<Positioned>,
    /// The state at the start of blocks the walks above passed, taken as the recorder
    /// takes a checkpoint: a walk to a block starts from the nearest one before it, so
    /// stepping back over a block boundary replays one block, not a whole segment.
    marks: Vec<(usize, Arc<StateSnapshot>)>,
}

/// Block-start states kept; each is a snapshot of the process table.
const MARKS: usize = 64;

impl RowCache {
    pub fn new(capacity: usize) -> RowCache {
        RowCache {
            capacity: capacity.max(2),
            blocks: Vec::new(),
            naming: None,
            detail: None,
            marks: Vec::new(),
        }
    }

    /// Remembers the state at the start of `block` (`engine` has applied every event
    /// before it).
    fn mark(&mut self, capture: &Capture, block: usize, engine: &StateEngine) {
        if self.marks.iter().any(|(b, _)| *b == block) {
            return;
        }
        let segment = capture.blocks()[block].segment;
        if capture.segments()[segment].blocks.start == block {
            return; // the segment's own checkpoint is there already
        }
        if self.marks.len() >= MARKS {
            self.marks.remove(0);
        }
        let ts = capture.blocks()[block].info.header.first_ts;
        self.marks.push((block, Arc::new(engine.snapshot(ts))));
    }

    /// An engine for walking to `block`: from the nearest mark at or before it in its
    /// segment, else from the segment's checkpoint.
    fn start_for(&self, capture: &Capture, block: usize) -> Positioned {
        let entry = capture.blocks()[block];
        let segment = &capture.segments()[entry.segment];
        let mark = self
            .marks
            .iter()
            .filter(|(b, _)| segment.blocks.contains(b) && *b <= block)
            .max_by_key(|(b, _)| *b);
        match mark {
            Some((b, snapshot)) => Positioned {
                segment: entry.segment,
                next: capture.blocks()[*b].first,
                engine: StateEngine::from_snapshot(snapshot),
            },
            None => Positioned {
                segment: entry.segment,
                next: capture.blocks()[segment.blocks.start].first,
                engine: capture.state_engine_for(entry.segment),
            },
        }
    }

    fn cached(&mut self, block: usize, named: bool) -> Option<Arc<BlockRows>> {
        let at = self.blocks.iter().position(|(b, rows)| {
            *b == block && (!named || rows.error.is_some() || !rows.name_of.is_empty())
        })?;
        let entry = self.blocks.remove(at);
        let rows = entry.1.clone();
        self.blocks.push(entry);
        Some(rows)
    }

    fn insert(&mut self, block: usize, rows: Arc<BlockRows>) {
        self.blocks.retain(|(b, _)| *b != block);
        if self.blocks.len() >= self.capacity {
            self.blocks.remove(0);
        }
        self.blocks.push((block, rows));
    }

    /// The rows of `block`, decoding it (and naming its processes) when not cached.
    pub fn rows(&mut self, capture: &Capture, block: usize) -> Option<Arc<BlockRows>> {
        if let Some(rows) = self.cached(block, true) {
            return Some(rows);
        }
        let entry = *capture.blocks().get(block)?;
        let segment = capture.segments().get(entry.segment)?;
        let mut positioned = match self.naming.take() {
            Some(p) if p.segment == entry.segment && p.next <= entry.first => p,
            _ => self.start_for(capture, block),
        };
        // Walk the segment up to and including `block`, keeping each block decoded on
        // the way: the screen around the target usually needs its neighbours next.
        let mut result = None;
        for index in segment.blocks.clone() {
            let walked = capture.blocks()[index];
            if walked.first < positioned.next {
                continue;
            }
            self.mark(capture, index, &positioned.engine);
            let rows = Arc::new(name_block(capture, index, &mut positioned.engine));
            positioned.next = walked.first + walked.count();
            if index + 2 >= block {
                self.insert(index, rows.clone());
            }
            if index == block {
                result = Some(rows);
                break;
            }
        }
        self.naming = Some(positioned);
        result
    }

    /// `block` decoded, its processes named only if it already was: for rows whose
    /// names are known otherwise (a filter's matches keep theirs), which then cost one
    /// block's decoding instead of a run of the state engine from the checkpoint.
    pub fn decoded(&mut self, capture: &Capture, block: usize) -> Option<Arc<BlockRows>> {
        if let Some(rows) = self.cached(block, false) {
            return Some(rows);
        }
        capture.blocks().get(block)?;
        let rows = Arc::new(match capture.decode(block) {
            Ok(decoded) => BlockRows {
                decoded,
                name_of: Vec::new(),
                names: Vec::new(),
                error: None,
            },
            Err(e) => BlockRows {
                decoded: DecodedBlock::default(),
                name_of: Vec::new(),
                names: Vec::new(),
                error: Some(e),
            },
        });
        self.insert(block, rows.clone());
        Some(rows)
    }

    /// The event at `index` and the state engine just after it: what the detail pane
    /// shows (its process, ancestry and open descriptors at that moment).
    pub fn state_at(&mut self, capture: &Capture, index: u64) -> Option<&StateEngine> {
        let (block, _) = capture.locate(index)?;
        let entry = capture.blocks()[block];
        let reusable =
            matches!(&self.detail, Some(p) if p.segment == entry.segment && p.next <= index + 1);
        if !reusable {
            self.detail = Some(self.start_for(capture, block));
        }
        let mut positioned = self.detail.take()?;
        while positioned.next <= index {
            let Some((b, row)) = capture.locate(positioned.next) else {
                break;
            };
            let block_entry = capture.blocks()[b];
            if row == 0 {
                self.mark(capture, b, &positioned.engine);
            }
            let rows = match self.blocks.iter().find(|(cached, _)| *cached == b) {
                Some((_, rows)) => rows.clone(),
                None => Arc::new(BlockRows {
                    decoded: capture.decode(b).unwrap_or_default(),
                    name_of: Vec::new(),
                    names: Vec::new(),
                    error: None,
                }),
            };
            let last = if b == block {
                (index - block_entry.first) as usize
            } else {
                (block_entry.count() as usize).saturating_sub(1)
            };
            for r in row..=last {
                if let Some(event) = rows.decoded.event(r) {
                    positioned.engine.update(&event);
                }
            }
            positioned.next = block_entry.first + last as u64 + 1;
        }
        self.detail = Some(positioned);
        self.detail.as_ref().map(|p| &p.engine)
    }
}

/// Decodes a block and names each event's process, advancing `engine` over it.
fn name_block(capture: &Capture, block: usize, engine: &mut StateEngine) -> BlockRows {
    let mut table = NameTable::default();
    match capture.decode(block) {
        Ok(decoded) => {
            let mut name_of = Vec::with_capacity(decoded.len());
            for event in decoded.events() {
                engine.update(&event);
                name_of.push(table.intern(&event_process_name(engine, &event)));
            }
            BlockRows {
                decoded,
                name_of,
                names: table.names,
                error: None,
            }
        }
        Err(e) => BlockRows {
            decoded: DecodedBlock::default(),
            name_of: Vec::new(),
            names: Vec::new(),
            error: Some(e),
        },
    }
}
