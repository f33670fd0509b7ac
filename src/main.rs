//! The `logwarden` command line: parses arguments, loads config, and runs one subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use logwarden::cli::{
    check, control, dead_letters, demo, kinds, load_or_report, operator, probe, replay, runtime,
    status, test_alert, test_patterns,
};
use logwarden::config::{self, DEFAULT_CONFIG_PATH};
use logwarden::core::logging::{self, LogFormat};
use logwarden::daemon::reload_loop;
use logwarden::matcher::fields::FieldPath;
use logwarden::matcher::structured::{default_level_fields, LineFormat, LineStructure};
use logwarden::source::journal::JournalFilter;

const EXAMPLES: &str = "\
Examples:
  logwarden demo                                  watch a bundled bot burst errors and freeze
  logwarden check --config /etc/logwarden/logwarden.toml
  logwarden test-patterns python-logging trading /home/bot/logs/bot.log
  logwarden replay /home/bot/logs/bot.log.1 /home/bot/logs/bot.log
  logwarden test-alert                            send a test message through every channel
  logwarden probe --json                          run every probe once; exit 0/1/2/3 (cron, Nagios)
  logwarden dead-letters --resend                 resend alerts a channel refused, once fixed
  logwarden silence bot/stale --for 2h --reason deploy     hold bot/stale alerts for 2 h
  logwarden ack bot/error-burst                   no more reminders until it resolves
  journalctl -u bot.service --since -1h | logwarden test-patterns python-logging -
  logwarden run                                   the daemon (what the systemd unit starts)";

/// Watches the logs of long-running services, alerts on error bursts, stale logs and missing
/// activity, and restarts what is frozen.
#[derive(Debug, Parser)]
#[command(name = "logwarden", version, about, after_help = EXAMPLES)]
struct Cli {
    /// Main config file; drop-ins are read from logwarden.d/*.toml beside it.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG_PATH, env = "LOGWARDEN_CONFIG")]
    config: PathBuf,
    /// Format of logwarden's own log and of console alerts on stderr.
    #[arg(long, global = true, value_enum, default_value = "human")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: follow, match, judge and alert until stopped (SIGTERM or Ctrl-C).
    Run,
    /// Validate the config and every pattern pack it uses; print file:line:column per problem.
    Check,
    /// Run pattern packs over a log and show per-pattern counts and samples.
    #[command(name = "test-patterns")]
    TestPatterns {
        /// Pack names (shipped or in patterns_dir) or paths to pack files, then optionally the
        /// log file to read (`-` or nothing: standard input; or --journal-unit).
        #[arg(required = true, value_name = "PACK... [FILE|-]")]
        args: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Read the MESSAGEs of this systemd unit from the journal instead of a file.
        #[arg(long, value_name = "UNIT")]
        journal_unit: Option<String>,
        /// Read the MESSAGEs of this syslog identifier from the journal instead of a file.
        #[arg(long, value_name = "IDENTIFIER")]
        journal_identifier: Option<String>,
        /// With --journal-*: how far back to read, e.g. 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = parse_since)]
        since: std::time::Duration,
        /// How the lines are written, as a watch's `format`: plain, json, logfmt or auto. A
        /// structured line's level field counts as `level-field/error` etc.
        #[arg(long, default_value = "plain", value_parser = parse_line_format)]
        format: LineFormat,
        /// The key (JSON path) of the level in structured lines, as a watch's `level_field`.
        #[arg(long, value_name = "KEY", value_parser = parse_field_path)]
        level_field: Option<FieldPath>,
    },
    /// Run the configured rules over past logs, on the times written in the lines, and print
    /// the alerts that would have fired (no channel is called, nothing is restarted).
    Replay {
        /// Log files, oldest first (`-`: standard input).
        files: Vec<PathBuf>,
        /// The watch whose rules judge the lines (default: the one whose `files` name them).
        #[arg(long)]
        watch: Option<String>,
        /// Read this systemd unit's journal instead of files.
        #[arg(long, value_name = "UNIT")]
        journal_unit: Option<String>,
        /// Read the entries of this syslog identifier from the journal instead of files.
        #[arg(long, value_name = "IDENTIFIER")]
        journal_identifier: Option<String>,
        /// With --journal-*: how far back to read, e.g. 1h, 7d.
        #[arg(long, default_value = "7d", value_parser = parse_since)]
        since: std::time::Duration,
        /// Time zone of timestamps written without an offset (default: the system's).
        #[arg(long, value_name = "ZONE")]
        timezone: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Save what new-kind and anomaly rules learned into state_dir, where the daemon
        /// reads it at its next start (restart it after seeding).
        #[arg(long)]
        seed: bool,
    },
    /// Show what the running daemon watches and what fires; exit 0 ok, 1 warning, 2 critical,
    /// 3 when the daemon cannot be reached (needs `[daemon] listen`).
    Status {
        /// Print the daemon's JSON as it is.
        #[arg(long)]
        json: bool,
    },
    /// Run every probe of the config once (no daemon needed), print each result and the
    /// overall level; exit 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (for cron or Nagios).
    Probe {
        /// Only the probes of these watches.
        watches: Vec<String>,
        /// Print one JSON object: the overall `level` and one entry per probe.
        #[arg(long)]
        json: bool,
    },
    /// List the kinds `new-kind` rules have learned (template, lines, first and last seen);
    /// `--forget ID` forgets one. With FILE: learn the kinds of its lines and list them
    /// (`--assign`: print each line's kind id instead).
    Kinds {
        /// A log file to learn from (`-`: standard input) instead of what the rules learned.
        file: Option<PathBuf>,
        /// Only the new-kind rules of this watch.
        #[arg(long)]
        watch: Option<String>,
        /// Forget the kind with this id (its next line is a new kind again).
        #[arg(long, value_name = "ID")]
        forget: Option<u64>,
        /// With FILE: print the kind id of each line, one per line.
        #[arg(long)]
        assign: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop restarting WATCH for a while (a deploy window); alerts still go out.
    Pause {
        watch: String,
        /// How long, e.g. 30m, 2h.
        #[arg(long = "for", default_value = "1h", value_parser = parse_pause)]
        duration: std::time::Duration,
    },
    /// Restart WATCH again when needed: ends a pause, and a hand-over after too many restarts.
    Resume { watch: String },
    /// Hold the alerts of WATCH (or of one rule, WATCH/RULE) for a while; rules keep running,
    /// a firing held is sent when the silence ends if it still fires, and an alert sent before
    /// still gets its resolution. Prints the silence's id.
    Silence {
        /// WATCH or WATCH/RULE.
        scope: String,
        /// How long, e.g. 30m, 2h (at most 366d).
        #[arg(long = "for", value_parser = parse_silence)]
        duration: std::time::Duration,
        /// Why, for whoever reads `logwarden silences` or `/status`.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List the active silences: id, scope, end, who set it, reason.
    Silences {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End the silence ID now; the alerts it held that still fire are sent.
    Unsilence { id: String },
    /// Acknowledge the firing alert WATCH/RULE: no more reminders until it resolves (a later
    /// firing reminds again); announced once to the alert's channels.
    Ack {
        /// WATCH/RULE.
        scope: String,
    },
    /// Send a test message through each channel (or only CHANNEL) and say which failed and
    /// why; exit 1 if one did.
    #[command(name = "test-alert")]
    TestAlert { channel: Option<String> },
    /// List the dead letters: alerts a channel refused for good (with no fallback), kept in
    /// state_dir/dead instead of being retried for ever. With --resend, send them again
    /// through their channel as configured now and remove those it accepts; exit 1 if one
    /// failed again.
    #[command(name = "dead-letters")]
    DeadLetters {
        /// Send them again (after fixing the channel's config or the server).
        #[arg(long)]
        resend: bool,
        /// Only the dead letters of this channel.
        #[arg(long)]
        channel: Option<String>,
    },
    /// A half-minute demo: a bundled bot bursts errors then freezes; logwarden alerts.
    Demo,
    /// The bundled bot of the demo (writes FILE until killed).
    #[command(name = "demo-bot", hide = true)]
    DemoBot {
        file: PathBuf,
        /// Writes its PID here.
        #[arg(long)]
        pidfile: Option<PathBuf>,
        /// A restarted bot: healthy, no error burst, no freeze.
        #[arg(long)]
        calm: bool,
    },
    /// The demo's restart command: kills the bot named by the pidfile, starts a calm one.
    #[command(name = "demo-restart", hide = true)]
    DemoRestart {
        file: PathBuf,
        #[arg(long)]
        pidfile: PathBuf,
    },
}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    logging::init(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("logwarden: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// glibc gives each thread that allocates its own malloc arena (up to 8 per core), each
/// keeping freed memory: with a thread per source that is most of the idle heap. Two arenas
/// serve every thread (the hot path allocates almost nothing); measured in
/// docs/decisions.md ("Idle cost").
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable; called first thing, before any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check => Ok(check::command(&cli.config)),
        Command::Probe { watches, json } => probe::command(&cli.config, json, &watches),
        Command::Kinds {
            file,
            watch,
            forget,
            assign,
            json,
        } => kinds::command(
            &cli.config,
            &kinds::Args {
                watch: watch.as_deref(),
                file: file.as_deref(),
                assign,
                forget,
                json,
            },
        ),
        Command::Run => {
            let config = match load_or_report(&cli.config, "nothing started", 1) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            runtime()?.block_on(reload_loop::run(cli.config.clone(), config, cli.log_format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TestPatterns {
            args,
            json,
            journal_unit,
            journal_identifier,
            since,
            format,
            level_field,
        } => {
            let journal =
                (journal_unit.is_some() || journal_identifier.is_some()).then(|| JournalFilter {
                    units: journal_unit.into_iter().collect(),
                    identifiers: journal_identifier.into_iter().collect(),
                    ..JournalFilter::default()
                });
            let structure = LineStructure {
                format,
                level_fields: level_field.map_or_else(default_level_fields, |f| vec![f]),
            };
            test_patterns::command(
                &cli.config,
                &args,
                json,
                journal.map(|f| (f, since)),
                &structure,
            )
        }
        Command::Replay {
            files,
            watch,
            journal_unit,
            journal_identifier,
            since,
            timezone,
            json,
            seed,
        } => {
            let args = replay::command::ReplayArgs {
                files,
                watch,
                journal_unit,
                journal_identifier,
                since,
                timezone,
                seed,
            };
            replay::command::command(&cli.config, &args, json)
        }
        Command::Status { json } => status::command(&cli.config, json),
        Command::TestAlert { channel } => {
            test_alert::command(&cli.config, channel.as_deref(), cli.log_format)
        }
        Command::DeadLetters { resend, channel } => {
            dead_letters::command(&cli.config, resend, channel.as_deref(), cli.log_format)
        }
        Command::Pause { watch, duration } => control::command(&cli.config, &watch, Some(duration)),
        Command::Resume { watch } => control::command(&cli.config, &watch, None),
        Command::Silence {
            scope,
            duration,
            reason,
        } => operator::command(
            &cli.config,
            operator::Args::Silence {
                scope: &scope,
                duration,
                reason: &reason,
            },
        ),
        Command::Silences { json } => operator::command(&cli.config, operator::Args::List { json }),
        Command::Unsilence { id } => {
            operator::command(&cli.config, operator::Args::Unsilence { id: &id })
        }
        Command::Ack { scope } => {
            operator::command(&cli.config, operator::Args::Ack { scope: &scope })
        }
        Command::Demo => {
            let ok = runtime()?.block_on(demo::run(cli.log_format))?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::DemoBot {
            file,
            pidfile,
            calm,
        } => {
            demo::bot(&file, pidfile.as_deref(), calm)
                .with_context(|| format!("demo bot writing {}", file.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoRestart { file, pidfile } => {
            demo::restart_bot(&file, &pidfile).context("demo restart")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The longest pause: a year (longer is a mistake, and would overflow the clock).
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(366 * 86_400);

fn parse_pause(text: &str) -> Result<std::time::Duration, String> {
    let d = config::duration::parse_duration(text)?;
    if d.is_zero() || d > MAX_PAUSE {
        return Err(format!(
            "a pause lasts between 1s and {}; use `logwarden resume` to end one",
            config::duration::format_duration(MAX_PAUSE)
        ));
    }
    Ok(d)
}

fn parse_line_format(text: &str) -> Result<LineFormat, String> {
    LineFormat::parse(text)
        .ok_or_else(|| format!("{text:?} is not one of plain, json, logfmt, auto"))
}

fn parse_field_path(text: &str) -> Result<FieldPath, String> {
    FieldPath::parse(text).map_err(|e| e.to_string())
}

fn parse_silence(text: &str) -> Result<std::time::Duration, String> {
    let d = config::duration::parse_duration(text)?;
    if d.is_zero() || d > operator::MAX_SILENCE {
        return Err(format!(
            "a silence lasts between 1s and {}; `logwarden unsilence ID` ends one earlier",
            config::duration::format_duration(operator::MAX_SILENCE)
        ));
    }
    Ok(d)
}

fn parse_since(text: &str) -> Result<std::time::Duration, String> {
    config::duration::parse_duration(text)
}
