//! The report in headless Chromium: the page loads, the DOM Chromium builds holds every SVG
//! chart, the claims section and the scaling charts, nothing makes the page wider than a
//! 1400-pixel window (wide tables scroll inside their own box), and the screenshot is not
//! blank (it compresses to far more bytes than a blank page of the same size). Skipped, with
//! a notice, when `/usr/bin/chromium` is missing (a failure instead when
//! `KVBENCH_REQUIRE_CHROMIUM` is set, as `.ci/run` does).
//!
//! `KVBENCH_SCREENSHOT=path.png` also copies the screenshot there (`KVBENCH_REPORT_OUT` the
//! page); `KVBENCH_REPORT=file.html`
//! screenshots that report instead of one made from the test fixtures (this is how the
//! README's picture is made: see reports/screenshot.sh).

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The window width the page must fit.
const WIDTH: u32 = 1400;

/// Appended to a copy of the page: once laid out, writes into `body[data-overflow]` the
/// page's scroll width, the window's width and the first elements whose right edge lies
/// beyond the window outside a scrolling box.
const MEASURE: &str = "<script>(function(){var d=document.documentElement,w=d.clientWidth,o=[];\
document.querySelectorAll('body *').forEach(function(e){if(e.closest('.scroll'))return;\
if(e.getBoundingClientRect().right>w+1)o.push(e.tagName.toLowerCase()+(e.id?'#'+e.id:''));});\
document.body.setAttribute('data-overflow',d.scrollWidth+' '+w+' '+o.slice(0,8).join(','));})();</script>";

/// Runs Chromium headless with `args` and the page, killing it after 60 s.
fn chromium(args: &[&str], page: &Path, profile: &Path) -> Output {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
    // Read stdout on a thread so a large DOM cannot fill the pipe while we wait.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut v).map(|_| v)
    });
    loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            let stdout = reader.join().unwrap().unwrap_or_default();
            let mut stderr = Vec::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_end(&mut e, &mut stderr);
            }
            return Output {
                status,
                stdout,
                stderr,
            };
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn screenshot(page: &Path, out: &Path, profile: &Path) -> Vec<u8> {
    let shot = format!("--screenshot={}", out.display());
    let window = format!("--window-size={WIDTH},3000");
    let o = chromium(&[&shot, &window], page, profile);
    let png = std::fs::read(out).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}); chromium said: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    png
}

#[test]
fn chromium_loads_the_report_and_draws_its_charts() {
    if !Path::new(CHROMIUM).exists() {
        // CI installs Chromium and sets this, so there a missing browser fails the test.
        assert!(
            std::env::var_os("KVBENCH_REQUIRE_CHROMIUM").is_none(),
            "{CHROMIUM} is missing and KVBENCH_REQUIRE_CHROMIUM is set"
        );
        // Written to the stderr handle itself, which the test harness does not capture, so
        // the notice shows in a plain `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: {CHROMIUM} is missing, so the report was not checked in a browser (apt-get install chromium; CI installs it and sets KVBENCH_REQUIRE_CHROMIUM=1) ***\n"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page: PathBuf = match std::env::var_os("KVBENCH_REPORT") {
        Some(p) => std::fs::canonicalize(p).expect("KVBENCH_REPORT"),
        None => {
            // The runner's own results only (no relabelled stand-ins): this page is also the
            // README's picture.
            let genuine: Vec<_> = common::fixtures()
                .iter()
                .filter(|r| r.engine.name == "memory")
                .cloned()
                .collect();
            let p = dir.path().join("report.html");
            std::fs::write(&p, reports::render(&genuine, None)).unwrap();
            p
        }
    };
    let html = std::fs::read_to_string(&page).unwrap();
    let charts = html.matches("<svg").count();
    assert!(charts >= 3, "the report has charts");

    let dom = chromium(&["--dump-dom"], &page, &dir.path().join("p1"));
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("kvbench report"), "the page loaded");
    assert_eq!(
        dom.matches("<svg").count(),
        charts,
        "every chart is in the DOM"
    );
    assert!(dom.contains("<section id=\"environment\""));
    assert!(
        dom.contains("<section id=\"claims\"") && dom.contains("id=\"claim7\""),
        "the claims section, every claim"
    );
    let scaling = dom
        .split("<section id=\"scaling\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("the scaling section");
    assert!(
        scaling.contains("<svg") && scaling.contains("by record count"),
        "scaling charts"
    );

    // No horizontal overflow at 1400 px: the page is as wide as the window.
    let measured = dir.path().join("measured.html");
    std::fs::write(
        &measured,
        html.replace("</body>", &format!("{MEASURE}</body>")),
    )
    .unwrap();
    let window = format!("--window-size={WIDTH},3000");
    let out = chromium(&["--dump-dom", &window], &measured, &dir.path().join("p4"));
    let dom = String::from_utf8_lossy(&out.stdout);
    let m = dom
        .split("data-overflow=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the measuring script ran");
    let mut f = m.split(' ');
    let scroll_width: u32 = f.next().unwrap().parse().unwrap();
    let window_width: u32 = f.next().unwrap().parse().unwrap();
    let beyond = f.next().unwrap_or("");
    eprintln!("page {scroll_width} px wide in a {window_width} px window");
    assert_eq!(window_width, WIDTH, "the window is {WIDTH} px wide");
    assert!(
        scroll_width <= window_width && beyond.is_empty(),
        "horizontal overflow at {WIDTH} px: the page is {scroll_width} px wide; beyond the window: {beyond}"
    );

    let shot = dir.path().join("report.png");
    let png = screenshot(&page, &shot, &dir.path().join("p2"));
    let blank_page = dir.path().join("blank.html");
    std::fs::write(&blank_page, "<!DOCTYPE html><html><body></body></html>").unwrap();
    let blank = screenshot(
        &blank_page,
        &dir.path().join("blank.png"),
        &dir.path().join("p3"),
    );
    eprintln!(
        "screenshot {} bytes, blank page {} bytes, {charts} charts",
        png.len(),
        blank.len()
    );
    assert!(
        png.len() > 10 * blank.len(),
        "the screenshot looks blank: {} bytes vs {} for a blank page",
        png.len(),
        blank.len()
    );
    if let Some(out) = std::env::var_os("KVBENCH_REPORT_OUT") {
        std::fs::copy(&page, &out).expect("copy the report");
    }
    if let Some(out) = std::env::var_os("KVBENCH_SCREENSHOT") {
        std::fs::copy(&shot, &out).expect("copy the screenshot");
        eprintln!("screenshot written to {}", Path::new(&out).display());
    }
}
