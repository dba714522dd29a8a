//! Horizontal bars with their words above them, largest first as given (failures by error code).

use super::canvas::{Anchor, Canvas, text_width};
use super::{Chart, Ranked, count};

const WIDTH: f64 = 720.0;
const ROW: f64 = 40.0;
/// Words longer than this are cut (the whole text stays in the bar's tooltip).
const MAX_CHARS: usize = 110;

pub fn ranked_bars(chart: &Chart, rows: &[Ranked]) -> String {
    let height = (rows.len() as f64 * ROW).max(ROW) + 4.0;
    let max = rows.iter().map(|r| r.value).max().unwrap_or(0).max(1);
    let widest_number = rows
        .iter()
        .map(|r| text_width(&count(chart.lang, r.value)))
        .fold(0.0, f64::max);
    let room = WIDTH - widest_number - 10.0;
    let mut canvas = Canvas::new(chart, "ranked", WIDTH, height);
    for (i, row) in rows.iter().enumerate() {
        let top = i as f64 * ROW;
        let number = count(chart.lang, row.value);
        canvas.open("row", Some(&format!("{}: {number}", row.label)));
        canvas.text(0.0, top + 14.0, Anchor::Start, "bar-label", &cut(row.label));
        let length = if row.value == 0 {
            0.0
        } else {
            (row.value as f64 / max as f64 * room).max(2.0)
        };
        canvas.rect(0.0, top + 24.0, room, 14.0, "track");
        canvas.rect(0.0, top + 24.0, length, 14.0, "bar");
        canvas.text(
            room + 6.0,
            top + 35.5,
            Anchor::Start,
            "value-label",
            &number,
        );
        canvas.close();
    }
    canvas.finish()
}

fn cut(label: &str) -> String {
    if label.chars().count() <= MAX_CHARS {
        return label.to_owned();
    }
    let mut short: String = label.chars().take(MAX_CHARS - 1).collect();
    short.push('…');
    short
}
