//! The bitcask engine: the whole conformance kit with small segments (so rollover, hint
//! files and merges happen inside the kit's workloads), then the engine's own tests.

use engines::conformance::Kit;
use engines::{EngineKind, Options};

fn bitcask_kit() -> Kit {
    let mut o = Options::default();
    o.bitcask.max_segment_bytes = 64 << 10;
    o.bitcask.merge_min_dead_bytes = 128 << 10;
    o.bitcask.merge_dead_ratio = 0.4;
    Kit::for_kind(EngineKind::Bitcask).with_options(o)
}

engines::conformance_suite!(bitcask, bitcask_kit());
