//! The btree engine against the conformance kit (small budgets so that checkpoints and
//! evictions happen inside the kit's small workloads), then its own tests (in `btree/`).

use engines::conformance::Kit;
use engines::{EngineKind, Options};

fn btree_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 64 * 4096;
    o.btree.checkpoint_wal_bytes = 256 * 1024;
    o.btree.commit_bytes = 2048;
    o.btree.max_dirty_pages = 32;
    Kit::for_kind(EngineKind::Btree).with_options(o)
}

engines::conformance_suite!(btree, btree_kit());

/// A second configuration for SIGKILL and power-cut cycles only: a checkpoint every few
/// commits and a tiny pool, so that many crashes land inside checkpoints and evictions.
fn busy_kit() -> Kit {
    let mut o = Options::default();
    o.btree.buffer_pool_bytes = 16 * 4096;
    o.btree.checkpoint_wal_bytes = 48 * 1024;
    o.btree.commit_bytes = 512;
    o.btree.max_dirty_pages = 8;
    Kit::for_kind(EngineKind::Btree).with_options(o)
}

mod busy {
    use engines::conformance::crash;
    use engines::Durability;

    #[test]
    #[ignore = "the child process of the busy crash tests"]
    fn crash_child() {
        crash::child(&super::busy_kit())
    }

    #[test]
    fn crash_with_frequent_checkpoints_sync() {
        crash::cycles(&super::busy_kit(), "busy::crash_child", Durability::Sync)
    }

    #[test]
    fn crash_with_frequent_checkpoints_none() {
        crash::cycles(&super::busy_kit(), "busy::crash_child", Durability::None)
    }

    #[test]
    fn power_cuts_with_frequent_checkpoints() {
        crash::power_cycles(&super::busy_kit(), "busy::crash_child")
    }
}

#[path = "btree/checkpoints.rs"]
mod checkpoints;
#[path = "btree/own.rs"]
mod own;
#[path = "btree/reliability.rs"]
mod reliability;
