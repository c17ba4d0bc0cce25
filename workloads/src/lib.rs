//! Workload specs, key and value generators, the runner, and the result types the report
//! reads. Built in issue 7; the foundation only re-exports the engine API it builds on.

pub use engines;
