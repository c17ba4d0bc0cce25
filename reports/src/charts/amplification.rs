//! Amplification: write, read and space bars per engine for each workload, and the RUM
//! picture: read against write amplification with space amplification as the marker size.

use super::plot::{bars, bubbles, Axis, Bar, Bubble};
use super::tick;
use crate::html::Page;
use crate::model::{has_files, main_phase, Model};

pub fn write(page: &mut Page, model: &Model) {
    page.section_start("amplification", "Amplification", "amplification");
    page.push_str("<p class=\"note\">Write amplification (settled: the engine was brought to rest inside the window) = bytes the engine wrote to its files / user bytes written (key + value of every put, key of every delete), by the engine's own count, or for the production engines by the device's; read amplification = bytes the engine read from its files per logical read; space amplification = blocks allocated on disk at the end / live key + value bytes. An engine without files (memory) has no amplification to speak of and is left out of these charts and columns. The RUM conjecture says an engine can keep at most two of the three low.</p>");
    for w in &model.workloads {
        if !w.main_series().any(|s| has_files(s.result)) {
            page.push_str(&format!(
                "<h3>{}</h3><p class=\"note\">No engine with files ran this workload: no amplification to show.</p>",
                crate::html::escape(&w.name)
            ));
            continue;
        }
        page.push_str(&format!(
            "<h3>{}</h3><div class=\"charts\">",
            crate::html::escape(&w.name)
        ));
        type Get = fn(&workloads::result::Amplification) -> Option<f64>;
        let figures: [(&str, &str, Get); 3] = [
            (
                "write amplification",
                "bytes written, settled (engine count, else the device's) / user bytes",
                |a| a.write_amp(),
            ),
            (
                "read amplification",
                "bytes read from files per read",
                |a| a.read_amp_bytes_per_read,
            ),
            (
                "space amplification",
                "allocated disk bytes / live bytes",
                |a| a.space_amp,
            ),
        ];
        for (name, desc, get) in figures {
            let items: Vec<Bar> = w
                .main_series()
                .filter(|s| has_files(s.result))
                .filter_map(|s| {
                    Some(Bar {
                        label: s.label.clone(),
                        colour: model.colour_index(&s.engine),
                        value: get(&main_phase(s.result)?.amplification)
                            .filter(|v| v.is_finite())?,
                    })
                })
                .collect();
            page.push_str(&bars(&format!("{}: {name}", w.name), desc, &items, &|v| {
                tick(*v)
            }));
        }
        let points: Vec<Bubble> = w
            .main_series()
            .filter(|s| has_files(s.result))
            .filter_map(|s| {
                let a = &main_phase(s.result)?.amplification;
                Some(Bubble {
                    label: s.label.clone(),
                    colour: model.colour_index(&s.engine),
                    x: a.read_amp_bytes_per_read?,
                    y: a.write_amp()?,
                    size: a.space_amp.unwrap_or(f64::NAN),
                })
            })
            .collect();
        page.push_str(&bubbles(
            &format!("{}: read vs write amplification (size = space amp)", w.name),
            &Axis {
                desc: "read amplification (bytes read per read, log)",
                log: true,
                from_zero: false,
                fmt: &tick,
            },
            &Axis {
                desc: "write amplification (log)",
                log: true,
                from_zero: false,
                fmt: &tick,
            },
            &points,
        ));
        page.push_str("</div>");
    }
    page.section_end();
}
