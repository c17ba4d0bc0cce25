//! One run in a child process of kvbench: `run` and `compare` start the hidden subcommand
//! `run-child` for each (engine, workload), send it a [`Job`] on stdin and read its
//! [`Message`]s from stdout, so every run has a process of its own (its own peak RSS,
//! allocator and open files). A child that crashes or is killed becomes a failed run with
//! the tail of its stderr; the parent goes on with the next.
//!
//! The child runs in its own process group, so a Ctrl-C at the terminal reaches the parent
//! only; the parent passes it on once (the child then ends its phase cleanly and sends a
//! partial result). A second Ctrl-C kills the child and ends the parent at once. A child
//! whose parent dies is killed by the kernel (`PR_SET_PDEATHSIG`).
//!
//! With a memory limit, the child runs in a cgroup of its own ([`super::cgroup`]), which it
//! joins before exec; the engine's caches are sized within the limit
//! ([`super::io_bound::size_caches`]) and the result records the cap ([`MemoryCap`]).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engines::EngineKind;
use workloads::job::{Job, Message};
use workloads::result::{MemoryCap, RunResult};
use workloads::runner::{self, EngineUnderTest, RunConfig, RunError};

use super::cgroup::Group;
use super::progress::Reporter;
use super::{signal, CliResult};

/// Lines of a failed child's stderr kept for its error message.
const TAIL_LINES: usize = 12;
/// Largest job a child reads from stdin.
const MAX_JOB_BYTES: u64 = 16 << 20;

/// Why a child gave no result.
#[derive(Debug)]
pub enum ChildError {
    /// The engine did not open (the child said so).
    Open(String),
    /// Anything else: the run could not start, or the child died.
    Failed(String),
}

impl std::fmt::Display for ChildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildError::Open(m) | ChildError::Failed(m) => f.write_str(m),
        }
    }
}

/// Runs `job` in a fresh child process, showing its progress under `label`; with `limit`,
/// in a memory cgroup of that many bytes, removed when the child has ended.
pub fn run_in_child(job: &Job, label: &str, limit: Option<u64>) -> Result<RunResult, ChildError> {
    let fail = |m: String| ChildError::Failed(m);
    let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find kvbench: {e}")))?;
    let mut job = job.clone();
    let mut cap = None;
    if let Some(limit) = limit {
        let group = Group::create(limit, &job.dir).map_err(fail)?;
        let caches = match job.engine.parse::<EngineKind>() {
            Ok(kind) => super::io_bound::size_caches(kind, limit, &mut job.options),
            Err(_) => Default::default(),
        };
        job.device_counters = group.device_counters();
        job.memory_limit = Some(limit);
        cap = Some((group, caches));
    }
    let mut command = Command::new(exe);
    command
        .arg("run-child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some((group, _)) = &cap {
        let procs = group.procs();
        // SAFETY: the closure only calls open, write and close (async-signal-safe) on paths
        // allocated before the fork.
        unsafe { command.pre_exec(move || Group::join_from_pre_exec(&procs)) };
    }
    let mut child = command.spawn().map_err(|e| match &cap {
        Some((g, _)) => fail(format!(
            "cannot start a child process in the cgroup {}: {e}",
            g.path().display()
        )),
        None => fail(format!("cannot start a child process: {e}")),
    })?;
    let job = &job;
    let pid = child.id() as i32;
    signal::set_child(pid);
    let text = serde_json::to_string(job).map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that died at once is reported below, from its status and stderr.
        let _ = stdin.write_all(text.as_bytes());
    }

    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let stderr = child.stderr.take().map(|err| {
        let tail = tail.clone();
        std::thread::spawn(move || keep_tail(err, &tail))
    });
    let ready = Arc::new(AtomicBool::new(false));
    let over = Arc::new(AtomicBool::new(false));
    let forward = {
        let (ready, over) = (ready.clone(), over.clone());
        std::thread::spawn(move || forward_interrupt(pid, &ready, &over))
    };
    let writeback = cap
        .as_ref()
        .filter(|(g, _)| g.needs_writeback_help())
        .map(|(g, _)| {
            let (g, over, dir) = (g.clone_handle(), over.clone(), job.dir.clone());
            std::thread::spawn(move || help_writeback(&g, &dir, &over))
        });

    let reporter = Reporter::new(label.to_string());
    let mut result = None;
    let mut error = None;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            match Message::from_line(&line) {
                Ok(Message::Ready) => ready.store(true, Ordering::SeqCst),
                Ok(Message::Progress(p)) => reporter.update(&p),
                Ok(Message::Result(r)) => result = Some(*r),
                Ok(Message::Error { open, message }) => error = Some((open, message)),
                Err(e) => error = Some((false, e)),
            }
        }
    }
    reporter.finish();
    let status = child.wait();
    over.store(true, Ordering::SeqCst);
    signal::set_child(0);
    let _ = forward.join();
    if let Some(h) = writeback {
        let _ = h.join();
    }
    if let Some(h) = stderr {
        let _ = h.join();
    }
    let tail: Vec<String> = tail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .collect();
    let memory_cap = cap.as_ref().map(|(g, caches)| MemoryCap {
        limit_bytes: g.limit(),
        cgroup_version: g.version(),
        peak_bytes: g.peak_bytes(),
        oom_kills: g.oom_kills(),
        cache_bytes: caches.clone(),
        device_reads: g.device_reads(),
    });
    let oom = memory_cap
        .as_ref()
        .is_some_and(|m| m.oom_kills.unwrap_or(0) > 0);
    match (result, error) {
        (Some(mut r), _) => {
            r.memory_cap = memory_cap;
            Ok(r)
        }
        (None, Some((true, m))) => Err(ChildError::Open(m)),
        (None, Some((false, m))) => Err(fail(m)),
        (None, None) if oom => Err(fail(format!(
            "the kernel's OOM killer ended the run's process: the memory limit of {} MiB is too small for this engine and store ({})",
            memory_cap.map_or(0, |m| m.limit_bytes >> 20),
            died(status, &tail)
        ))),
        (None, None) => Err(fail(died(status, &tail))),
    }
}

/// Passes the first Ctrl-C on to the child, once it can take it.
fn forward_interrupt(pid: i32, ready: &AtomicBool, over: &AtomicBool) {
    let mut sent = false;
    while !over.load(Ordering::SeqCst) {
        if !sent && signal::interrupted() && ready.load(Ordering::SeqCst) {
            // SAFETY: kill(2) on our own child's pid, which we have not reaped yet.
            unsafe { libc::kill(pid, libc::SIGINT) };
            sent = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// v1 only: starts writeback of the run's files whenever the group's dirty pages pass a
/// share of its limit (see [`super::cgroup`]).
fn help_writeback(g: &super::cgroup::Watch, dir: &std::path::Path, over: &AtomicBool) {
    let threshold = g.limit / super::cgroup::DIRTY_SHARE;
    while !over.load(Ordering::SeqCst) {
        if g.dirty_bytes().is_some_and(|d| d > threshold) {
            super::cgroup::start_writeback(dir);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Copies the child's stderr to ours, keeping its last lines.
fn keep_tail(err: impl Read, tail: &Mutex<VecDeque<String>>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { break };
        eprintln!("{line}");
        let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(line);
    }
}

/// The message of a child that ended without a result.
fn died(status: std::io::Result<ExitStatus>, tail: &[String]) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (_, Some(sig)) => format!("was killed by signal {sig} ({})", signal_name(sig)),
            (Some(c), None) => format!("exited with code {c}"),
            (None, None) => "ended".into(),
        },
        Err(e) => format!("could not be waited for ({e})"),
    };
    let last = if tail.is_empty() {
        "no output on stderr".to_string()
    } else {
        format!("its stderr ended with: {}", tail.join(" | "))
    };
    format!("the run's process {how} without a result; {last}")
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}

/// The hidden `run-child` subcommand: reads a [`Job`] from stdin, runs it, writes
/// [`Message`]s to stdout.
pub fn cmd_run_child() -> CliResult<ExitCode> {
    // SAFETY: prctl with PR_SET_PDEATHSIG only sets this process's parent-death signal.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    signal::install();
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_JOB_BYTES)
        .read_to_string(&mut text)
        .map_err(|e| format!("run-child: cannot read the job: {e}"))?;
    let job: Job = serde_json::from_str(&text)
        .map_err(|e| format!("run-child: not a job (this subcommand is kvbench's own): {e}"))?;
    send(&Message::Ready);
    if let Some(c) = job.device_counters.clone() {
        workloads::device_reads::watch(c);
    }
    if let Some(limit) = job.memory_limit {
        runner::set_memory_limit(limit);
    }
    let kind: EngineKind = match job.engine.parse() {
        Ok(k) => k,
        Err(e) => {
            send(&Message::Error {
                open: true,
                message: format!("{e}"),
            });
            return Ok(ExitCode::FAILURE);
        }
    };
    let progress = |p: &runner::Progress| send(&Message::Progress(*p));
    let cfg = RunConfig {
        dir: Some(job.dir.clone()),
        temp_parent: None,
        cold_cache: job.cold_cache,
        stop: &signal::STOP,
        progress: &progress,
        calibration: job.calibration.clone(),
    };
    let eut = EngineUnderTest::builtin(kind, job.options.clone());
    match runner::run(&job.spec, &eut, &cfg) {
        Ok(r) => {
            send(&Message::Result(Box::new(r)));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            send(&Message::Error {
                open: matches!(e, RunError::Open(_)),
                message: e.to_string(),
            });
            Ok(ExitCode::FAILURE)
        }
    }
}

fn send(m: &Message) {
    let mut out = std::io::stdout().lock();
    // A parent that went away cannot be told; the child then ends with the run.
    let _ = writeln!(out, "{}", m.to_line());
    let _ = out.flush();
}
