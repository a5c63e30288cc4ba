//! LEB128 varints and zigzag encoding: the integer encoding of every event column and argument.

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded, so small negative numbers stay short.
#[inline]
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    put_u64(out, zigzag(v));
}

#[inline]
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A bounds-checked cursor over encoded bytes. Every read returns `None` instead of
/// panicking when the input ends early or a varint is overlong, because the bytes may
/// come from a damaged or hostile file.
#[derive(Clone, Copy, Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// How many bytes are not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        // Most varints in a block (cpus, kinds, argument counts, small ints) are one
        // byte; keeping that case inline and the loop out of line is measurably faster.
        let &first = self.buf.get(self.pos)?;
        if first < 0x80 {
            self.pos += 1;
            return Some(u64::from(first));
        }
        self.u64_multi()
    }

    #[inline]
    fn u64_multi(&mut self) -> Option<u64> {
        let rest = self.buf.get(self.pos..)?;
        let mut result = 0u64;
        // At most 10 bytes; the 10th may only hold the top bit.
        for (i, &byte) in rest.iter().take(10).enumerate() {
            if i == 9 && byte > 1 {
                return None;
            }
            result |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.pos += i + 1;
                return Some(result);
            }
        }
        None
    }

    #[inline(always)]
    pub fn i64(&mut self) -> Option<i64> {
        self.u64().map(unzigzag)
    }

    #[inline]
    pub fn u8(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    pub fn bytes(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(len)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }

    /// A varint length followed by that many bytes.
    #[inline]
    pub fn len_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.bytes(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            i64::MAX,
            i64::MIN,
            1 << 40,
            -(1 << 40),
        ] {
            let mut buf = Vec::new();
            put_i64(&mut buf, v);
            assert_eq!(Cursor::new(&buf).i64(), Some(v));
        }
        let mut buf = Vec::new();
        put_u64(&mut buf, u64::MAX);
        assert_eq!(buf.len(), 10);
        assert_eq!(Cursor::new(&buf).u64(), Some(u64::MAX));
    }

    /// The byte-at-a-time decoder the word-at-a-time one must agree with.
    fn reference(buf: &[u8]) -> Option<(u64, usize)> {
        let mut result = 0u64;
        for (i, &byte) in buf.iter().take(10).enumerate() {
            if i == 9 && byte > 1 {
                return None;
            }
            result |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some((result, i + 1));
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn decoding_agrees_with_the_reference(
            value in proptest::prelude::any::<u64>(),
            shift in 0u32..64,
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
        ) {
            let mut buf = Vec::new();
            put_u64(&mut buf, value >> shift);
            buf.extend_from_slice(&noise);
            for input in [&buf[..], &noise[..]] {
                let mut cursor = Cursor::new(input);
                let got = cursor.u64().map(|v| (v, cursor.position()));
                proptest::prop_assert_eq!(got, reference(input));
            }
        }
    }

    #[test]
    fn truncated_and_overlong_varints_are_rejected() {
        assert_eq!(Cursor::new(&[0x80, 0x80]).u64(), None);
        assert_eq!(Cursor::new(&[0xff; 11]).u64(), None);
        assert_eq!(Cursor::new(&[]).u8(), None);
    }
}
