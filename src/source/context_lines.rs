//! The last few lines a source read, kept so that an alert can quote what came just before
//! the line that caused it. A fixed ring of byte buffers allocated once: remembering a line is
//! a bounded copy, never an allocation, so it costs the hot path almost nothing; only a
//! matching line turns the ring into strings.

/// Lines kept before a matching line.
pub const DEFAULT_LINES: usize = 3;
/// Bytes kept of each line (longer lines are cut and marked).
pub const LINE_BYTES: usize = 300;

/// A ring of the last `N` lines.
#[derive(Debug)]
pub struct ContextLines {
    /// Each slot's capacity is `LINE_BYTES + 3` from the start; pushing never grows it.
    slots: Vec<Vec<u8>>,
    /// Where the next line goes.
    next: usize,
    /// How many slots hold a line (up to `slots.len()`).
    filled: usize,
}

impl ContextLines {
    pub fn new(lines: usize) -> ContextLines {
        ContextLines {
            slots: (0..lines)
                .map(|_| Vec::with_capacity(LINE_BYTES + 3))
                .collect(),
            next: 0,
            filled: 0,
        }
    }

    /// Remembers `line` (its first `LINE_BYTES` bytes), forgetting the oldest.
    pub fn push(&mut self, line: &[u8]) {
        let Some(slot) = self.slots.get_mut(self.next) else {
            return;
        };
        slot.clear();
        if line.len() > LINE_BYTES {
            slot.extend_from_slice(&line[..LINE_BYTES]);
            slot.extend_from_slice("\u{2026}".as_bytes());
        } else {
            slot.extend_from_slice(line);
        }
        self.next = (self.next + 1) % self.slots.len();
        self.filled = (self.filled + 1).min(self.slots.len());
    }

    /// The remembered lines, oldest first (invalid UTF-8 shown as U+FFFD).
    pub fn snapshot(&self) -> Vec<String> {
        let mut v = Vec::with_capacity(self.filled);
        self.for_each(|l| v.push(String::from_utf8_lossy(l).into_owned()));
        v
    }

    /// Calls `f` with each remembered line's bytes, oldest first (allocates nothing).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let n = self.slots.len();
        for i in 0..self.filled {
            f(&self.slots[(self.next + n - self.filled + i) % n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_oldest_first() {
        let mut c = ContextLines::new(3);
        assert!(c.snapshot().is_empty());
        c.push(b"a");
        c.push(b"b");
        assert_eq!(c.snapshot(), vec!["a", "b"]);
        c.push(b"c");
        c.push(b"d");
        assert_eq!(c.snapshot(), vec!["b", "c", "d"]);
    }

    #[test]
    fn long_lines_are_cut_and_the_ring_never_grows() {
        let mut c = ContextLines::new(2);
        let caps: Vec<usize> = c.slots.iter().map(Vec::capacity).collect();
        c.push(&vec![b'x'; 10_000]);
        c.push(&[0xff, 0xfe, b'a']);
        let s = c.snapshot();
        assert_eq!(s[0].chars().count(), LINE_BYTES + 1);
        assert_eq!(s[1], "\u{fffd}\u{fffd}a");
        assert_eq!(c.slots.iter().map(Vec::capacity).collect::<Vec<_>>(), caps);
        let mut none = ContextLines::new(0);
        none.push(b"ignored");
        assert!(none.snapshot().is_empty());
    }
}
