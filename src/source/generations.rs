//! The rotated generations of a followed file: `NAME.1`, `NAME.2.gz`, `NAME-20261202`, beside
//! it or in an `olddir`. Lists them oldest first, tells which one a saved identity is (a
//! rename keeps device and inode; a copy or a compressed file keeps only the first bytes,
//! decompressed for a compressed one), and opens one for reading from an offset of its
//! content, through a streaming decompressor when it is compressed.
//!
//! Each generation is opened when it is listed: logrotate renames every generation at each
//! rotation (`NAME.2.gz` becomes `NAME.3.gz`) and removes a plain file once it is
//! compressed, and an open descriptor keeps reading the same bytes whatever happens to the
//! name.
//!
//! Order: when every name ends in a number (`NAME.3`, `NAME.3.gz`), a higher number is older,
//! as logrotate and savelog number them; otherwise (`dateext`) the modification time decides,
//! which logrotate and gzip both keep when they compress. When a plain file and its `.gz`
//! exist at once, the compressor is still writing the `.gz`: the plain one is the generation.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::source::identity::{fnv1a, FileIdentity, FINGERPRINT_BYTES};

/// How a generation is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Plain,
    Gzip,
    /// A compression logwarden cannot read (its file extension): reported, never read.
    Unsupported(&'static str),
}

/// Extensions of compressed generations, and how each is read.
const CODECS: [(&str, Codec); 6] = [
    (".gz", Codec::Gzip),
    (".xz", Codec::Unsupported("xz")),
    (".zst", Codec::Unsupported("zstd")),
    (".bz2", Codec::Unsupported("bzip2")),
    (".lz4", Codec::Unsupported("lz4")),
    (".Z", Codec::Unsupported("compress")),
];

/// One rotated generation, as found (and opened) when the directory was listed.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Its name when listed (it may have another one by now).
    pub path: PathBuf,
    /// Open since it was listed; each reader seeks it first (one thread uses it).
    file: Arc<File>,
    pub codec: Codec,
    pub dev: u64,
    pub ino: u64,
    /// Bytes on disk (compressed, for a compressed one).
    pub len: u64,
    pub mtime: SystemTime,
    /// When its inode was created (birth time), if the file system tells.
    pub born: Option<SystemTime>,
    /// `NAME.N`: `N`.
    index: Option<u32>,
}

/// Lists the rotated generations of `live` (not `live` itself), oldest first, in its
/// directory and in `olddir`. Unreadable entries are skipped. A directory read while
/// logrotate renames in it can miss an entry (a name moved behind the reader): the listing is
/// taken again until two in a row agree (a few times at most).
pub fn list(live: &Path, olddir: Option<&Path>) -> io::Result<Vec<Generation>> {
    let same = |a: &[Generation], b: &[Generation]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(a, b)| a.path == b.path && a.ino == b.ino && a.dev == b.dev)
    };
    let mut last = list_once(live, olddir)?;
    for _ in 0..4 {
        let again = list_once(live, olddir)?;
        if same(&last, &again) {
            return Ok(again);
        }
        last = again;
    }
    Ok(last)
}

fn list_once(live: &Path, olddir: Option<&Path>) -> io::Result<Vec<Generation>> {
    let name = live
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let here = live.parent().unwrap_or(Path::new("/"));
    let mut found = Vec::new();
    for dir in std::iter::once(here).chain(olddir) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir != here => continue,
            Err(e) => return Err(e),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path == live {
                continue;
            }
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some((codec, index)) = classify(&name, file_name) else {
                continue;
            };
            // Opening follows a symlink, as reading it would.
            let Ok(file) = File::open(&path) else {
                continue;
            };
            let Ok(meta) = file.metadata() else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            found.push(Generation {
                file: Arc::new(file),
                codec,
                dev: meta.dev(),
                ino: meta.ino(),
                len: meta.len(),
                mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                born: meta.created().ok(),
                index,
                path,
            });
        }
    }
    // A `.gz` beside its plain file is being written by the compressor.
    let plain: std::collections::HashSet<PathBuf> = found
        .iter()
        .filter(|g| g.codec == Codec::Plain)
        .map(|g| g.path.clone())
        .collect();
    found.retain(|g| {
        g.codec == Codec::Plain
            || !g.path.to_str().is_some_and(|p| {
                CODECS
                    .iter()
                    .filter_map(|(ext, _)| p.strip_suffix(ext))
                    .any(|stem| plain.contains(Path::new(stem)))
            })
    });
    if found.iter().all(|g| g.index.is_some()) {
        found.sort_by(|a, b| b.index.cmp(&a.index).then_with(|| a.path.cmp(&b.path)));
    } else {
        found.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
    }
    Ok(found)
}

/// Whether `file_name` is a rotated generation of `name`: `name`, a separator (`.`, `-`,
/// `_`), a non-empty suffix, and maybe a compression extension. Returns its codec and, for
/// `name.N`, its number.
fn classify(name: &str, file_name: &str) -> Option<(Codec, Option<u32>)> {
    let rest = file_name.strip_prefix(name)?;
    let mut chars = rest.chars();
    if !matches!(chars.next(), Some('.' | '-' | '_')) {
        return None;
    }
    let suffix = chars.as_str();
    let (codec, stem) = CODECS
        .iter()
        .find_map(|(ext, codec)| suffix.strip_suffix(ext).map(|s| (*codec, s)))
        .unwrap_or((Codec::Plain, suffix));
    // Leftovers of editors and tools, never generations.
    if stem.is_empty()
        || stem.ends_with('~')
        || [".tmp", ".swp", ".lock", ".part"]
            .iter()
            .any(|e| stem.ends_with(e))
    {
        return None;
    }
    // `name.N` with a small N (a date such as `name.20261202` is not a rank).
    let index =
        (rest.starts_with('.') && stem.len() <= 5 && stem.bytes().all(|b| b.is_ascii_digit()))
            .then(|| stem.parse().ok())
            .flatten();
    Some((codec, index))
}

/// A generation opened for reading its content (decompressed).
pub enum Content {
    Plain(File),
    Gzip(Box<flate2::read::MultiGzDecoder<BufReader<File>>>),
}

impl Read for Content {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Content::Plain(f) => f.read(buf),
            Content::Gzip(d) => d.read(buf),
        }
    }
}

impl Generation {
    /// Opens its content at `offset` (of the decompressed content, for a compressed one:
    /// the bytes before it are decompressed and dropped, in a fixed-size buffer).
    pub fn open_at(&self, offset: u64) -> io::Result<Content> {
        // A descriptor of its own, sharing the file offset: the one reader seeks first.
        let mut file = self.file.try_clone()?;
        match self.codec {
            Codec::Plain => {
                file.seek(SeekFrom::Start(offset))?;
                Ok(Content::Plain(file))
            }
            Codec::Gzip => {
                file.seek(SeekFrom::Start(0))?;
                let mut d = Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)));
                let skipped = io::copy(&mut (&mut *d).take(offset), &mut io::sink())?;
                if skipped < offset {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{} holds {skipped} bytes, fewer than the saved offset {offset}",
                            self.path.display()
                        ),
                    ));
                }
                Ok(Content::Gzip(d))
            }
            Codec::Unsupported(what) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is compressed with {what}, which logwarden cannot read",
                    self.path.display()
                ),
            )),
        }
    }

    /// Its identity: device and inode of the file on disk, and the checksum of the first
    /// bytes of its content (decompressed).
    pub fn identity(&self) -> io::Result<FileIdentity> {
        let mut head = [0u8; FINGERPRINT_BYTES];
        let n = read_head(&mut self.open_at(0)?, &mut head)?;
        Ok(FileIdentity {
            dev: self.dev,
            ino: self.ino,
            head_len: n as u32,
            checksum: fnv1a(&head[..n]),
        })
    }

    /// Whether it holds the content `saved` was taken of: the same file (device, inode,
    /// first bytes), or a copy or compressed form of it (the same first bytes, as many as a
    /// full fingerprint: fewer could be another file that starts alike).
    pub fn holds(&self, saved: &FileIdentity) -> io::Result<bool> {
        let same_file = self.dev == saved.dev && self.ino == saved.ino;
        if !same_file && (saved.head_len as usize) < FINGERPRINT_BYTES {
            return Ok(false);
        }
        self.starts_like(saved)
    }

    /// Whether its content starts with the bytes `saved` fingerprints, whatever the file.
    pub fn starts_like(&self, saved: &FileIdentity) -> io::Result<bool> {
        if self.codec == Codec::Plain && self.len < u64::from(saved.head_len) {
            return Ok(false);
        }
        let mut head = [0u8; FINGERPRINT_BYTES];
        let want = saved.head_len as usize;
        let mut content = match self.open_at(0) {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => return Ok(false),
            Err(e) => return Err(e),
        };
        let n = match read_head(&mut content, &mut head[..want]) {
            Ok(n) => n,
            // A compressed file still being written, or corrupt: not this one.
            Err(e) if self.codec != Codec::Plain => {
                tracing::debug!(path = %self.path.display(), error = %e, "cannot read the start of a compressed generation");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        Ok(n == want && fnv1a(&head[..n]) == saved.checksum)
    }
}

/// Reads up to `buf.len()` bytes from the start of `r`.
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(path: &Path, content: &[u8]) {
        let f = File::create(path).unwrap();
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(content).unwrap();
        e.finish().unwrap();
    }

    #[test]
    fn names_are_recognised_and_numbered_ones_ordered_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        for n in [
            "app.log",
            "app.log.1",
            "app.log.2.gz",
            "app.log.10.gz",
            "app.log.3",
            "app.logger",
            "other.log.1",
            "app.log.1.tmp",
            "app.log.4.xz",
        ] {
            std::fs::write(dir.path().join(n), b"x\n").unwrap();
        }
        gzip(&dir.path().join("app.log.2.gz"), b"x\n");
        let names: Vec<String> = list(&live, None)
            .unwrap()
            .iter()
            .map(|g| g.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "app.log.10.gz",
                "app.log.4.xz",
                "app.log.3",
                "app.log.2.gz",
                "app.log.1"
            ]
        );
    }

    #[test]
    fn dated_names_go_by_modification_time_and_a_gz_being_written_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        let live = dir.path().join("app.log");
        std::fs::write(&live, b"live\n").unwrap();
        let a = old.join("app.log-20261130");
        let b = dir.path().join("app.log-20261201");
        let b_gz = dir.path().join("app.log-20261201.gz");
        std::fs::write(&a, b"a\n").unwrap();
        std::fs::write(&b, b"b\n").unwrap();
        std::fs::write(&b_gz, b"half").unwrap();
        let t = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(t(1000))
            .unwrap();
        File::options()
            .write(true)
            .open(&b)
            .unwrap()
            .set_modified(t(2000))
            .unwrap();
        let g = list(&live, Some(&old)).unwrap();
        let paths: Vec<&Path> = g.iter().map(|g| g.path.as_path()).collect();
        assert_eq!(paths, [a.as_path(), b.as_path()]);
    }

    #[test]
    fn a_compressed_copy_is_recognised_by_its_decompressed_first_bytes_and_read_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        let content: Vec<u8> = (0..100)
            .flat_map(|i| format!("line {i:04} of the first generation\n").into_bytes())
            .collect();
        std::fs::write(&live, &content).unwrap();
        let saved = FileIdentity::of(&File::open(&live).unwrap()).unwrap();
        gzip(&dir.path().join("app.log.1.gz"), &content);
        std::fs::write(dir.path().join("app.log.2"), &content[1..]).unwrap();
        let g = list(&live, None).unwrap();
        assert_eq!(g.len(), 2);
        assert!(!g[0].holds(&saved).unwrap(), "other first bytes");
        assert!(
            g[1].holds(&saved).unwrap(),
            "decompressed, the same first bytes"
        );
        let mut rest = Vec::new();
        g[1].open_at(3300).unwrap().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, content[3300..]);
        assert!(g[1].open_at(content.len() as u64 + 1).is_err());
    }

    #[test]
    fn a_short_head_is_trusted_only_for_the_same_inode() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.log");
        std::fs::write(&live, b"short\n").unwrap();
        let saved = FileIdentity::of(&File::open(&live).unwrap()).unwrap();
        std::fs::rename(&live, dir.path().join("app.log.1")).unwrap();
        std::fs::write(dir.path().join("app.log.2"), b"short\n").unwrap();
        let g = list(&live, None).unwrap();
        assert!(
            !g[0].holds(&saved).unwrap(),
            "a copy with a short head could be any file"
        );
        assert!(g[1].holds(&saved).unwrap(), "the renamed file itself");
    }
}
