//! Who may change what logwarden reads: a config, drop-in, pattern pack or secret file that
//! every user of the machine can write is refused, because logwarden runs as root with the
//! right to restart services, and whoever writes its config decides what it restarts and
//! where alerts (and secrets) go.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A problem if `path` is writable by every user (mode `o+w`), for the config's problem list.
pub fn world_writable(path: &Path, what: &str) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode();
    (mode & 0o002 != 0).then(|| {
        format!(
            "{}: the {what} is writable by every user (mode {:o}); anyone could change what logwarden alerts on and restarts. Run: chmod o-w {}",
            path.display(),
            mode & 0o7777,
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_every_user_can_write_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("logwarden.toml");
        std::fs::write(&p, "").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(world_writable(&p, "config file"), None);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let problem = world_writable(&p, "config file").unwrap();
        assert!(problem.contains("mode 666"), "{problem}");
        assert!(problem.contains("chmod o-w"), "{problem}");
    }
}
