//! The btree engine (issue 6): B+ tree of 4 KiB pages, buffer pool, page WAL.
//! Not built yet: `open` reports that plainly.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Engine, Error, Options, Result};

/// Settings of the btree engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BtreeOptions {}

pub fn open(_dir: &Path, _options: &Options) -> Result<Box<dyn Engine>> {
    Err(Error::InvalidInput(
        "the btree engine is not built yet".into(),
    ))
}
