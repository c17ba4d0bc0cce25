//! Progress of a run: a bar (indicatif) when stderr is a terminal, a plain line every few
//! seconds otherwise; and of a batch of runs ([`Eta`]): which step runs and about how long
//! the batch has left.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;

use engines::EngineKind;
use workloads::spec::WorkloadSpec;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use workloads::result::PhaseKind;
use workloads::runner::Progress;

/// Seconds between plain progress lines.
const PLAIN_EVERY: f64 = 5.0;

pub struct Reporter {
    label: String,
    bar: Option<ProgressBar>,
    state: Mutex<(Option<PhaseKind>, f64)>,
}

fn phase_name(p: PhaseKind) -> &'static str {
    match p {
        PhaseKind::Load => "load",
        PhaseKind::Run => "run",
    }
}

impl Reporter {
    pub fn new(label: String) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{prefix} [{bar:24}] {pos}/{len} {msg} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(label.clone());
            b
        });
        if bar.is_none() {
            eprintln!("{label}: starting");
        }
        Reporter {
            label,
            bar,
            state: Mutex::new((None, 0.0)),
        }
    }

    /// The runner's progress callback.
    pub fn update(&self, p: &Progress) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let new_phase = st.0 != Some(p.phase);
        if new_phase {
            *st = (Some(p.phase), 0.0);
        }
        match &self.bar {
            Some(b) => {
                if new_phase {
                    b.reset();
                }
                b.set_message(format!(
                    "{} {:.0} ops/s",
                    phase_name(p.phase),
                    p.ops_per_sec
                ));
                match (p.ops_total, p.duration_secs) {
                    (Some(total), _) => {
                        b.set_length(total);
                        b.set_position(p.ops_done);
                    }
                    (None, Some(d)) => {
                        b.set_length(d.ceil() as u64);
                        b.set_position(p.elapsed_secs as u64);
                    }
                    (None, None) => b.set_position(p.ops_done),
                }
            }
            None => {
                if p.elapsed_secs - st.1 >= PLAIN_EVERY {
                    st.1 = p.elapsed_secs;
                    let of = p.ops_total.map_or(String::new(), |t| format!("/{t}"));
                    eprintln!(
                        "{}: {} {}{of} ops, {:.0} s, {:.0} ops/s",
                        self.label,
                        phase_name(p.phase),
                        p.ops_done,
                        p.elapsed_secs,
                        p.ops_per_sec
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Guessed cost of a run before any has been timed, seconds per unit of [`cost`].
const PRIOR_SECS_PER_UNIT: f64 = 10e-6;

/// A run's size in units that take about the same time on any engine: a loaded record, an
/// operation, and a scan counted as five (it reads up to a hundred keys).
fn cost(spec: &WorkloadSpec) -> f64 {
    let scan = spec.mix.scan / spec.mix.sum().max(f64::MIN_POSITIVE);
    spec.record_count as f64 + spec.operation_count as f64 * (1.0 + 4.0 * scan)
}

/// One planned step of a batch.
struct Step {
    label: String,
    /// `(engine, workload, size)` of a run; `None` for other steps.
    run: Option<(EngineKind, String, u64)>,
    cost: f64,
    /// A step that is not a run: its guessed length until it has run.
    guess_secs: f64,
    secs: Option<f64>,
}

/// The plan of a batch of runs and how long is left: each run is estimated from the runs
/// already made (the same engine and workload at the same size, then at another size scaled
/// by its size, then the engine's own pace, then every engine's), and the user is told
/// before each step what it is and about how long the whole batch still takes.
pub struct Eta {
    started: Instant,
    steps: Vec<Step>,
    next: usize,
    current: Option<Instant>,
}

impl Default for Eta {
    fn default() -> Self {
        Eta::new()
    }
}

impl Eta {
    pub fn new() -> Eta {
        Eta {
            started: Instant::now(),
            steps: Vec::new(),
            next: 0,
            current: None,
        }
    }

    /// Plans one run.
    pub fn plan_run(&mut self, kind: EngineKind, spec: &WorkloadSpec, label: String) {
        self.steps.push(Step {
            label,
            run: Some((kind, spec.name.clone(), spec.record_count)),
            cost: cost(spec),
            guess_secs: 0.0,
            secs: None,
        });
    }

    /// Plans every spec on every engine `repeat` times, interleaved as
    /// [`super::compare::Batch::run_interleaved`] runs them.
    pub fn plan_interleaved(&mut self, specs: &[WorkloadSpec], kinds: &[EngineKind], repeat: u32) {
        for i in 1..=repeat {
            for spec in specs {
                for &kind in kinds {
                    let mut label = format!("{} {}", kind.name(), spec.name);
                    if repeat > 1 {
                        label.push_str(&format!(" ({i} of {repeat})"));
                    }
                    self.plan_run(kind, spec, label);
                }
            }
        }
    }

    /// Plans a step that is not a run, guessed to take `guess_secs`.
    pub fn plan_step(&mut self, label: &str, guess_secs: f64) {
        self.steps.push(Step {
            label: label.to_string(),
            run: None,
            cost: 0.0,
            guess_secs,
            secs: None,
        });
    }

    /// The next step starts: one line on what it is and how long the batch has left.
    pub fn start(&mut self) {
        self.current = Some(Instant::now());
        if let Some(s) = self.steps.get(self.next) {
            eprintln!(
                "[{} of {}, {} so far, about {} left] {}",
                self.next + 1,
                self.steps.len(),
                duration(self.started.elapsed().as_secs_f64()),
                duration(self.left_secs()),
                s.label
            );
        }
    }

    /// The step started last has ended.
    pub fn done(&mut self) {
        let secs = self
            .current
            .take()
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        if let Some(s) = self.steps.get_mut(self.next) {
            s.secs = Some(secs);
        }
        self.next += 1;
    }

    /// The next step will not run (its engine did not open).
    pub fn skip(&mut self) {
        if let Some(s) = self.steps.get_mut(self.next) {
            s.secs = Some(0.0);
        }
        self.next += 1;
    }

    /// Estimated seconds of the steps not yet finished.
    pub fn left_secs(&self) -> f64 {
        self.steps[self.next.min(self.steps.len())..]
            .iter()
            .map(|s| self.estimate(s))
            .sum()
    }

    fn estimate(&self, s: &Step) -> f64 {
        let Some((kind, workload, size)) = &s.run else {
            return s.guess_secs;
        };
        let done: Vec<(&Step, f64)> = self
            .steps
            .iter()
            .filter(|d| d.run.is_some() && d.cost > 0.0)
            .filter_map(|d| Some((d, d.secs.filter(|x| *x > 0.0)?)))
            .collect();
        let pace = |pick: &dyn Fn(&(EngineKind, String, u64)) -> bool| -> Option<f64> {
            let (secs, cost) = done
                .iter()
                .filter(|(d, _)| d.run.as_ref().is_some_and(pick))
                .fold((0.0, 0.0), |(a, b), (d, x)| (a + x, b + d.cost));
            (cost > 0.0).then(|| secs / cost)
        };
        let rate = pace(&|r| r.0 == *kind && r.1 == *workload && r.2 == *size)
            .or_else(|| pace(&|r| r.0 == *kind && r.1 == *workload))
            .or_else(|| pace(&|r| r.0 == *kind))
            .or_else(|| pace(&|_| true))
            .unwrap_or(PRIOR_SECS_PER_UNIT);
        rate * s.cost
    }
}

/// `45 s`, `6 min 10 s`.
pub fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, records: u64, ops: u64) -> WorkloadSpec {
        let mut s = workloads::presets::preset(name).unwrap();
        s.record_count = records;
        s.operation_count = ops;
        s
    }

    #[test]
    fn time_left_learns_from_the_runs_made() {
        let mut eta = Eta::new();
        let small = spec("read-heavy", 1_000, 1_000);
        let big = spec("read-heavy", 10_000, 10_000);
        eta.plan_step("calibration", 7.0);
        eta.plan_run(EngineKind::Lsm, &small, "a".into());
        eta.plan_run(EngineKind::Lsm, &small, "b".into());
        eta.plan_run(EngineKind::Lsm, &big, "c".into());
        let prior = 7.0 + PRIOR_SECS_PER_UNIT * (2.0 * 2_000.0 + 20_000.0);
        assert!((eta.left_secs() - prior).abs() < 1e-9);
        // The calibration took 3 s, the first small run 2 s: the second is guessed at 2 s,
        // the big one (ten times the size) at 20 s.
        eta.steps[0].secs = Some(3.0);
        eta.steps[1].secs = Some(2.0);
        eta.next = 2;
        assert!((eta.left_secs() - 22.0).abs() < 1e-9, "{}", eta.left_secs());
        eta.skip();
        eta.skip();
        assert_eq!(eta.left_secs(), 0.0);
    }

    #[test]
    fn durations_read_plainly() {
        assert_eq!(duration(44.6), "45 s");
        assert_eq!(duration(370.0), "6 min 10 s");
        assert_eq!(duration(-1.0), "0 s");
    }
}
