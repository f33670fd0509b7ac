//! What a text or a button press from Telegram asks, read as hostile input: bounded, never
//! a panic, anything unknown an error said back in plain words. Button data is ours
//! (`R:EXPIRY:WATCH`, `r:WATCH`, `a:WATCH/RULE`, `s:WATCH/RULE`), at most `CALLBACK_MAX`
//! bytes as the Bot API allows, but a client can forge it: it is parsed and checked like text.

use std::fmt::Write as _;
use std::time::Duration;

/// The Bot API's limit on a button's `callback_data`, in bytes.
pub const CALLBACK_MAX: usize = 64;
/// Characters of a command text read at all (Telegram allows 4096; a command is short).
pub const TEXT_MAX: usize = 512;
/// Characters of an operator's text kept when it is echoed (a watch name, a reason).
const ECHO_MAX: usize = 60;
/// The longest pause: a year (longer is a mistake).
const PAUSE_MAX: Duration = Duration::from_secs(366 * 86_400);

/// A command, checked for form (not yet against the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status,
    Pause {
        watch: String,
        for_: Duration,
    },
    Resume {
        watch: String,
    },
    /// `/restart WATCH` or an alert's Restart button: asks for confirmation.
    Restart {
        watch: String,
    },
    /// The confirmation button, valid until the Unix second `expires`.
    ConfirmRestart {
        watch: String,
        expires: u64,
    },
    Silence {
        scope: String,
        for_: Duration,
        reason: String,
    },
    Unsilence {
        id: String,
    },
    Ack {
        scope: String,
    },
}

/// Text of the user's made inert for echoing: control, format and bidi characters written
/// as `\u{..}`, cut to `ECHO_MAX` characters.
pub fn inert(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(ECHO_MAX) {
        let hidden = c.is_control()
            || matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF);
        if hidden {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    if text.chars().nth(ECHO_MAX).is_some() {
        out.push('…');
    }
    out
}

/// Reads a message's text. `Ok(None)`: not a command (no leading `/`), ignored.
pub fn parse(text: &str) -> Result<Option<Command>, String> {
    let text: String = text.chars().take(TEXT_MAX).collect();
    let mut words = text.split_whitespace();
    let Some(first) = words.next().filter(|w| w.starts_with('/')) else {
        return Ok(None);
    };
    // `/status@logwarden_bot` in a group names the bot.
    let name = first[1..]
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let arg = |w: Option<&str>, what: &str| {
        w.map(str::to_string)
            .ok_or_else(|| format!("/{name} needs {what}; /help lists the commands"))
    };
    let cmd = match name.as_str() {
        "help" | "start" => Command::Help,
        "status" => Command::Status,
        "pause" => {
            let watch = arg(words.next(), "a watch and a duration (/pause bot 1h)")?;
            let for_ = duration(&arg(words.next(), "a duration (/pause bot 1h)")?, PAUSE_MAX)?;
            Command::Pause { watch, for_ }
        }
        "resume" => Command::Resume {
            watch: arg(words.next(), "a watch (/resume bot)")?,
        },
        "restart" => Command::Restart {
            watch: arg(words.next(), "a watch (/restart bot)")?,
        },
        "silence" => {
            let scope = arg(
                words.next(),
                "WATCH[/RULE] and a duration (/silence bot 2h)",
            )?;
            let for_ = duration(
                &arg(words.next(), "a duration (/silence bot 2h)")?,
                PAUSE_MAX,
            )?;
            Command::Silence {
                scope,
                for_,
                reason: words.collect::<Vec<_>>().join(" "),
            }
        }
        "unsilence" => Command::Unsilence {
            id: arg(
                words.next(),
                "a silence id (/unsilence ID; /status lists them)",
            )?,
        },
        "ack" => Command::Ack {
            scope: arg(words.next(), "WATCH/RULE (/ack bot/log-stale)")?,
        },
        _ => {
            return Err(format!(
                "unknown command /{}; /help lists the commands",
                inert(&name)
            ))
        }
    };
    Ok(Some(cmd))
}

/// A duration as the config writes it (`90s`, `15m`, `2h`, `1d`), from 1 s to `max`.
fn duration(text: &str, max: Duration) -> Result<Duration, String> {
    let bad = || format!("{:?} is not a duration like 30m, 2h or 1d", inert(text));
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let d = Duration::from_secs(n.checked_mul(secs).ok_or_else(bad)?);
    if d.is_zero() || d > max {
        return Err(format!(
            "{} is out of range: from 1s to {}d",
            inert(text),
            max.as_secs() / 86_400
        ));
    }
    Ok(d)
}

/// Reads a button's data (ours, or forged).
pub fn parse_callback(data: &str) -> Result<Command, String> {
    let bad = || "this button is not one of logwarden's".to_string();
    if data.len() > CALLBACK_MAX {
        return Err(bad());
    }
    let (kind, rest) = data.split_once(':').ok_or_else(bad)?;
    match kind {
        "R" => {
            let (expires, watch) = rest.split_once(':').ok_or_else(bad)?;
            Ok(Command::ConfirmRestart {
                watch: watch.to_string(),
                expires: expires.parse().map_err(|_| bad())?,
            })
        }
        "r" => Ok(Command::Restart {
            watch: rest.to_string(),
        }),
        "a" => Ok(Command::Ack {
            scope: rest.to_string(),
        }),
        "s" => Ok(Command::Silence {
            scope: rest.to_string(),
            for_: Duration::from_secs(3600),
            reason: "from the alert's button".into(),
        }),
        _ => Err(bad()),
    }
}

/// `KIND:REST` as button data, if it fits the Bot API's limit (a long watch or rule name
/// gets no button).
pub fn callback(kind: char, rest: &str) -> Option<String> {
    let data = format!("{kind}:{rest}");
    (data.len() <= CALLBACK_MAX).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_and_bad_ones_refused_without_panic() {
        assert_eq!(parse("hello"), Ok(None));
        assert_eq!(parse("/status@logwarden_bot"), Ok(Some(Command::Status)));
        assert_eq!(
            parse("/pause bot 90m"),
            Ok(Some(Command::Pause {
                watch: "bot".into(),
                for_: Duration::from_secs(5400)
            }))
        );
        assert!(parse("/pause bot").is_err());
        assert!(parse("/pause bot 0h").is_err());
        assert!(parse("/pause bot 99999999999999999999h").is_err());
        assert!(parse("/pause bot 18446744073709551615d").is_err());
        assert!(parse("/pause bot 400d").is_err());
        assert!(parse("/pause bot 1é").is_err());
        assert!(parse("/\u{202e}x").unwrap_err().contains("\\u{202e}"));
        assert!(parse("/").is_err());
        assert!(parse(&"/x".repeat(10_000)).is_err());
        let long = format!("/restart {}", "é".repeat(100_000));
        assert!(matches!(parse(&long), Ok(Some(Command::Restart { .. }))));
    }

    #[test]
    fn button_data_is_bounded_and_checked() {
        assert_eq!(
            parse_callback("R:1700000000:bot"),
            Ok(Command::ConfirmRestart {
                watch: "bot".into(),
                expires: 1_700_000_000
            })
        );
        assert!(parse_callback("R:x:bot").is_err());
        assert!(parse_callback("Z:bot").is_err());
        assert!(parse_callback(&format!("r:{}", "b".repeat(70))).is_err());
        assert!(callback('r', &"b".repeat(63)).is_none());
        assert_eq!(callback('a', "bot/stale").as_deref(), Some("a:bot/stale"));
    }

    #[test]
    fn echoed_text_is_inert_and_bounded() {
        let s = inert("a\u{1b}]0;pwned\u{7}\nb\u{202e}");
        assert!(!s.chars().any(|c| c.is_control()), "{s}");
        assert!(s.contains("\\u{1b}") && s.contains("\\u{202e}"));
        assert!(inert(&"x".repeat(1000)).chars().count() <= ECHO_MAX + 1);
    }
}
