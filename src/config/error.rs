//! Config errors: every problem found in one load, each as `file:line:column: message`.
//!
//! Loading does not stop at the first problem: an operator fixing a config at 3 a.m. wants the
//! whole list at once.

use std::fmt;

use crate::config::located::{Located, SourceMap};

/// The problems found while loading a config, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    messages: Vec<String>,
}

impl Diagnostics {
    /// Adds a message that already carries its location (or needs none).
    pub fn push(&mut self, message: String) {
        self.messages.push(message);
    }

    /// Adds a message that has no position in a file (an unreadable directory, say).
    pub fn plain(&mut self, message: String) {
        self.messages.push(message);
    }

    /// Adds a message located at a value.
    pub fn at<T>(&mut self, sources: &SourceMap, value: &Located<T>, message: String) {
        self.messages
            .push(format!("{}: {message}", sources.locate(value)));
    }

    /// Adds a TOML parse or schema error of file `file`.
    pub fn toml_error(&mut self, sources: &SourceMap, file: usize, error: &toml::de::Error) {
        let offset = error.span().map(|s| s.start).unwrap_or(0);
        let pos = sources.position(file, offset);
        let message = error.message().trim_end().replace('\n', " ");
        self.messages.push(format!("{pos}: {message}"));
    }

    /// Number of problems so far.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The messages, in order.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }
}

/// A config that could not be loaded: all the problems found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// One line per problem, each starting with `file:line:column:` where there is one.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(p)?;
        }
        Ok(())
    }
}
