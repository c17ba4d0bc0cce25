//! The conformance kit on the lsm engine, once per compaction policy, with sizes small
//! enough that flushes and compactions happen inside the kit's workloads.

use engines::conformance::Kit;
use engines::lsm::CompactionPolicy;
use engines::{EngineKind, Options};

fn lsm_kit(policy: CompactionPolicy) -> Kit {
    let mut o = Options::default();
    o.lsm.compaction = policy;
    o.lsm.memtable_bytes = 32 << 10;
    o.lsm.block_bytes = 1024;
    o.lsm.table_bytes = 32 << 10;
    o.lsm.level1_bytes = 128 << 10;
    o.lsm.level_multiplier = 4;
    o.lsm.block_cache_bytes = 64 << 10;
    Kit::for_kind(EngineKind::Lsm).with_options(o)
}

engines::conformance_suite!(leveled, lsm_kit(CompactionPolicy::Leveled));
engines::conformance_suite!(tiered, lsm_kit(CompactionPolicy::Tiered));
