//! A byte cursor for the decoders' fast paths: it recognises one exact, compact JSON spelling
//! (no whitespace, no escapes, printable ASCII strings) and nothing else.
//!
//! Why this is safe: every method returns `None` at the first byte that does not fit, and a
//! decoder that gets `None` hands the whole frame to its serde path, which accepts every valid
//! JSON spelling and names the error of an invalid one. So a fast path never decides an error
//! and never accepts what serde would refuse; it recognises a subset of what serde accepts and
//! reads the same values from it.

use crate::fixed;

/// Byte range of a string's content inside the frame (`start..end`, quotes excluded).
pub(crate) type Span = (u32, u32);

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// `None` for inputs whose offsets do not fit a [`Span`].
    #[inline]
    pub fn new(buf: &'a [u8]) -> Option<Self> {
        u32::try_from(buf.len()).ok()?;
        Some(Cursor { buf, pos: 0 })
    }

    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The next byte, consumed.
    #[inline]
    pub fn next(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// Exactly `b`.
    #[inline]
    pub fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// `b` if it is next (consumed), else nothing consumed.
    #[inline]
    pub fn eat_if(&mut self, b: u8) -> bool {
        let hit = self.buf.get(self.pos) == Some(&b);
        self.pos += usize::from(hit);
        hit
    }

    /// After a member or an element: `,` (more follow: `true`) or `close` (the end: `false`).
    #[inline]
    pub fn more(&mut self, close: u8) -> Option<bool> {
        match self.next()? {
            b',' => Some(true),
            b if b == close => Some(false),
            _ => None,
        }
    }

    /// `[`, and whether an element follows (`false`: `[]`, both brackets consumed).
    #[inline]
    pub fn list_open(&mut self) -> Option<bool> {
        self.eat(b'[')?;
        Some(!self.eat_if(b']'))
    }

    /// Exactly the bytes `lit`.
    #[inline]
    pub fn lit(&mut self, lit: &[u8]) -> Option<()> {
        if self.rest().starts_with(lit) {
            self.pos += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// A string of printable ASCII without escapes; returns its content's span.
    #[inline]
    pub fn str_span(&mut self) -> Option<Span> {
        self.eat(b'"')?;
        let start = self.pos;
        loop {
            match self.next()? {
                b'"' => break,
                // Escapes, control bytes and non-ASCII: serde decides (and validates UTF-8).
                b'\\' | 0..=0x1f | 0x7f..=0xff => return None,
                _ => {}
            }
        }
        // Both fit u32: `new` checked the length.
        Some((start as u32, (self.pos - 1) as u32))
    }

    /// A string as [`Cursor::str_span`], as bytes.
    #[inline]
    pub fn str_bytes(&mut self) -> Option<&'a [u8]> {
        let (s, e) = self.str_span()?;
        self.buf.get(s as usize..e as usize)
    }

    /// An object key and its colon: `"name":`.
    #[inline]
    pub fn key(&mut self) -> Option<&'a [u8]> {
        let k = self.str_bytes()?;
        self.eat(b':')?;
        Some(k)
    }

    /// A JSON integer without sign, fraction or exponent (`0` or `[1-9][0-9]*`) that fits u64.
    /// The caller checks the byte after it (a `.`, `e` or digit there is not an integer).
    #[inline]
    pub fn uint(&mut self) -> Option<u64> {
        let first = self.next()?.wrapping_sub(b'0');
        if first > 9 {
            return None;
        }
        let mut v = u64::from(first);
        if first == 0 {
            return Some(0);
        }
        while let Some(&c) = self.buf.get(self.pos) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(d))?;
            self.pos += 1;
        }
        Some(v)
    }

    /// A string holding a plain decimal (`digits[.digits]`, see [`fixed::scan_plain`]) as a raw
    /// at `decimals`. Anything else inside the quotes (an exponent, rounding, overflow,
    /// garbage) is `None`: the general parser behind the serde path decides it.
    #[inline(always)]
    pub fn decimal(&mut self, decimals: u8) -> Option<u64> {
        self.eat(b'"')?;
        let (v, n) = fixed::scan_plain(self.rest(), decimals)?;
        self.pos += n;
        self.eat(b'"')?;
        Some(v)
    }

    /// A JSON integer with an optional `-` (`-1` for a snapshot's `prevSeqId`, negative
    /// checksums) that fits i64.
    #[inline]
    pub fn int(&mut self) -> Option<i64> {
        if self.eat_if(b'-') {
            i64::try_from(self.uint()?).ok().map(|v| -v)
        } else {
            self.int_i64()
        }
    }

    /// A [`Cursor::uint`] that also fits i64 (timestamps).
    #[inline]
    pub fn int_i64(&mut self) -> Option<i64> {
        i64::try_from(self.uint()?).ok()
    }
}
