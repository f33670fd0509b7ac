//! Config and pattern-pack parsing on arbitrary text.
//!
//! The input is a config file and a pack file, separated by a NUL byte. Loading never panics;
//! every problem in a pack names the pack file with a line and column inside it; and what
//! loading accepts, the daemon can run: a matcher builds for every watch and for the pack, and
//! the rule engine is built from the config.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::time::Instant;

use logwarden::config::located::SourceMap;
use logwarden::config::packs::parse_pack;
use logwarden::config::{load_texts, Diagnostics};
use logwarden::matcher::Matcher;
use logwarden::rules::Engine;
use logwarden::telemetry::Telemetry;

use super::input::Input;

const PACK_PATH: &str = "/fuzz/patterns/fuzz.toml";

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let config = input.until(0);
    let pack = input.rest();
    if let Ok(text) = std::str::from_utf8(pack) {
        check_pack(text);
    }
    if let Ok(text) = std::str::from_utf8(config) {
        check_config(text);
    }
}

fn check_pack(text: &str) {
    let mut sources = SourceMap::default();
    let mut diags = Diagnostics::default();
    let pack = parse_pack("fuzz", Path::new(PACK_PATH), text, &mut sources, &mut diags);
    let lines = text.split('\n').count();
    for m in diags.messages() {
        let located = m
            .strip_prefix(PACK_PATH)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|rest| {
                let mut parts = rest.splitn(3, ':');
                let line: usize = parts.next()?.parse().ok()?;
                let column: usize = parts.next()?.parse().ok()?;
                Some((line, column))
            });
        let Some((line, column)) = located else {
            panic!("a pack problem without file:line:column: {m:?}");
        };
        assert!(
            (1..=lines).contains(&line) && column >= 1,
            "{m:?} points outside the file"
        );
    }
    match pack {
        Some(pack) => {
            assert!(diags.is_empty(), "a pack with problems was accepted");
            if let Err(e) = Matcher::build(&[pack]) {
                panic!("an accepted pack does not build: {e}\n{text}");
            }
        }
        None => assert!(!diags.is_empty(), "a pack refused without a reason"),
    }
}

fn check_config(text: &str) {
    let path = PathBuf::from("/fuzz/logwarden.toml");
    let config = match load_texts(vec![(path, text.to_string())]) {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.problems.is_empty(), "a config refused without a reason");
            assert!(e.problems.iter().all(|p| !p.trim().is_empty()));
            return;
        }
    };
    let matchers: Vec<Arc<Matcher>> = config
        .watches
        .iter()
        .map(|w| match Matcher::build(&w.packs) {
            Ok(m) => Arc::new(m),
            Err(e) => panic!("watch {}: an accepted config does not build: {e}", w.name),
        })
        .collect();
    let telemetry = Telemetry::new(&config);
    let _engine = Engine::new(&config.watches, &matchers, Instant::now(), telemetry);
}
