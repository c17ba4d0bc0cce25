//! The bitcask engine (issue 4): append-only segments, an in-memory keydir, hint files, merge.
//! Not built yet: `open` reports that plainly.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Engine, Error, Options, Result};

/// Settings of the bitcask engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BitcaskOptions {}

pub fn open(_dir: &Path, _options: &Options) -> Result<Box<dyn Engine>> {
    Err(Error::InvalidInput(
        "the bitcask engine is not built yet".into(),
    ))
}
