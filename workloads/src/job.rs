//! One run as a job for a child process: what the parent sends (a [`Job`], one JSON document
//! on the child's stdin) and what the child answers (one [`Message`] per line on its stdout:
//! `ready` once it can be interrupted, `progress` about once a second, then `result` or
//! `error`). Running each (engine, workload) in a fresh process gives every run its own peak
//! RSS, allocator and open files, and a crash of one engine loses only its own run.

use std::path::PathBuf;

use engines::Options;
use serde::{Deserialize, Serialize};

use crate::result::{Calibration, RunResult};
use crate::runner::Progress;
use crate::spec::WorkloadSpec;

/// Everything a child needs to run one workload on one engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub spec: WorkloadSpec,
    /// `EngineKind::name()` of the engine to run.
    pub engine: String,
    pub options: Options,
    /// The data directory (the parent creates and removes a temporary one).
    pub dir: PathBuf,
    pub cold_cache: bool,
    pub calibration: Option<Calibration>,
    /// The device read counters of the cgroup the parent put the child in, if any.
    #[serde(default)]
    pub device_counters: Option<crate::device_reads::DeviceCounters>,
    /// The memory limit of that cgroup, bytes.
    #[serde(default)]
    pub memory_limit: Option<u64>,
}

/// A line of the child's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// The child's Ctrl-C handler is installed: from now on an interrupt gives a partial
    /// result instead of killing it.
    Ready,
    Progress(Progress),
    Result(Box<RunResult>),
    /// The run could not start; `open` is true when the engine did not open.
    Error {
        open: bool,
        message: String,
    },
}

impl Message {
    /// The message as one line of JSON (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            serde_json::to_string(&Message::Error {
                open: false,
                message: format!("cannot encode the child's message: {e}"),
            })
            .unwrap_or_default()
        })
    }

    /// Parses a line the child wrote.
    pub fn from_line(line: &str) -> Result<Message, String> {
        serde_json::from_str(line).map_err(|e| format!("unreadable line from the child: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::PhaseKind;

    #[test]
    fn messages_round_trip_one_line_each() {
        let p = Message::Progress(Progress {
            phase: PhaseKind::Run,
            elapsed_secs: 1.5,
            ops_done: 10,
            ops_total: Some(20),
            duration_secs: None,
            ops_per_sec: 6.5,
        });
        for m in [
            Message::Ready,
            p,
            Message::Error {
                open: true,
                message: "no\nway".into(),
            },
        ] {
            let line = m.to_line();
            assert!(!line.contains('\n'), "{line}");
            let back = Message::from_line(&line).unwrap();
            assert_eq!(back.to_line(), line);
        }
        assert!(Message::from_line("garbage").is_err());
    }
}
