//! The capture reader: maps a file, finds its blocks — through the trailer's index when
//! the file was finished cleanly, by scanning block headers when it was not — and hands
//! out events in order, by time range, or as segments for parallel readers.
//!
//! Damage never stops a read. A truncated tail is measured and reported; a block whose
//! header checksum fails is stepped over by scanning for the next valid header; a block
//! whose payload checksum fails is reported by offset when it is decoded, and the blocks
//! around it still read.

use crate::block::{BlockHeader, BlockKind, DecodedBlock, HeaderProblem, BLOCK_MAGIC};
use crate::codec_table::CodecTable;
use crate::error::FormatError;
use crate::event::Event;
use crate::header::{
    decode_footer, from_cbor, CaptureStats, FileHeader, IndexPayload, FOOTER_LEN, FORMAT_MAJOR,
    MAGIC, PREFIX_LEN,
};
use crate::state::StateSnapshot;
use memmap2::Mmap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// A block found in the file: where it is and what its header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockInfo {
    pub offset: u64,
    pub header: BlockHeader,
}

/// Bytes in the middle of a file that are not a valid block and were stepped over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedRegion {
    pub offset: u64,
    pub len: u64,
    pub detail: String,
}

/// A block whose payload failed its checksum or did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptBlock {
    pub offset: u64,
    pub seq: u64,
    pub detail: String,
}

/// A run of event blocks with the state to start them from: the initial snapshot for the
/// first segment, a checkpoint for the others. Segments can be read in parallel.
#[derive(Clone, Debug)]
pub struct Segment {
    pub state: Option<BlockInfo>,
    pub blocks: Vec<BlockInfo>,
}

/// What a sequential read met on its way.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    pub events: u64,
    pub blocks: u64,
    pub corrupt_blocks: Vec<CorruptBlock>,
}

pub struct CaptureReader {
    path: PathBuf,
    map: Mmap,
    header: FileHeader,
    /// The block codec's predictions for the file's event layout version.
    codec: &'static CodecTable,
    version: (u16, u16),
    data_start: u64,
    blocks: Vec<BlockInfo>,
    trailer: Option<CaptureStats>,
    damaged: Vec<DamagedRegion>,
    truncated_bytes: u64,
    warnings: Vec<String>,
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<CaptureReader, FormatError> {
        let meta = std::fs::metadata(path).map_err(|e| FormatError::io(path, e))?;
        if meta.is_dir() {
            return Err(FormatError::IsDirectory { path: path.into() });
        }
        if meta.len() == 0 {
            return Err(FormatError::Empty { path: path.into() });
        }
        let file = std::fs::File::open(path).map_err(|e| FormatError::io(path, e))?;
        // SAFETY: the map is read-only. A recorder may still be appending to the file;
        // appends beyond the mapped length are not visible and do not change mapped
        // bytes, and every byte read from the map is bounds- and checksum-checked.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| FormatError::io(path, e))?;
        let mut reader = CaptureReader {
            path: path.to_path_buf(),
            map,
            header: FileHeader::default(),
            codec: CodecTable::current(),
            version: (0, 0),
            data_start: 0,
            blocks: Vec::new(),
            trailer: None,
            damaged: Vec::new(),
            truncated_bytes: 0,
            warnings: Vec::new(),
        };
        reader.read_file_header()?;
        reader.codec = reader.event_layout_codec()?;
        if !reader.read_index() {
            reader.scan_blocks();
        }
        for block in &reader.blocks {
            if !block.header.kind.is_known() {
                reader.warnings.push(format!(
                    "skipped a block of unknown kind {} at offset {} (written by a newer casefile?)",
                    block.header.kind.0, block.offset
                ));
            }
        }
        Ok(reader)
    }

    /// Events are decoded by the codec table of their layout version: a file of a
    /// version without one would mis-decode silently, so it is refused with what to do.
    fn event_layout_codec(&self) -> Result<&'static CodecTable, FormatError> {
        let found = self.header.event_layout_version;
        if let Some(codec) = CodecTable::for_layout(found) {
            return Ok(codec);
        }
        Err(FormatError::UnsupportedLayout {
            path: self.path.clone(),
            found,
            supported: crate::schema::EVENT_LAYOUT_VERSION,
            advice: if found > crate::schema::EVENT_LAYOUT_VERSION {
                "it was written by a newer casefile: upgrade to read it"
            } else {
                "the header is damaged or the file was not written by casefile"
            },
        })
    }

    fn read_file_header(&mut self) -> Result<(), FormatError> {
        let map = &self.map[..];
        let path = &self.path;
        let short = |offset: usize, what: &str| FormatError::BadHeader {
            path: path.clone(),
            offset: offset as u64,
            detail: format!("file ends inside the header ({what})"),
        };
        if map.len() < MAGIC.len() || map[..MAGIC.len()] != MAGIC {
            let seen = &map[..map.len().min(MAGIC.len())];
            if MAGIC.starts_with(seen) {
                return Err(short(map.len(), "magic"));
            }
            return Err(FormatError::BadMagic {
                path: path.clone(),
                found: crate::text::escape(seen).into_owned(),
            });
        }
        if map.len() < PREFIX_LEN {
            return Err(short(map.len(), "version"));
        }
        let major = u16::from_le_bytes([map[8], map[9]]);
        let minor = u16::from_le_bytes([map[10], map[11]]);
        if major > FORMAT_MAJOR {
            return Err(FormatError::TooNew {
                path: path.clone(),
                major,
                minor,
                supported: FORMAT_MAJOR,
            });
        }
        let cbor_len = u32::from_le_bytes([map[12], map[13], map[14], map[15]]) as usize;
        let cbor_end = PREFIX_LEN.saturating_add(cbor_len);
        let Some(crc_bytes) = map.get(cbor_end..cbor_end.saturating_add(4)) else {
            return Err(short(map.len(), "header fields"));
        };
        let cbor = &map[PREFIX_LEN..cbor_end];
        let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        if crc32fast::hash(cbor) != stored {
            return Err(FormatError::BadHeader {
                path: path.clone(),
                offset: PREFIX_LEN as u64,
                detail: "header checksum mismatch".into(),
            });
        }
        self.header = from_cbor(cbor).map_err(|detail| FormatError::BadHeader {
            path: path.clone(),
            offset: PREFIX_LEN as u64,
            detail,
        })?;
        self.version = (major, minor);
        self.data_start = (cbor_end + 4) as u64;
        Ok(())
    }

    /// Uses the trailer's index when the file has a valid footer, index block, and
    /// every indexed block header checks out; otherwise the caller scans.
    fn read_index(&mut self) -> bool {
        let len = self.map.len();
        if len < self.data_start as usize + FOOTER_LEN {
            return false;
        }
        let Some(index_offset) = decode_footer(&self.map[len - FOOTER_LEN..]) else {
            return false;
        };
        let index_end = len - FOOTER_LEN;
        let payload = self
            .block_at(index_offset, index_end)
            .filter(|block| block.header.kind == BlockKind::INDEX)
            .and_then(|block| self.unpack(&block).ok());
        let Some(payload) = payload else {
            self.warnings
                .push("the trailer's index is damaged; blocks were found by scanning".into());
            return false;
        };
        let Ok(index) = from_cbor::<IndexPayload>(&payload) else {
            self.warnings
                .push("the trailer's index does not decode; blocks were found by scanning".into());
            return false;
        };
        let mut blocks = Vec::with_capacity(index.entries.len());
        for entry in &index.entries {
            match self.block_at(entry.offset, index_offset as usize) {
                Some(b) if b.header.seq == entry.seq && b.header.kind.0 == entry.kind => {
                    blocks.push(b)
                }
                _ => {
                    self.warnings.push(format!(
                        "indexed block at offset {} is damaged; blocks were found by scanning",
                        entry.offset
                    ));
                    return false;
                }
            }
        }
        self.blocks = blocks;
        self.trailer = Some(index.stats);
        true
    }

    /// The block whose header starts at `offset`, if it is valid and ends by `limit`.
    fn block_at(&self, offset: u64, limit: usize) -> Option<BlockInfo> {
        let start = usize::try_from(offset).ok()?;
        if start < self.data_start as usize || start >= limit {
            return None;
        }
        let header = BlockHeader::decode(&self.map[start..limit]).ok()?;
        (offset.checked_add(header.total_len())? <= limit as u64)
            .then_some(BlockInfo { offset, header })
    }

    fn scan_blocks(&mut self) {
        let len = self.map.len();
        let mut pos = self.data_start as usize;
        let mut last_kind = None;
        while pos < len {
            match BlockHeader::decode(&self.map[pos..]) {
                Ok(header) => {
                    let end = pos as u64 + header.total_len();
                    if end > len as u64 {
                        self.truncated_bytes = (len - pos) as u64;
                        break;
                    }
                    if header.kind == BlockKind::INDEX {
                        if let Ok(index) = self
                            .unpack(&BlockInfo {
                                offset: pos as u64,
                                header,
                            })
                            .map_err(|_| ())
                            .and_then(|raw| from_cbor::<IndexPayload>(&raw).map_err(|_| ()))
                        {
                            self.trailer = Some(index.stats);
                        }
                    } else {
                        self.blocks.push(BlockInfo {
                            offset: pos as u64,
                            header,
                        });
                    }
                    last_kind = Some(header.kind);
                    pos = end as usize;
                }
                Err(HeaderProblem::Short) => {
                    self.truncated_bytes = (len - pos) as u64;
                    break;
                }
                Err(problem) => {
                    // A footer cut short after a complete index is a truncation too.
                    if last_kind == Some(BlockKind::INDEX) && len - pos <= FOOTER_LEN {
                        self.truncated_bytes = (len - pos) as u64;
                        break;
                    }
                    let next = self.next_block_after(pos);
                    let detail = match problem {
                        HeaderProblem::BadChecksum => "block header checksum mismatch",
                        _ => "bytes that are not a block header",
                    };
                    let end = next.unwrap_or(len);
                    self.damaged.push(DamagedRegion {
                        offset: pos as u64,
                        len: (end - pos) as u64,
                        detail: detail.to_string(),
                    });
                    last_kind = None;
                    pos = end;
                }
            }
        }
    }

    /// The offset of the next valid, complete block header after `pos`.
    fn next_block_after(&self, pos: usize) -> Option<usize> {
        let map = &self.map[..];
        let mut from = pos + 1;
        while from + BLOCK_MAGIC.len() <= map.len() {
            let hit = map[from..]
                .windows(BLOCK_MAGIC.len())
                .position(|w| w == BLOCK_MAGIC)?;
            let candidate = from + hit;
            if let Ok(header) = BlockHeader::decode(&map[candidate..]) {
                if candidate as u64 + header.total_len() <= map.len() as u64 {
                    return Some(candidate);
                }
            }
            from = candidate + 1;
        }
        None
    }

    fn stored_payload(&self, block: &BlockInfo) -> &[u8] {
        let start = block.offset as usize + crate::block::BLOCK_HEADER_LEN;
        &self.map[start..start + block.header.stored_len as usize]
    }

    fn unpack(&self, block: &BlockInfo) -> Result<Vec<u8>, crate::block::PayloadError> {
        crate::block::unpack_payload(&block.header, self.stored_payload(block))
    }

    fn block_error(&self, block: &BlockInfo, detail: impl ToString) -> FormatError {
        FormatError::Block {
            path: self.path.clone(),
            offset: block.offset,
            detail: detail.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// Format (major, minor) version of the file.
    pub fn version(&self) -> (u16, u16) {
        self.version
    }

    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Every complete block with a valid header, in file order (the index excluded).
    pub fn blocks(&self) -> &[BlockInfo] {
        &self.blocks
    }

    pub fn event_blocks(&self) -> impl Iterator<Item = &BlockInfo> + '_ {
        self.blocks
            .iter()
            .filter(|b| b.header.kind == BlockKind::EVENTS)
    }

    /// The statistics of the trailer, if the writer finished cleanly.
    pub fn trailer(&self) -> Option<&CaptureStats> {
        self.trailer.as_ref()
    }

    /// Bytes at the end that are not a complete block (recorder killed, disk full).
    pub fn truncated_bytes(&self) -> u64 {
        self.truncated_bytes
    }

    pub fn damaged_regions(&self) -> &[DamagedRegion] {
        &self.damaged
    }

    /// Things a reader should tell the user (unknown block kinds, damaged index).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Inflates and validates an events block.
    pub fn decode_events(&self, block: &BlockInfo) -> Result<DecodedBlock, FormatError> {
        if block.header.kind != BlockKind::EVENTS {
            return Err(self.block_error(block, "not an events block"));
        }
        let mut decoded = DecodedBlock::default();
        self.decode_events_into(block, &mut Vec::new(), &mut decoded)?;
        Ok(decoded)
    }

    /// [`CaptureReader::decode_events`] reusing the caller's buffers (the inflated
    /// payload and the decoded block), which saves reallocating them for every block of a
    /// sequential read.
    pub fn decode_events_into(
        &self,
        block: &BlockInfo,
        raw: &mut Vec<u8>,
        decoded: &mut DecodedBlock,
    ) -> Result<(), FormatError> {
        if block.header.kind != BlockKind::EVENTS {
            return Err(self.block_error(block, "not an events block"));
        }
        crate::block::unpack_payload_into(&block.header, self.stored_payload(block), raw)
            .map_err(|e| self.block_error(block, e))?;
        decoded
            .decode_from(raw, block.header.count, self.codec)
            .map_err(|e| self.block_error(block, e))
    }

    /// Reads a snapshot or checkpoint block.
    pub fn read_state(&self, block: &BlockInfo) -> Result<StateSnapshot, FormatError> {
        if !matches!(
            block.header.kind,
            BlockKind::SNAPSHOT | BlockKind::CHECKPOINT
        ) {
            return Err(self.block_error(block, "not a state block"));
        }
        let raw = self.unpack(block).map_err(|e| self.block_error(block, e))?;
        from_cbor(&raw).map_err(|e| self.block_error(block, format!("state does not decode: {e}")))
    }

    /// The state snapshot taken when the capture started, if its block survived.
    pub fn initial_state(&self) -> Option<Result<StateSnapshot, FormatError>> {
        self.blocks
            .iter()
            .find(|b| b.header.kind == BlockKind::SNAPSHOT)
            .map(|b| self.read_state(b))
    }

    /// The file cut at each checkpoint: segment `i` holds the event blocks between state
    /// block `i` and the next one. Reading the segments in parallel and concatenating
    /// their events gives exactly the sequential stream.
    pub fn segments(&self) -> Vec<Segment> {
        let mut segments = vec![Segment {
            state: None,
            blocks: Vec::new(),
        }];
        for block in &self.blocks {
            match block.header.kind {
                BlockKind::SNAPSHOT | BlockKind::CHECKPOINT => {
                    let current = segments.last_mut().expect("segments is never empty");
                    if current.blocks.is_empty() && current.state.is_none() {
                        current.state = Some(*block);
                    } else {
                        segments.push(Segment {
                            state: Some(*block),
                            blocks: Vec::new(),
                        });
                    }
                }
                BlockKind::EVENTS => segments
                    .last_mut()
                    .expect("segments is never empty")
                    .blocks
                    .push(*block),
                _ => {}
            }
        }
        segments
    }

    /// Event blocks that may hold events with `from <= ts < to`.
    pub fn event_blocks_between(&self, from: u64, to: u64) -> impl Iterator<Item = &BlockInfo> {
        self.event_blocks()
            .filter(move |b| b.header.last_ts >= from && b.header.first_ts < to)
    }

    /// Calls `visit` with every event with `from <= ts < to`, in file order, skipping
    /// (and reporting) blocks that fail to decode. `visit` may stop the read early.
    pub fn for_each_event(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(&Event<'_>) -> ControlFlow<()>,
    ) -> ReadReport {
        let mut report = ReadReport::default();
        let mut raw = Vec::new();
        let mut decoded = DecodedBlock::default();
        for block in self.event_blocks_between(from, to) {
            match self.decode_events_into(block, &mut raw, &mut decoded) {
                Ok(()) => {
                    report.blocks += 1;
                    for event in decoded.events() {
                        if event.ts < from || event.ts >= to {
                            continue;
                        }
                        report.events += 1;
                        if visit(&event).is_break() {
                            return report;
                        }
                    }
                }
                Err(e) => report.corrupt_blocks.push(CorruptBlock {
                    offset: block.offset,
                    seq: block.header.seq,
                    detail: match e {
                        FormatError::Block { detail, .. } => detail,
                        other => other.to_string(),
                    },
                }),
            }
        }
        report
    }
}
