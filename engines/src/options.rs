//! Options shared by every engine: the durability mode and each engine's typed settings.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// When a write reaches stable storage (design.md, "durability mode").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// The OS decides; data is forced to disk only by `sync()` and `close()`.
    #[default]
    None,
    /// Every write is on stable storage before it returns. Concurrent writers share one
    /// fsync (group commit), so the cost per write falls as writers are added.
    Sync,
    /// Writes return at once; the engine fsyncs at most every `GroupCommit::interval` or
    /// after `GroupCommit::max_bytes` unsynced bytes, whichever comes first. A crash loses
    /// at most that window, and only as a suffix.
    Group,
}

impl Durability {
    pub const ALL: [Durability; 3] = [Durability::None, Durability::Sync, Durability::Group];

    pub fn as_str(self) -> &'static str {
        match self {
            Durability::None => "none",
            Durability::Sync => "sync",
            Durability::Group => "group",
        }
    }
}

impl fmt::Display for Durability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Durability {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Durability::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "unknown durability mode '{s}': expected one of none, sync, group"
                ))
            })
    }
}

/// The window of the `group` durability mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupCommit {
    /// Longest time unsynced writes may wait for an fsync.
    #[serde(with = "duration_ms")]
    pub interval: Duration,
    /// Unsynced bytes that trigger an fsync before the interval is up.
    pub max_bytes: u64,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            interval: Duration::from_millis(10),
            max_bytes: 1 << 20,
        }
    }
}

/// Everything `open` needs besides the engine kind and directory. Fields missing from a
/// serialized form (a result file written before they existed) take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    pub durability: Durability,
    pub group_commit: GroupCommit,
    pub bitcask: crate::bitcask::BitcaskOptions,
    pub lsm: crate::lsm::LsmOptions,
    pub btree: crate::btree::BtreeOptions,
    pub null: crate::null::NullOptions,
    pub production: ProductionOptions,
}

impl Options {
    /// Default options with the given durability mode.
    pub fn with_durability(durability: Durability) -> Self {
        Options {
            durability,
            ..Options::default()
        }
    }

    /// Rejects settings no engine could honour: each one outside its range is a one-line
    /// error naming the setting, its value and the range.
    pub fn validate(&self) -> Result<()> {
        let ms = self.group_commit.interval.as_millis().min(u64::MAX as u128) as u64;
        check_range("group_commit.interval", ms, 1, 60_000, "milliseconds")?;
        check_range(
            "group_commit.max_bytes",
            self.group_commit.max_bytes,
            1,
            TIB,
            "bytes",
        )?;
        self.production.validate()
    }
}

/// Memory the production engines may use for themselves; `None` keeps each engine's own
/// default (redb 1 GiB cache, fjall 64 MiB memtable and its default cache, RocksDB two
/// 64 MiB memtables and its default block cache, SQLite about 2 MB of pages). LMDB has no cache of
/// its own (it reads through mmap, so the page cache is its cache) and ignores both; it takes
/// `no_read_ahead` alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProductionOptions {
    /// Bytes of the engine's read cache: redb's cache (which also holds its uncommitted
    /// writes), fjall's block cache, RocksDB's block cache, SQLite's page cache.
    pub cache_bytes: Option<u64>,
    /// Bytes of writes an LSM engine holds in memtables, all of them together (fjall's five
    /// memtables and RocksDB's two share it); the B-tree engines ignore it.
    pub write_buffer_bytes: Option<u64>,
    /// LMDB's `MDB_NORDAHEAD`: a page fault reads only its page, not the pages around it as far
    /// as the device's read-ahead reaches. LMDB advises it when the data is larger than the
    /// memory; the others ignore it.
    pub no_read_ahead: bool,
}

/// Smallest cache or write buffer a production engine is given.
pub const MIN_PRODUCTION_CACHE_BYTES: u64 = 1 << 20;

impl ProductionOptions {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("cache_bytes", self.cache_bytes),
            ("write_buffer_bytes", self.write_buffer_bytes),
        ] {
            if v.is_some_and(|v| !(MIN_PRODUCTION_CACHE_BYTES..=1 << 40).contains(&v)) {
                return Err(Error::InvalidInput(format!(
                    "production.{name} must be from {MIN_PRODUCTION_CACHE_BYTES} bytes to 1 TiB"
                )));
            }
        }
        Ok(())
    }
}

/// 2^30, 2^40 and 2^50 bytes: the upper ends of most size settings.
pub(crate) const GIB: u64 = 1 << 30;
pub(crate) const TIB: u64 = 1 << 40;
pub(crate) const PIB: u64 = 1 << 50;

/// `Err(InvalidInput)` unless `lo <= value <= hi`, in one line: "lsm.memtable_bytes =
/// 18446744073709551615: must be 1024 to 68719476736 bytes".
pub(crate) fn check_range<T>(name: &str, value: T, lo: T, hi: T, unit: &str) -> Result<()>
where
    T: PartialOrd + fmt::Display + Copy,
{
    // Written so that NaN fails too.
    if value >= lo && value <= hi {
        return Ok(());
    }
    let unit = if unit.is_empty() {
        String::new()
    } else {
        format!(" {unit}")
    };
    Err(Error::InvalidInput(format!(
        "{name} = {value}: must be {lo} to {hi}{unit}"
    )))
}

/// (De)serialises a `Duration` as whole milliseconds.
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_cache_sizes_are_checked() {
        let mut o = Options::default();
        o.validate().unwrap();
        o.production.cache_bytes = Some(64 << 20);
        o.production.write_buffer_bytes = Some(16 << 20);
        o.validate().unwrap();
        o.production.cache_bytes = Some(4096);
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("production.cache_bytes"), "{e}");
        o.production.cache_bytes = None;
        o.production.write_buffer_bytes = Some(0);
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("production.write_buffer_bytes"), "{e}");
    }
}
