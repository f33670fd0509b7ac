//! Names of the rules (and the watch) logwarden raises itself, not configured by an operator: the layers that
//! raise them and the ones that treat them specially (metrics, routing) meet here.

/// Rule name of the supervisor's own alerts about restarts.
pub const RESTART_RULE: &str = "restart";
/// Rule name of the hand-over alert (firing until healthy or resumed).
pub const HANDOVER_RULE: &str = "manual-intervention";
/// The rule name of the alert that a reload was refused.
pub const CONFIG_RULE: &str = "config-rejected";
/// The event a source raises when bytes were gone before it could read them.
pub const LINES_LOST_RULE: &str = "lines-lost";
/// The watch name of alerts about logwarden itself (a refused reload).
pub const SELF_WATCH: &str = "logwarden";
/// The event saying that a restart an operator asked for was refused by the policy (not a
/// restart: not counted as one).
pub const RESTART_REFUSED_RULE: &str = "restart-refused";
/// The event announcing a command run from Telegram (docs/telegram.md).
pub const COMMAND_RULE: &str = "telegram-command";
/// The event announcing that an operator acknowledged an open alert.
pub const ACK_RULE: &str = "acknowledged";
/// The event announcing that a silence was set, or ended by `unsilence` (CLI or Telegram).
pub const SILENCE_RULE: &str = "silence";

/// The alert name of one label value of a rule with `by` (a `value` rule): `RULE[VALUE]`.
/// Configured rule names hold no `[` (see `config::raw::valid_name`), so the rule's own name
/// is everything before the first one.
pub fn labelled(rule: &str, label: &str) -> String {
    format!("{rule}[{label}]")
}

/// The configured rule an alert name stands for: itself, or the rule of a labelled alert.
pub fn base_rule(name: &str) -> &str {
    name.split_once('[').map_or(name, |(rule, _)| rule)
}
