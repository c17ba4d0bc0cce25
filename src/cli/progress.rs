//! Progress of a run: a bar (indicatif) when stderr is a terminal, a plain line every few
//! seconds otherwise.

use std::io::IsTerminal;
use std::sync::Mutex;

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
