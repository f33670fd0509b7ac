//! Reads structured test cases out of the fuzzer's raw bytes.
//!
//! Every read succeeds: past the end of the data, numbers are 0 and byte strings are empty, so
//! any input is a valid test case and the fuzzer never wastes runs on rejected inputs.

/// A cursor over the fuzzer's bytes.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// One byte (0 at the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// A byte string whose length is given by the next byte.
    pub fn short(&mut self) -> &'a [u8] {
        let n = self.byte() as usize;
        self.bytes(n)
    }

    /// The bytes up to the next `sep` (or the end), which is skipped.
    pub fn until(&mut self, sep: u8) -> &'a [u8] {
        match memchr(sep, self.data) {
            Some(i) => {
                let head = &self.data[..i];
                self.data = &self.data[i + 1..];
                head
            }
            None => self.bytes(self.data.len()),
        }
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }
}

fn memchr(b: u8, data: &[u8]) -> Option<usize> {
    data.iter().position(|&x| x == b)
}
