//! Key and value generators, as YCSB defines them: the random source ([`rng`]), zipfian
//! choice ([`zipfian`]), keys from record numbers ([`keys`]), the key-choice distributions
//! ([`chooser`]) and the per-thread operation streams ([`ops`]).

pub mod chooser;
pub mod keys;
pub mod ops;
pub mod rng;
pub mod zipfian;

pub use chooser::KeyChooser;
pub use keys::{fnvhash64, KeyBuilder};
pub use ops::{LoadStream, Op, OpStream, ValuePool};
pub use rng::Rng;
pub use zipfian::Zipfian;
