//! Which file is this? Device and inode, plus a checksum of the file's first bytes, so a file
//! deleted and recreated with a reused inode is recognised as a new file.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};

/// How many leading bytes the fingerprint covers (fewer while the file is shorter).
pub const FINGERPRINT_BYTES: usize = 256;

/// The identity of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    /// How many leading bytes `checksum` covers (0 for an empty file).
    pub head_len: u32,
    /// FNV-1a of the first `head_len` bytes.
    pub checksum: u64,
}

impl FileIdentity {
    /// Reads the identity of an open file (one `fstat` and one `pread`).
    pub fn of(file: &File) -> io::Result<FileIdentity> {
        let meta = file.metadata()?;
        let mut head = [0u8; FINGERPRINT_BYTES];
        let want = (meta.len() as usize).min(FINGERPRINT_BYTES);
        let n = read_full_at(file, &mut head[..want], 0)?;
        Ok(FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            head_len: n as u32,
            checksum: fnv1a(&head[..n]),
        })
    }

    /// Whether `file` is the file this identity was taken of: same device and inode, and its
    /// first `head_len` bytes still have the same checksum.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        let meta = file.metadata()?;
        if meta.dev() != self.dev || meta.ino() != self.ino {
            return Ok(false);
        }
        self.head_matches(file)
    }

    /// Whether `file` starts with the same bytes (device and inode not compared: a copy made
    /// by `copytruncate` has other ones).
    pub fn head_matches(&self, file: &File) -> io::Result<bool> {
        let mut head = [0u8; FINGERPRINT_BYTES];
        let want = self.head_len as usize;
        let n = read_full_at(file, &mut head[..want], 0)?;
        Ok(n == want && fnv1a(&head[..n]) == self.checksum)
    }
}

fn read_full_at(file: &File, buf: &mut [u8], mut offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// 64-bit FNV-1a: small, stable across versions and platforms (it is persisted).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_recreated_file_with_other_content_is_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"first file\n").unwrap();
        let id = FileIdentity::of(&File::open(&p).unwrap()).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"more\n").unwrap();
        assert!(
            id.matches(&File::open(&p).unwrap()).unwrap(),
            "growth keeps identity"
        );
        std::fs::write(&p, b"second file\n").unwrap();
        assert!(
            !id.matches(&File::open(&p).unwrap()).unwrap(),
            "rewritten head"
        );
    }
}
