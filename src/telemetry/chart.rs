//! The status page's charts: matches per minute over the last 24 hours (or the last hour)
//! of a watch's patterns, each chart one inline SVG (no script, no external asset). Each pattern is a step line; its path is
//! run-length coded and coarsened until it fits a byte budget, so a page stays small however
//! busy the patterns are.

use std::fmt::Write as _;

use crate::core::html::escape;
use crate::telemetry::history::{PatternHistory, MINUTES};

/// Colours of the drawn series, in order; also the most series one chart draws.
pub const COLOURS: [&str; 8] = [
    "#2f6fdf", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0c8599", "#c2255c", "#5c940d",
];

/// Height of the plot in SVG units (the width is one unit per minute).
const HEIGHT: u32 = 100;

/// Minutes per point tried, finest first: a series too long for its budget at one is drawn
/// at the next (each point the busiest minute of its group, so the scale stays per minute).
const STEPS: [usize; 6] = [1, 5, 15, 30, 60, 120];

/// The chart of the last `minutes` minutes of `series` (already the ones to draw, at most
/// `COLOURS.len()`), each path at most about `budget` bytes, with a grid line every quarter.
/// Empty when nothing matched in those minutes.
pub fn svg(series: &[&PatternHistory], minutes: usize, budget: usize) -> String {
    debug_assert!(series.len() <= COLOURS.len());
    debug_assert!((1..=MINUTES).contains(&minutes));
    let last = |s: &PatternHistory| -> Vec<u32> {
        let from = s.per_minute.len().saturating_sub(minutes);
        s.per_minute[from..].to_vec()
    };
    let counts: Vec<Vec<u32>> = series.iter().map(|s| last(s)).collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0);
    if top == 0 {
        return String::new();
    }
    let mut out = String::with_capacity(budget * series.len() + 600);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {minutes} {HEIGHT}\" preserveAspectRatio=\"none\" \
         role=\"img\" aria-label=\"matches per minute, last {minutes} minutes, peak {top}\">"
    );
    // Grid: a line every quarter of the time and at half the peak.
    out.push_str("<g stroke=\"#ccc\" vector-effect=\"non-scaling-stroke\">");
    for q in 1..4 {
        let x = q * minutes / 4;
        let _ = write!(
            out,
            "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{HEIGHT}\" vector-effect=\"non-scaling-stroke\"/>"
        );
    }
    let _ = write!(
        out,
        "<line x1=\"0\" y1=\"{y}\" x2=\"{minutes}\" y2=\"{y}\" vector-effect=\"non-scaling-stroke\"/></g>",
        y = HEIGHT / 2
    );
    for ((s, counts), colour) in series.iter().zip(&counts).zip(COLOURS) {
        let d = STEPS
            .iter()
            .map(|&step| path(counts, top, step))
            .find(|d| d.len() <= budget)
            .unwrap_or_else(|| path(counts, top, minutes));
        let _ = write!(
            out,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
             vector-effect=\"non-scaling-stroke\"><title>{}</title></path>",
            escape(&s.pattern)
        );
    }
    out.push_str("</svg>");
    out
}

/// A step path of `counts` scaled to `top`, `step` minutes per point, equal neighbours
/// merged into one horizontal run. Uses only absolute `M`, `H` and `V` with whole numbers.
fn path(counts: &[u32], top: u32, step: usize) -> String {
    debug_assert!(step > 0 && top > 0);
    let y_of = |n: u32| {
        // Whole units, and a count above 0 at least one unit up so a lone match shows.
        let y = (u64::from(n) * u64::from(HEIGHT)).div_ceil(u64::from(top)) as u32;
        HEIGHT - y.min(HEIGHT)
    };
    let mut d = String::new();
    let mut y = None;
    for (i, group) in counts.chunks(step).enumerate() {
        let here = y_of(group.iter().copied().max().unwrap_or(0));
        match y {
            None => {
                let _ = write!(d, "M0 {here}");
            }
            Some(prev) if prev != here => {
                let _ = write!(d, "H{}V{here}", i * step);
            }
            Some(_) => {}
        }
        y = Some(here);
    }
    let _ = write!(d, "H{}", counts.len());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, f: impl Fn(usize) -> u32) -> PatternHistory {
        PatternHistory {
            pattern: name.to_string(),
            per_minute: (0..MINUTES).map(f).collect(),
        }
    }

    #[test]
    fn a_quiet_day_draws_nothing_and_a_lone_match_shows() {
        let quiet = series("q", |_| 0);
        assert_eq!(svg(&[&quiet], MINUTES, 4000), "");
        let one = series("one", |m| u32::from(m == 700));
        let s = svg(&[&one], MINUTES, 4000);
        assert!(s.contains("d=\"M0 100H700V0H701V100H1440\""), "{s}");
        // The last hour of that day: minute 700 is long before it.
        assert_eq!(svg(&[&one], 60, 4000), "");
        let late = series("late", |m| u32::from(m == MINUTES - 2));
        let s = svg(&[&late], 60, 4000);
        assert!(s.contains("viewBox=\"0 0 60 100\""), "{s}");
        assert!(s.contains("d=\"M0 100H58V0H59V100H60\""), "{s}");
    }

    #[test]
    fn a_busy_series_is_coarsened_to_fit_its_budget() {
        // A different count every minute: 1440 runs at full resolution.
        let busy = series("busy", |m| (m % 97) as u32 + 1);
        let fine = path(&busy.per_minute, 97, 1);
        assert!(fine.len() > 4000, "{}", fine.len());
        let s = svg(&[&busy], MINUTES, 2000);
        let d = s.split("d=\"").nth(1).and_then(|r| r.split('"').next());
        assert!(d.is_some_and(|d| d.len() <= 2000), "{s}");
    }

    #[test]
    fn pattern_names_are_escaped_in_the_chart() {
        let s = series("<b>&", |m| u32::from(m == 3));
        let out = svg(&[&s], MINUTES, 4000);
        assert!(out.contains("<title>&lt;b&gt;&amp;</title>"), "{out}");
    }
}
