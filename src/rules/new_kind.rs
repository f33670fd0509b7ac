//! `new-kind`: a matching line of a kind never seen before is an event, once per kind.
//!
//! Lines are reduced to templates (`line_template.rs`). During the learning period (`learn`, from
//! the rule's first start; kept across restarts) every kind is only recorded; after it, a line
//! whose template is new fires one event quoting it, and the kind is known from then on. At
//! most `max_templates` kinds are kept; the least recently seen is forgotten first.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::config::duration::format_duration;
use crate::core::alert::AlertState;
use crate::rules::gate::WallClock;
use crate::rules::input::Outcome;
use crate::rules::line_template::{reduce, reduce_after_header, Seen, Template, Templates};

/// Version of the saved state this build writes and reads. 2: kinds of the message, the
/// header set aside (version 1's kinds were of whole lines: `migrated` cuts their header).
const VERSION: u32 = 2;

#[derive(Debug)]
pub struct NewKind {
    pattern: String,
    learn: Duration,
    /// No event before this: kinds are being learned.
    learn_until: Instant,
    templates: Templates,
    max_templates: usize,
    /// Changed since the state was last saved.
    dirty: bool,
    /// The operator's header regex, matched at the start of a line.
    header: Option<regex::Regex>,
}

/// What is saved in `state_dir` (`rules/WATCH/RULE.json`).
#[derive(Debug, Serialize, Deserialize)]
pub struct Saved {
    pub version: u32,
    /// Wall time (ms since the epoch) at which learning ends or ended.
    pub learn_until_ms: i64,
    pub templates: Vec<Template>,
}

impl NewKind {
    pub fn new(pattern: &str, learn: Duration, max_templates: usize, start: Instant) -> NewKind {
        NewKind {
            pattern: pattern.to_string(),
            learn,
            learn_until: start + learn,
            templates: Templates::new(max_templates),
            max_templates,
            dirty: false,
            header: None,
        }
    }

    /// With the operator's header regex (checked when the config loaded); its match at the
    /// start of a line is set aside instead of the header `line_header` would find.
    pub fn with_header(mut self, header: Option<&str>) -> NewKind {
        self.header = header.and_then(|h| regex::Regex::new(h).ok());
        self
    }

    pub fn on_match(
        &mut self,
        at: Instant,
        clock: &WallClock,
        line: &str,
        source: &str,
    ) -> Option<Outcome> {
        let at_ms = clock.wall(at).as_millisecond();
        let tokens = match &self.header {
            Some(h) => reduce_after_header(line, h),
            None => reduce(line),
        };
        let (seen, i) = self.templates.observe_at(tokens, Some(at_ms));
        self.dirty = true;
        if seen == Seen::Known || at < self.learn_until {
            return None;
        }
        let template = self
            .templates
            .get(i)
            .map(Template::text)
            .unwrap_or_default();
        Some(Outcome {
            state: AlertState::Event,
            summary: format!(
                "a new kind of {:?} line, not seen in {} of learning nor since ({} kinds known; `logwarden kinds` lists them): {template}",
                self.pattern,
                format_duration(self.learn),
                self.templates.len()
            ),
            line: Some(line.to_string()),
            source: Some(source.to_string()),
        })
    }

    /// The state to save, if it changed since the last call.
    pub fn take_changes(&mut self, clock: &WallClock) -> Option<Saved> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(Saved {
            version: VERSION,
            learn_until_ms: clock.wall(self.learn_until).as_millisecond(),
            templates: self.templates.all().to_vec(),
        })
    }

    /// Forgets kind `id`: its next line is a new kind again. Whether it was known.
    pub fn forget(&mut self, id: u64) -> bool {
        let forgot = self.templates.forget(id);
        self.dirty |= forgot;
        forgot
    }

    /// Continues from a saved state (kinds known, learning end); a newer version is refused.
    pub fn restore(&mut self, saved: Saved, clock: &WallClock) -> Result<(), String> {
        crate::core::state_file::check_version(saved.version, VERSION)
            .map_err(|e| e.to_string())?;
        let saved = migrated(saved);
        if let Some(until) = jiff::Timestamp::from_millisecond(saved.learn_until_ms)
            .ok()
            .and_then(|t| clock.instant(t))
        {
            self.learn_until = until;
        }
        self.templates = Templates::restore(saved.templates, self.max_templates);
        Ok(())
    }
}

/// A saved state in this build's terms: version 1's templates were made of whole lines, so
/// their header (time, level, logger, as `line_header` finds it) is cut off, as today's
/// reduction would; their masks stand for the digits the header rule looks for.
pub fn migrated(mut saved: Saved) -> Saved {
    if saved.version < 2 {
        for t in &mut saved.templates {
            let probe: Vec<&str> = t
                .tokens
                .iter()
                .map(|k| {
                    if k.starts_with('<') && k.ends_with('>') {
                        "0"
                    } else {
                        k.as_str()
                    }
                })
                .collect();
            let cut = crate::rules::line_header::header_len(&probe);
            t.tokens.drain(..cut);
        }
        saved.version = VERSION;
    }
    saved
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_HOUR: Duration = Duration::from_secs(3600);

    fn wc() -> WallClock {
        WallClock::new(Instant::now(), "2026-11-23T10:00:00Z".parse().unwrap())
    }

    fn line(n: u32, exception: &str) -> String {
        format!(
            "2026-11-23 10:{:02}:00,000 - bot - ERROR - order {n} failed\nTraceback (most recent call last):\n  File \"bot.py\", line {n}\n{exception}: bad price {n}.5",
            n % 60
        )
    }

    #[test]
    fn after_learning_a_new_exception_type_fires_once_and_other_numbers_do_not() {
        let t0 = Instant::now();
        let mut r = NewKind::new("error", ONE_HOUR, 1000, t0);
        // Learning: two kinds, no event.
        assert_eq!(r.on_match(t0, &wc(), &line(1, "ValueError"), "f"), None);
        assert_eq!(
            r.on_match(
                t0 + Duration::from_secs(60),
                &wc(),
                &line(2, "TimeoutError"),
                "f"
            ),
            None
        );
        let later = t0 + ONE_HOUR + Duration::from_secs(1);
        // The same template with other numbers: nothing.
        assert_eq!(r.on_match(later, &wc(), &line(47, "ValueError"), "f"), None);
        // A new exception type: one event, quoting the line.
        let o = r
            .on_match(later, &wc(), &line(3, "KeyError"), "f")
            .expect("an event");
        assert_eq!(o.state, AlertState::Event);
        assert!(
            o.summary.contains("KeyError: bad price <NUM>"),
            "{}",
            o.summary
        );
        assert!(o.line.unwrap().contains("KeyError: bad price 3.5"));
        // Once.
        assert_eq!(
            r.on_match(
                later + Duration::from_secs(5),
                &wc(),
                &line(9, "KeyError"),
                "f"
            ),
            None
        );
    }

    #[test]
    fn known_kinds_and_the_learning_end_survive_a_restart() {
        let t0 = Instant::now();
        let clock = WallClock::new(t0, "2026-11-23T10:00:00Z".parse().unwrap());
        let mut r = NewKind::new("error", ONE_HOUR, 1000, t0);
        r.on_match(t0, &wc(), &line(1, "ValueError"), "f");
        let saved = r.take_changes(&clock).expect("changed");
        assert!(r.take_changes(&clock).is_none(), "saved once");
        let text = serde_json::to_string(&saved).unwrap();
        // A restart 2 hours later: learning is over, ValueError is known.
        let t1 = t0 + 2 * ONE_HOUR;
        let mut again = NewKind::new("error", ONE_HOUR, 1000, t1);
        again
            .restore(serde_json::from_str(&text).unwrap(), &clock)
            .unwrap();
        assert_eq!(again.on_match(t1, &wc(), &line(5, "ValueError"), "f"), None);
        assert!(again
            .on_match(t1, &wc(), &line(5, "OSError"), "f")
            .is_some());
        let mut other = NewKind::new("error", ONE_HOUR, 1000, t1);
        let mut wrong: Saved = serde_json::from_str(&text).unwrap();
        wrong.version = 99;
        assert!(other.restore(wrong, &clock).is_err());
    }

    #[test]
    fn kinds_saved_from_whole_lines_by_version_1_still_know_their_lines() {
        let t0 = Instant::now();
        let v1 = r#"{"version":1,"learn_until_ms":0,"templates":[
            {"tokens":["<NUM>","<NUM>","-","bot","-","ERROR","-","order","<NUM>","failed"],"count":4,"seen":4}]}"#;
        let mut r = NewKind::new("error", ONE_HOUR, 1000, t0);
        r.restore(serde_json::from_str(v1).unwrap(), &wc()).unwrap();
        let line = "2026-11-23 10:00:00,000 - bot - ERROR - order 77 failed";
        assert_eq!(
            r.on_match(t0 + 2 * ONE_HOUR, &wc(), line, "f"),
            None,
            "known after the upgrade"
        );
        let saved = r.take_changes(&wc()).expect("changed");
        assert_eq!(saved.version, VERSION);
        assert_eq!(saved.templates[0].text(), "order <NUM> failed");
        assert!(saved.templates[0].id > 0, "an id given");
    }

    #[test]
    fn a_forgotten_kind_is_new_again() {
        let t0 = Instant::now();
        let mut r = NewKind::new("error", Duration::ZERO, 1000, t0);
        r.on_match(t0, &wc(), &line(1, "ValueError"), "f");
        let id = r.templates.all()[0].id;
        assert!(r.forget(id));
        assert!(r.on_match(t0, &wc(), &line(2, "ValueError"), "f").is_some());
    }

    #[test]
    fn the_operator_s_header_regex_is_set_aside_before_the_kind() {
        let t0 = Instant::now();
        let line = |host: &str, n: u32| format!("{host} trader: order {n} failed");
        // Without it, a host name that has no digit starts the message: one kind per host.
        let mut plain = NewKind::new("error", Duration::ZERO, 100, t0);
        plain.on_match(t0, &wc(), &line("alpha", 1), "f");
        assert!(plain.on_match(t0, &wc(), &line("beta", 2), "f").is_some());
        let mut r = NewKind::new("error", Duration::ZERO, 100, t0).with_header(Some(r"^\w+ \w+: "));
        r.on_match(t0, &wc(), &line("alpha", 1), "f");
        assert_eq!(r.on_match(t0, &wc(), &line("beta", 2), "f"), None);
        assert_eq!(r.templates.all()[0].text(), "order <NUM> failed");
    }
}
