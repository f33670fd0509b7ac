//! The `systemctl` command line for a system unit or a user unit, shared by the restarts and
//! the `unit` probe, so that both reach the same manager the same way.
//!
//! A user unit (`[watch.restart] user = "USER"`) lives in USER's manager (`user@UID.service`).
//! Root reaches it with `systemctl --user --machine=USER@`: systemctl asks PID 1 for a
//! transient unit that runs as USER in a PAM session and bridges USER's bus. Nobody else
//! can: that transport needs root, polkit or not. A logwarden that runs as USER itself
//! manages its own user manager with plain `systemctl --user`, over `$XDG_RUNTIME_DIR/bus`.

use std::sync::OnceLock;

use tokio::process::Command;

/// Which manager `systemctl` talks to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Manager {
    /// The system manager (PID 1): no user.
    System,
    /// Another user's manager, through `--user --machine=USER@` (root only).
    OtherUser(String),
    /// The manager of the user logwarden runs as (not root), through `--user`; `uid` names
    /// the runtime directory when `$XDG_RUNTIME_DIR` is not set.
    OwnUser { uid: u32 },
}

/// The effective user logwarden runs as: its UID and, if the user database has it, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub uid: u32,
    pub name: Option<String>,
}

/// The manager of `user`'s units for a logwarden running as `me`. Root always goes through
/// `--machine=USER@` (also for `user = "root"`: it needs no `$XDG_RUNTIME_DIR`); another
/// user names itself by name or by UID.
pub(crate) fn manager(user: Option<&str>, me: &Identity) -> Manager {
    let Some(user) = user else {
        return Manager::System;
    };
    let is_me = me.name.as_deref() == Some(user) || user == me.uid.to_string();
    if me.uid != 0 && is_me {
        Manager::OwnUser { uid: me.uid }
    } else {
        Manager::OtherUser(user.to_string())
    }
}

/// Who logwarden runs as, looked up once (it does not change while it runs).
pub(crate) fn me() -> &'static Identity {
    static ME: OnceLock<Identity> = OnceLock::new();
    ME.get_or_init(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        Identity {
            uid,
            name: user_name(uid),
        }
    })
}

/// The name of `uid` in the user database (`None` if it has none or the lookup fails).
fn user_name(uid: u32) -> Option<String> {
    // Large enough for any passwd entry in practice; a larger one is looked up as unknown,
    // and the user is then named by UID only.
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: an all-zero `passwd` is valid (null pointers, zero ids); getpwuid_r fills it.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and `buf.len()` is the buffer's size.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success `pw_name` points to a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// `systemctl` with the options that reach `user`'s manager (the system's when `None`),
/// killed when dropped (every caller runs it under a timeout).
pub(crate) fn command(user: Option<&str>) -> Command {
    let mut c = Command::new("systemctl");
    match manager(user, me()) {
        Manager::System => {}
        Manager::OtherUser(u) => {
            c.arg("--user").arg(format!("--machine={u}@"));
        }
        Manager::OwnUser { uid } => {
            c.arg("--user");
            // A logwarden started outside a login session (cron, su) may lack it; the
            // user manager's bus is in its runtime directory.
            if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
                c.env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"));
            }
        }
    }
    c.kill_on_drop(true);
    c
}

/// For an error of `systemctl` on `user`'s unit: what to do about it when logwarden cannot
/// reach that manager at all (it is not root and `user` is someone else).
pub(crate) fn hint(user: Option<&str>) -> Option<String> {
    hint_for(user, me())
}

fn hint_for(user: Option<&str>, me: &Identity) -> Option<String> {
    match manager(user, me) {
        Manager::OtherUser(u) if me.uid != 0 => Some(format!(
            "logwarden runs as {}, not root, and only root can reach the user manager of {u} \
             (systemctl --user --machine={u}@): run logwarden as root, or as {u}",
            me.name.clone().unwrap_or_else(|| format!("UID {}", me.uid))
        )),
        _ => None,
    }
}

/// The UID of a user given by name or by UID (`None`: no such user in the database).
pub(crate) fn uid_of(user: &str) -> Option<u32> {
    if let Ok(uid) = user.parse::<u32>() {
        return Some(uid);
    }
    let name = std::ffi::CString::new(user).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: an all-zero `passwd` is valid (null pointers, zero ids); getpwnam_r fills it.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call, and `buf.len()` is the buffer's size.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(entry.pw_uid)
}

/// Where systemd-logind keeps one empty file per user with linger on (`loginctl
/// enable-linger USER`).
const LINGER_DIR: &str = "/var/lib/systemd/linger";

/// What to tell the operator when `user`'s manager has no linger: it then runs only while
/// the user is logged in, and logwarden's own `--machine=USER@` calls, each a short login,
/// start it and have logind stop it again (bot and all) 10 s later. `None` with linger on,
/// or for a UID the user database does not name.
pub(crate) fn linger_warning(user: &str) -> Option<String> {
    linger_warning_in(std::path::Path::new(LINGER_DIR), user, user_name_of)
}

/// The name of a user given by name or by UID, if the user database has it.
fn user_name_of(user: &str) -> Option<String> {
    match user.parse::<u32>() {
        Ok(uid) => user_name(uid),
        Err(_) => Some(user.to_string()),
    }
}

fn linger_warning_in(
    dir: &std::path::Path,
    user: &str,
    name_of: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let name = name_of(user)?;
    if dir.join(&name).exists() {
        return None;
    }
    Some(format!(
        "the user manager of {name} has no linger ({} does not exist): it runs only while {name} is logged in, so its units stop at logout, and each of logwarden's systemctl calls for them starts it for a moment. Run: loginctl enable-linger {name}",
        dir.join(&name).display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(uid: u32, name: &str) -> Identity {
        Identity {
            uid,
            name: Some(name.to_string()),
        }
    }

    #[test]
    fn no_user_is_the_system_manager() {
        assert_eq!(manager(None, &id(0, "root")), Manager::System);
        assert_eq!(manager(None, &id(1000, "senex")), Manager::System);
    }

    #[test]
    fn root_reaches_every_user_manager_through_machine() {
        let root = id(0, "root");
        assert_eq!(
            manager(Some("senex"), &root),
            Manager::OtherUser("senex".into())
        );
        assert_eq!(
            manager(Some("root"), &root),
            Manager::OtherUser("root".into())
        );
    }

    #[test]
    fn a_user_reaches_its_own_manager_directly_by_name_or_uid() {
        let senex = id(1000, "senex");
        assert_eq!(
            manager(Some("senex"), &senex),
            Manager::OwnUser { uid: 1000 }
        );
        assert_eq!(
            manager(Some("1000"), &senex),
            Manager::OwnUser { uid: 1000 }
        );
        let unnamed = Identity {
            uid: 1000,
            name: None,
        };
        assert_eq!(
            manager(Some("1000"), &unnamed),
            Manager::OwnUser { uid: 1000 }
        );
        assert_eq!(
            manager(Some("senex"), &unnamed),
            Manager::OtherUser("senex".into())
        );
    }

    #[test]
    fn a_user_cannot_reach_another_users_manager_and_is_told_why() {
        let bot = id(1001, "bot");
        assert_eq!(
            manager(Some("senex"), &bot),
            Manager::OtherUser("senex".into())
        );
        let said = hint_for(Some("senex"), &bot).unwrap_or_default();
        assert!(
            said.contains("logwarden runs as bot, not root")
                && said.contains("--machine=senex@")
                && said.contains("run logwarden as root, or as senex"),
            "{said}"
        );
        assert_eq!(hint_for(Some("senex"), &id(0, "root")), None);
        assert_eq!(hint_for(Some("bot"), &bot), None);
        assert_eq!(hint_for(None, &bot), None);
    }

    #[test]
    fn the_own_user_is_found_in_the_user_database() {
        // The tests run as some user the database knows (root in CI).
        let name = me().name.clone();
        assert!(name.is_some(), "{:?}", me());
        assert_eq!(uid_of(name.as_deref().unwrap_or_default()), Some(me().uid));
        assert_eq!(uid_of("1234"), Some(1234));
        assert_eq!(uid_of("no-such-user-of-logwarden"), None);
        assert_eq!(uid_of("nul\0byte"), None);
    }

    #[test]
    fn a_user_without_linger_is_told_to_enable_it() {
        let dir = tempfile::tempdir().unwrap();
        let named = |u: &str| Some(if u == "1000" { "senex" } else { u }.to_string());
        let said = linger_warning_in(dir.path(), "senex", named).unwrap_or_default();
        assert!(
            said.contains("has no linger") && said.ends_with("Run: loginctl enable-linger senex"),
            "{said}"
        );
        // By UID: the linger file has the user's name.
        let by_uid = linger_warning_in(dir.path(), "1000", named).unwrap_or_default();
        assert!(by_uid.ends_with("enable-linger senex"), "{by_uid}");
        std::fs::write(dir.path().join("senex"), b"").unwrap();
        assert_eq!(linger_warning_in(dir.path(), "senex", named), None);
        assert_eq!(linger_warning_in(dir.path(), "1000", named), None);
        assert_eq!(linger_warning_in(dir.path(), "4242", |_| None), None);
    }
}
