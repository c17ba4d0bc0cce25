//! The background worker: merges when the share of dead bytes passes the threshold, writes
//! the hint files of sealed files that lack one when idle, and stops when told.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use super::hint::HintWriter;
use super::keydir::Entry;
use super::merge;
use super::segment::{self, Trust};
use super::store::{lock, read, Store};
use crate::log;
use crate::{Error, Result};

/// Writes the hint file of one sealed file that lacks it.
pub(super) fn write_one_hint(store: &Store) -> Result<bool> {
    let _one = lock(&store.merge_lock);
    let Some(id) = lock(&store.need_hints).pop() else {
        return Ok(false);
    };
    let Some(file) = read(&store.segs).get(&id).map(|s| s.file.clone()) else {
        return Ok(true);
    };
    let mut hint = HintWriter::new();
    let s = segment::scan(&file, id, Trust::Whole, |at, payload, r| {
        let len = if r.tombstone {
            0
        } else {
            log::frame_len(payload.len()) as u32
        };
        hint.add(
            r.key,
            &Entry {
                seq: r.seq,
                offset: at,
                file: id,
                len,
            },
        );
        Ok(())
    })?;
    if s.sealed && !s.tail.torn {
        hint.finish(&store.io, &store.dir, id, s.tail.valid_len)?;
    }
    Ok(true)
}

/// The worker's loop (polls every 50 ms, or when woken).
pub(super) fn run(store: Arc<Store>) {
    let poll = std::time::Duration::from_millis(50);
    loop {
        {
            let stop = lock(&store.wake);
            let (stop, _) = store
                .wake_cv
                .wait_timeout_while(stop, poll, |s| !*s)
                .unwrap_or_else(|p| p.into_inner());
            if *stop {
                return;
            }
        }
        if store.poison.get().is_some() {
            continue;
        }
        if store.opts.background_merge && !store.merge_failed.load(Relaxed) && merge::due(&store) {
            if let Err(e) = merge::run_if_due(&store) {
                if !matches!(e, Error::Closed) {
                    store.merge_failed.store(true, Relaxed);
                }
            }
            continue;
        }
        if store.opts.hint_files {
            while !store.stopping.load(Relaxed) {
                match write_one_hint(&store) {
                    Ok(true) => {}
                    _ => break,
                }
            }
        }
    }
}
