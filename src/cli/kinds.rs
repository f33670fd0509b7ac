//! `logwarden kinds`: what "a kind never seen before" is measured against. Without a file it
//! lists the kinds each `new-kind` rule has learned (from `state_dir`), with their count and
//! first and last line; `--forget ID` forgets one (its next line is new again). With a file
//! it learns the kinds of that file's lines from nothing and lists them, or with `--assign`
//! prints each line's kind id (what `bench/loghub_ga.py` scores).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::load_or_report;
use crate::config::RuleKind;
use crate::rules::line_template::{reduce, Template, Templates};
use crate::rules::new_kind;

/// Most kinds learned from a file (far more than any rule keeps).
const FILE_KINDS_MAX: usize = 1_000_000;

/// What to do.
pub struct Args<'a> {
    pub watch: Option<&'a str>,
    pub file: Option<&'a Path>,
    pub assign: bool,
    pub forget: Option<u64>,
    pub json: bool,
}

pub fn command(config_path: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(file) = args.file {
        anyhow::ensure!(
            args.forget.is_none(),
            "--forget applies to learned kinds, not to a file"
        );
        return from_file(file, args.assign, args.json);
    }
    anyhow::ensure!(!args.assign, "--assign needs a FILE");
    let config = match load_or_report(config_path, "nothing listed", 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut rules = Vec::new();
    for w in &config.watches {
        if args.watch.is_some_and(|n| n != w.name) {
            continue;
        }
        for r in &w.rules {
            if let RuleKind::NewKind { state_file, .. } = &r.kind {
                rules.push((w.name.clone(), r.name.clone(), state_file.clone()));
            }
        }
    }
    if rules.is_empty() {
        anyhow::bail!(
            "no new-kind rule{} in {}",
            args.watch
                .map(|w| format!(" in watch {w:?}"))
                .unwrap_or_default(),
            config_path.display()
        );
    }
    if let Some(id) = args.forget {
        // Ids are per rule: forget only where the choice is one.
        let holders: Vec<String> = rules
            .iter()
            .filter(|(_, _, path)| {
                crate::rules::store::read::<new_kind::Saved>(path)
                    .ok()
                    .flatten()
                    .is_some_and(|s| s.templates.iter().any(|t| t.id == id))
            })
            .map(|(w, r, _)| format!("{w}/{r}"))
            .collect();
        anyhow::ensure!(
            holders.len() <= 1,
            "kind {id} is known to several rules ({}); name one with --watch",
            holders.join(", ")
        );
    }
    let mut out = std::io::stdout().lock();
    let mut listed = serde_json::Map::new();
    for (watch, rule, path) in &rules {
        let saved = crate::rules::store::read::<new_kind::Saved>(path)
            .map_err(|e| anyhow::anyhow!(e))?
            .map(new_kind::migrated);
        let Some(mut saved) = saved else {
            if !args.json && args.forget.is_none() {
                writeln!(
                    out,
                    "{watch}/{rule}: nothing learned yet ({})",
                    path.display()
                )?;
            }
            continue;
        };
        if let Some(id) = args.forget {
            let before = saved.templates.len();
            saved.templates.retain(|t| t.id != id);
            if saved.templates.len() < before {
                // The file, for a daemon that is stopped; the request, for one that runs
                // (it would save its own copy over the file).
                crate::rules::store::write(path, &saved)
                    .with_context(|| format!("cannot save {}", path.display()))?;
                crate::rules::store::request_forget(path, id)
                    .with_context(|| format!("cannot ask the daemon to forget kind {id}"))?;
                writeln!(
                    out,
                    "{watch}/{rule}: kind {id} forgotten (a running daemon forgets it within a minute)"
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            continue;
        }
        if args.json {
            listed.insert(format!("{watch}/{rule}"), json_kinds(&saved.templates));
        } else {
            writeln!(out, "{watch}/{rule}: {} kinds", saved.templates.len())?;
            print_kinds(&mut out, &saved.templates)?;
        }
    }
    if let Some(id) = args.forget {
        anyhow::bail!("no kind {id} in the rules listed by `logwarden kinds`");
    }
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(listed))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Learns the kinds of `file`'s lines (`-`: standard input) and lists them.
fn from_file(file: &Path, assign: bool, json: bool) -> anyhow::Result<ExitCode> {
    let input: Box<dyn BufRead> = if file == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut kinds = Templates::new(FILE_KINDS_MAX);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in input.split(b'\n') {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\r').unwrap_or(&text);
        let (_, i) = kinds.observe(reduce(text));
        if assign {
            let id = kinds.get(i).map_or(0, |t| t.id);
            writeln!(out, "{id}")?;
        }
    }
    if assign {
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut all = kinds.all().to_vec();
    all.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
    if json {
        writeln!(out, "{}", json_kinds(&all))?;
    } else {
        writeln!(out, "{}: {} kinds", file.display(), all.len())?;
        print_kinds(&mut out, &all)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_kinds(out: &mut impl Write, kinds: &[Template]) -> std::io::Result<()> {
    let when = |ms: Option<i64>| {
        ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| crate::core::timefmt::rfc3339(t.into()))
            .unwrap_or_else(|| "-".into())
    };
    writeln!(
        out,
        "{:>6} {:>9}  {:<24} {:<24} template",
        "id", "lines", "first", "last"
    )?;
    for k in kinds {
        let text = crate::actions::quote::escape_controls(&k.text(), false).into_owned();
        writeln!(
            out,
            "{:>6} {:>9}  {:<24} {:<24} {text}",
            k.id,
            k.count,
            when(k.first_ms),
            when(k.last_ms)
        )?;
    }
    Ok(())
}

fn json_kinds(kinds: &[Template]) -> serde_json::Value {
    serde_json::Value::Array(
        kinds
            .iter()
            .map(|k| {
                serde_json::json!({
                    "id": k.id,
                    "template": k.text(),
                    "lines": k.count,
                    "first_ms": k.first_ms,
                    "last_ms": k.last_ms,
                })
            })
            .collect(),
    )
}
