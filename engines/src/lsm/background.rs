//! Work off the write path: flushing immutable memtables to level-0 tables, running
//! compactions, and installing each result through a manifest switch. Two background
//! threads, a flusher (which also fsyncs retired WALs) and a compactor, either of which
//! prepares the spare WAL when it is free, so that a long compaction never holds up a flush (and with it the writers);
//! `compact()` and `settle()` run the same steps on the caller's thread.
//!
//! Crash points (`KVBENCH_CRASH_AT`), in order:
//! WAL rotation (in `rotation.rs`): `lsm.wal.created` (a spare WAL is ready),
//! `lsm.wal.sealed` (the memtable rotates);
//! flush: `lsm.flush.start`, `lsm.flush.table_written`, `lsm.flush.before_manifest`,
//! `lsm.flush.manifest_switched`, `lsm.flush.wal_removed`;
//! compaction: `lsm.compaction.start`, `lsm.compaction.outputs_written`,
//! `lsm.compaction.before_manifest`, `lsm.compaction.manifest_switched`,
//! `lsm.compaction.inputs_removed`.

use std::sync::atomic::Ordering::*;
use std::sync::{Arc, TryLockError};
use std::time::Duration;

use super::compaction::{self, Task};
use super::db::{lock, Inner};
use super::manifest::Manifest;
use super::memtable::Memtable;
use super::version::Version;
use super::wal;
use crate::io::crash_point;
use crate::Result;

impl Inner {
    /// Writes a manifest snapshot of the version `edit` makes of the current one and installs
    /// it. `flushed`: the memtable whose table this adds (its WALs become obsolete).
    fn install(
        &self,
        edit: impl FnOnce(&Version) -> Version,
        flushed: Option<&Arc<Memtable>>,
        crash_before: &str,
    ) -> Result<()> {
        let mut ms = lock(&self.manifest);
        // Checked under the lock that orders manifest switches: after a failure nothing more
        // is appended to a manifest that may end in a partial snapshot.
        self.committer.check()?;
        let next = edit(&self.view().version);
        let new_wal_min = flushed.map_or(ms.wal_min, |m| m.wal + 1);
        let manifest = Manifest {
            next_file: self.next_file.load(SeqCst),
            last_seq: self.last_seq.load(Acquire),
            wal_min: new_wal_min,
            tables: next.tables().map(|(l, t)| (l, t.meta.clone())).collect(),
        };
        crash_point(crash_before);
        let n = ms.log.switch(&self.io, &self.dir, &manifest)?;
        self.stats.manifest_bytes_written.add(n);
        ms.wal_min = new_wal_min;
        self.update_view(|v| {
            v.version = Arc::new(next);
            if let Some(m) = flushed {
                v.imms.retain(|x| !Arc::ptr_eq(x, m));
            }
        });
        drop(ms);
        self.notify_stalled();
        Ok(())
    }

    /// Flushes the oldest immutable memtable to a level-0 table. `false`: none was waiting.
    /// The retired WALs are fsynced first, in order.
    pub fn flush_one(&self) -> Result<bool> {
        let _g = lock(&self.flush_lock);
        self.sync_retired()?;
        let Some(imm) = self.view().imms.last().cloned() else {
            return Ok(false);
        };
        // Writes already in its WAL but still committing go in before it is read.
        imm.writers.wait_empty();
        crash_point("lsm.flush.start");
        let env = self.env();
        let tables = if imm.is_empty() {
            Vec::new()
        } else {
            let mut b = env.new_table()?;
            imm.for_each(|k, seq, v| b.add(k, seq, v))?;
            let meta = b.finish()?;
            self.stats.flush_bytes_written.add(meta.size);
            env.install_files(vec![meta])?
        };
        crash_point("lsm.flush.table_written");
        self.install(
            |v| {
                let mut nv = v.clone();
                nv.levels[0].splice(0..0, tables);
                nv
            },
            Some(&imm),
            "lsm.flush.before_manifest",
        )?;
        crash_point("lsm.flush.manifest_switched");
        self.stats.flushes.inc();
        self.remove_obsolete_wals()?;
        crash_point("lsm.flush.wal_removed");
        Ok(true)
    }

    fn remove_obsolete_wals(&self) -> Result<()> {
        let min = lock(&self.manifest).wal_min;
        let mut removed = false;
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name
                .strip_suffix(".wal")
                .and_then(|s| s.parse::<u64>().ok())
            {
                if n < min {
                    self.io.remove(&wal::wal_path(&self.dir, n))?;
                    removed = true;
                }
            }
        }
        if removed {
            self.io.sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Runs one compaction: merge, manifest switch, then the inputs' files go. `false`: it
    /// was cancelled by shutdown and changed nothing.
    fn run_task(&self, task: Task) -> Result<bool> {
        let Some(outputs) = compaction::run(&task, &self.env())? else {
            return Ok(false);
        };
        self.install(
            |v| compaction::apply(v, &task, &outputs),
            None,
            "lsm.compaction.before_manifest",
        )?;
        crash_point("lsm.compaction.manifest_switched");
        self.stats.compactions.inc();
        let mut removed = false;
        for t in &task.inputs {
            if !outputs.iter().any(|o| o.meta.id == t.meta.id) {
                self.io.remove(t.path())?;
                removed = true;
            }
        }
        if removed {
            self.io.sync_dir(&self.dir)?;
        }
        crash_point("lsm.compaction.inputs_removed");
        Ok(true)
    }

    fn pick(&self) -> Option<Task> {
        let v = self.view();
        compaction::pick(&v.version, &self.opts, &mut lock(&self.pointers))
    }

    /// One policy compaction, unless none is due or `compact()` holds the compaction lock.
    fn compact_once(&self) -> Result<bool> {
        let _g = match self.compaction_lock.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Ok(false),
        };
        match self.pick() {
            Some(task) => self.run_task(task),
            None => Ok(false),
        }
    }

    /// `compact()`: flush every memtable, merge all tables into one sorted run (dropping
    /// every tombstone), then run the policy until nothing is due.
    pub fn compact_all(&self) -> Result<()> {
        self.committer.check()?;
        self.freeze_memtable().map_err(|e| self.fatal(e))?;
        while self.flush_one().map_err(|e| self.fatal(e))? {}
        let _g = lock(&self.compaction_lock);
        let tasks = compaction::full(&self.view().version, &self.opts)
            .into_iter()
            .chain(std::iter::from_fn(|| self.pick()));
        for task in tasks {
            if !self.run_task(task).map_err(|e| self.fatal(e))? {
                return Err(crate::Error::Closed);
            }
        }
        Ok(())
    }

    /// `settle()`: flushes the memtable and every immutable one, runs policy compactions
    /// until none is due (waiting for one the background is running), prepares the spare
    /// WAL and syncs, so that an idle engine then writes nothing.
    pub fn settle(&self) -> Result<()> {
        self.committer.check()?;
        self.freeze_memtable().map_err(|e| self.fatal(e))?;
        while self.flush_one().map_err(|e| self.fatal(e))? {}
        {
            let _g = lock(&self.compaction_lock);
            while let Some(task) = self.pick() {
                if !self.run_task(task).map_err(|e| self.fatal(e))? {
                    return Err(crate::Error::Closed);
                }
            }
        }
        self.prepare_spare().map_err(|e| self.fatal(e))?;
        self.committer.sync_all(&|| self.sync_wal())
    }

    /// Sleeps until `wake_background` is called after `seen` was taken (or 20 ms pass).
    fn wait_for_work(&self, seen: &mut u64) {
        let g = lock(&self.work);
        let (g, _) = self
            .work_cv
            .wait_timeout_while(g, Duration::from_millis(20), |gen| {
                *gen == *seen && !self.shutdown.load(Acquire)
            })
            .unwrap_or_else(|p| p.into_inner());
        *seen = *g;
    }
}

/// What a background thread does.
#[derive(Clone, Copy)]
pub(crate) enum Role {
    Flusher,
    Compactor,
}

/// A background thread: do its kind of work while there is some, else sleep until woken.
pub(crate) fn background(inner: Arc<Inner>, role: Role) {
    let mut seen = *lock(&inner.work);
    while !inner.shutdown.load(Acquire) {
        if inner.committer.check().is_err() {
            inner.wait_for_work(&mut seen);
            continue;
        }
        // Either thread prepares the next spare WAL when it is free, so that a rotation
        // finds one ready.
        let r = inner.prepare_spare_unless_busy().and_then(|()| match role {
            Role::Flusher => inner.flush_one(),
            Role::Compactor => inner.compact_once(),
        });
        match r {
            Ok(true) => {}
            Ok(false) => inner.wait_for_work(&mut seen),
            Err(e) => {
                inner
                    .committer
                    .poison(format!("background flush or compaction failed: {e}"));
                inner.notify_stalled();
            }
        }
    }
}
