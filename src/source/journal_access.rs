//! Whether this process may read the whole journal, so that a partial view is said out loud.
//!
//! A reader that is not root and in neither `systemd-journal` nor `adm` gets no error from
//! `sd_journal`: it silently sees only its own user's entries, and a watch would wait forever
//! for lines it can never read. The journal source calls [`warn_if_partial`] when it starts.

/// Groups whose members read every journal file (`systemd-journal`; `adm` on Debian).
const READER_GROUPS: [&str; 2] = ["systemd-journal", "adm"];

/// Who this process is, as far as journal access goes.
#[derive(Debug, Default, PartialEq)]
struct Credentials {
    /// Effective user ID.
    uid: u32,
    /// Effective group ID and the supplementary groups.
    gids: Vec<u32>,
}

/// Logs a warning with what to do when the journal will be read only partially.
pub fn warn_if_partial(source: &str) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let Some(me) = credentials(&status) else {
        return;
    };
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    if reads_everything(&me, &groups) {
        return;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let user = user_name(&passwd, me.uid).unwrap_or_else(|| "USER".to_string());
    tracing::warn!(
        source = %source,
        uid = me.uid,
        "logwarden runs as {user} (uid {}), which is neither root nor in group systemd-journal or adm: it sees only part of the journal (its own user's entries), with no error. Run `usermod -aG systemd-journal {user}` and restart logwarden",
        me.uid
    );
}

/// The effective UID and all GIDs from `/proc/self/status`.
fn credentials(status: &str) -> Option<Credentials> {
    // `Uid:` and `Gid:` list real, effective, saved and filesystem IDs; `Groups:` the
    // supplementary groups.
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok())
            })
    };
    let uid = field("Uid:")?.nth(1)?;
    let mut gids: Vec<u32> = field("Gid:")?.nth(1).into_iter().collect();
    gids.extend(field("Groups:").into_iter().flatten());
    Some(Credentials { uid, gids })
}

/// Root, or a member of a reader group (`/etc/group` text).
fn reads_everything(me: &Credentials, etc_group: &str) -> bool {
    me.uid == 0
        || etc_group.lines().any(|l| {
            let mut f = l.split(':');
            let (Some(name), Some(_), Some(gid)) = (f.next(), f.next(), f.next()) else {
                return false;
            };
            READER_GROUPS.contains(&name)
                && gid.parse::<u32>().is_ok_and(|gid| me.gids.contains(&gid))
        })
}

/// The name of `uid` in `/etc/passwd` text.
fn user_name(etc_passwd: &str, uid: u32) -> Option<String> {
    etc_passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "root:x:0:\nadm:x:4:syslog\nsystemd-journal:x:101:\nbot:x:1000:\n";

    fn me(uid: u32, gids: &[u32]) -> Credentials {
        Credentials {
            uid,
            gids: gids.to_vec(),
        }
    }

    #[test]
    fn credentials_are_the_effective_ids_and_supplementary_groups() {
        let status = "Name:\tlogwarden\nUid:\t1000\t1001\t1000\t1000\nGid:\t1000\t1002\t1000\t1000\nGroups:\t4 27 \n";
        assert_eq!(credentials(status), Some(me(1001, &[1002, 4, 27])));
    }

    #[test]
    fn root_and_members_of_the_reader_groups_read_the_whole_journal() {
        assert!(reads_everything(&me(0, &[0]), GROUP));
        assert!(reads_everything(&me(1000, &[1000, 101]), GROUP));
        assert!(reads_everything(&me(1000, &[1000, 4]), GROUP));
    }

    #[test]
    fn a_user_outside_the_reader_groups_sees_a_partial_journal() {
        assert!(!reads_everything(&me(1000, &[1000]), GROUP));
        assert!(!reads_everything(&me(1000, &[1000]), ""));
    }

    #[test]
    fn the_warning_names_the_user_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbot:x:1000:1000::/home/bot:/bin/sh\n";
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("bot"));
        assert_eq!(user_name(passwd, 1234), None);
    }
}
