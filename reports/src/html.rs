//! HTML escaping, number formatting and the page skeleton (inline CSS, optional sorting
//! script). Everything that comes from a result file goes through [`escape`].

use std::fmt::Write as _;

use crate::model::Model;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `Some(x)` when `x` is finite, for figures that may be NaN or infinite.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A number in plain form with about three significant digits: `12.3`, `4560`, `12.3 k`,
/// `1.23 M`; a figure too small to show in two decimals is `< 0.01` (never `9.69e-6`).
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", x / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.01 {
        format!("{x:.2}")
    } else if x > 0.0 {
        "< 0.01".into()
    } else {
        "> -0.01".into()
    }
}

/// Bytes in binary units: `512 B`, `4.0 KiB`, `1.50 MiB`.
pub fn bytes(b: f64) -> String {
    if !b.is_finite() {
        return "n/a".into();
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut u = 0;
    while v.abs() >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// A duration given in nanoseconds, in the unit that suits it.
pub fn nanos(ns: f64) -> String {
    if !ns.is_finite() {
        "n/a".into()
    } else if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
margin:0 auto;max-width:1300px;padding:1em 2em;color:#222;line-height:1.4}\
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}\
th{background:#f2f2f2;cursor:pointer}td.l,th.l{text-align:left}\
td.best{font-weight:bold;background:#e6f4ea}td.best::after{content:' \\2605';color:#009E73}\
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:middle}\
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{border:1px solid #eee;margin:0}\
.warn{background:#fff4e5;border-left:4px solid #E69F00;padding:.4em .8em}\
.note{color:#555;font-size:13px}pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:12px}\
.narrative{background:#f3f8fc;border-left:4px solid #0072B2;padding:.4em .8em}\
nav a{margin-right:1em}.scroll{overflow-x:auto;max-width:100%}\
.scroll td:first-child,.scroll th:first-child{position:sticky;left:0;z-index:1;background:#fff;box-shadow:1px 0 0 #ccc}\
.scroll th:first-child{background:#f2f2f2}\
table.claims td{white-space:normal;vertical-align:top}table.claims td.claim{min-width:16em;max-width:24em}\
table.claims ul{margin:0 0 .3em;padding-left:1.2em}\
.verdict{font-weight:bold}.holds{background:#e6f4ea}.fails{background:#fde8e4}\
.undecided{background:#fff4e5}.unmeasured{background:#eee;color:#555}\
.mark{font-size:12px;padding:0 .3em;border-radius:3px}";

/// Optional sugar: click a header to sort a table by that column (`data-v` holds the exact
/// value). The page is complete without it.
const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){\
th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0];\
var rows=Array.from(b.rows),d=th.dataset.dir==='a'?-1:1;th.dataset.dir=d>0?'a':'d';\
rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];if(!a||!c)return 0;\
var p=parseFloat(a.dataset.v),q=parseFloat(c.dataset.v);\
if(isNaN(p)||isNaN(q))return d*a.textContent.localeCompare(c.textContent);return d*(p-q);});\
rows.forEach(function(r){b.appendChild(r);});});});";

/// The page being written.
pub struct Page {
    buf: String,
    toc: Vec<(String, String)>,
}

impl Page {
    pub fn new(title: &str) -> Page {
        let mut buf = String::with_capacity(1 << 20);
        buf.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        let _ = write!(
            buf,
            "<title>{}</title><style>{CSS}</style></head><body>",
            escape(title)
        );
        Page {
            buf,
            toc: Vec::new(),
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// The buffer, to `write!` into.
    pub fn buf(&mut self) -> &mut String {
        &mut self.buf
    }

    /// Title, summary line, warnings and the place of the table of contents.
    pub fn header(&mut self, model: &Model, warnings: &[String]) {
        let _ = write!(
            self.buf,
            "<h1>kvbench report</h1><p class=\"note\">{} results, {} workloads, {} engines: {}</p>",
            model.results.len(),
            model.workloads.len(),
            model.engines.len(),
            model
                .engines
                .iter()
                .map(|e| format!("{}{}", model.swatch(e), escape(e)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for w in warnings {
            let _ = write!(self.buf, "<p class=\"warn\">Skipped: {}</p>", escape(w));
        }
        self.buf.push_str("<!--TOC-->");
    }

    pub fn section_start(&mut self, id: &str, title: &str, class: &str) {
        self.toc.push((id.to_string(), title.to_string()));
        let _ = write!(
            self.buf,
            "<section id=\"{}\" class=\"{}\"><h2>{}</h2>",
            escape(id),
            escape(class),
            escape(title)
        );
    }

    pub fn section_end(&mut self) {
        self.buf.push_str("</section>");
    }

    /// Closes the page, filling in the table of contents.
    pub fn finish(mut self) -> String {
        let mut nav = String::from("<nav>");
        for (id, title) in &self.toc {
            let _ = write!(nav, "<a href=\"#{}\">{}</a>", escape(id), escape(title));
        }
        nav.push_str("</nav>");
        self.buf = self.buf.replacen("<!--TOC-->", &nav, 1);
        let _ = writeln!(self.buf, "<script>{SCRIPT}</script></body></html>");
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }

    #[test]
    fn formats_numbers() {
        assert_eq!(num(f64::NAN), "n/a");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1234.0), "1234");
        assert_eq!(num(12345.0), "12.3 k");
        assert_eq!(num(2.5e6), "2.50 M");
        assert_eq!(num(9.69e-6), "< 0.01");
        assert_eq!(num(-3e-4), "> -0.01");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(bytes(4096.0), "4.00 KiB");
        assert_eq!(bytes(10.0), "10 B");
        assert_eq!(nanos(1500.0), "1.5 µs");
        assert_eq!(nanos(2.5e6), "2.50 ms");
    }
}
