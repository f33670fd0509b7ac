//! Where a log line's header ends and its message begins, for the kinds of `new-kind`: the
//! time, host, level, logger and pid that most formats put first say nothing about what
//! happened, and counted as words they make unrelated lines look alike (a BGL
//! `... RAS KERNEL INFO` line shares nine header tokens with every other one).
//!
//! One rule for every format, no per-format setting (an operator's own `header` regex comes
//! first where one is set), on the whitespace-separated tokens of the line:
//! 1. **A level** (`INFO`, `ERROR`, `[notice]`, `level=error`, `WARNING:` ...) among the first
//!    `HEAD_MAX` tokens, at the start or after a token with a digit (a time): the header ends
//!    after it, after the separators (`-`, `|`, `:`) and bracketed groups (`[main]`,
//!    `[req-1 2 -]`) that follow, and after one logger name ending in `:` (`bot.broker:`,
//!    `dfs.DataNode$PacketResponder:`). python-logging, Spark, Hadoop, HDFS, Zookeeper,
//!    OpenStack, Apache, BGL, Windows and a journal message (`ERROR trader: ...`) end here.
//!    A one-letter level (`D`, `I`, `W`, `E` as Android writes them) counts only after a
//!    token with a digit and before a name ending in `:`.
//! 2. **A process** (`sshd[24200]:`, `crond(pam_unix)[2915]:`, or `name:` two tokens after a
//!    `HH:MM:SS`), after a token with a digit: syslog and the journal's short output.
//! 3. Otherwise, the leading tokens holding a digit (a time, a sequence number, a node id)
//!    and separators.
//!
//! The message is never empty: a line that is all header keeps its last token.

/// How far into a line a header may reach, in tokens.
pub const HEAD_MAX: usize = 12;

/// The number of leading tokens of `raw` (a line split at whitespace) that are its header.
pub fn header_len(raw: &[&str]) -> usize {
    if raw.len() <= 1 {
        return 0;
    }
    let head = raw.len().min(HEAD_MAX);
    let digit_before = |i: usize| raw[..i].iter().any(|t| has_digit(t));
    let end = (0..head)
        .find(|&i| is_level(raw, i) && (i == 0 || digit_before(i)))
        .map(|i| after_level(raw, i + 1))
        .or_else(|| {
            (1..head)
                .find(|&i| is_process(raw, i) && digit_before(i))
                .map(|i| i + 1)
        })
        .or_else(|| pipe_fields(raw, head))
        .or_else(|| epoch(raw, head))
        .unwrap_or_else(|| leading_variables(raw, head));
    let end = end.min(raw.len() - 1);
    debug_assert!(end < raw.len(), "the message keeps at least one token");
    end
}

/// `TIME|component|pid|message` (HealthApp and many ad-hoc formats): a line that starts with
/// a time and a `|` ends its header at the last `|` among the first tokens.
fn pipe_fields(raw: &[&str], head: usize) -> Option<usize> {
    if !(has_digit(raw[0]) && raw.get(1) == Some(&"|")) {
        return None;
    }
    (1..head).rev().find(|&i| raw[i] == "|").map(|i| i + 1)
}

/// A Unix time (`1074216940`, HPC, BGL) after the first token: the header ends after it and
/// the small numbers and separators that follow it (`1`, `-1`).
fn epoch(raw: &[&str], head: usize) -> Option<usize> {
    let i = (1..head).find(|&i| is_epoch(raw[i]))?;
    let mut j = i + 1;
    while j < head
        && (is_separator(raw[j])
            || (raw[j].len() <= 3
                && raw[j]
                    .trim_start_matches('-')
                    .bytes()
                    .all(|b| b.is_ascii_digit())))
    {
        j += 1;
    }
    Some(j)
}

/// Seconds since 1970 between 2001 and 2100, as ten digits.
fn is_epoch(t: &str) -> bool {
    t.len() == 10
        && t.bytes().all(|b| b.is_ascii_digit())
        && t.as_bytes()[0] <= b'4'
        && t >= "1000000000"
}

/// The leading tokens holding a digit and separators, and then a program named before a
/// lone `-` (`[10.30 16:49:06] chrome.exe - ...`, `chrome.exe *64 - ...`).
fn leading_variables(raw: &[&str], head: usize) -> usize {
    let n = raw[..head]
        .iter()
        .take_while(|t| has_digit(t) || is_separator(t))
        .count();
    if n == 0 {
        return 0;
    }
    match (n + 1..(n + 3).min(head)).find(|&i| raw[i] == "-") {
        Some(dash) => dash + 1,
        None => n,
    }
}

/// Past what follows a level: separators, bracketed groups, one logger name ending in `:`
/// (or a dotted one before a bracketed group: OpenStack's `nova.compute.manager [req-1 - -]`).
fn after_level(raw: &[&str], mut j: usize) -> usize {
    let limit = raw.len().min(j + HEAD_MAX);
    if j + 1 < raw.len() && is_dotted_name(raw[j]) && raw[j + 1].starts_with('[') {
        j += 1;
    }
    while j < limit {
        let t = raw[j];
        if is_separator(t) {
            j += 1;
        } else if t.starts_with('[') {
            // A group may hold spaces: `[req-38 113d 54fa - - -]`.
            let close = (j..limit).find(|&k| raw[k].ends_with(']') || raw[k].ends_with("]:"));
            match close {
                Some(k) => j = k + 1,
                None => break,
            }
        } else {
            break;
        }
    }
    if j < raw.len() && is_logger(raw[j]) {
        j += 1;
        while j < raw.len() && is_separator(raw[j]) {
            j += 1;
        }
    }
    j
}

/// `nova.compute.manager`, `org.apache.Foo`: a module path as loggers are named.
fn is_dotted_name(t: &str) -> bool {
    t.contains('.')
        && !t.starts_with('.')
        && !t.ends_with('.')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$'))
}

fn has_digit(t: &str) -> bool {
    t.bytes().any(|b| b.is_ascii_digit())
}

fn is_separator(t: &str) -> bool {
    !t.is_empty()
        && t.chars()
            .all(|c| matches!(c, '-' | '|' | ':' | '>' | '<' | '*'))
}

/// Whether token `i` of `raw` is a log level: `ERROR`, `Info`, `[notice]`, `level=warn`.
fn is_level(raw: &[&str], i: usize) -> bool {
    const LEVELS: [&str; 17] = [
        "TRACE",
        "DEBUG",
        "INFO",
        "NOTICE",
        "WARN",
        "WARNING",
        "ERROR",
        "ERR",
        "CRITICAL",
        "CRIT",
        "FATAL",
        "SEVERE",
        "ALERT",
        "EMERG",
        "EMERGENCY",
        "VERBOSE",
        "FINE",
    ];
    let t = raw[i];
    let word = t
        .strip_prefix("level=")
        .or_else(|| t.strip_prefix("lvl="))
        .unwrap_or(t)
        .trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | '<' | '>' | ':' | ',' | '"'));
    if word.len() == 1 {
        // Android's `D WindowManager: ...`: only between a time and a tag.
        return matches!(word, "V" | "D" | "I" | "W" | "E" | "F")
            && i > 0
            && has_digit(raw[i - 1])
            && raw.get(i + 1).is_some_and(|n| n.ends_with(':'));
    }
    // A bare lowercase word is a word of the message (`... error : Could not connect`);
    // lowercase levels come marked: `[error]`, `<warn>`, `level=error`.
    let marked = word.len() < t.len();
    let shouted = word.chars().all(|c| c.is_ascii_uppercase());
    let capitalized = word.starts_with(|c: char| c.is_ascii_uppercase())
        && word[1..].chars().all(|c| c.is_ascii_lowercase());
    word.len() <= 9
        && (marked || shouted || capitalized)
        && LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word))
}

/// A logger name: `bot.broker:`, `trader:`, `org.apache.hadoop.mapreduce.v2.app.MRAppMaster:`.
fn is_logger(t: &str) -> bool {
    t.len() > 1 && t.ends_with(':') && !t[..t.len() - 1].contains(':')
}

/// Whether token `i` is a syslog process: `sshd[24200]:`, `kernel[0]:`, or `cron:` two
/// tokens after a time of day.
fn is_process(raw: &[&str], i: usize) -> bool {
    let t = raw[i];
    if t.len() > 3 && (t.ends_with("]:") || t.ends_with("):")) {
        return true;
    }
    is_logger(t) && i >= 2 && is_time_of_day(raw[i - 2])
}

/// `HH:MM:SS`, maybe with fractions.
fn is_time_of_day(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&k| b[k].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message of `line` as text.
    fn message(line: &str) -> String {
        let raw: Vec<&str> = line.split_whitespace().collect();
        raw[header_len(&raw)..].join(" ")
    }

    #[test]
    fn the_header_of_common_formats_is_set_aside() {
        let cases = [
            ("2026-11-23 09:41:42,123 - bot.broker - ERROR - Order 8812 rejected", "Order 8812 rejected"),
            ("ERROR trader: socket timeout", "socket timeout"),
            ("CRITICAL: bot died", "bot died"),
            ("[ERROR] order failed", "order failed"),
            ("level=error msg=boom", "msg=boom"),
            ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block", "PacketResponder 1 for block"),
            ("2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.MRAppMaster: Created MRAppMaster", "Created MRAppMaster"),
            ("2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200", "Notification time out: 3200"),
            ("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", "instruction cache parity error corrected"),
            ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", "workerEnv.init() ok /etc/httpd/conf/workers2.properties"),
            ("03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs opening app", "printFreezingDisplayLogs opening app"),
            ("Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo", "reverse mapping checking getaddrinfo"),
            ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure;", "authentication failure;"),
            ("- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root", "session closed for user root"),
            ("Nov  3 09:41:42 pi cron: job started", "job started"),
            ("134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change:", "Component State Change:"),
            ("2567354 node-147 node status 1074098611 1 not responding", "not responding"),
            ("46105 full partition status 1126164412 -1 running", "running"),
            ("20171223-22:15:29:645 | Step_ExtSDM | 30002312 | calculateCaloriesWithCache totalCalories=126775", "calculateCaloriesWithCache totalCalories=126775"),
            ("[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy", "proxy.cse.cuhk.edu.hk:5070 open through proxy"),
            ("[07.27 05:05:50] chrome.exe *64 - qa.sockets.stackexchange.com:443 error :", "qa.sockets.stackexchange.com:443 error :"),
            ("order 12 rejected: margin", "order 12 rejected: margin"),
            ("10.0.0.7 - - [23/Nov/2026:09:41:42 +0000] \"GET /api HTTP/1.1\" 502 157 \"-\" \"curl/8.5\"", "\"GET /api HTTP/1.1\" 502 157 \"-\" \"curl/8.5\""),
            ("2026/11/23 09:41:42 [error] 1234#0: *5 connect() failed (111: Connection refused)", "*5 connect() failed (111: Connection refused)"),
            ("nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38 113d 54fa - - -] 10.11.10.1 \"GET /v2 HTTP/1.1\" status: 200", "10.11.10.1 \"GET /v2 HTTP/1.1\" status: 200"),
            ("INFO", "INFO"),
        ];
        for (line, want) in cases {
            assert_eq!(message(line), want, "{line}");
        }
    }

    #[test]
    fn a_level_word_inside_a_message_is_not_a_header() {
        assert_eq!(
            message("retrying after error 3 times"),
            "retrying after error 3 times"
        );
        assert_eq!(message("the error rate is high"), "the error rate is high");
    }
}
