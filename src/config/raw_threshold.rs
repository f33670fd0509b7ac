//! A probe's `warning` or `critical` as written: a percent or a time before expiry, told
//! apart by its TOML type.

use serde::Deserialize;

/// A probe's `warning` or `critical`: a number is a percent (`disk`, `memory`), a duration
/// string is a time before expiry (`cert`, e.g. `"30d"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    Percent(f64),
    Before(std::time::Duration),
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Threshold;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a percent (80) or a duration before expiry (\"30d\")")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Threshold, E> {
                Ok(Threshold::Percent(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Threshold, E> {
                Ok(Threshold::Percent(v as f64))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Threshold, E> {
                Ok(Threshold::Percent(v as f64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Threshold, E> {
                crate::config::duration::parse_duration(v)
                    .map(Threshold::Before)
                    .map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}
