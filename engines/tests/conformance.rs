//! The conformance kit, run on every engine of this crate. Adding an engine is one line.

use engines::conformance::Kit;
use engines::EngineKind;

engines::conformance_suite!(memory, Kit::for_kind(EngineKind::Memory), no_files);
