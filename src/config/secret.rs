//! Secrets in the config: a password, a bot token, a webhook URL, read from a file, an
//! environment variable or a systemd credential, and written inline only with a warning.
//!
//! A [`Secret`]'s `Debug` never shows it, and every secret read is remembered so that alert
//! texts can be redacted of it (see `actions::redact`).

use std::path::PathBuf;

use crate::config::error::Diagnostics;
use crate::config::located::resolve_path;
use crate::config::located::{Located, SourceMap};

/// A secret value (a URL with a token, a password): its `Debug` never shows it.
#[derive(Clone, PartialEq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// The value, for the one place that needs it (a request, a login).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The four ways a config may give one secret: `KEY`, `KEY_file`, `KEY_env`,
/// `KEY_credential` (a name under `$CREDENTIALS_DIRECTORY`, systemd's `LoadCredential=`).
pub struct SecretSource<'a> {
    /// The key's name, for messages (`password`, `token`, ...).
    pub key: &'a str,
    /// What the secret is for, for messages (`channel "phone"`).
    pub owner: &'a str,
    pub inline: Option<&'a Located<String>>,
    pub file: Option<&'a Located<String>>,
    pub env: Option<&'a Located<String>>,
    pub credential: Option<&'a Located<String>>,
}

impl SecretSource<'_> {
    /// Whether any of the four forms was given.
    pub fn is_given(&self) -> bool {
        self.inline.is_some()
            || self.file.is_some()
            || self.env.is_some()
            || self.credential.is_some()
    }

    /// Reads the secret; problems (none or several forms given, an unset variable, an
    /// unreadable file) go to `diags` with the key's position. `None` when not given.
    pub fn resolve(&self, sources: &SourceMap, diags: &mut Diagnostics) -> Option<Secret> {
        let key = self.key;
        let given: Vec<&Located<String>> = [self.inline, self.file, self.env, self.credential]
            .into_iter()
            .flatten()
            .collect();
        if given.len() > 1 {
            diags.at(
                sources,
                given[1],
                format!(
                    "{}: give `{key}` one way only: `{key}_file`, `{key}_env`, `{key}_credential` or `{key}`",
                    self.owner
                ),
            );
            return None;
        }
        let value = if let Some(v) = self.inline {
            tracing::warn!(
                "{}: `{key}` is written in the config; prefer `{key}_file`, `{key}_env` or `{key}_credential` (it is a secret)",
                self.owner
            );
            v.value.clone()
        } else if let Some(e) = self.env {
            match std::env::var(&e.value) {
                Ok(v) if !v.trim().is_empty() => v.trim().to_string(),
                _ => {
                    diags.at(
                        sources,
                        e,
                        format!(
                            "{}: environment variable {} (for `{key}`) is not set",
                            self.owner, e.value
                        ),
                    );
                    return None;
                }
            }
        } else if let Some(f) = self.file {
            read_secret_file(
                &resolve_path(sources, f),
                self.owner,
                key,
                f,
                sources,
                diags,
            )?
        } else if let Some(c) = self.credential {
            let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
                diags.at(
                    sources,
                    c,
                    format!(
                        "{}: `{key}_credential` needs $CREDENTIALS_DIRECTORY (run under systemd with LoadCredential={}:PATH)",
                        self.owner, c.value
                    ),
                );
                return None;
            };
            if c.value.contains('/') || c.value.is_empty() {
                diags.at(
                    sources,
                    c,
                    format!(
                        "{}: credential name {:?} must be a plain name",
                        self.owner, c.value
                    ),
                );
                return None;
            }
            let path = PathBuf::from(dir).join(&c.value);
            read_secret_file(&path, self.owner, key, c, sources, diags)?
        } else {
            return None;
        };
        if value.is_empty() {
            diags.plain(format!("{}: `{key}` is empty", self.owner));
            return None;
        }
        Some(Secret(value))
    }
}

/// Reads a secret file, trimmed. The file's content is never put into a message.
fn read_secret_file(
    path: &std::path::Path,
    owner: &str,
    key: &str,
    at: &Located<String>,
    sources: &SourceMap,
    diags: &mut Diagnostics,
) -> Option<String> {
    if let Some(p) = crate::config::permissions::world_writable(path, "secret file") {
        diags.at(sources, at, format!("{owner}: {p}"));
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(v) => {
            warn_if_exposed(path, owner);
            Some(v.trim().to_string())
        }
        Err(e) => {
            diags.at(
                sources,
                at,
                format!("{owner}: cannot read `{key}` from {}: {e}", path.display()),
            );
            None
        }
    }
}

/// Warns when a secret file can be read by every user of the machine.
fn warn_if_exposed(path: &std::path::Path, owner: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                path = %path.display(),
                "{owner}: the secret file is readable by every user; chmod 600 it"
            );
        }
    }
}
