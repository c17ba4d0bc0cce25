//! Workload specs, key and value generators, the runner, and the result types the report
//! reads.
//!
//! * [`spec`]: the workload spec ([`WorkloadSpec`]), YCSB-compatible;
//! * [`result`]: the result file schema ([`RunResult`]), versioned.

pub mod environment;
pub mod generator;
pub mod output;
pub mod presets;
pub mod procfs;
pub mod result;
pub mod runner;
pub mod spec;
pub mod ycsb;

pub use engines;
pub use result::{RunResult, SCHEMA_VERSION};
pub use spec::{OpKind, WorkloadSpec};
