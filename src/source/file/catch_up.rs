//! The follower's catch-up over rotated generations: after downtime, or after falling
//! several rotations behind, the generation holding the saved position is read from its
//! offset, every newer one whole and oldest first, then the live file; the sink is told that
//! a backlog comes and when it is caught up.

use std::fs::File;
use std::io;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use crate::source::checkpoint::FilePosition;
use crate::source::file::{pump, Follower, LastGeneration, Open};
use crate::source::generations::{self, Codec, Generation};
use crate::source::identity::FINGERPRINT_BYTES;
use crate::source::line_reader::LineReader;
use crate::source::LineSink;

impl<S: LineSink> Follower<S> {
    /// Tells the sink that what follows was written before it was read, at the open file's
    /// modification time or earlier.
    pub(super) fn announce_backlog(&mut self) {
        if let Some(o) = &self.open {
            self.sink.backlog(Some(o.seen_mtime));
            self.behind = true;
        }
    }

    /// The generations rotated after `old` (the file that was at the path until now), oldest
    /// first: those a follower slower than two rotations has not seen at the path.
    pub(super) fn rotated_since(&mut self, old: &Open) -> io::Result<Vec<Generation>> {
        let mut gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let mut at = None;
        for (i, g) in gens.iter().enumerate().rev() {
            if (g.dev == old.id.dev && g.ino == old.id.ino)
                || (g.codec != Codec::Plain && g.holds(&old.id)?)
            {
                at = Some(i);
                break;
            }
        }
        Ok(match at {
            Some(i) => gens.split_off(i + 1),
            None => {
                // Gone already (deleted, or compressed from a head too short to recognise):
                // the generations written after it last was are the newer ones.
                let last = old
                    .file
                    .metadata()?
                    .modified()
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                gens.retain(|g| g.mtime > last);
                gens
            }
        })
    }

    /// Whether the live file, although it has the saved position's device and inode and
    /// starts alike, may be another file: the saved fingerprint is short (an empty or tiny
    /// file, whose inode a new file can reuse once it is deleted) and a generation was written
    /// after the position was saved, so the file was rotated since.
    pub(super) fn rotated_after(&self, saved: &FilePosition) -> io::Result<bool> {
        if saved.id.head_len as usize >= FINGERPRINT_BYTES {
            return Ok(false);
        }
        let Some(t) = saved.mtime() else {
            return Ok(false);
        };
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        Ok(gens.iter().any(|g| g.mtime > t))
    }

    /// Catch-up after downtime: the file of the saved position is not the one at the path.
    /// Reads the generation holding it from the saved offset, then every newer generation
    /// whole, oldest first. The live file is read next by the caller.
    pub(super) fn catch_up(&mut self, saved: &FilePosition) -> io::Result<usize> {
        let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
        let at = Self::saved_generation(&gens, saved)?;
        let why = "rotated while logwarden was down";
        let mut total = 0;
        let newer = match at {
            Some(i) => {
                total += self.read_generation(&gens[i], saved.offset, why)?;
                &gens[i + 1..]
            }
            None => {
                let unread = saved.len.saturating_sub(saved.offset);
                self.lose(
                    &format!("the file logwarden was reading ({} at offset {})", self.key, saved.offset),
                    unread,
                    "deleted by rotation before logwarden read it (its own size is known only up to the last checkpoint)",
                );
                // Newer generations were last written after the saved file was.
                let from = match saved.mtime() {
                    Some(t) => gens.iter().position(|g| g.mtime > t).unwrap_or(gens.len()),
                    None => gens.len(),
                };
                &gens[from..]
            }
        };
        for g in newer {
            total += self.read_generation(g, 0, why)?;
        }
        total += self.read_newer_generations(why)?;
        Ok(total)
    }

    /// Which of `gens` holds the file of the saved position. With a full fingerprint: the
    /// same file, or a copy or compressed form of it. With a short one (the file was tiny),
    /// neither the inode (a new file may reuse it once the saved one is deleted) nor a few
    /// first bytes alone are proof: the saved file is the oldest generation written since the
    /// position was saved, and it must start alike (the same inode is then enough for an
    /// empty one, whose fingerprint tells nothing). The worst case, the saved file gone and
    /// the next one starting with the same few bytes, skips fewer than 256 bytes of it.
    pub(super) fn saved_generation(
        gens: &[Generation],
        saved: &FilePosition,
    ) -> io::Result<Option<usize>> {
        let short = (saved.id.head_len as usize) < FINGERPRINT_BYTES;
        if short {
            if let Some(t) = saved.mtime() {
                let Some(i) = gens.iter().position(|g| g.mtime >= t) else {
                    return Ok(None);
                };
                let g = &gens[i];
                let same_file =
                    g.dev == saved.id.dev && g.ino == saved.id.ino && saved.born_matches(g.born);
                let alike = (same_file || saved.id.head_len > 0) && g.starts_like(&saved.id)?;
                return Ok(alike.then_some(i));
            }
        }
        for (i, g) in gens.iter().enumerate().rev() {
            let reused =
                g.dev == saved.id.dev && g.ino == saved.id.ino && !saved.born_matches(g.born);
            if !reused && g.holds(&saved.id)? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// Rotations go on during a catch-up: reads the generations that appeared after the last
    /// one read, until there are none (a few rounds at most; bounded all the same).
    pub(super) fn read_newer_generations(&mut self, why: &str) -> io::Result<usize> {
        let mut total = 0;
        for _ in 0..16 {
            let Some(last) = self.last_generation.as_ref().map(|g| g.id) else {
                break;
            };
            let gens = generations::list(&self.config.path, self.config.olddir.as_deref())?;
            let mut at = None;
            for (i, g) in gens.iter().enumerate().rev() {
                if g.holds(&last)? {
                    at = Some(i);
                    break;
                }
            }
            let Some(i) = at.filter(|&i| i + 1 < gens.len()) else {
                break;
            };
            for g in &gens[i + 1..] {
                total += self.read_generation(g, 0, why)?;
            }
        }
        Ok(total)
    }

    /// Reads a rotated generation (from `offset` of its content) through its own line
    /// reader, its lines marked as a backlog; positions are saved in it, so a restart in the
    /// middle resumes there. A generation that cannot be read is reported lost. It stays
    /// open as the last one read until the next is read or the live file is (see
    /// `settle_last_generation`).
    pub(super) fn read_generation(
        &mut self,
        g: &Generation,
        offset: u64,
        why: &str,
    ) -> io::Result<usize> {
        self.finish_last_generation();
        let opened = g.identity().and_then(|id| Ok((id, g.open_at(offset)?)));
        let (id, mut content) = match opened {
            Ok(o) => o,
            Err(e) => {
                let path = g.path.display().to_string();
                tracing::warn!(path = %self.key, generation = %path, error = %e, "cannot read a rotated generation");
                let bytes = match g.codec {
                    Codec::Plain => g.len.saturating_sub(offset),
                    _ => 0,
                };
                self.lose(&path, bytes, &format!("{why}, and it cannot be read: {e}"));
                return Ok(0);
            }
        };
        self.sink.backlog(Some(g.mtime));
        self.behind = true;
        let mut reader = LineReader::new(self.config.max_line_bytes);
        reader.reset(offset);
        self.sink.file_changed(&id);
        let times = (g.len, g.mtime, g.born);
        let n = match pump(
            &mut content,
            &mut reader,
            &mut self.sink,
            &self.key,
            Some((id, times.0, times.1, times.2)),
            &self.stats,
        ) {
            Ok((n, listening)) => {
                self.stopped |= !listening;
                n
            }
            Err(e) => {
                tracing::warn!(path = %self.key, generation = %g.path.display(), error = %e, "reading a rotated generation failed; the rest of it is skipped");
                0
            }
        };
        self.stats
            .caught_up_bytes
            .fetch_add(n as u64, Ordering::Relaxed);
        tracing::info!(path = %self.key, generation = %g.path.display(), offset, bytes = n, why, "read a rotated generation");
        self.last_generation = Some(LastGeneration {
            id,
            content,
            reader,
            times,
        });
        Ok(n)
    }

    /// Reads what the last generation read holds beyond what was read (a copy logrotate was
    /// still writing: it is complete once an older one is read or the live file truncated),
    /// and hands on its unterminated last line. Returns the bytes read.
    pub(super) fn finish_last_generation(&mut self) -> usize {
        let Some(mut last) = self.last_generation.take() else {
            return 0;
        };
        let n = match pump(
            &mut last.content,
            &mut last.reader,
            &mut self.sink,
            &self.key,
            Some((last.id, last.times.0, last.times.1, last.times.2)),
            &self.stats,
        ) {
            Ok((n, listening)) => {
                self.stopped |= !listening;
                n
            }
            Err(e) => {
                tracing::warn!(path = %self.key, error = %e, "reading the rest of a rotated generation failed");
                0
            }
        };
        let sink = &mut self.sink;
        last.reader.flush_partial(|l, f| sink.line(l, f));
        n
    }

    /// Where to start reading the live `file` after a catch-up: at 0, unless it still starts
    /// like the last generation read, which is then a copy logrotate's `copytruncate` is
    /// still making (the truncate comes next): the live file holds the same bytes, and is
    /// read on from where that copy ended. Otherwise that generation is read to its end.
    pub(super) fn settle_last_generation(&mut self, file: &File) -> io::Result<u64> {
        if let Some(last) = &self.last_generation {
            if last.id.head_len as usize == FINGERPRINT_BYTES && last.id.head_matches(file)? {
                let start = last.reader.consumed().min(file.metadata()?.len());
                self.last_generation = None;
                return Ok(start);
            }
        }
        self.finish_last_generation();
        Ok(0)
    }
}
