//! What `--shard` and `--shard-mode` say: `K/N` (or `auto`) and the mode,
//! parsed and checked. Reading `auto` from a CI environment is the
//! coordinator's business (`rust/coordinator/src/ci.rs`): this crate stays
//! pure.

use std::fmt;
use std::str::FromStr;

/// Why a shard specification or a shard mode is unusable. Every message is one
/// line, fit for `dbtest: error: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("invalid shard \"{0}\": expected K/N with whole numbers, e.g. --shard 2/4")]
    Syntax(String),
    #[error("invalid shard {index}/{total}: the total number of shards must be at least 1")]
    ZeroTotal { index: u32, total: u32 },
    #[error("invalid shard {index}/{total}: shards are numbered from 1 (use 1/{total} to {total}/{total})")]
    ZeroIndex { index: u32, total: u32 },
    #[error("invalid shard {index}/{total}: there are only {total} shards (use 1/{total} to {total}/{total})")]
    IndexTooLarge { index: u32, total: u32 },
    #[error("unknown shard mode \"{0}\": expected duration, hash or slice")]
    Mode(String),
}

/// Shard `index` (1-based) of `total`: `--shard 2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShardSpec {
    pub index: u32,
    pub total: u32,
}

impl ShardSpec {
    /// A checked spec: `1 <= index <= total`.
    pub fn new(index: u32, total: u32) -> Result<ShardSpec, ShardError> {
        if total == 0 {
            Err(ShardError::ZeroTotal { index, total })
        } else if index == 0 {
            Err(ShardError::ZeroIndex { index, total })
        } else if index > total {
            Err(ShardError::IndexTooLarge { index, total })
        } else {
            Ok(ShardSpec { index, total })
        }
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

impl FromStr for ShardSpec {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardSpec, ShardError> {
        let syntax = || ShardError::Syntax(text.to_string());
        let (index, total) = text.trim().split_once('/').ok_or_else(syntax)?;
        // `u32::from_str` accepts a leading `+`; a shard spec has digits only.
        let number = |part: &str| {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            part.parse::<u32>().map_err(|_| syntax())
        };
        ShardSpec::new(number(index)?, number(total)?)
    }
}

/// What `--shard` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardRequest {
    /// `--shard K/N`.
    Explicit(ShardSpec),
    /// `--shard auto`: the index and total come from the CI environment.
    Auto,
}

impl FromStr for ShardRequest {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardRequest, ShardError> {
        if text.trim().eq_ignore_ascii_case("auto") {
            Ok(ShardRequest::Auto)
        } else {
            text.parse().map(ShardRequest::Explicit)
        }
    }
}

/// How units are spread over shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ShardMode {
    /// Longest-first greedy bin packing on recorded durations: shards of
    /// equal wall time. The default when a durations file exists.
    #[default]
    Duration,
    /// A fixed hash of the key: adding or removing tests never moves others.
    Hash,
    /// Sorted keys dealt round-robin: equal counts.
    Slice,
}

impl ShardMode {
    /// The spec's default: `duration` when there are recorded durations,
    /// otherwise `slice` (which is what duration mode with no durations
    /// amounts to, said plainly).
    pub fn default_for(has_durations: bool) -> ShardMode {
        if has_durations {
            ShardMode::Duration
        } else {
            ShardMode::Slice
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShardMode::Duration => "duration",
            ShardMode::Hash => "hash",
            ShardMode::Slice => "slice",
        }
    }
}

impl fmt::Display for ShardMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ShardMode {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<ShardMode, ShardError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "duration" | "durations" => Ok(ShardMode::Duration),
            "hash" => Ok(ShardMode::Hash),
            "slice" => Ok(ShardMode::Slice),
            _ => Err(ShardError::Mode(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(
            "2/4".parse::<ShardSpec>().unwrap(),
            ShardSpec { index: 2, total: 4 }
        );
        assert_eq!(" 1/1 ".parse::<ShardSpec>().unwrap().to_string(), "1/1");
        assert_eq!("auto".parse::<ShardRequest>().unwrap(), ShardRequest::Auto);
        assert_eq!(
            "3/4".parse::<ShardRequest>().unwrap(),
            ShardRequest::Explicit(ShardSpec { index: 3, total: 4 })
        );
    }

    #[test]
    fn bad_specs_get_one_line_errors() {
        let error = |text: &str| text.parse::<ShardSpec>().unwrap_err().to_string();
        assert_eq!(
            error("5/4"),
            "invalid shard 5/4: there are only 4 shards (use 1/4 to 4/4)"
        );
        assert_eq!(
            error("0/4"),
            "invalid shard 0/4: shards are numbered from 1 (use 1/4 to 4/4)"
        );
        assert_eq!(
            error("2/0"),
            "invalid shard 2/0: the total number of shards must be at least 1"
        );
        for bad in [
            "x/4",
            "1/",
            "/4",
            "1",
            "",
            "1/2/3",
            "-1/4",
            "+1/4",
            "1.5/4",
            "99999999999/4",
        ] {
            assert_eq!(
                error(bad),
                format!(
                    "invalid shard \"{bad}\": expected K/N with whole numbers, e.g. --shard 2/4"
                ),
            );
        }
        for bad in ["5/4", "x/4"] {
            assert!(!error(bad).contains('\n'));
        }
        assert_eq!(
            "random".parse::<ShardMode>().unwrap_err().to_string(),
            "unknown shard mode \"random\": expected duration, hash or slice"
        );
        assert_eq!("Hash".parse::<ShardMode>().unwrap(), ShardMode::Hash);
    }
}
