//! A count against a limit: a bar that fills from the start side, with the words under it. Without a
//! limit there is no bar, only the words (which say so).

use super::Chart;
use super::canvas::{Anchor, Canvas};

const WIDTH: f64 = 720.0;

/// `text` is what the meter says in words ("1,234 of 10,000 messages"); it is drawn under the bar.
pub fn meter(chart: &Chart, used: u64, limit: Option<u64>, text: &str) -> String {
    let Some(limit) = limit else {
        let mut canvas = Canvas::new(chart, "meter unlimited", WIDTH, 30.0);
        canvas.text(0.0, 20.0, Anchor::Start, "meter-text", text);
        return canvas.finish();
    };
    let mut canvas = Canvas::new(chart, "meter", WIDTH, 56.0);
    let share = if limit == 0 {
        1.0
    } else {
        (used as f64 / limit as f64).min(1.0)
    };
    let full = used >= limit;
    canvas.rect(0.0, 4.0, WIDTH, 16.0, "track");
    if used > 0 {
        let fill = if full { "fill full" } else { "fill" };
        canvas.rect(0.0, 4.0, (share * WIDTH).max(3.0), 16.0, fill);
    }
    canvas.text(0.0, 46.0, Anchor::Start, "meter-text", text);
    canvas.finish()
}
