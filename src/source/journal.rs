//! Follows the systemd journal through `sd_journal` (the `systemd` crate), for watches whose
//! service logs only to the journal.
//!
//! `Journal` is not `Send`, so it lives on its own thread, which sleeps in `poll(2)` on the
//! journal's fd and on a pipe that the file hub (`file/hub.rs`) writes to at shutdown, so an
//! idle journal costs no wake-up and shutdown is still seen at once; it hands entries to a
//! `JournalSink`. The position is the journal cursor: saved like file positions, resumed with
//! `seek_cursor` + `next` + `test_cursor` (if the saved entry is still there it was handed on
//! already and is skipped; if it was vacuumed, reading goes on at the next one). A corrupt
//! cursor falls back to the tail, and says so. When reading fails (journal files replaced,
//! journald restarted), the journal is opened again and reading goes on from the cursor.
//! A first start saves where it starts at once (the last entry's cursor, or with no entry yet
//! the time it opened the journal, `t=...`), so a kill before its first entry loses nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::core::shutdown::Shutdown;
use crate::source::StartAt;

/// What to read from the journal.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalFilter {
    /// System units: `_SYSTEMD_UNIT=` (and PID 1's messages about them, `UNIT=`).
    pub units: Vec<String>,
    /// User units: `_SYSTEMD_USER_UNIT=` (and `USER_UNIT=`).
    pub user_units: Vec<String>,
    /// `SYSLOG_IDENTIFIER=` values.
    pub identifiers: Vec<String>,
    /// Further `FIELD=value` matches, all of which must hold.
    pub matches: Vec<(String, String)>,
    /// Only entries at this priority or more severe (0 emerg .. 7 debug).
    pub max_priority: Option<u8>,
    /// A journal directory instead of the local system journal.
    pub directory: Option<PathBuf>,
}

/// What a journal follower needs to know.
#[derive(Debug, Clone)]
pub struct JournalSourceConfig {
    /// The key its position is saved under (`journal:WATCH`).
    pub key: String,
    pub filter: JournalFilter,
    /// Where to begin without a saved cursor.
    pub start_at: StartAt,
    /// The cursor saved by an earlier run.
    pub resume: Option<String>,
    /// The longest sleep without a journal event is 30 of these (a fallback: the journal's
    /// fd wakes the source when entries come, and shutdown wakes it at once).
    pub poll_interval: Duration,
}

/// Facts of one entry that travel with its message.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryMeta<'a> {
    pub unit: Option<&'a [u8]>,
    pub identifier: Option<&'a [u8]>,
    pub pid: Option<&'a [u8]>,
    pub priority: Option<u8>,
    /// `__REALTIME_TIMESTAMP`, microseconds since the epoch.
    pub realtime_usec: u64,
}

/// Receives the entries of a journal source.
pub trait JournalSink: Send {
    /// One entry's `MESSAGE`. `cursor` gives the entry's cursor (allocates; call it only for
    /// entries that need their own acknowledgement).
    fn entry(
        &mut self,
        message: &[u8],
        meta: &EntryMeta,
        cursor: &mut dyn FnMut() -> Option<String>,
    );
    /// The end of a batch, with the cursor of the last entry handed to `entry`. Returns
    /// `false` when nobody listens any more.
    fn batch_end(&mut self, cursor: Option<String>) -> bool;
    /// Every entry there is has been read (called after the batch end that follows the last).
    fn caught_up(&mut self) {}
    /// When the last entry read before this start was written (an earlier run's last one,
    /// or the tail's): a silence counts from then. Told once, at the first open.
    fn last_written(&mut self, _at: std::time::SystemTime) {}
    /// The source goes to sleep until the journal changes or shutdown: healthy, though it
    /// will not call `batch_end` until then.
    fn idle(&mut self) {}
}

/// Entries read before the cursor is passed on, so a flood does not wait for its end.
#[cfg_attr(not(feature = "journald"), allow(dead_code))]
const BATCH: usize = 512;

/// Follows the journal on a new thread.
pub fn spawn(
    config: JournalSourceConfig,
    sink: impl JournalSink + 'static,
    shutdown: Shutdown,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("journal-source".into())
        .spawn(move || imp::run(config, sink, shutdown))
}

/// Reads the `MESSAGE`s of a unit's entries since `since` ago, oldest first (for
/// `logwarden test-patterns --journal-unit`).
pub fn history(filter: &JournalFilter, since: Duration) -> std::io::Result<Vec<u8>> {
    imp::history(filter, since)
}

/// Hands each entry since `since` ago, oldest first, to `entry` with its time in
/// microseconds since the epoch (for `logwarden replay --journal-unit`).
pub fn history_entries(
    filter: &JournalFilter,
    since: Duration,
    entry: &mut dyn FnMut(u64, &[u8]),
) -> std::io::Result<()> {
    imp::history_entries(filter, since, entry)
}

#[cfg(feature = "journald")]
mod imp {
    use std::io;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use systemd::journal::{Journal, OpenDirectoryOptions, OpenOptions};

    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use super::{EntryMeta, JournalFilter, JournalSink, JournalSourceConfig, BATCH};
    use crate::core::shutdown::Shutdown;
    use crate::source::file::hub;

    /// Longest sleep without a journal event, in poll intervals: the fallback for a journal
    /// whose changes inotify does not report.
    const SAFETY_LOOK_POLLS: u32 = 30;

    /// A pipe written to at shutdown (by the hub's timer thread): its read end is polled
    /// beside the journal's fd.
    struct StopPipe {
        read: OwnedFd,
        _registration: hub::Registration,
    }

    impl StopPipe {
        fn new(shutdown: &Shutdown) -> io::Result<StopPipe> {
            let mut fds = [0; 2];
            // SAFETY: `fds` has room for the two descriptors pipe2 writes.
            if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: both were just created and are owned by nobody else.
            let (read, write) =
                unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            let registration = hub::register(
                std::path::Path::new(""),
                hub::Watch::ShutdownOnly,
                Duration::from_secs(1),
                shutdown.clone(),
                Box::new(move || {
                    // SAFETY: writes one byte from a live buffer to a descriptor we own;
                    // a full pipe (EAGAIN) already wakes the reader.
                    let _ = unsafe { libc::write(write.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
                }),
            );
            Ok(StopPipe {
                read,
                _registration: registration,
            })
        }

        /// Sleeps until the journal's fd or the pipe is readable, or `at_most` passed.
        fn wait(&self, j: &mut Journal, at_most: Duration) -> io::Result<()> {
            let mut fds = [
                libc::pollfd {
                    fd: j.fd()?,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.read.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = at_most.as_millis().min(i32::MAX as u128) as libc::c_int;
            // SAFETY: `fds` is a live array of two pollfd.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            // Acknowledges what woke the journal's fd (files added, appended, removed).
            j.process()?;
            Ok(())
        }
    }
    use crate::source::StartAt;

    /// Reused buffers for one entry's fields, so reading an entry allocates nothing.
    #[derive(Default)]
    struct Fields {
        message: Vec<u8>,
        unit: Vec<u8>,
        identifier: Vec<u8>,
        pid: Vec<u8>,
        /// `_EXE`, read only for a user manager's own entries.
        exe: Vec<u8>,
        priority: Option<u8>,
        realtime_usec: u64,
        has_unit: bool,
        has_identifier: bool,
        has_pid: bool,
    }

    fn open(filter: &JournalFilter) -> io::Result<Journal> {
        let mut j = match &filter.directory {
            Some(dir) => {
                let dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
                    .map_err(|_| io::Error::other("journal directory contains a NUL byte"))?;
                OpenDirectoryOptions::default().open_directory(dir.as_c_str())?
            }
            // Local files of every kind: not `system(true)` (SD_JOURNAL_SYSTEM), which leaves
            // out the per-user files (`user-UID.journal`) where, on a persistent journal, the
            // entries of user units and of services running as a UID >= 1000 are stored.
            None => OpenOptions::default().local_only(true).open()?,
        };
        add_matches(&mut j, filter)?;
        Ok(j)
    }

    /// `_EXE` of a systemd manager (merged `/usr`, or not).
    const SYSTEMD_EXE: [(&str, &str); 2] = [
        ("_EXE", "/usr/lib/systemd/systemd"),
        ("_EXE", "/lib/systemd/systemd"),
    ];

    /// (units OR user units OR identifiers) AND (every `FIELD=value`, priority filter).
    fn add_matches(j: &mut Journal, f: &JournalFilter) -> io::Result<()> {
        let mut terms = 0;
        // One alternative: `field` is any of `values`, and (other fields, which sd_journal
        // ANDs; values of one field are ORed) `and_also` holds.
        let mut term = |j: &mut Journal,
                        field: &str,
                        values: &[String],
                        and_also: &[(&str, &str)]|
         -> io::Result<()> {
            if values.is_empty() {
                return Ok(());
            }
            if terms > 0 {
                j.match_or()?;
            }
            for v in values {
                j.match_add(field, v.as_bytes().to_vec())?;
            }
            for (field, value) in and_also {
                j.match_add(field, value.as_bytes().to_vec())?;
            }
            terms += 1;
            Ok(())
        };
        term(j, "_SYSTEMD_UNIT", &f.units, &[])?;
        // PID 1's own messages about the unit ("Started", "Failed with result", "Scheduled
        // restart"). `UNIT=` is a field any process can send; `_PID` is set by journald.
        term(j, "UNIT", &f.units, &[("_PID", "1")])?;
        term(j, "_SYSTEMD_USER_UNIT", &f.user_units, &[])?;
        // The user manager's messages about a user unit. Its PID is not known in advance,
        // but journald sets `_EXE` from the process itself: only the systemd binary counts.
        term(j, "USER_UNIT", &f.user_units, &SYSTEMD_EXE)?;
        term(j, "SYSLOG_IDENTIFIER", &f.identifiers, &[])?;
        if f.matches.is_empty() && f.max_priority.is_none() {
            return Ok(());
        }
        if terms > 0 {
            j.match_and()?;
        }
        for (field, value) in &f.matches {
            j.match_add(field, value.as_bytes().to_vec())?;
        }
        if let Some(max) = f.max_priority {
            for p in 0..=max {
                j.match_add("PRIORITY", p.to_string())?;
            }
        }
        Ok(())
    }

    fn copy(j: &mut Journal, field: &str, into: &mut Vec<u8>) -> io::Result<bool> {
        into.clear();
        match j.get_data(field)? {
            Some(d) => {
                into.extend_from_slice(d.value().unwrap_or_default());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The user unit of an entry from a user manager's tree, whose `_SYSTEMD_UNIT` is the
    /// manager's own (`user@UID.service`): a user unit's process has `_SYSTEMD_USER_UNIT`;
    /// the manager itself (in its `init.scope`, or in `user@UID.service` itself as root's
    /// may be) speaks about the unit it names, `USER_UNIT=`, as PID 1 does with `UNIT=`,
    /// trusted only from the systemd binary (`_EXE`, set by journald).
    fn read_user_unit(j: &mut Journal, f: &mut Fields) -> io::Result<bool> {
        if copy(j, "_SYSTEMD_USER_UNIT", &mut f.unit)? && f.unit != b"init.scope" {
            return Ok(true);
        }
        Ok(copy(j, "USER_UNIT", &mut f.unit)?
            && copy(j, "_EXE", &mut f.exe)?
            && SYSTEMD_EXE.iter().any(|(_, exe)| f.exe == exe.as_bytes()))
    }

    fn read_fields(j: &mut Journal, f: &mut Fields) -> io::Result<()> {
        copy(j, "MESSAGE", &mut f.message)?;
        f.has_pid = copy(j, "_PID", &mut f.pid)?;
        // PID 1's message is about the unit it names (its own `_SYSTEMD_UNIT` is
        // `init.scope`); any other process's `UNIT=` is not trusted.
        f.has_unit = f.has_pid && f.pid == b"1" && copy(j, "UNIT", &mut f.unit)?;
        if !f.has_unit {
            f.has_unit = read_user_unit(j, f)?;
        }
        if !f.has_unit {
            f.has_unit = copy(j, "_SYSTEMD_UNIT", &mut f.unit)?;
        }
        f.has_identifier = copy(j, "SYSLOG_IDENTIFIER", &mut f.identifier)?;
        let mut prio = Vec::new();
        f.priority = if copy(j, "PRIORITY", &mut prio)? {
            std::str::from_utf8(&prio).ok().and_then(|p| p.parse().ok())
        } else {
            None
        };
        f.realtime_usec = j.timestamp_usec().unwrap_or(0);
        Ok(())
    }

    /// A saved position that is a time only (`t=` and the µs since the epoch in hex, as in a
    /// real cursor, which always has more fields, separated by `;`).
    fn time_cursor(usec: u64) -> String {
        format!("t={usec:x}")
    }

    fn time_cursor_usec(c: &str) -> Option<u64> {
        let hex = c.strip_prefix("t=")?;
        u64::from_str_radix(hex, 16).ok()
    }

    /// Positions `j` where reading should go on. Returns whether it stands on an entry read
    /// already (the saved one, or the tail's last), whose time is then known.
    fn position(
        j: &mut Journal,
        config: &JournalSourceConfig,
        cursor: Option<&str>,
    ) -> io::Result<bool> {
        if let Some(usec) = cursor.and_then(time_cursor_usec) {
            // A first start's saved time (no entry had come): the first entry since then.
            // (`seek_cursor` + `next` + `previous` would skip it: with no entry before it,
            // `previous` does not move.)
            j.seek_realtime_usec(usec)?;
            return Ok(false);
        }
        if let Some(c) = cursor {
            match j.seek_cursor(c) {
                Ok(()) => {
                    // On the saved entry (handed on already): skip it. If it is gone
                    // (vacuumed), `next` landed on the entry after it: keep that one.
                    let moved = j.next()? > 0;
                    if moved && !j.test_cursor(c)? {
                        j.previous()?;
                        return Ok(false);
                    }
                    return Ok(moved);
                }
                Err(e) => {
                    tracing::warn!(source = %config.key, error = %e, "saved journal cursor is not usable; starting at the tail");
                }
            }
        } else if config.start_at == StartAt::Beginning {
            j.seek_head()?;
            return Ok(false);
        }
        j.seek_tail()?;
        // After seek_tail, step back once so that `next` returns only new entries. With no
        // entry to step back to, the location stays "tail", from which `next` would return
        // the *last* entry once some arrive and skip the others: start at the head instead
        // (everything there will be new).
        if j.previous()? == 0 {
            j.seek_head()?;
            return Ok(false);
        }
        Ok(true)
    }

    pub fn run(config: JournalSourceConfig, mut sink: impl JournalSink, shutdown: Shutdown) {
        if config.filter.directory.is_none() {
            crate::source::journal_access::warn_if_partial(&config.key);
        }
        let mut cursor = config.resume.clone();
        let mut fields = Fields::default();
        let mut backoff = Duration::from_millis(100);
        let mut first_open = true;
        let stop = match StopPipe::new(&shutdown) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(source = %config.key, error = %e, "journal source not started: no pipe");
                return;
            }
        };
        while !shutdown.is_triggered() {
            match follow(
                &config,
                &mut sink,
                &shutdown,
                &stop,
                &mut cursor,
                &mut fields,
                &mut first_open,
            ) {
                Ok(true) => return, // shutdown or the sink stopped
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(source = %config.key, error = %e, "journal read failed; opening it again");
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// Reads until shutdown (`Ok(true)`) or an error; `cursor` tracks the last entry handed on.
    fn follow(
        config: &JournalSourceConfig,
        sink: &mut impl JournalSink,
        shutdown: &Shutdown,
        stop: &StopPipe,
        cursor: &mut Option<String>,
        fields: &mut Fields,
        first_open: &mut bool,
    ) -> io::Result<bool> {
        let mut j = open(&config.filter)?;
        let opened_usec = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let resumed_on_an_entry = position(&mut j, config, cursor.as_deref())?;
        if std::mem::take(first_open) && resumed_on_an_entry {
            // On the entry read last (by an earlier run, or the tail's): when it was written.
            if let Ok(usec) = j.timestamp_usec() {
                sink.last_written(std::time::UNIX_EPOCH + Duration::from_micros(usec));
            }
        }
        if cursor.is_none() && config.start_at == StartAt::End {
            // A first start: where it starts is saved at once, so that one killed before
            // its first entry resumes here rather than at a later tail, losing what came in
            // between. On the journal's last entry (read already, as a saved cursor's entry
            // is), that entry's cursor; with no entry yet, a cursor of the time only (`t=`,
            // which `seek_cursor` takes: the next start begins at the first entry since).
            let start = j.cursor().unwrap_or_else(|_| time_cursor(opened_usec));
            *cursor = Some(start.clone());
            if !sink.batch_end(Some(start)) {
                return Ok(true);
            }
        }
        // Some systemd versions need the fd set up before the first wait.
        let _ = j.fd();
        tracing::info!(source = %config.key, "reading the journal");
        loop {
            let mut n = 0;
            while j.next()? > 0 {
                read_fields(&mut j, fields)?;
                let meta = EntryMeta {
                    unit: fields.has_unit.then_some(fields.unit.as_slice()),
                    identifier: fields
                        .has_identifier
                        .then_some(fields.identifier.as_slice()),
                    pid: fields.has_pid.then_some(fields.pid.as_slice()),
                    priority: fields.priority,
                    realtime_usec: fields.realtime_usec,
                };
                let jr = &j;
                sink.entry(&fields.message, &meta, &mut || jr.cursor().ok());
                n += 1;
                if n % BATCH == 0 {
                    *cursor = Some(j.cursor()?);
                    if !sink.batch_end(cursor.clone()) {
                        return Ok(true);
                    }
                }
            }
            if n % BATCH != 0 {
                *cursor = Some(j.cursor()?);
                if !sink.batch_end(cursor.clone()) {
                    return Ok(true);
                }
            } else if !sink.batch_end(None) {
                return Ok(true);
            }
            sink.caught_up();
            if shutdown.is_triggered() {
                return Ok(true);
            }
            // Files added or removed (rotation, vacuum, journald restart): sd_journal follows
            // that by itself (`process`); nothing to do but go on reading.
            sink.idle();
            stop.wait(&mut j, config.poll_interval * SAFETY_LOOK_POLLS)?;
        }
    }

    pub fn history(filter: &JournalFilter, since: Duration) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        history_entries(filter, since, &mut |_, message| {
            out.extend_from_slice(message);
            out.push(b'\n');
        })?;
        Ok(out)
    }

    pub fn history_entries(
        filter: &JournalFilter,
        since: Duration,
        entry: &mut dyn FnMut(u64, &[u8]),
    ) -> io::Result<()> {
        let mut j = open(filter)?;
        let from = SystemTime::now()
            .checked_sub(since)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        j.seek_realtime_usec(from.as_micros() as u64)?;
        let mut message = Vec::new();
        while j.next()? > 0 {
            if copy(&mut j, "MESSAGE", &mut message)? {
                entry(j.timestamp_usec().unwrap_or(0), &message);
            }
        }
        Ok(())
    }
}

#[cfg(not(feature = "journald"))]
mod imp {
    use std::time::Duration;

    use super::{JournalFilter, JournalSink, JournalSourceConfig};
    use crate::core::shutdown::Shutdown;

    pub fn run(config: JournalSourceConfig, _sink: impl JournalSink, _shutdown: Shutdown) {
        tracing::error!(source = %config.key, "this logwarden was built without journald support (cargo feature `journald`)");
    }

    pub fn history(_filter: &JournalFilter, _since: Duration) -> std::io::Result<Vec<u8>> {
        Err(std::io::Error::other(
            "this logwarden was built without journald support (cargo feature `journald`)",
        ))
    }

    pub fn history_entries(
        _filter: &JournalFilter,
        _since: Duration,
        _entry: &mut dyn FnMut(u64, &[u8]),
    ) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "this logwarden was built without journald support (cargo feature `journald`)",
        ))
    }
}

/// Journal priority names, most severe first (`0` is `emerg`).
pub const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// Parses a priority name (`"err"`, `"warning"`, ...) or number (`"3"`).
pub fn parse_priority(text: &str) -> Option<u8> {
    PRIORITIES
        .iter()
        .position(|p| *p == text)
        .map(|p| p as u8)
        .or_else(|| text.parse::<u8>().ok().filter(|p| *p < 8))
}
