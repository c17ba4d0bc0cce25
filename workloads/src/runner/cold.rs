//! A cold start between load and run: the engine is closed (its own caches go with it), every
//! file of its directory is dropped from the page cache, and the engine is opened again.
//! Opening may read files back (bitcask rebuilds its keydir from its active segment), so the
//! files are dropped once more with the engine open, and then the drop is checked with
//! `mincore`. The run phase then reads from the device what it needs; what the engine built
//! in memory at open (a keydir, an index) stays, as it would after a restart.

use std::path::Path;
use std::time::Instant;

use engines::{Engine, Options};

use super::Opener;
use crate::files;
use crate::result::ColdCache;

/// A drop is taken to have worked when at most this share of the files' bytes is still cached.
const MAX_CACHED_SHARE: f64 = 0.01;

/// Closes `db`, drops its files from the page cache, reopens it, drops them again and
/// checks. On success returns the new instance and what the check found; a failure to
/// reopen is an error (the old instance is gone by then).
pub(crate) fn restart(
    db: Box<dyn Engine>,
    open: &Opener,
    dir: &Path,
    options: &Options,
) -> Result<(Box<dyn Engine>, ColdCache), String> {
    let closed = db.close();
    drop(db);
    closed.map_err(|e| format!("closing the engine before dropping the cache failed: {e}"))?;
    let file_bytes = files::disk_usage(dir).apparent;
    engines::io::drop_page_cache(dir).map_err(|e| format!("dropping the cache failed: {e}"))?;
    let t = Instant::now();
    let db = open(dir, options).map_err(|e| format!("the engine did not reopen: {e}"))?;
    let reopen_secs = t.elapsed().as_secs_f64();
    let mut cached = u64::MAX;
    // A page a background writer dirtied late may survive one drop; a second one takes it.
    for _ in 0..2 {
        engines::io::drop_page_cache(dir).map_err(|e| format!("dropping the cache failed: {e}"))?;
        cached = files::cached_bytes(dir).map_err(|e| format!("mincore failed: {e}"))?;
        if (cached as f64) <= MAX_CACHED_SHARE * file_bytes as f64 {
            break;
        }
    }
    Ok((
        db,
        ColdCache {
            file_bytes,
            cached_bytes_after_drop: cached,
            dropped: (cached as f64) <= MAX_CACHED_SHARE * file_bytes as f64,
            reopen_secs,
        },
    ))
}
