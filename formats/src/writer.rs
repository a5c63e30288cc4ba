//! The capture writer: header, initial state snapshot, event blocks, checkpoints, and on
//! a clean finish the index block and footer.
//!
//! Crash safety comes from the layout, not from the finish: every block is written whole
//! with one `write` and is self-describing, so a file cut anywhere (recorder killed, disk
//! full) reads back up to its last complete block. A live writer calls [`tick`] often
//! and events are handed to the kernel at least once per `flush_interval`, bounding what
//! a kill can lose.
//!
//! [`tick`]: CaptureWriter::tick

use crate::block::{BlockKind, EventBlockBuilder, RawBlock, SealedBlock};
use crate::error::FormatError;
use crate::event::{Arg, Event, EventKind};
use crate::header::{encode_footer, to_cbor, CaptureStats, FileHeader, IndexEntry, IndexPayload};
use crate::state::StateSnapshot;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// When blocks are cut and checkpoints taken.
#[derive(Clone, Debug)]
pub struct WriterOptions {
    /// Cut a block after this many events…
    pub block_events: u32,
    /// …or this many uncompressed bytes, whichever comes first.
    pub block_bytes: usize,
    /// A live writer hands buffered events to the kernel at least this often.
    pub flush_interval: Duration,
    /// zstd level; `None` stores blocks uncompressed.
    pub zstd_level: Option<i32>,
    /// A checkpoint is due after this many event blocks…
    pub checkpoint_blocks: u32,
    /// …or this much time, whichever comes first.
    pub checkpoint_interval: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            block_events: 65_536,
            block_bytes: 2 << 20,
            flush_interval: Duration::from_secs(1),
            zstd_level: Some(3),
            checkpoint_blocks: 16,
            checkpoint_interval: Duration::from_secs(30),
        }
    }
}

/// Writes one capture file. Dropping a writer without [`finish`](Self::finish) still
/// writes the buffered events (without an index), as a killed recorder's file would be.
pub struct CaptureWriter<W: Write> {
    out: Option<W>,
    path: PathBuf,
    options: WriterOptions,
    position: u64,
    next_seq: u64,
    builder: EventBlockBuilder,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    index: Vec<IndexEntry>,
    stats: CaptureStats,
    last_flush: Instant,
    blocks_since_checkpoint: u32,
    last_checkpoint: Instant,
}

impl CaptureWriter<File> {
    /// Creates `path` (which must not exist) with mode 0600: captures hold command
    /// lines, environments and secrets.
    pub fn create(
        path: &Path,
        header: &FileHeader,
        snapshot: &StateSnapshot,
        options: WriterOptions,
    ) -> Result<Self, FormatError> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| FormatError::io(path, e))?;
        CaptureWriter::new(file, path, header, snapshot, options)
    }

    /// Finishes the file and waits until it is on disk.
    pub fn finish_and_sync(self) -> Result<CaptureStats, FormatError> {
        let path = self.path.clone();
        let (file, stats) = self.finish()?;
        file.sync_all().map_err(|e| FormatError::io(&path, e))?;
        Ok(stats)
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Starts a capture on `out`; `path` only names it in errors.
    pub fn new(
        mut out: W,
        path: &Path,
        header: &FileHeader,
        snapshot: &StateSnapshot,
        options: WriterOptions,
    ) -> Result<Self, FormatError> {
        let head = header.to_bytes();
        out.write_all(&head).map_err(|e| FormatError::io(path, e))?;
        let compressor = match options.zstd_level {
            Some(level) => {
                Some(zstd::bulk::Compressor::new(level).map_err(|e| FormatError::io(path, e))?)
            }
            None => None,
        };
        let now = Instant::now();
        let mut writer = CaptureWriter {
            out: Some(out),
            path: path.to_path_buf(),
            options,
            position: head.len() as u64,
            next_seq: 0,
            builder: EventBlockBuilder::new(),
            compressor,
            index: Vec::new(),
            stats: CaptureStats::default(),
            last_flush: now,
            blocks_since_checkpoint: 0,
            last_checkpoint: now,
        };
        writer.write_state(BlockKind::SNAPSHOT, snapshot)?;
        Ok(writer)
    }

    /// Appends one event. Events should arrive in timestamp order; a block records the
    /// smallest and largest timestamp it holds, so a slightly unordered stream is still
    /// indexed correctly.
    pub fn push(&mut self, event: &Event<'_>) -> Result<(), FormatError> {
        if event.kind == EventKind::DROPS {
            if let Some(Arg::Uint(n)) = event.args.get(1) {
                self.stats.drops = self.stats.drops.saturating_add(n);
            }
        }
        self.stats.events += 1;
        self.stats.end_ts = self.stats.end_ts.max(event.ts);
        self.builder.push(event);
        if self.builder.len() >= self.options.block_events
            || self.builder.raw_size() >= self.options.block_bytes
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes buffered events if `flush_interval` has passed since the last flush. A
    /// live writer calls this whenever it wakes up, events or not.
    pub fn tick(&mut self) -> Result<(), FormatError> {
        if !self.builder.is_empty() && self.last_flush.elapsed() >= self.options.flush_interval {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered events as a block now.
    pub fn flush(&mut self) -> Result<(), FormatError> {
        self.last_flush = Instant::now();
        if self.builder.is_empty() {
            return Ok(());
        }
        let raw = self.builder.take();
        self.stats.raw_bytes += raw.raw.len() as u64;
        self.write_raw(raw)?;
        self.blocks_since_checkpoint += 1;
        Ok(())
    }

    /// Whether the caller should hand over a state checkpoint now.
    pub fn checkpoint_due(&self) -> bool {
        self.blocks_since_checkpoint > 0
            && (self.blocks_since_checkpoint >= self.options.checkpoint_blocks
                || self.last_checkpoint.elapsed() >= self.options.checkpoint_interval)
    }

    /// Flushes buffered events, then writes `state` — which must be the state after the
    /// last pushed event — as a checkpoint.
    pub fn write_checkpoint(&mut self, state: &StateSnapshot) -> Result<(), FormatError> {
        self.flush()?;
        self.write_state(BlockKind::CHECKPOINT, state)?;
        self.blocks_since_checkpoint = 0;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    /// Statistics so far.
    pub fn stats(&self) -> &CaptureStats {
        &self.stats
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Writes the remaining events, the index block and the footer.
    pub fn finish(mut self) -> Result<(W, CaptureStats), FormatError> {
        self.flush()?;
        let index_offset = self.position;
        let mut stats = self.stats.clone();
        stats.blocks = self.index.len() as u64;
        let payload = IndexPayload {
            entries: std::mem::take(&mut self.index),
            stats: stats.clone(),
        };
        let count = payload.entries.len() as u32;
        self.write_raw(RawBlock {
            kind: BlockKind::INDEX,
            first_ts: 0,
            last_ts: stats.end_ts,
            count,
            raw: to_cbor(&payload),
        })?;
        let footer = encode_footer(index_offset);
        let mut out = self.out.take().ok_or_else(|| finished(&self.path))?;
        out.write_all(&footer)
            .and_then(|()| out.flush())
            .map_err(|e| FormatError::io(&self.path, e))?;
        Ok((out, stats))
    }

    fn write_state(&mut self, kind: BlockKind, state: &StateSnapshot) -> Result<(), FormatError> {
        self.write_raw(RawBlock {
            kind,
            first_ts: state.ts,
            last_ts: state.ts,
            count: state.processes.len() as u32,
            raw: to_cbor(state),
        })
    }

    fn write_raw(&mut self, raw: RawBlock) -> Result<(), FormatError> {
        let seq = self.next_seq;
        let sealed = raw
            .seal(seq, self.compressor.as_mut())
            .map_err(|e| FormatError::io(&self.path, e))?;
        self.write_sealed(sealed)
    }

    /// Writes a block sealed elsewhere (a recorder may compress on another thread); its
    /// sequence number must be the next one.
    pub fn write_sealed(&mut self, sealed: SealedBlock) -> Result<(), FormatError> {
        if sealed.header.seq != self.next_seq {
            return Err(FormatError::Write {
                path: self.path.clone(),
                detail: format!(
                    "block sequence {} written where {} was expected",
                    sealed.header.seq, self.next_seq
                ),
            });
        }
        let offset = self.position;
        let mut frame = Vec::with_capacity(sealed.header.total_len() as usize);
        frame.extend_from_slice(&sealed.header.encode());
        frame.extend_from_slice(&sealed.payload);
        let path = &self.path;
        let out = self.out.as_mut().ok_or_else(|| finished(path))?;
        out.write_all(&frame)
            .and_then(|()| out.flush())
            .map_err(|e| FormatError::io(path, e))?;
        self.position += frame.len() as u64;
        self.next_seq += 1;
        if sealed.header.kind != BlockKind::INDEX {
            self.index.push(IndexEntry {
                offset,
                kind: sealed.header.kind.0,
                seq: sealed.header.seq,
                first_ts: sealed.header.first_ts,
                last_ts: sealed.header.last_ts,
                count: sealed.header.count,
            });
        }
        Ok(())
    }
}

fn finished(path: &Path) -> FormatError {
    FormatError::Write {
        path: path.to_path_buf(),
        detail: "writer already finished".into(),
    }
}

impl<W: Write> Drop for CaptureWriter<W> {
    fn drop(&mut self) {
        // An unfinished writer still owes the buffered events to the file; errors have
        // nowhere to go here, and the file stays readable without an index either way.
        if self.out.is_some() {
            let _ = self.flush();
        }
    }
}
