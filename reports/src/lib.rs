//! Turns kvbench result files into one self-contained HTML report. Built in issue 8.

pub use workloads;
