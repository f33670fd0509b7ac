//! The `logwarden` command line: parses arguments, loads config, and runs one subcommand.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use logwarden::cli::{demo, replay, test_patterns};
use logwarden::config::{self, Diagnostics, PackSet, DEFAULT_CONFIG_PATH};
use logwarden::core::alert::Severity;
use logwarden::core::alert::{Alert, AlertState};
use logwarden::core::logging::{self, LogFormat};
use logwarden::core::shutdown;
use logwarden::daemon::pipeline;
use logwarden::source::journal::JournalFilter;

const EXAMPLES: &str = "\
Examples:
  logwarden demo                                  watch a bundled bot burst errors and freeze
  logwarden check --config /etc/logwarden/logwarden.toml
  logwarden test-patterns python-logging trading /home/bot/logs/bot.log
  logwarden replay /home/bot/logs/bot.log.1 /home/bot/logs/bot.log
  logwarden test-alert                            send a test message through every channel
  logwarden dead-letters --resend                 resend alerts a channel refused, once fixed
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
    /// Stop restarting WATCH for a while (a deploy window); alerts still go out.
    Pause {
        watch: String,
        /// How long, e.g. 30m, 2h.
        #[arg(long = "for", default_value = "1h", value_parser = parse_pause)]
        duration: std::time::Duration,
    },
    /// Restart WATCH again when needed: ends a pause, and a hand-over after too many restarts.
    Resume { watch: String },
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check => Ok(check(&cli.config)),
        Command::Run => {
            let config = match config::load(&cli.config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("logwarden: config not valid; nothing started");
                    return Ok(ExitCode::from(1));
                }
            };
            runtime()?.block_on(supervise(cli.config.clone(), config, cli.log_format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::TestPatterns {
            args,
            json,
            journal_unit,
            journal_identifier,
            since,
        } => {
            let journal =
                (journal_unit.is_some() || journal_identifier.is_some()).then(|| JournalFilter {
                    units: journal_unit.into_iter().collect(),
                    identifiers: journal_identifier.into_iter().collect(),
                    ..JournalFilter::default()
                });
            test_patterns(&cli.config, &args, json, journal.map(|f| (f, since)))
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
            replay(&cli.config, &args, json)
        }
        Command::Status { json } => status(&cli.config, json),
        Command::TestAlert { channel } => {
            test_alert(&cli.config, channel.as_deref(), cli.log_format)
        }
        Command::DeadLetters { resend, channel } => {
            dead_letters(&cli.config, resend, channel.as_deref(), cli.log_format)
        }
        Command::Pause { watch, duration } => control(&cli.config, &watch, Some(duration)),
        Command::Resume { watch } => control(&cli.config, &watch, None),
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

/// `logwarden test-alert [CHANNEL]`.
fn test_alert(
    path: &Path,
    channel: Option<&str>,
    format: logging::LogFormat,
) -> anyhow::Result<ExitCode> {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Some(c) = channel {
        if !config.channels.contains_key(c) {
            eprintln!(
                "logwarden: no channel {c:?}; the config has: {}",
                config
                    .channels
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(ExitCode::from(1));
        }
    }
    let outcomes = runtime()?.block_on(logwarden::actions::test_alert::run(
        &config, channel, format,
    ));
    if outcomes.is_empty() {
        println!("no channel to test (only the console is configured)");
    }
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(()) => println!("ok      {} ({})", o.channel, o.kind),
            Err(e) => {
                failed += 1;
                println!("FAILED  {} ({}): {e}", o.channel, o.kind);
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `logwarden dead-letters [--resend] [--channel NAME]`.
fn dead_letters(
    path: &Path,
    resend: bool,
    channel: Option<&str>,
    format: logging::LogFormat,
) -> anyhow::Result<ExitCode> {
    use logwarden::actions::dead_letter::{self, DeadLetter, DeadLetters};
    let config = match config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let describe = |d: &DeadLetter| {
        let n = &d.notification;
        format!(
            "{} {} refused {}: {}/{} {} ({})",
            n.id,
            n.channel,
            logwarden::core::timefmt::rfc3339(d.died_at()),
            n.alert.watch,
            n.alert.rule,
            n.what(),
            logwarden::actions::quote::one_line(&d.reason)
        )
    };
    if !resend {
        let store = DeadLetters::new(&config.daemon.state_dir);
        let letters: Vec<DeadLetter> = store
            .load()
            .into_iter()
            .filter(|d| channel.is_none_or(|c| c == d.notification.channel))
            .collect();
        if letters.is_empty() {
            println!("no dead letters in {}", store.dir().display());
        }
        for d in &letters {
            println!("{}", describe(d));
        }
        if !letters.is_empty() {
            println!("{} dead letter(s); `logwarden dead-letters --resend` sends them again once the channel is fixed", letters.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let outcomes = runtime()?.block_on(dead_letter::resend(&config, channel, format));
    if outcomes.is_empty() {
        println!("no dead letters to send");
    }
    let mut failed = 0;
    for o in &outcomes {
        match &o.result {
            Ok(()) => println!("sent    {}", describe(&o.letter)),
            Err(e) => {
                failed += 1;
                println!("FAILED  {}\n        {e}", describe(&o.letter));
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A small runtime: the work is a few tasks; sources have their own threads.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs the pipeline until SIGTERM/SIGINT, reloading on SIGHUP or when a config or pattern
/// file changes. A new config is validated whole first; a bad one is refused with its
/// file:line:column problems and the running pipeline goes on untouched. A good one replaces
/// the pipeline: the old one stops (its positions are saved), the new one resumes from them.
async fn supervise(
    path: PathBuf,
    mut config: config::Config,
    format: LogFormat,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    // Whether the last reload was refused (an alert about it is open).
    let mut refused = false;
    loop {
        let mut stamps = file_stamps(&config.files_read);
        let (trigger, shutdown) = shutdown::channel();
        let files = config.files_read.clone();
        let (about_logwarden, about_rx) = tokio::sync::mpsc::unbounded_channel();
        if std::mem::take(&mut refused) {
            let _ = about_logwarden.send(config_alert(
                AlertState::Resolved,
                "the config was fixed and reloaded".into(),
                None,
            ));
        }
        let mut pipeline = tokio::spawn(pipeline::run(config, format, shutdown, about_rx));
        // Config files are looked at every 2 s: a few stats, no watcher to keep alive.
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        let next = loop {
            tokio::select! {
                r = &mut pipeline => {
                    return match r {
                        Ok(r) => r.map_err(anyhow::Error::from),
                        Err(e) => Err(anyhow::anyhow!("the pipeline task failed: {e}")),
                    };
                }
                _ = term.recv() => break None,
                _ = tokio::signal::ctrl_c() => break None,
                _ = hup.recv() => {
                    tracing::info!("SIGHUP: reloading the config");
                    match reload(&path) {
                        Ok(c) => break Some(c),
                        Err(a) => { refused = true; let _ = about_logwarden.send(*a); }
                    }
                }
                _ = tick.tick() => {
                    let now = file_stamps(&files);
                    if now != stamps {
                        // Tried once per change: a broken file is not reported every 2 s.
                        stamps = now;
                        tracing::info!("a config or pattern file changed: reloading");
                        match reload(&path) {
                            Ok(c) => break Some(c),
                            Err(a) => { refused = true; let _ = about_logwarden.send(*a); }
                        }
                    }
                }
            }
        };
        trigger.trigger();
        // A bounded stop: positions and the alert queue are flushed within this time.
        match tokio::time::timeout(std::time::Duration::from_secs(10), &mut pipeline).await {
            Ok(_) => {}
            Err(_) => tracing::error!("the pipeline did not stop within 10s"),
        }
        match next {
            Some(c) => {
                tracing::info!("config reloaded");
                config = c;
            }
            None => {
                tracing::info!("stopped");
                return Ok(());
            }
        }
    }
}

/// Loads the config for a reload; if it has problems, the alert that says so (the old config
/// keeps running).
fn reload(path: &Path) -> Result<config::Config, Box<Alert>> {
    match config::load(path) {
        Ok(c) => Ok(c),
        Err(e) => {
            for p in &e.problems {
                tracing::error!(problem = %p, "config not reloaded");
            }
            tracing::error!(
                "the new config has {} problem(s); the old config keeps running",
                e.problems.len()
            );
            Err(Box::new(config_alert(
                AlertState::Firing,
                format!(
                    "the changed config was refused ({} problem(s)); the old config keeps running",
                    e.problems.len()
                ),
                Some(e.problems.join("\n")),
            )))
        }
    }
}

/// The alert about a refused (or, resolved, a fixed) config.
fn config_alert(state: AlertState, summary: String, problems: Option<String>) -> Alert {
    use logwarden::actions::router::SELF_WATCH;
    use logwarden::core::rule_names::CONFIG_RULE;
    let mut a = Alert::new(SELF_WATCH, CONFIG_RULE, Severity::Warning, state, summary);
    a.line = problems;
    a
}

/// Modification time and size of each file, to notice edits.
fn file_stamps(files: &[PathBuf]) -> Vec<Option<(std::time::SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        })
        .collect()
}

fn check(path: &Path) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            let rules: usize = c.watches.iter().map(|w| w.rules.len()).sum();
            println!(
                "{}: ok ({} watches, {} rules, {} files read)",
                path.display(),
                c.watches.len(),
                rules,
                c.files_read.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            eprintln!("{} problem(s) found", e.problems.len());
            ExitCode::from(1)
        }
    }
}

/// `logwarden status`: asks the daemon's `/status` and prints it for a person.
fn status(config_path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(addr) = config.daemon.listen else {
        eprintln!(
            "status needs `[daemon] listen = \"127.0.0.1:9107\"` in {}",
            config_path.display()
        );
        return Ok(ExitCode::from(3));
    };
    let url = format!("http://{addr}/status");
    let fetched = runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        let mut req = client.get(&url);
        if let Some(t) = &config.daemon.http.token {
            req = req.bearer_auth(t.expose());
        }
        let resp = req.send().await?;
        let code = resp.status();
        Ok::<_, reqwest::Error>((code, resp.text().await?))
    });
    let v: serde_json::Value = match fetched {
        Ok((code, body)) if code.is_success() => match serde_json::from_str(&body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("logwarden at {url} answered something that is not its status: {e}");
                return Ok(ExitCode::from(3));
            }
        },
        Ok((code, _)) => {
            eprintln!(
                "logwarden at {url} refused the request: {code} (does this config's listen_token match the daemon's?)"
            );
            return Ok(ExitCode::from(3));
        }
        Err(e) => {
            eprintln!("cannot reach logwarden at {url}: {}", without_url(&e));
            return Ok(ExitCode::from(3));
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    let mut worst = 0u8;
    let watches = v["watches"].as_array().cloned().unwrap_or_default();
    if !json {
        println!(
            "logwarden since {}: {}",
            v["started_at"].as_str().unwrap_or("?"),
            if v["healthy"] == true {
                "healthy"
            } else {
                "NOT HEALTHY"
            }
        );
        for p in v["problems"].as_array().into_iter().flatten() {
            println!("  ! {}", p.as_str().unwrap_or(""));
        }
    }
    for w in &watches {
        let state = w["state"].as_str().unwrap_or("?");
        worst = worst.max(match state {
            "critical" => 2,
            "warning" => 1,
            _ => 0,
        });
        if json {
            continue;
        }
        println!(
            "\n{} [{}] restarts: {}",
            w["name"].as_str().unwrap_or("?"),
            state.to_uppercase(),
            w["restarts"]
        );
        for s in w["sources"].as_array().into_iter().flatten() {
            println!(
                "  source {} lines={}",
                s["source"].as_str().unwrap_or("?"),
                s["lines"]
            );
        }
        if let Some(rules) = w["rules"].as_object() {
            for (name, r) in rules {
                if r["firing"] == true {
                    println!(
                        "  FIRING {} [{}] since {}: {}",
                        name,
                        r["severity"].as_str().unwrap_or("?"),
                        r["since"].as_str().unwrap_or("?"),
                        r["summary"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(ExitCode::from(worst))
}

/// A request error without its URL (the message names the URL already).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(&format!(" for url ({u})"), "");
    }
    text
}

/// `pause` (with a duration) or `resume` (without): writes the watch's control file, which
/// the running daemon reads before each restart decision.
fn control(
    config_path: &Path,
    watch: &str,
    pause: Option<std::time::Duration>,
) -> anyhow::Result<ExitCode> {
    use logwarden::actions::restart::supervisor::{read_control, write_control};
    let config = config::load(config_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !config.watches.iter().any(|w| w.name == watch) {
        anyhow::bail!(
            "no watch {watch:?} in {}; watches: {}",
            config_path.display(),
            config
                .watches
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let dir = &config.daemon.state_dir;
    let mut c = read_control(dir, watch);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Said only once it is true: the control file is what the daemon reads.
    let done = match pause {
        Some(d) => {
            c.paused_until = Some((now + d).as_secs());
            format!(
                "{watch}: no restarts for {} (alerts still go out); `logwarden resume {watch}` ends it earlier",
                config::duration::format_duration(d)
            )
        }
        None => {
            c.paused_until = None;
            c.resume += 1;
            format!("{watch}: automatic restarts are on again")
        }
    };
    write_control(dir, watch, &c)
        .with_context(|| format!("cannot write the control file in {}", dir.display()))?;
    println!("{done}");
    Ok(ExitCode::SUCCESS)
}

/// `logwarden replay`: the alerts the config's rules would have sent over past logs.
fn replay(
    config_path: &Path,
    args: &replay::command::ReplayArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let config = match config::load(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!("logwarden: config not valid; nothing replayed");
            return Ok(ExitCode::from(1));
        }
    };
    let report = replay::command::run(&config, args)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", replay::render_human(&report));
    }
    Ok(ExitCode::SUCCESS)
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

fn parse_since(text: &str) -> Result<std::time::Duration, String> {
    config::duration::parse_duration(text)
}

fn test_patterns(
    config_path: &Path,
    args: &[String],
    json: bool,
    journal: Option<(JournalFilter, std::time::Duration)>,
) -> anyhow::Result<ExitCode> {
    // Packs come from the config's patterns_dir when the config loads, else the default one.
    let patterns_dir = match config::load(config_path) {
        Ok(c) => c.daemon.patterns_dir,
        Err(e) => {
            if config_path.exists() {
                eprintln!(
                    "note: {} does not load ({} problem(s); see `logwarden check`); using packs from /etc/logwarden/patterns and the shipped ones",
                    config_path.display(),
                    e.problems.len()
                );
            }
            PathBuf::from("/etc/logwarden/patterns")
        }
    };
    let mut sources = config::located::SourceMap::default();
    let mut diags = Diagnostics::default();
    let mut set = PackSet::load(Some(&patterns_dir), &mut sources, &mut diags);
    let (pack_args, file) = split_pack_args(args, &set);
    let mut packs = Vec::new();
    for a in pack_args {
        if let Some(p) = set.get(a) {
            packs.push(p.clone());
        } else if a.ends_with(".toml") && Path::new(a).is_file() {
            if let Some(p) = set.load_file(Path::new(a), &mut sources, &mut diags) {
                set.insert(p.clone());
                packs.push(p);
            }
        } else {
            diags.push(format!(
                "unknown pattern pack {a:?}; available: {}",
                set.names().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if !diags.is_empty() {
        for m in diags.messages() {
            eprintln!("{m}");
        }
        return Ok(ExitCode::from(1));
    }
    let report = match (file, journal) {
        (Some(f), Some(_)) => {
            anyhow::bail!("give either a log file ({f}) or --journal-*, not both")
        }
        (None, Some((filter, since))) => {
            let text = logwarden::source::journal::history(&filter, since)
                .context("cannot read the journal")?;
            test_patterns::test_patterns(&packs, text.as_slice())?
        }
        (Some(f), None) if f != "-" => {
            let file = std::fs::File::open(f).with_context(|| format!("cannot open {f}"))?;
            test_patterns::test_patterns(&packs, file)?
        }
        _ => test_patterns::test_patterns(&packs, std::io::stdin().lock().take(u64::MAX))?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", test_patterns::render_human(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// Splits `PACK... [FILE|-]`: the last argument is the log when it is `-` or an existing file
/// that is not a pack.
fn split_pack_args<'a>(args: &'a [String], set: &PackSet) -> (&'a [String], Option<&'a str>) {
    match args.split_last() {
        Some((last, rest))
            if !rest.is_empty()
                && (last == "-"
                    || (set.get(last).is_none()
                        && !last.ends_with(".toml")
                        && Path::new(last).exists())) =>
        {
            (rest, Some(last.as_str()))
        }
        _ => (args, None),
    }
}
