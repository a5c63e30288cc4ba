//! The records the kernel programs write into the ring buffer (layout version 1,
//! specified in `docs/RECORDS.md`; the C side is `bpf/record.h`).
//!
//! A record is a 32-byte header and `nparams` parameters. Parameters are a type byte
//! then either 8 little-endian bytes (numbers) or a 16-bit length and that many bytes.
//! The kernel writes fixed-width numbers because varints would cost it loops; the
//! recorder turns records into casefile events.

use thiserror::Error;

pub const RECORD_LAYOUT_VERSION: u32 = 1;
pub const HEADER_LEN: usize = 32;
/// Kinds beyond syscall numbers, as `casefile_formats::event::EventKind` numbers them.
pub const KIND_FORK: u16 = 1024;
pub const KIND_PROC_EXIT: u16 = 1025;
pub const SYSCALL_LIMIT: u16 = 1024;
/// Slots of the drop counters: one per syscall, then fork and exit.
pub const DROP_SLOTS: u32 = SYSCALL_LIMIT as u32 + 2;

/// Parameter types: the same numbers as casefile's argument tags.
pub mod param {
    pub const ABSENT: u8 = 0;
    pub const INT: u8 = 1;
    pub const UINT: u8 = 2;
    pub const FD: u8 = 3;
    pub const STR: u8 = 4;
    pub const BYTES: u8 = 5;
    pub const STR_LIST: u8 = 6;
    pub const SOCK: u8 = 7;
}

/// Scope modes of the `scope_mode` setting.
pub mod scope {
    pub const ALL: u32 = 0;
    pub const PIDS: u32 = 1;
    pub const CGROUP: u32 = 2;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    pub ret: i64,
    pub kind: u16,
    pub cpu: u16,
    pub nparams: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param<'a> {
    Absent,
    Int(i64),
    Uint(u64),
    Fd(i64),
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    /// NUL-separated items (argv, environment), as the process's memory holds them.
    StrList(&'a [u8]),
    /// A raw `struct sockaddr`, family first in host byte order.
    Sock(&'a [u8]),
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record of {0} bytes is shorter than its {HEADER_LEN}-byte header")]
    Short(usize),
    #[error("parameter {index} at byte {offset}: {problem}")]
    Param {
        index: usize,
        offset: usize,
        problem: &'static str,
    },
}

/// One record, borrowed from the ring buffer.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    pub header: RecordHeader,
    params: &'a [u8],
}

impl<'a> Record<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or(RecordError::Short(bytes.len()))?;
        let u64_at =
            |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().unwrap_or([0; 8]));
        let u32_at =
            |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap_or([0; 4]));
        let u16_at = |at: usize| u16::from_le_bytes([header[at], header[at + 1]]);
        Ok(Record {
            header: RecordHeader {
                ts: u64_at(0),
                pid: u32_at(8),
                tid: u32_at(12),
                ret: u64_at(16) as i64,
                kind: u16_at(24),
                cpu: u16_at(26),
                nparams: u16_at(28),
            },
            params: &bytes[HEADER_LEN..],
        })
    }

    /// The parameters in order; a malformed one ends the iteration with an error.
    pub fn params(&self) -> Params<'a> {
        Params {
            bytes: self.params,
            pos: 0,
            index: 0,
            remaining: self.header.nparams,
        }
    }
}

pub struct Params<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: usize,
    remaining: u16,
}

impl<'a> Iterator for Params<'a> {
    type Item = Result<Param<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let offset = HEADER_LEN + self.pos;
        let error = |problem| {
            Some(Err(RecordError::Param {
                index: self.index,
                offset,
                problem,
            }))
        };
        let Some(&kind) = self.bytes.get(self.pos) else {
            self.remaining = 0;
            return error("past the end of the record");
        };
        let body = &self.bytes[self.pos + 1..];
        let (param, used) = match kind {
            param::ABSENT => (Param::Absent, 0),
            param::INT | param::UINT | param::FD => {
                let Some(raw) = body.get(..8) else {
                    self.remaining = 0;
                    return error("number cut short");
                };
                let v = u64::from_le_bytes(raw.try_into().unwrap_or([0; 8]));
                let param = match kind {
                    param::INT => Param::Int(v as i64),
                    param::UINT => Param::Uint(v),
                    _ => Param::Fd(v as i64),
                };
                (param, 8)
            }
            param::STR | param::BYTES | param::STR_LIST | param::SOCK => {
                let Some(len) = body
                    .get(..2)
                    .map(|l| usize::from(u16::from_le_bytes([l[0], l[1]])))
                else {
                    self.remaining = 0;
                    return error("length cut short");
                };
                let Some(data) = body.get(2..2 + len) else {
                    self.remaining = 0;
                    return error("data runs past the end of the record");
                };
                let param = match kind {
                    param::STR => Param::Str(data),
                    param::BYTES => Param::Bytes(data),
                    param::STR_LIST => Param::StrList(data),
                    _ => Param::Sock(data),
                };
                (param, 2 + len)
            }
            _ => {
                self.remaining = 0;
                return error("unknown parameter type");
            }
        };
        self.pos += 1 + used;
        self.index += 1;
        Some(Ok(param))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: u16, params: &[u8], nparams: u16) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&42u64.to_le_bytes());
        r.extend_from_slice(&7u32.to_le_bytes());
        r.extend_from_slice(&8u32.to_le_bytes());
        r.extend_from_slice(&(-2i64).to_le_bytes());
        r.extend_from_slice(&kind.to_le_bytes());
        r.extend_from_slice(&1u16.to_le_bytes());
        r.extend_from_slice(&nparams.to_le_bytes());
        r.extend_from_slice(&0u16.to_le_bytes());
        r.extend_from_slice(params);
        r
    }

    #[test]
    fn parses_header_and_every_parameter_type() {
        let mut p = vec![param::FD];
        p.extend_from_slice(&(-100i64).to_le_bytes());
        p.push(param::STR);
        p.extend_from_slice(&5u16.to_le_bytes());
        p.extend_from_slice(b"/etc/");
        p.push(param::ABSENT);
        p.push(param::UINT);
        p.extend_from_slice(&0o644u64.to_le_bytes());
        let bytes = record(257, &p, 4);
        let r = Record::parse(&bytes).unwrap();
        assert_eq!(
            r.header,
            RecordHeader {
                ts: 42,
                pid: 7,
                tid: 8,
                ret: -2,
                kind: 257,
                cpu: 1,
                nparams: 4
            }
        );
        let params: Vec<_> = r.params().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            params,
            vec![
                Param::Fd(-100),
                Param::Str(b"/etc/"),
                Param::Absent,
                Param::Uint(0o644)
            ]
        );
    }

    #[test]
    fn damaged_records_are_errors_with_offsets() {
        assert_eq!(Record::parse(&[0; 10]).unwrap_err(), RecordError::Short(10));
        let mut p = vec![param::STR];
        p.extend_from_slice(&50u16.to_le_bytes());
        p.extend_from_slice(b"short");
        let bytes = record(2, &p, 1);
        let r = Record::parse(&bytes).unwrap();
        let err = r.params().next().unwrap().unwrap_err();
        assert_eq!(
            err,
            RecordError::Param {
                index: 0,
                offset: 32,
                problem: "data runs past the end of the record"
            }
        );
        // More parameters announced than present.
        let bytes = record(2, &[param::ABSENT], 3);
        let results: Vec<_> = Record::parse(&bytes).unwrap().params().collect();
        assert_eq!(results.len(), 2);
        assert!(results[1].is_err());
        let bytes = record(2, &[99], 1);
        assert!(Record::parse(&bytes)
            .unwrap()
            .params()
            .next()
            .unwrap()
            .is_err());
    }
}
