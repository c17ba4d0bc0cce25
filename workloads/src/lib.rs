//! Workload specs, key and value generators, the runner, and the result types the report
//! reads.
//!
//! * [`spec`]: the workload spec ([`WorkloadSpec`]); [`presets`]: the named workloads;
//!   [`ycsb`]: YCSB property files; [`fidelity`]: what differs from YCSB and db_bench;
//! * [`generator`]: YCSB's key generation and distributions, per-thread operation streams;
//! * [`runner`]: load and run phases, latency histograms, timeline, amplification;
//! * [`result`]: the result file schema ([`RunResult`]), versioned; [`output`]: writing and
//!   reading result files, CSV;
//! * [`procfs`] (`/proc/self/io`, rusage), [`files`] (allocated and apparent space,
//!   syncfs, page-cache residency), [`environment`] (machine and build), [`calibrate`]
//!   (device and harness limits);
//! * [`job`]: one run as a job for a child process; [`device_reads`]: device read requests
//!   of a capped run's own cgroup; [`spread`]: median and 95% interval over repetitions;
//!   [`same_work`]: did the engines of a comparison run the same stream;
//! * [`main_job`]: the plan of `kvbench compare` with no workloads or sizes, and the
//!   space-reclaim measurement (space before and after `compact()`).

pub mod calibrate;
pub mod device_reads;
pub mod environment;
pub mod fidelity;
pub mod files;
pub mod generator;
pub mod job;
pub mod main_job;
pub mod output;
pub mod presets;
pub mod procfs;
pub mod result;
pub mod runner;
pub mod same_work;
pub mod spec;
pub mod spread;
pub mod ycsb;

pub use engines;
pub use result::{RunResult, SCHEMA_VERSION};
pub use spec::{OpKind, WorkloadSpec};
