//! The `memory` engine: a `BTreeMap` behind a read-write lock, no files. It is the model the
//! conformance kit compares other engines with, and the floor against which benchmarks
//! measure the harness's own overhead. Nothing survives `close()`.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use crate::limits::{check_key, check_put};
use crate::{Engine, EngineStats, Error, Result};

#[derive(Default)]
pub struct MemoryEngine {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    closed: AtomicBool,
}

/// Rough heap cost of one entry beyond its key and value bytes (two `Vec` headers and the
/// B-tree node slot), for `memory_bytes`.
const ENTRY_OVERHEAD: u64 = 64;

impl MemoryEngine {
    pub fn new() -> Self {
        Self::default()
    }

    fn live(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine for MemoryEngine {
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        check_put(key, value)?;
        self.live()?;
        let mut map = self.write();
        match map.get_mut(key) {
            Some(v) => {
                v.clear();
                v.extend_from_slice(value);
            }
            None => {
                map.insert(key.to_vec(), value.to_vec());
            }
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        self.live()?;
        Ok(self.read().get(key).cloned())
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.live()?;
        self.write().remove(key);
        Ok(())
    }

    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.live()?;
        if end.is_some_and(|e| e <= start) {
            return Ok(Vec::new());
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self
            .read()
            .range::<[u8], _>((Bound::Included(start), upper))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn sync(&self) -> Result<()> {
        self.live()
    }

    fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        self.write().clear();
        Ok(())
    }

    fn compact(&self) -> Result<()> {
        self.live()
    }

    fn stats(&self) -> EngineStats {
        let map = self.read();
        let bytes: u64 = map
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_OVERHEAD)
            .sum();
        EngineStats {
            live_keys: Some(map.len() as u64),
            memory_bytes: bytes,
            ..EngineStats::default()
        }
    }
}
