use super::time::count_scale;
use super::*;

fn chart(lang: Lang) -> Chart<'static> {
    Chart {
        lang,
        title: "Messages per day",
        summary: "What was sent",
    }
}

fn days(n: usize) -> Vec<String> {
    (1..=n).map(|d| format!("{d} Dec")).collect()
}

/// The x of every text of a class, in the order they are written.
fn xs(svg: &str, class: &str) -> Vec<f64> {
    let marker = format!(r#"<text class="{class}" x=""#);
    svg.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &svg[at + marker.len()..];
            rest[..rest.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// What every chart must be: an image with its words, no script, no inline style, numbers only.
fn assert_clean(svg: &str) {
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    assert!(svg.contains(r#"role="img""#) && svg.contains("<title>"));
    assert!(!svg.contains("style="), "{svg}");
    assert!(!svg.to_lowercase().contains("<script"), "{svg}");
    assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
    assert_eq!(svg.matches("<svg").count(), 1);
}

fn every_chart(
    chart: &Chart,
    labels: &[String],
    counts: &[u64],
    rates: &[Option<f64>],
) -> Vec<String> {
    let rows: Vec<Ranked> = labels
        .iter()
        .zip(counts)
        .map(|(label, value)| Ranked {
            label,
            value: *value,
        })
        .collect();
    vec![
        stacked_bars(
            chart,
            labels,
            &[
                Series {
                    label: labels.first().map_or("", |l| l),
                    class: "read",
                    values: counts,
                },
                Series {
                    label: "failed",
                    class: "failed",
                    values: counts,
                },
            ],
        ),
        super::rates(
            chart,
            labels,
            &[Series {
                label: "rate",
                class: "delivery",
                values: rates,
            }],
        ),
        ranked_bars(chart, &rows),
        meter(
            chart,
            counts.iter().sum(),
            Some(10),
            labels.first().map_or("", |l| l),
        ),
        meter(chart, 3, None, "no limit"),
    ]
}

#[test]
fn the_time_axis_runs_right_to_left_in_arabic() {
    let labels = days(30);
    let counts: Vec<u64> = (1..=30).collect();
    let series = [Series {
        label: "sent",
        class: "sent",
        values: &counts[..],
    }];
    let en = stacked_bars(&chart(Lang::En), &labels, &series);
    let ar = stacked_bars(&chart(Lang::Ar), &labels, &series);
    let (en_days, ar_days) = (xs(&en, "day-label"), xs(&ar, "day-label"));
    assert!(en_days.len() >= 2 && en_days.len() == ar_days.len());
    assert!(en_days.first() < en_days.last(), "{en_days:?}");
    assert!(ar_days.first() > ar_days.last(), "{ar_days:?}");
    assert!(
        en.contains(">1 Dec<") && en.contains(">30 Dec<"),
        "the first and last days are named"
    );
    // The value axis stands at the start side: left in English, right in Arabic.
    assert!(xs(&en, "value-label")[0] < 100.0);
    assert!(xs(&ar, "value-label")[0] > 620.0);
    assert!(ar.contains(r#"direction="rtl""#) && en.contains(r#"direction="ltr""#));

    let rates: Vec<Option<f64>> = (0..30).map(|d| Some(f64::from(d))).collect();
    let line = [Series {
        label: "rate",
        class: "delivery",
        values: &rates[..],
    }];
    let ar = super::rates(&chart(Lang::Ar), &labels, &line);
    let ar_days = xs(&ar, "day-label");
    assert!(ar_days.first() > ar_days.last(), "{ar_days:?}");
}

#[test]
fn numbers_are_written_with_western_digits_in_both_languages() {
    let labels = days(3);
    let counts = [1200u64, 0, 5];
    let series = [Series {
        label: "sent",
        class: "sent",
        values: &counts[..],
    }];
    let ar = stacked_bars(&chart(Lang::Ar), &labels, &series);
    assert!(ar.contains(">1,500<"), "{ar}");
    assert!(!ar.contains(">١٬٥٠٠<"));
    let en = stacked_bars(&chart(Lang::En), &labels, &series);
    assert!(en.contains(">1,500<"), "{en}");
    let rates = [Some(50.0), None, Some(100.0)];
    let ar = super::rates(
        &chart(Lang::Ar),
        &labels,
        &[Series {
            label: "r",
            class: "read",
            values: &rates[..],
        }],
    );
    assert!(ar.contains(">50%<") && ar.contains(">100%<"), "{ar}");
    assert_eq!(percent(Lang::En, 99.6), "100%");
}

#[test]
fn every_text_is_escaped() {
    let evil = r#"<script>alert("x")</script> & 'more'"#.to_owned();
    let labels = vec![evil.clone(), "2 Dec".into()];
    let hostile = Chart {
        lang: Lang::En,
        title: &evil,
        summary: &evil,
    };
    for svg in every_chart(&hostile, &labels, &[3, 4], &[Some(1.0), Some(2.0)]) {
        assert_clean(&svg);
        assert!(
            svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;"),
            "{svg}"
        );
    }
    // A class is never a way out of its attribute.
    let counts = [1u64];
    let svg = stacked_bars(
        &chart(Lang::En),
        &labels[1..],
        &[Series {
            label: "x",
            class: r#"a" onload="b"#,
            values: &counts[..],
        }],
    );
    assert!(
        !svg.contains("onload=") && svg.contains("s-a onloadb"),
        "{svg}"
    );
}

#[test]
fn no_data_draws_an_empty_chart() {
    for lang in Lang::ALL {
        let labels = days(31);
        let zeros = vec![0u64; 31];
        let none = vec![None; 31];
        for svg in every_chart(&chart(lang), &labels, &zeros, &none) {
            assert_clean(&svg);
            assert!(
                !svg.contains(r#"class="bar s-"#),
                "no bar for no data: {svg}"
            );
            assert!(!svg.contains("<polyline") && !svg.contains("<circle"));
        }
        for svg in every_chart(&chart(lang), &[], &[], &[]) {
            assert_clean(&svg);
        }
    }
    assert_eq!(count_scale(0), (1, 1));
    assert_eq!(count_scale(7), (2, 8));
    assert_eq!(count_scale(1234), (500, 1500));
    assert_eq!(count_scale(100), (50, 100));
    let (step, top) = count_scale(u64::MAX);
    assert!(step > 0 && top >= step);
}

#[test]
fn one_huge_day_leaves_the_others_visible() {
    let labels = days(5);
    let counts = [1u64, 1_000_000_000, 2, 0, 3];
    let series = [Series {
        label: "sent",
        class: "sent",
        values: &counts[..],
    }];
    let svg = stacked_bars(&chart(Lang::En), &labels, &series);
    assert_clean(&svg);
    // Four days with a count, four bars: the small ones as slivers.
    assert_eq!(
        svg.matches(r#"<rect class="bar s-sent""#).count(),
        4,
        "{svg}"
    );
    assert!(svg.contains(r#"height="1""#));
    assert!(
        svg.contains(">1,000,000,000<"),
        "the day's words give its count"
    );
}

#[test]
fn a_missing_rate_leaves_a_gap() {
    let labels = days(5);
    let rates = [Some(90.0), Some(80.0), None, Some(70.0), Some(130.0)];
    let svg = super::rates(
        &chart(Lang::En),
        &labels,
        &[Series {
            label: "r",
            class: "read",
            values: &rates[..],
        }],
    );
    assert_clean(&svg);
    assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
    assert_eq!(svg.matches("<circle").count(), 4);
}

#[test]
fn the_meter_fills_from_the_start_side_and_says_no_limit() {
    let en = meter(&chart(Lang::En), 250, Some(1000), "250 of 1,000");
    let ar = meter(&chart(Lang::Ar), 250, Some(1000), "250 من 1,000");
    assert!(
        en.contains(r#"<rect class="fill" x="0" y="4" width="180""#),
        "{en}"
    );
    assert!(
        ar.contains(r#"<rect class="fill" x="540" y="4" width="180""#),
        "{ar}"
    );
    let full = meter(&chart(Lang::En), 1200, Some(1000), "1,200 of 1,000");
    assert!(full.contains(r#"class="fill full""#));
    let unlimited = meter(&chart(Lang::En), 5, None, "5 messages; no monthly limit");
    assert!(!unlimited.contains("<rect") && unlimited.contains("no monthly limit"));
}

#[test]
fn ranked_bars_are_longest_for_the_largest_value() {
    let rows = [
        Ranked {
            label: "131026 · Not on WhatsApp",
            value: 8,
        },
        Ranked {
            label: "131047 · More than 24 hours",
            value: 2,
        },
    ];
    for lang in Lang::ALL {
        let svg = ranked_bars(&chart(lang), &rows);
        assert_clean(&svg);
        let widths: Vec<f64> = svg
            .match_indices(r#"<rect class="bar""#)
            .map(|(at, _)| {
                let rest = &svg[at..];
                let w = &rest[rest.find("width=\"").unwrap() + 7..];
                w[..w.find('"').unwrap()].parse().unwrap()
            })
            .collect();
        assert_eq!(widths.len(), 2);
        assert!(widths[0] > 3.0 * widths[1], "{widths:?}");
    }
}
