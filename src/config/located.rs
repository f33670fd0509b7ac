//! Where a config value came from: file, line and column, for errors a person can act on.
//!
//! Config and pattern files are parsed one at a time; while a file is parsed its index in the
//! [`SourceMap`] is set as the "current file" of this thread, so every [`Located`] value knows its
//! file without a second pass over the parsed tree. This lets drop-ins override values of the main
//! file while each value still points at the file that set it.

use std::cell::Cell;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

thread_local! {
    /// Index into the `SourceMap` of the file being deserialized on this thread.
    static CURRENT_FILE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// Sets the current file for `Located` values deserialized by `f` on this thread.
pub fn with_current_file<T>(file: usize, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT_FILE.with(|c| c.replace(file));
    let out = f();
    CURRENT_FILE.with(|c| c.set(previous));
    out
}

/// A value with the file and byte range it was read from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The parsed value.
    pub value: T,
    /// Index of the file in the `SourceMap` (`usize::MAX` for values built in code).
    pub file: usize,
    /// Byte range of the value in that file.
    pub span: Range<usize>,
}

impl<T> Located<T> {
    /// A value that did not come from a file (built-in defaults).
    pub fn builtin(value: T) -> Self {
        Located {
            value,
            file: usize::MAX,
            span: 0..0,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = toml::Spanned::<T>::deserialize(deserializer)?;
        let span = spanned.span();
        Ok(Located {
            value: spanned.into_inner(),
            file: CURRENT_FILE.with(|c| c.get()),
            span,
        })
    }
}

/// A position in a file, 1-based, as editors show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// The text of every file read for one config load, so byte offsets become line:column.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<(PathBuf, String)>,
}

impl SourceMap {
    /// Adds a file's text and returns its index.
    pub fn add(&mut self, path: &Path, text: String) -> usize {
        self.files.push((path.to_path_buf(), text));
        self.files.len() - 1
    }

    /// The text of file `index`.
    pub fn text(&self, index: usize) -> &str {
        self.files.get(index).map(|f| f.1.as_str()).unwrap_or("")
    }

    /// Paths of all files read, in the order they were read.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|f| f.0.as_path())
    }

    /// The position of byte `offset` in file `index`.
    pub fn position(&self, index: usize, offset: usize) -> Position {
        let Some((path, text)) = self.files.get(index) else {
            return Position {
                path: PathBuf::from("<built-in>"),
                line: 0,
                column: 0,
            };
        };
        position_in(path, text, offset)
    }

    /// The position of a located value.
    pub fn locate<T>(&self, value: &Located<T>) -> Position {
        self.position(value.file, value.span.start)
    }
}

/// Converts a byte offset in `text` into a 1-based line and column (columns count characters).
pub fn position_in(path: &Path, text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    Position {
        path: path.to_path_buf(),
        line,
        column,
    }
}

/// Resolves a path written in file `file` against that file's directory.
pub(crate) fn resolve_path(sources: &SourceMap, value: &Located<String>) -> PathBuf {
    let p = PathBuf::from(&value.value);
    if p.is_absolute() {
        return p;
    }
    let base = sources
        .paths()
        .nth(value.file)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    base.join(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_line_and_column() {
        let text = "a = 1\nbb = 2\n";
        let p = position_in(Path::new("f.toml"), text, 6);
        assert_eq!((p.line, p.column), (2, 1));
        let p = position_in(Path::new("f.toml"), text, 9);
        assert_eq!((p.line, p.column), (2, 4));
        assert_eq!(p.to_string(), "f.toml:2:4");
    }
}
