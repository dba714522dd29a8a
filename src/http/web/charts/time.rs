//! Charts over days: stacked bars of counts and lines of percentages. Days are laid out in the order
//! given (the oldest first), which the canvas mirrors for a right-to-left language.

use super::canvas::{Anchor, Canvas, text_width};
use super::{Chart, Series, count, percent, separator};

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 236.0;
/// The top of the plot, under the legend.
const TOP: f64 = 36.0;
/// The bottom of the plot (the zero line); the days' labels are under it.
const BOTTOM: f64 = 212.0;
const END: f64 = WIDTH - 8.0;

/// Where the days stand across the plot.
struct Frame {
    start: f64,
    days: usize,
}

impl Frame {
    fn slot(&self) -> f64 {
        (END - self.start) / self.days.max(1) as f64
    }

    fn center(&self, day: usize) -> f64 {
        self.start + self.slot() * (day as f64 + 0.5)
    }
}

/// Vertical bars, one per day, each split into the series stacked in the order given (the first at the
/// bottom). A day with no count has no bar; a count too small to see at the scale of a huge day still
/// gets a sliver.
pub fn stacked_bars(chart: &Chart, days: &[String], series: &[Series<u64>]) -> String {
    let value = |s: &Series<u64>, day: usize| s.values.get(day).copied().unwrap_or(0);
    let totals: Vec<u64> = (0..days.len())
        .map(|day| {
            series
                .iter()
                .fold(0u64, |sum, s| sum.saturating_add(value(s, day)))
        })
        .collect();
    let (step, top) = count_scale(totals.iter().copied().max().unwrap_or(0));
    let ticks: Vec<(f64, String)> = (0..)
        .map(|i| step.saturating_mul(i))
        .take_while(|v| *v <= top)
        .map(|v| (v as f64 / top as f64, count(chart.lang, v)))
        .collect();
    let mut canvas = Canvas::new(chart, "stacked", WIDTH, HEIGHT);
    legend(&mut canvas, series.iter().map(|s| (s.label, s.class)));
    let frame = value_axis(&mut canvas, &ticks, days.len());
    let width = (frame.slot() * 0.72).clamp(0.6, 40.0);
    for (day, label) in days.iter().enumerate() {
        if totals[day] == 0 {
            continue;
        }
        let parts: Vec<String> = series
            .iter()
            .map(|s| format!("{} {}", s.label, count(chart.lang, value(s, day))))
            .collect();
        canvas.open(
            "day",
            Some(&format!("{label}: {}", parts.join(separator(chart.lang)))),
        );
        let mut base = BOTTOM;
        for s in series {
            let v = value(s, day);
            if v == 0 {
                continue;
            }
            let height = (v as f64 / top as f64 * (BOTTOM - TOP)).max(1.0);
            base -= height;
            canvas.rect(
                frame.center(day) - width / 2.0,
                base,
                width,
                height,
                &format!("bar s-{}", s.class),
            );
        }
        canvas.close();
    }
    canvas.line(frame.start, BOTTOM, END, BOTTOM, "axis");
    day_labels(&mut canvas, days, &frame);
    canvas.finish()
}

/// Lines of percentages per day, from 0 to 100 %; a day without a value (`None`: nothing to divide
/// by) leaves a gap, and every value has a dot with its words.
pub fn rates(chart: &Chart, days: &[String], series: &[Series<Option<f64>>]) -> String {
    let ticks: Vec<(f64, String)> = [0.0, 25.0, 50.0, 75.0, 100.0]
        .into_iter()
        .map(|v| (v / 100.0, percent(chart.lang, v)))
        .collect();
    let mut canvas = Canvas::new(chart, "rates", WIDTH, HEIGHT);
    legend(&mut canvas, series.iter().map(|s| (s.label, s.class)));
    let frame = value_axis(&mut canvas, &ticks, days.len());
    let y = |v: f64| BOTTOM - v.clamp(0.0, 100.0) / 100.0 * (BOTTOM - TOP);
    for (nth, s) in series.iter().enumerate() {
        // Later series have smaller dots, so a dot on the same value as an earlier one still shows.
        let radius = (3.5 - nth as f64).max(1.5);
        let point = |day: usize| {
            s.values
                .get(day)
                .copied()
                .flatten()
                .filter(|v| v.is_finite())
        };
        let mut run: Vec<(f64, f64)> = Vec::new();
        for day in 0..=days.len() {
            match (day < days.len()).then(|| point(day)).flatten() {
                Some(v) => run.push((frame.center(day), y(v))),
                None => {
                    if run.len() > 1 {
                        canvas.polyline(&run, &format!("line s-{}", s.class));
                    }
                    run.clear();
                }
            }
        }
        for (day, label) in days.iter().enumerate() {
            if let Some(v) = point(day) {
                let tip = format!("{label}: {} {}", s.label, percent(chart.lang, v));
                canvas.open("point", Some(&tip));
                canvas.circle(
                    frame.center(day),
                    y(v),
                    radius,
                    &format!("dot s-{}", s.class),
                );
                canvas.close();
            }
        }
    }
    canvas.line(frame.start, BOTTOM, END, BOTTOM, "axis");
    day_labels(&mut canvas, days, &frame);
    canvas.finish()
}

/// A step and a top for a count axis of about four steps: 1, 2 or 5 times a power of ten, so the
/// labels are round numbers; all-zero data still gets an axis.
pub(super) fn count_scale(max: u64) -> (u64, u64) {
    let raw = max.div_ceil(4).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    let step = [1u64, 2, 5, 10]
        .into_iter()
        .map(|m| m.saturating_mul(magnitude))
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    (step, step.saturating_mul(max.div_ceil(step).max(1)))
}

/// The series' colours and names, in a row above the plot.
fn legend<'a>(canvas: &mut Canvas, items: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut x = 0.0;
    for (label, class) in items {
        canvas.rect(x, 6.0, 10.0, 10.0, &format!("swatch s-{class}"));
        canvas.text(x + 15.0, 15.0, Anchor::Start, "legend", label);
        x += 15.0 + text_width(label) + 18.0;
    }
}

/// The value axis: its labels (fractions of the top, with their words) and a grid line at each. Answers
/// where the days go, beside the labels.
fn value_axis(canvas: &mut Canvas, ticks: &[(f64, String)], days: usize) -> Frame {
    let widest = ticks
        .iter()
        .map(|(_, label)| text_width(label))
        .fold(0.0, f64::max);
    let start = widest + 12.0;
    for (fraction, label) in ticks {
        let y = BOTTOM - fraction * (BOTTOM - TOP);
        canvas.line(start, y, END, y, "grid");
        canvas.text(start - 6.0, y + 3.5, Anchor::End, "value-label", label);
    }
    Frame { start, days }
}

/// The days' labels under the plot: as many as fit, evenly spaced, always the first and the last (which
/// takes the place of the one before it when they would be too close).
fn day_labels(canvas: &mut Canvas, days: &[String], frame: &Frame) {
    if days.is_empty() {
        return;
    }
    let widest = days.iter().map(|d| text_width(d)).fold(0.0, f64::max);
    let fit = (((END - frame.start) / (widest + 12.0)) as usize).max(2);
    let step = days.len().div_ceil(fit).max(1);
    let last = days.len() - 1;
    let mut shown: Vec<usize> = (0..days.len()).step_by(step).collect();
    if shown.last() != Some(&last) {
        if shown.len() > 1 && last - shown[shown.len() - 1] < step {
            shown.pop();
        }
        shown.push(last);
    }
    for day in shown {
        canvas.line(
            frame.center(day),
            BOTTOM,
            frame.center(day),
            BOTTOM + 4.0,
            "tick",
        );
        canvas.text(
            frame.center(day),
            BOTTOM + 16.0,
            Anchor::Middle,
            "day-label",
            &days[day],
        );
    }
}
