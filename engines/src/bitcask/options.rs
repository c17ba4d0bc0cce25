//! Settings of the bitcask engine.

use serde::{Deserialize, Serialize};

use crate::options::{check_range, PIB};
use crate::{Error, Result};

/// Settings of the bitcask engine. The defaults suit a benchmark store of a few GiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BitcaskOptions {
    /// The active data file rolls over to a new one once it would grow past this size.
    pub max_segment_bytes: u64,
    /// A background merge starts when the dead bytes in immutable segments are at least this
    /// share of all data bytes (0.0 to 1.0) ...
    pub merge_dead_ratio: f64,
    /// ... and at least this many bytes (so a small store is not merged over and over).
    pub merge_min_dead_bytes: u64,
    /// Run merges in a background thread when the thresholds above are passed. `compact()`
    /// merges whatever this says.
    pub background_merge: bool,
    /// Write a hint file for every immutable segment (by merge, and in the background for
    /// segments the active file rolled out), so that start-up does not read values.
    pub hint_files: bool,
}

impl Default for BitcaskOptions {
    fn default() -> Self {
        BitcaskOptions {
            max_segment_bytes: 64 << 20,
            merge_dead_ratio: 0.5,
            merge_min_dead_bytes: 64 << 20,
            background_merge: true,
            hint_files: true,
        }
    }
}

impl BitcaskOptions {
    /// Rejects settings the engine cannot honour, each with a one-line error.
    pub fn validate(&self) -> Result<()> {
        check_range(
            "bitcask.max_segment_bytes",
            self.max_segment_bytes,
            4096,
            u32::MAX as u64,
            "bytes",
        )?;
        if !(self.merge_dead_ratio > 0.0 && self.merge_dead_ratio <= 1.0) {
            return Err(Error::InvalidInput(format!(
                "bitcask.merge_dead_ratio = {}: must be above 0 and at most 1",
                self.merge_dead_ratio
            )));
        }
        check_range(
            "bitcask.merge_min_dead_bytes",
            self.merge_min_dead_bytes,
            0,
            PIB,
            "bytes",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_refused() {
        BitcaskOptions::default().validate().unwrap();
        let mut o = BitcaskOptions {
            max_segment_bytes: 10,
            ..BitcaskOptions::default()
        };
        assert!(matches!(o.validate(), Err(Error::InvalidInput(_))));
        o.max_segment_bytes = 1 << 20;
        o.merge_dead_ratio = 0.0;
        assert!(matches!(o.validate(), Err(Error::InvalidInput(_))));
        o.merge_dead_ratio = f64::NAN;
        assert!(matches!(o.validate(), Err(Error::InvalidInput(_))));
        o.merge_dead_ratio = 0.5;
        o.merge_min_dead_bytes = u64::MAX;
        let e = o.validate().unwrap_err().to_string();
        assert!(
            e.contains("bitcask.merge_min_dead_bytes = 18446744073709551615"),
            "{e}"
        );
    }
}
