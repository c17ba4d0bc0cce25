//! The three chart shapes the report uses, drawn with plotters into SVG strings: bars,
//! lines (with event markers, optional log axes) and a bubble scatter. Non-finite values are
//! dropped before drawing and ranges are padded, so no input makes plotters fail; if drawing
//! still fails, the chart is replaced by a note saying so.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::html::escape;
use crate::model::{variant, PALETTE};

pub const WIDTH: u32 = 620;
pub const HEIGHT: u32 = 340;

pub fn colour(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error>>;
/// Transformed points and markers of one line.
type Points = (Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Draws into a fresh SVG of the standard size; a drawing error becomes a visible note.
pub fn svg(title: &str, draw: impl FnOnce(&Area) -> DrawResult) -> String {
    let mut out = String::new();
    let res = {
        let backend = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT));
        let area = backend.into_drawing_area();
        area.fill(&WHITE)
            .map_err(|e| e.to_string().into())
            .and_then(|_| draw(&area))
            .and_then(|_| area.present().map_err(|e| e.to_string().into()))
    };
    match res {
        Ok(()) => format!("<figure class=\"chart\">{out}</figure>"),
        Err(e) => format!(
            "<p class=\"warn\">Chart “{}” could not be drawn: {}</p>",
            escape(title),
            escape(&e.to_string())
        ),
    }
}

/// `(lo, hi)` covering `vals` with some room, never empty.
pub fn padded(vals: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    // Clamped so that spans and padding stay finite.
    for v in vals
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(-1e300, 1e300))
    {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        return (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0));
    }
    let pad = span * 0.06;
    (
        if from_zero && lo >= 0.0 {
            0.0
        } else {
            lo - pad
        },
        hi + pad,
    )
}

/// One bar.
pub struct Bar {
    pub label: String,
    pub colour: usize,
    pub value: f64,
}

/// Vertical bars, one per item, labelled under the axis.
pub fn bars(title: &str, y_desc: &str, items: &[Bar], y_fmt: &dyn Fn(&f64) -> String) -> String {
    let items: Vec<&Bar> = items.iter().filter(|b| b.value.is_finite()).collect();
    svg(title, |area| {
        let n = items.len().max(1) as u32;
        let (_, hi) = padded(items.iter().map(|b| b.value), true);
        // Bars grow from zero; with no positive value the axis is 0..1.
        let hi = if hi > 0.0 { hi } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0u32..n).into_segmented(), 0f64..hi)?;
        let label_of = |v: &SegmentValue<u32>| match v {
            SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => items
                .get(*i as usize)
                .map_or(String::new(), |b| b.label.clone()),
            SegmentValue::Last => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(items.len().max(1))
            .x_label_formatter(&label_of)
            .y_desc(y_desc)
            .y_label_formatter(y_fmt)
            .draw()?;
        chart.draw_series(items.iter().enumerate().map(|(i, b)| {
            let i = i as u32;
            let mut r = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), b.value),
                ],
                colour(b.colour).filled(),
            );
            r.set_margin(0, 0, 12, 12);
            r
        }))?;
        if items.is_empty() {
            area.draw_text(
                "no figures to draw",
                &("sans-serif", 16).into_text_style(area),
                (WIDTH as i32 / 2 - 60, HEIGHT as i32 / 2),
            )?;
        }
        Ok(())
    })
}

/// A line of a line chart, with optional event markers (drawn as triangles on the line).
pub struct Line {
    pub label: String,
    pub colour: usize,
    pub points: Vec<(f64, f64)>,
    pub markers: Vec<(f64, f64)>,
}

/// Axis description: its title, whether it is log10, and how to print a tick (given the
/// untransformed value).
pub struct Axis<'a> {
    pub desc: &'a str,
    pub log: bool,
    /// Start a linear axis at zero (times, rates).
    pub from_zero: bool,
    pub fmt: &'a dyn Fn(f64) -> String,
}

/// The tick text of axis `a` at drawn position `v`: log axes spanning a decade or more are
/// labelled at whole decades only (1, 10, 100, ...).
fn tick_text(a: &Axis, v: f64, span: f64) -> String {
    if !a.log {
        return (a.fmt)(v);
    }
    let whole = (v - v.round()).abs() <= 1e-6;
    if span >= 1.0 && !whole {
        return String::new();
    }
    // Whole decades are printed exactly (10^3 is 1000, not 999.99...).
    (a.fmt)(if whole {
        10f64.powi(v.round() as i32)
    } else {
        10f64.powf(v)
    })
}

fn fwd(log: bool, v: f64) -> Option<f64> {
    if log {
        (v > 0.0).then(|| v.log10()).filter(|x| x.is_finite())
    } else {
        v.is_finite().then_some(v)
    }
}

/// Dash length and gap, pixels, of each line variant after the first (which is solid).
const DASHES: [(u32, u32); 4] = [(8, 4), (2, 3), (12, 4), (5, 2)];

/// Lines of at most this many points get a marker on every point.
const MARKED_POINTS: usize = 16;

/// Draws the marker of `variant` at each of `pts`.
fn marks<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    pts: &[(f64, f64)],
    variant: usize,
    c: RGBColor,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let p = pts.iter().copied();
    match variant % 5 {
        0 => chart.draw_series(p.map(|p| Circle::new(p, 4, c.filled())))?,
        1 => chart.draw_series(p.map(|p| TriangleMarker::new(p, 5, c.filled())))?,
        2 => chart.draw_series(p.map(|p| Cross::new(p, 5, c.stroke_width(2))))?,
        3 => chart.draw_series(
            p.map(|p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], c.filled())),
        )?,
        _ => chart.draw_series(p.map(|p| Circle::new(p, 4, c.stroke_width(2))))?,
    };
    Ok(())
}

/// Lines with a legend; log axes are drawn as log10 of the values with ticks printed back in
/// the values' units. Each line's colour gives its design family and shade; lines of the
/// same family differ in dash pattern too, and short lines carry markers of their own shape.
pub fn lines(title: &str, x: &Axis, y: &Axis, series: &[Line]) -> String {
    let tx = |s: &[(f64, f64)]| -> Vec<(f64, f64)> {
        s.iter()
            .filter_map(|&(a, b)| Some((fwd(x.log, a)?, fwd(y.log, b)?)))
            .collect()
    };
    let data: Vec<Points> = series
        .iter()
        .map(|l| (tx(&l.points), tx(&l.markers)))
        .collect();
    svg(title, |area| {
        let all = || data.iter().flat_map(|(p, m)| p.iter().chain(m.iter()));
        let (x0, x1) = padded(all().map(|p| p.0), x.from_zero && !x.log);
        let (y0, y1) = padded(all().map(|p| p.1), y.from_zero && !y.log);
        let xf = |v: &f64| tick_text(x, *v, x1 - x0);
        let yf = |v: &f64| tick_text(y, *v, y1 - y0);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x.desc)
            .y_desc(y.desc)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .draw()?;
        for (l, (pts, events)) in series.iter().zip(&data) {
            let c = colour(l.colour);
            let v = variant(l.colour);
            let label = l.label.clone();
            if v == 0 {
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
            } else {
                let (dash, gap) = DASHES[(v - 1) % DASHES.len()];
                chart
                    .draw_series(plotters::series::DashedLineSeries::new(
                        pts.iter().copied(),
                        dash,
                        gap,
                        c.stroke_width(2),
                    ))?
                    .label(label)
                    .legend(move |(x, y)| {
                        plotters::element::DashedPathElement::new(
                            vec![(x, y), (x + 20, y)],
                            dash,
                            gap,
                            c.stroke_width(2),
                        )
                    });
            }
            if pts.len() <= MARKED_POINTS {
                marks(&mut chart, pts, v, c)?;
            }
            chart.draw_series(
                events
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 6, BLACK.filled())),
            )?;
        }
        if data.iter().all(|(p, _)| p.is_empty()) {
            area.draw_text(
                "no figures to draw",
                &("sans-serif", 16).into_text_style(area),
                (WIDTH as i32 / 2 - 60, HEIGHT as i32 / 2),
            )?;
        }
        if !series.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()?;
        }
        Ok(())
    })
}

/// A point of the bubble scatter: x, y and a size figure.
pub struct Bubble {
    pub label: String,
    pub colour: usize,
    pub x: f64,
    pub y: f64,
    pub size: f64,
}

/// Scatter with marker area growing with `size` (radius 5 + 5 per unit above 1, capped).
pub fn bubbles(title: &str, x: &Axis, y: &Axis, items: &[Bubble]) -> String {
    let pts: Vec<(&Bubble, f64, f64)> = items
        .iter()
        .filter_map(|b| Some((b, fwd(x.log, b.x)?, fwd(y.log, b.y)?)))
        .collect();
    svg(title, |area| {
        let (x0, x1) = padded(pts.iter().map(|p| p.1), x.from_zero && !x.log);
        let (y0, y1) = padded(pts.iter().map(|p| p.2), y.from_zero && !y.log);
        let xf = |v: &f64| tick_text(x, *v, x1 - x0);
        let yf = |v: &f64| tick_text(y, *v, y1 - y0);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x.desc)
            .y_desc(y.desc)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .draw()?;
        for (b, px, py) in &pts {
            let c = colour(b.colour);
            let r = radius(b.size);
            chart
                .draw_series(std::iter::once(Circle::new(
                    (*px, *py),
                    r,
                    c.mix(0.7).filled(),
                )))?
                .label(format!(
                    "{} (space amp {})",
                    b.label,
                    crate::html::num(b.size)
                ))
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
        }
        if pts.is_empty() {
            area.draw_text(
                "no engine has both figures",
                &("sans-serif", 16).into_text_style(area),
                (WIDTH as i32 / 2 - 90, HEIGHT as i32 / 2),
            )?;
        } else {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
        }
        Ok(())
    })
}

/// Marker radius in pixels for a space amplification figure.
pub fn radius(size: f64) -> i32 {
    if !size.is_finite() {
        return 5;
    }
    (5.0 + 5.0 * (size - 1.0).max(0.0)).min(30.0) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_finite_and_not_empty() {
        let cases: [&[f64]; 7] = [
            &[],
            &[f64::NAN],
            &[5.0],
            &[0.0, 0.0],
            &[f64::MAX, f64::MIN],
            &[f64::MAX],
            &[-3.0, 7.0],
        ];
        for vals in cases {
            for from_zero in [false, true] {
                let (lo, hi) = padded(vals.iter().copied(), from_zero);
                assert!(
                    lo.is_finite() && hi.is_finite() && lo < hi,
                    "{vals:?}: {lo}..{hi}"
                );
                for v in vals.iter().filter(|v| v.is_finite() && v.abs() < 1e300) {
                    assert!(lo <= *v && *v <= hi, "{vals:?} {from_zero}");
                }
            }
        }
        assert_eq!(padded([2.0, 10.0].into_iter(), true).0, 0.0);
    }

    #[test]
    fn bars_draw_whatever_the_values() {
        let mk = |v: f64| Bar {
            label: "x".into(),
            colour: 0,
            value: v,
        };
        for vals in [
            vec![],
            vec![-5.0],
            vec![0.0, 0.0],
            vec![f64::NAN, 3.0],
            vec![1e300, -1e300],
        ] {
            let items: Vec<Bar> = vals.into_iter().map(mk).collect();
            let svg = bars("t", "y", &items, &|v| format!("{v}"));
            assert!(
                svg.starts_with("<figure") && svg.contains("</svg>"),
                "{svg}"
            );
        }
    }

    #[test]
    fn lines_and_bubbles_draw_whatever_the_values() {
        let odd = [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 1e300, 5.0];
        let fmt = |v: f64| format!("{v}");
        for log in [false, true] {
            let axis = Axis {
                desc: "d",
                log,
                from_zero: !log,
                fmt: &fmt,
            };
            let line = Line {
                label: "<l>".into(),
                colour: 9,
                points: odd
                    .iter()
                    .zip(odd.iter().rev())
                    .map(|(a, b)| (*a, *b))
                    .collect(),
                markers: vec![(f64::NAN, 1.0), (2.0, 2.0)],
            };
            let svg = lines("t", &axis, &axis, &[line]);
            assert!(svg.contains("</svg>") && !svg.contains("<l>"), "{svg}");
            assert!(lines("t", &axis, &axis, &[]).contains("</svg>"));
            let b: Vec<Bubble> = odd
                .iter()
                .map(|&v| Bubble {
                    label: "b".into(),
                    colour: 1,
                    x: v,
                    y: v,
                    size: v,
                })
                .collect();
            assert!(bubbles("t", &axis, &axis, &b).contains("</svg>"));
        }
    }

    #[test]
    fn log_ticks_at_whole_decades() {
        let fmt = |v: f64| crate::html::nanos(v * 1e3);
        let a = Axis {
            desc: "",
            log: true,
            from_zero: false,
            fmt: &fmt,
        };
        assert_eq!(tick_text(&a, 0.0, 2.0), "1.0 µs");
        assert_eq!(tick_text(&a, 0.5, 2.0), "");
        assert_eq!(tick_text(&a, 0.5, 0.8), "3.2 µs");
    }

    #[test]
    fn marker_radius_is_bounded() {
        assert_eq!(radius(f64::NAN), 5);
        assert_eq!(radius(1.0), 5);
        assert_eq!(radius(1e9), 30);
        assert_eq!(radius(-4.0), 5);
    }
}
