//! Workload specs, key and value generators, the runner, and the result types the report
//! reads.
//!
//! * [`spec`]: the workload spec ([`WorkloadSpec`]); [`presets`]: the named workloads;
//!   [`ycsb`]: YCSB property files;
//! * [`generator`]: YCSB's key generation and distributions, per-thread operation streams;
//! * [`runner`]: load and run phases, latency histograms, timeline, amplification;
//! * [`result`]: the result file schema ([`RunResult`]), versioned; [`output`]: writing and
//!   reading result files, CSV;
//! * [`procfs`] (`/proc/self/io`, rusage), [`environment`] (machine and build),
//!   [`calibrate`] (device and harness limits).

pub mod calibrate;
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
