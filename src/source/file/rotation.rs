//! The follower when the file at its path changes under it: a rotated-away file is retired
//! and drained until quiet, a truncation (copytruncate, `truncate -s0`) takes what was not
//! read yet from the rotated copy, and bytes gone before they could be read are reported.

use std::io::{self, Seek, SeekFrom};
use std::sync::atomic::Ordering;

use crate::source::file::{pump, Follower, Open, Retired, ROTATE_WAIT};
use crate::source::generations;
use crate::source::identity::FileIdentity;
use crate::source::line_reader::LineReader;
use crate::source::LineSink;

impl<S: LineSink> Follower<S> {
    /// Keeps reading a rotated-away file: its writer may append to it until it reopens the
    /// path (a `postrotate` signal, say), and those lines must not be lost.
    pub(super) fn retire(&mut self, old: Open) {
        if let Some(previous) = self.retired.take() {
            self.drop_retired(previous);
        }
        let mut reader = std::mem::replace(
            &mut self.reader,
            LineReader::new(self.config.max_line_bytes),
        );
        // Its lines are handed on, but the saved position belongs to the new file now.
        reader.set_positioned(false);
        self.retired = Some(Retired {
            open: old,
            reader,
            last_data: std::time::Instant::now(),
        });
    }

    /// Reads what was appended to the retired file; lets it go after `ROTATE_WAIT` of quiet.
    pub(super) fn drain_retired(&mut self) -> io::Result<usize> {
        let Some(r) = &mut self.retired else {
            return Ok(0);
        };
        let len = r.open.file.metadata()?.len();
        let mut n = 0;
        if len > r.reader.consumed() + r.reader.pending() as u64 {
            self.sink.file_changed(&r.open.id);
            let (read, listening) = pump(
                &mut r.open.file,
                &mut r.reader,
                &mut self.sink,
                &self.key,
                None,
                &self.stats,
            )?;
            n = read;
            self.stopped |= !listening;
            if n > 0 {
                r.last_data = std::time::Instant::now();
            }
            if let Some(o) = &self.open {
                self.sink.file_changed(&o.id);
            }
        }
        if r.last_data.elapsed() >= ROTATE_WAIT {
            if let Some(r) = self.retired.take() {
                self.drop_retired(r);
            }
        }
        Ok(n)
    }

    /// Hands on a retired file's unterminated last line and closes it.
    pub(super) fn drop_retired(&mut self, mut r: Retired) {
        if r.reader.pending() > 0 {
            self.sink.file_changed(&r.open.id);
            let sink = &mut self.sink;
            r.reader.flush_partial(|l, f| sink.line(l, f));
            if let Some(o) = &self.open {
                self.sink.file_changed(&o.id);
            }
        }
        tracing::debug!(path = %self.key, "stopped reading the rotated file");
    }

    /// Whether the open file was truncated or rewritten under us: shorter than what we read,
    /// or its first bytes changed (truncated and written again past our offset). Records the
    /// read lag on the way.
    pub(super) fn was_truncated(&mut self) -> io::Result<bool> {
        let Some(o) = &mut self.open else {
            return Ok(false);
        };
        let read_to = self.reader.consumed() + self.reader.pending() as u64;
        let meta = o.file.metadata()?;
        let len = meta.len();
        // The same fstat tells the lag, so that it shows while a flood is being drained
        // (`poll` measures it only once the file is read to its end).
        self.stats.lag_bytes.store(
            len.saturating_sub(self.reader.consumed()),
            Ordering::Relaxed,
        );
        let truncated = len < read_to || !o.id.head_matches(&o.file)?;
        if !truncated {
            o.seen_len = len;
            o.seen_mtime = meta.modified().unwrap_or(o.seen_mtime);
        }
        Ok(truncated)
    }

    /// The open file was truncated (or rewritten in place): recover the unread rest from the
    /// rotated copy of it (`NAME.1`, `NAME.1.gz`, or an older one when it was truncated more
    /// than once since the last look) and every newer copy, then read the file from its start.
    /// What was in the file when we last looked but is in no copy (written between
    /// logrotate's copy and its truncate) is reported lost.
    pub(super) fn truncated(&mut self) -> io::Result<usize> {
        self.stats.truncations.fetch_add(1, Ordering::Relaxed);
        let Some(open) = &self.open else {
            return Ok(0);
        };
        let (id, seen_len) = (open.id, open.seen_len);
        let offset = self.reader.consumed();
        let mut total = 0;
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let mut copy = None;
        for (i, g) in gens.iter().enumerate().rev() {
            if g.dev == id.dev && g.ino == id.ino {
                continue; // the truncated file itself, under another name
            }
            if g.holds(&id)? {
                copy = Some(i);
                break;
            }
        }
        match copy {
            Some(i) => {
                // The copy holds what we had not read yet (the partial line included). It
                // is complete: logrotate truncates once it has copied.
                let n = self.read_generation(
                    &gens[i],
                    offset,
                    "the rest of the truncated file, from its copy",
                )?;
                let copy_len = self
                    .last_generation
                    .as_ref()
                    .map_or(offset, |g| g.reader.consumed() + g.reader.pending() as u64);
                total += n;
                self.stats
                    .recovered_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                tracing::info!(path = %self.key, copy = %gens[i].path.display(), bytes = n, "file truncated (copytruncate); read its unread rest from the rotated copy");
                let gap = seen_len.saturating_sub(copy_len.max(offset));
                if gap > 0 {
                    self.lose(
                        &self.key.clone(),
                        gap,
                        "written between logrotate's copy and its truncate (copytruncate), in no file any more",
                    );
                }
                let why = "truncated more than once since logwarden last looked";
                let mut n = 0;
                for g in &gens[i + 1..] {
                    n += self.read_generation(g, 0, why)?;
                }
                n += self.read_newer_generations(why)?;
                self.stats
                    .recovered_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                total += n;
            }
            None if offset > 0 || self.reader.pending() > 0 || seen_len > offset => {
                self.stats
                    .unrecovered_truncations
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(path = %self.key, offset, "file truncated and no rotated copy starts like it");
                let gap = seen_len.saturating_sub(offset);
                if gap > 0 {
                    self.lose(
                        &self.key.clone(),
                        gap,
                        "truncated before logwarden read them, and no rotated copy holds them",
                    );
                }
            }
            None => {}
        }
        let mut start = 0;
        if let Some(mut o) = self.open.take() {
            o.id = FileIdentity::of(&o.file)?;
            start = self.settle_last_generation(&o.file)?;
            o.file.seek(SeekFrom::Start(start))?;
            o.seen_len = start;
            o.seen_mtime = o.file.metadata()?.modified().unwrap_or(o.seen_mtime);
            self.sink.file_changed(&o.id);
            self.open = Some(o);
            if self.behind {
                // The live file's lines after a catch-up: written by its modification time.
                self.announce_backlog();
            }
        }
        self.reader.reset(start);
        Ok(total)
    }

    /// Bytes gone before they could be read (0: how many is not known): counted, logged and
    /// told to the sink once.
    pub(super) fn lose(&mut self, file: &str, bytes: u64, why: &str) {
        self.stats.lost_bytes.fetch_add(bytes, Ordering::Relaxed);
        if bytes > 0 {
            tracing::warn!(path = %self.key, file, bytes, why, "lines lost: at least {bytes} bytes of {file} were never read");
        } else {
            tracing::warn!(path = %self.key, file, why, "lines lost: some bytes of {file} were never read");
        }
        self.sink.lost(file, bytes, why);
    }
}
