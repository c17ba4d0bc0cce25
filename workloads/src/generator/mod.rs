//! Key and value generators, as YCSB and db_bench define them: the random source ([`rng`]),
//! zipfian choice ([`zipfian`]), keys from record numbers ([`keys`]), the key-choice
//! distributions and their resolution against the inserts of all threads ([`chooser`],
//! [`acked`]), shuffled fills ([`permute`]), values and YCSB's records ([`values`]), and the
//! per-thread operation streams ([`ops`]).

pub mod acked;
pub mod chooser;
pub mod keys;
pub mod ops;
pub mod permute;
pub mod rng;
pub mod values;
pub mod zipfian;

pub use chooser::{KeyChooser, Pick};
pub use keys::{fnvhash64, KeyBuilder};
pub use ops::{LoadStream, Op, OpStream};
pub use rng::Rng;
pub use values::ValuePool;
pub use zipfian::Zipfian;
