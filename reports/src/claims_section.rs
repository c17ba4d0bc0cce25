//! The report's section of the textbook's claims: one row per claim with its verdict, the
//! rule that decided it, the checks (each with its figures) and the engines and sizes it
//! rests on. The claims themselves are computed in [`crate::claims`].

use std::fmt::Write as _;

use crate::claims::{Claim, Outcome};
use crate::html::{escape, Page};

pub fn write(page: &mut Page, claims: &[Claim]) {
    page.section_start("claims", "The textbook's claims, checked", "claims");
    let b = page.buf();
    b.push_str("<p class=\"note\">Each claim of the course material this suite is built on, checked against the numbers of these results by a fixed rule. A speed difference counts only when the 95% intervals of repeated runs do not overlap; byte counts (amplification, memory) decide from one run. <b>holds</b>: some check supports the claim and none contradicts it; <b>does not hold</b>: a check contradicts it; <b>undecided</b>: no check could decide; <b>not measured</b>: these results hold nothing to check it on.</p>");
    b.push_str("<table class=\"claims\"><thead><tr><th class=\"l\">#</th><th class=\"l\">claim</th><th class=\"l\">verdict</th><th class=\"l\">the figures behind it</th></tr></thead><tbody>");
    for c in claims {
        let _ = write!(
            b,
            "<tr id=\"claim{}\"><td class=\"l\">{}</td><td class=\"l claim\"><b>{}</b><br><span class=\"note\">Rule: {}</span></td><td class=\"l verdict {}\">{}</td><td class=\"l checks\">",
            c.number,
            c.number,
            escape(c.statement),
            escape(c.rule),
            c.verdict.class(),
            escape(&c.verdict.text())
        );
        if c.checks.is_empty() {
            b.push('–');
        } else {
            b.push_str("<ul>");
            for k in &c.checks {
                let (class, mark) = match &k.outcome {
                    Outcome::Supports => ("holds", "supports".to_string()),
                    Outcome::Contradicts => ("fails", "contradicts".to_string()),
                    Outcome::Undecided(why) => ("undecided", format!("undecided: {why}")),
                };
                let _ = write!(
                    b,
                    "<li><span class=\"mark {class}\">{}</span> {}: {}</li>",
                    escape(&mark),
                    escape(&k.what),
                    escape(&k.figures)
                );
            }
            b.push_str("</ul>");
        }
        let _ = write!(
            b,
            "<span class=\"note\">Rests on: {}</span></td></tr>",
            escape(&c.rests_on)
        );
    }
    b.push_str("</tbody></table>");
    page.section_end();
}
