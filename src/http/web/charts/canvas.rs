//! The drawing surface every chart writes to: SVG elements with classes, coordinates laid out left to
//! right and mirrored here for a right-to-left language, every text escaped.

use super::Chart;
use crate::domain::lang::Lang;
use crate::http::web::escape;
use std::fmt::Write;

/// Where a text stands against its position, in the reading direction (`start` is the right side in
/// Arabic, as SVG's `text-anchor` reads it under `direction="rtl"`).
#[derive(Clone, Copy)]
pub(super) enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    fn as_str(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

pub(super) struct Canvas {
    out: String,
    width: f64,
    rtl: bool,
}

impl Canvas {
    /// Opens the image: its size in drawing units (it scales to the width of its place on the page),
    /// its kind (a class), and its title and summary.
    pub(super) fn new(chart: &Chart, kind: &str, width: f64, height: f64) -> Canvas {
        let rtl = chart.lang == Lang::Ar;
        let (title, summary) = (escape(chart.title), escape(chart.summary));
        let mut out = String::with_capacity(8 * 1024);
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart {kind}" viewBox="0 0 {w} {h}" role="img" aria-label="{title}. {summary}" direction="{dir}" lang="{lang}"><title>{title}</title><desc>{summary}</desc>"#,
            kind = class(kind),
            w = num(width),
            h = num(height),
            dir = chart.lang.dir(),
            lang = chart.lang.code(),
        );
        Canvas { out, width, rtl }
    }

    /// A position across, as laid out left to right, where the language puts it.
    fn x(&self, x: f64) -> f64 {
        if self.rtl { self.width - x } else { x }
    }

    pub(super) fn open(&mut self, class_name: &str, tip: Option<&str>) {
        let _ = write!(self.out, r#"<g class="{}">"#, class(class_name));
        if let Some(tip) = tip {
            let _ = write!(self.out, "<title>{}</title>", escape(tip));
        }
    }

    pub(super) fn close(&mut self) {
        self.out.push_str("</g>");
    }

    pub(super) fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, class_name: &str) {
        let left = if self.rtl { self.width - x - width } else { x };
        let _ = write!(
            self.out,
            r#"<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>"#,
            class(class_name),
            num(left),
            num(y),
            num(width.max(0.0)),
            num(height.max(0.0)),
        );
    }

    pub(super) fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class_name: &str) {
        let _ = write!(
            self.out,
            r#"<line class="{}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
            class(class_name),
            num(self.x(x1)),
            num(y1),
            num(self.x(x2)),
            num(y2),
        );
    }

    pub(super) fn polyline(&mut self, points: &[(f64, f64)], class_name: &str) {
        let points: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{},{}", num(self.x(*x)), num(*y)))
            .collect();
        let _ = write!(
            self.out,
            r#"<polyline class="{}" points="{}"/>"#,
            class(class_name),
            points.join(" "),
        );
    }

    pub(super) fn circle(&mut self, cx: f64, cy: f64, r: f64, class_name: &str) {
        let _ = write!(
            self.out,
            r#"<circle class="{}" cx="{}" cy="{}" r="{}"/>"#,
            class(class_name),
            num(self.x(cx)),
            num(cy),
            num(r),
        );
    }

    pub(super) fn text(&mut self, x: f64, y: f64, anchor: Anchor, class_name: &str, text: &str) {
        let _ = write!(
            self.out,
            r#"<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>"#,
            class(class_name),
            num(self.x(x)),
            num(y),
            anchor.as_str(),
            escape(text),
        );
    }

    pub(super) fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A class attribute's value: words of lower-case letters, digits and dashes; anything else is dropped.
fn class(names: &str) -> String {
    names
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == ' ')
        .collect()
}

/// A coordinate: one decimal, never NaN or infinite.
fn num(value: f64) -> String {
    let value = if value.is_finite() { value } else { 0.0 };
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
}

/// A rough width of a text in drawing units at the charts' font size (10), to lay out legends and axes.
pub(super) fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 5.6
}
