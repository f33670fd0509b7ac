//! Where each followed file was: positions persisted in `state_dir` so a restart (even after
//! `kill -9`) resumes without reading a line twice or skipping one.
//!
//! Two files, a write-ahead journal and a snapshot:
//! - every acknowledged batch appends one small record to `checkpoints.journal` (one `write`
//!   per batch of lines, never per line, and no fsync: after `kill -9` the kernel still has
//!   it, so a restart resumes at the exact last acknowledged line);
//! - at most once a second (and at shutdown) the whole table is written as a versioned
//!   snapshot: `checkpoints.json.tmp`, fsync, rename over `checkpoints.json`, fsync of the
//!   directory; then the journal is emptied. Only these writes are forced to the disk, which
//!   keeps an SD card's wear to one small write a second at most. After a power loss the
//!   journal's unsynced tail may be gone and at most about a second of lines is read again.
//!
//! Records carry a sequence number; the snapshot records the last one it includes, so journal
//! records older than the snapshot (a crash between the rename and the emptying) are ignored.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::source::identity::FileIdentity;

/// Snapshot file name in `state_dir`.
pub const SNAPSHOT: &str = "checkpoints.json";
/// Journal file name in `state_dir`.
pub const JOURNAL: &str = "checkpoints.journal";
/// The snapshot format this version writes.
pub const VERSION: u32 = 1;
/// Snapshots are written at most this often (SD card wear).
pub const SNAPSHOT_EVERY: Duration = Duration::from_secs(1);

/// Where one followed path was: which file, and the offset just past the last line handed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    /// The configured path (the key).
    pub path: String,
    pub id: FileIdentity,
    pub offset: u64,
    /// The file's length when it was last looked at (at least `offset`): if it is deleted
    /// before it is read again, at least `len - offset` bytes are lost. 0 in older files.
    #[serde(default)]
    pub len: u64,
    /// Its modification time then, in nanoseconds since the epoch (0: unknown): rotated
    /// generations written after it are the newer ones.
    #[serde(default)]
    pub mtime_ns: u64,
    /// When its inode was created (birth time), in the same unit (0: unknown): an inode
    /// reused by a new file has another one.
    #[serde(default)]
    pub born_ns: u64,
}

impl FilePosition {
    /// A position with no length or time known (tests, older state).
    pub fn at(path: impl Into<String>, id: FileIdentity, offset: u64) -> FilePosition {
        FilePosition {
            path: path.into(),
            id,
            offset,
            len: offset,
            mtime_ns: 0,
            born_ns: 0,
        }
    }

    /// `t` in the unit of `mtime_ns`.
    pub fn ns(t: std::time::SystemTime) -> u64 {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Whether a file created at `born` (when the file system tells) can be the one this
    /// position was taken in: unknown on either side proves nothing against it.
    pub fn born_matches(&self, born: Option<std::time::SystemTime>) -> bool {
        match born {
            Some(b) if self.born_ns != 0 => Self::ns(b) == self.born_ns,
            _ => true,
        }
    }

    /// The modification time, when known.
    pub fn mtime(&self) -> Option<std::time::SystemTime> {
        (self.mtime_ns > 0)
            .then(|| std::time::UNIX_EPOCH + std::time::Duration::from_nanos(self.mtime_ns))
    }
}

/// Where a systemd-journal source was: the cursor of the last entry handed on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalCursor {
    /// The source's key (`journal:WATCH`).
    pub key: String,
    pub cursor: String,
}

/// A saved position of any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Position {
    File(FilePosition),
    Journal(JournalCursor),
}

impl Position {
    /// The key positions are saved under (a path, or `journal:WATCH`).
    pub fn key(&self) -> &str {
        match self {
            Position::File(f) => &f.path,
            Position::Journal(j) => &j.key,
        }
    }

    /// Whether this position is past `saved`: the same file, further on; or a later entry of
    /// the same journal. Positions that cannot be compared (another file since) are not.
    pub fn is_past(&self, saved: Option<&Position>) -> bool {
        match (self, saved) {
            (_, None) => true,
            // The whole identity, not only device and inode: after a copytruncate the same
            // inode holds new content, and an offset into the old content (an alert still
            // spooled for a channel that was down) says nothing about the new one. An identity
            // widened since (a file opened while shorter than its fingerprint) does not
            // compare either: at worst that alert's line is read and alerted again, never
            // skipped.
            (Position::File(a), Some(Position::File(b))) => a.id == b.id && a.offset > b.offset,
            (Position::Journal(a), Some(Position::Journal(b))) => {
                match (cursor_seq(&a.cursor), cursor_seq(&b.cursor)) {
                    (Some((sa, ia)), Some((sb, ib))) => sa == sb && ia > ib,
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// The sequence number id and number of a journal cursor (`s=...;i=...;...`).
fn cursor_seq(cursor: &str) -> Option<(&str, u64)> {
    let mut s = None;
    let mut i = None;
    for part in cursor.split(';') {
        if let Some(v) = part.strip_prefix("s=") {
            s = Some(v);
        } else if let Some(v) = part.strip_prefix("i=") {
            i = u64::from_str_radix(v, 16).ok();
        }
    }
    Some((s?, i?))
}

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    /// The sequence number of the last journal record this snapshot includes.
    seq: u64,
    files: Vec<FilePosition>,
    #[serde(default)]
    journals: Vec<JournalCursor>,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalRecord {
    seq: u64,
    position: Position,
}

/// The position table and its files. Owned by one task.
#[derive(Debug)]
pub struct Checkpointer {
    dir: PathBuf,
    positions: BTreeMap<String, Position>,
    /// Sequence number of the last record written.
    seq: u64,
    /// Positions changed since the last snapshot.
    dirty: bool,
    last_snapshot: Instant,
    /// Open for appending; `None` while the state directory cannot be written.
    journal: Option<File>,
    /// Reused serialisation buffer.
    buf: Vec<u8>,
    /// Paths whose position changed since the journal was last written.
    unjournaled: Vec<String>,
    /// A write failed and was reported; cleared by the next success.
    failing: bool,
}

impl Checkpointer {
    /// Loads the positions from `dir` (created if missing). Problems (unreadable or corrupt
    /// files) are logged and the affected positions forgotten: those files start over as on a
    /// first run, which is the safe direction for `start_at = "end"`.
    pub fn open(dir: &Path) -> Checkpointer {
        let mut cp = Checkpointer {
            dir: dir.to_path_buf(),
            positions: BTreeMap::new(),
            seq: 0,
            dirty: false,
            last_snapshot: Instant::now(),
            journal: None,
            buf: Vec::with_capacity(256),
            unjournaled: Vec::new(),
            failing: false,
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot create state directory; positions will not survive a restart");
        }
        let snapshot = dir.join(SNAPSHOT);
        let snap = [
            snapshot.clone(),
            crate::core::state_file::tmp_path(&snapshot),
        ]
        .into_iter()
        .filter_map(|p| read_snapshot(&p))
        .max_by_key(|s| s.seq);
        if let Some(s) = snap {
            cp.seq = s.seq;
            for f in s.files {
                cp.positions.insert(f.path.clone(), Position::File(f));
            }
            for j in s.journals {
                cp.positions.insert(j.key.clone(), Position::Journal(j));
            }
        }
        let snapshot_seq = cp.seq;
        if let Ok(f) = File::open(dir.join(JOURNAL)) {
            for line in BufReader::new(f).split(b'\n') {
                let Ok(line) = line else { break };
                // A torn last record (power loss) does not parse and is skipped.
                let Ok(rec) = serde_json::from_slice::<JournalRecord>(&line) else {
                    continue;
                };
                if rec.seq > snapshot_seq {
                    cp.seq = cp.seq.max(rec.seq);
                    cp.positions
                        .insert(rec.position.key().to_string(), rec.position);
                    cp.dirty = true;
                }
            }
        }
        cp.journal = open_journal(dir);
        cp
    }

    /// Every saved position, by path.
    pub fn positions(&self) -> BTreeMap<String, Position> {
        self.positions.clone()
    }

    /// The saved position of `path`, if any (the daemon takes them all: `positions`).
    #[cfg(test)]
    pub fn position(&self, path: &str) -> Option<&Position> {
        self.positions.get(path)
    }

    /// Notes that every line of `position.path` before `position.offset` was handed on. Kept in
    /// memory until `write_journal` (the caller decides when a write is worth it).
    pub fn update(&mut self, position: Position) {
        if let Position::File(f) = &position {
            // A position's length is at least its offset (0: not known, older state).
            debug_assert!(
                f.len == 0 || f.len >= f.offset,
                "position of {} past the length seen ({} > {})",
                f.path,
                f.offset,
                f.len
            );
        }
        let key = position.key();
        if self.positions.get(key) == Some(&position) {
            return;
        }
        if !self.unjournaled.iter().any(|k| k == key) {
            self.unjournaled.push(key.to_string());
        }
        self.dirty = true;
        self.positions.insert(key.to_string(), position);
    }

    /// `update`, then `write_journal` at once.
    pub fn record(&mut self, position: Position) {
        self.update(position);
        self.write_journal();
    }

    /// Whether some position changed since the journal was last written.
    pub fn journal_due(&self) -> bool {
        !self.unjournaled.is_empty()
    }

    /// Appends the changed positions to the journal: one `write` for all of them.
    pub fn write_journal(&mut self) {
        if self.unjournaled.is_empty() {
            return;
        }
        self.buf.clear();
        for path in self.unjournaled.drain(..) {
            let Some(position) = self.positions.get(&path) else {
                continue;
            };
            self.seq += 1;
            let rec = JournalRecord {
                seq: self.seq,
                position: position.clone(),
            };
            if serde_json::to_writer(&mut self.buf, &rec).is_ok() {
                self.buf.push(b'\n');
            }
        }
        if self.journal.is_none() {
            self.journal = open_journal(&self.dir);
        }
        let result = match &mut self.journal {
            Some(j) => j.write_all(&self.buf),
            None => Err(io::Error::other("journal not open")),
        };
        self.note(result, "cannot append to the checkpoint journal");
    }

    /// Whether a snapshot is due (positions changed and the last one is a second old).
    pub fn snapshot_due(&self) -> bool {
        self.dirty && self.last_snapshot.elapsed() >= SNAPSHOT_EVERY
    }

    /// Writes the snapshot now (temp file, fsync, rename, fsync dir) and empties the journal.
    pub fn snapshot(&mut self) {
        self.unjournaled.clear(); // the snapshot holds them
        if !self.dirty {
            return;
        }
        self.last_snapshot = Instant::now();
        let result = self.write_snapshot();
        if result.is_ok() {
            self.dirty = false;
            if let Some(j) = &self.journal {
                let _ = j.set_len(0);
            }
        }
        self.note(result, "cannot write the checkpoint snapshot");
    }

    fn write_snapshot(&self) -> io::Result<()> {
        let mut snap = Snapshot {
            version: VERSION,
            seq: self.seq,
            files: Vec::new(),
            journals: Vec::new(),
        };
        for p in self.positions.values() {
            match p {
                Position::File(f) => snap.files.push(f.clone()),
                Position::Journal(j) => snap.journals.push(j.clone()),
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&snap)?;
        bytes.push(b'\n');
        crate::core::state_file::write_atomic(&self.dir.join(SNAPSHOT), &bytes)
    }

    /// Logs a write problem once, and its end.
    fn note(&mut self, result: io::Result<()>, what: &str) {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(dir = %self.dir.display(), "checkpoints are written again");
            }
            Ok(()) => {}
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(dir = %self.dir.display(), error = %e, "{what}; matching and alerting go on, but a restart may read lines again");
            }
            Err(_) => {}
        }
    }
}

fn open_journal(dir: &Path) -> Option<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(JOURNAL))
        .ok()
}

fn read_snapshot(path: &Path) -> Option<Snapshot> {
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice::<Snapshot>(&text) {
        Ok(s) => match crate::core::state_file::check_version(s.version, VERSION) {
            Ok(()) => Some(s),
            Err(e) => {
                tracing::warn!(path = %path.display(), "checkpoint snapshot ignored: {e}");
                None
            }
        },
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "corrupt checkpoint snapshot ignored");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(cp: &Checkpointer, path: &str) -> u64 {
        match cp.position(path) {
            Some(Position::File(f)) => f.offset,
            other => panic!("no file position for {path}: {other:?}"),
        }
    }

    fn pos(path: &str, offset: u64) -> Position {
        Position::File(FilePosition {
            path: path.into(),
            id: FileIdentity {
                dev: 1,
                ino: 2,
                head_len: 3,
                checksum: 4,
            },
            offset,
            len: 0,
            mtime_ns: 0,
            born_ns: 0,
        })
    }

    #[test]
    fn journal_records_survive_without_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpointer::open(dir.path());
        cp.record(pos("/a", 10));
        cp.record(pos("/a", 20));
        cp.record(pos("/b", 5));
        cp.record(Position::Journal(JournalCursor {
            key: "journal:bot".into(),
            cursor: "s=abc;i=1".into(),
        }));
        drop(cp); // like kill -9: no snapshot written
        let cp = Checkpointer::open(dir.path());
        assert_eq!(offset(&cp, "/a"), 20);
        assert_eq!(offset(&cp, "/b"), 5);
        assert!(
            matches!(cp.position("journal:bot"), Some(Position::Journal(j)) if j.cursor == "s=abc;i=1")
        );
    }

    #[test]
    fn snapshot_then_journal_and_stale_journal_records_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut cp = Checkpointer::open(dir.path());
        cp.record(pos("/a", 10));
        let stale = std::fs::read(dir.path().join(JOURNAL)).unwrap();
        cp.snapshot();
        assert_eq!(
            std::fs::metadata(dir.path().join(JOURNAL)).unwrap().len(),
            0
        );
        cp.record(pos("/a", 30));
        drop(cp);
        // A crash between rename and emptying leaves old records behind: they must not win.
        let mut j = OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL))
            .unwrap();
        j.write_all(&stale).unwrap();
        j.write_all(b"{\"seq\": 99, \"pa").unwrap(); // torn record
        let cp = Checkpointer::open(dir.path());
        assert_eq!(offset(&cp, "/a"), 30);
    }

    #[test]
    fn corrupt_or_future_snapshots_are_ignored_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SNAPSHOT), b"{not json").unwrap();
        assert!(Checkpointer::open(dir.path()).position("/a").is_none());
        std::fs::write(
            dir.path().join(SNAPSHOT),
            br#"{"version": 9, "seq": 1, "files": []}"#,
        )
        .unwrap();
        assert!(Checkpointer::open(dir.path()).position("/a").is_none());
    }

    #[test]
    fn journal_cursors_compare_by_sequence_number_of_the_same_journal() {
        let a = "s=abc;i=1f;b=x;m=1;t=2;x=3";
        let b = "s=abc;i=20;b=x;m=1;t=2;x=3";
        let other = "s=def;i=99;b=x;m=1;t=2;x=3";
        let j = |c: &str| {
            Position::Journal(JournalCursor {
                key: "journal:bot".into(),
                cursor: c.into(),
            })
        };
        assert!(j(b).is_past(Some(&j(a))));
        assert!(!j(a).is_past(Some(&j(b))));
        assert!(
            !j(other).is_past(Some(&j(a))),
            "another journal: not comparable"
        );
        assert!(j(a).is_past(None));
        assert_eq!(cursor_seq("garbage"), None);
    }
}
