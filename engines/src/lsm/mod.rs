//! The lsm engine (issue 5): WAL, memtable, SSTables, manifest, compaction.
//! Not built yet: `open` reports that plainly.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Engine, Error, Options, Result};

/// Settings of the lsm engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LsmOptions {}

pub fn open(_dir: &Path, _options: &Options) -> Result<Box<dyn Engine>> {
    Err(Error::InvalidInput(
        "the lsm engine is not built yet".into(),
    ))
}
