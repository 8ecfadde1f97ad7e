//! Small charts as inline SVG, rendered by the server: horizontal bars ([`bars`]: one row per
//! label, one or more bars per row, each with its value written after it) and columns over
//! time ([`columns`]: one stacked column per minute). Each mark has a `<title>` for hover. No
//! script, no external asset; every text is escaped by maud.

use maud::{Markup, html};

/// One bar: its value, its CSS class (its colour) and what it counts (hover text).
pub struct Bar {
    pub value: u64,
    pub class: &'static str,
    pub what: &'static str,
}

/// One row of bars under a label.
pub struct Row {
    pub label: String,
    pub bars: Vec<Bar>,
}

const WIDTH: f64 = 460.0;
const LABEL_W: f64 = 130.0;
/// Room after the longest bar for its value.
const VALUE_W: f64 = 50.0;
const BAR_H: f64 = 14.0;
const BAR_GAP: f64 = 3.0;
const ROW_GAP: f64 = 10.0;

/// The chart, scaled so the largest value spans the bar area; `name` labels it for assistive
/// technology (`aria-label`).
pub fn bars(name: &str, rows: &[Row]) -> Markup {
    let max = rows
        .iter()
        .flat_map(|r| r.bars.iter().map(|b| b.value))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let span = WIDTH - LABEL_W - VALUE_W;
    let row_h = |row: &Row| row.bars.len() as f64 * (BAR_H + BAR_GAP) - BAR_GAP;
    // Each row's top edge, then the chart's height.
    let mut tops = Vec::with_capacity(rows.len());
    let mut y = ROW_GAP / 2.0;
    for row in rows {
        tops.push(y);
        y += row_h(row) + ROW_GAP;
    }
    let height = (y - ROW_GAP / 2.0).max(ROW_GAP);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(name) {
            @for (row, top) in rows.iter().zip(tops) {
                text.label x=(LABEL_W - 8.0) y=(top + row_h(row) / 2.0 + 4.0) text-anchor="end" { (row.label) }
                @for (i, bar) in row.bars.iter().enumerate() {
                    @let bar_y = top + i as f64 * (BAR_H + BAR_GAP);
                    @let w = (bar.value as f64 / max * span).max(if bar.value > 0 { 2.0 } else { 0.0 });
                    rect class={ "bar " (bar.class) } x=(LABEL_W) y=(bar_y) width=(format!("{w:.1}")) height=(BAR_H) {
                        title { (row.label) ", " (bar.what) ": " (bar.value) }
                    }
                    text.value x=(LABEL_W + w + 5.0) y=(bar_y + BAR_H - 3.0) { (bar.value) }
                }
            }
            line.axis x1=(LABEL_W) x2=(LABEL_W) y1="0" y2=(height) {}
        }
    }
}

/// One column of [`columns`]: its label (a time) and its stacked parts, bottom first;
/// `None` where nothing is known (drawn as a thin grey mark, titled "no sample").
pub struct Column {
    pub label: String,
    pub parts: Option<Vec<Bar>>,
}

const COLUMNS_H: f64 = 110.0;
/// Room under the columns for the time axis' labels.
const AXIS_H: f64 = 18.0;
/// Room left of the columns for the largest value.
const SCALE_W: f64 = 36.0;

/// Columns over time, oldest left, scaled so the tallest stack spans the height; the largest
/// value is written at the top left, `from` and `to` under the ends. `name` labels the chart
/// for assistive technology (`aria-label`).
pub fn columns(name: &str, columns: &[Column], from: &str, to: &str) -> Markup {
    let total = |c: &Column| c.parts.iter().flatten().map(|b| b.value).sum::<u64>();
    let max = columns.iter().map(total).max().unwrap_or(0).max(1);
    let step = (WIDTH - SCALE_W) / columns.len().max(1) as f64;
    let height = COLUMNS_H + AXIS_H;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(name) {
            text.value x=(SCALE_W - 6.0) y="10" text-anchor="end" { (max) }
            text.value x=(SCALE_W - 6.0) y=(COLUMNS_H) text-anchor="end" { "0" }
            @for (i, column) in columns.iter().enumerate() {
                @let x = SCALE_W + i as f64 * step + step * 0.1;
                @let w = format!("{:.1}", step * 0.8);
                @match &column.parts {
                    None => {
                        rect.bar.gap x=(format!("{x:.1}")) y=(COLUMNS_H - 1.0) width=(w) height="1" {
                            title { (column.label) ": no sample" }
                        }
                    }
                    Some(parts) => {
                        @for (part, below) in stacked(parts) {
                            @let top = COLUMNS_H * (1.0 - (below + part.value) as f64 / max as f64);
                            @let h = COLUMNS_H * part.value as f64 / max as f64;
                            @if part.value > 0 {
                                rect class={ "bar " (part.class) } x=(format!("{x:.1}")) y=(format!("{top:.1}")) width=(w) height=(format!("{h:.1}")) {
                                    title { (column.label) ", " (part.what) ": " (part.value) }
                                }
                            }
                        }
                    }
                }
            }
            line.axis x1=(SCALE_W) x2=(WIDTH) y1=(COLUMNS_H) y2=(COLUMNS_H) {}
            text.value x=(SCALE_W) y=(height - 4.0) { (from) }
            text.value x=(WIDTH) y=(height - 4.0) text-anchor="end" { (to) }
        }
    }
}

/// Each part with the sum of the parts below it.
fn stacked(parts: &[Bar]) -> impl Iterator<Item = (&Bar, u64)> {
    parts.iter().scan(0, |below, part| {
        let at = *below;
        *below += part.value;
        Some((part, at))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_say_what_they_count() {
        let rows = [
            Row {
                label: "qiskit".into(),
                bars: vec![
                    Bar {
                        value: 40,
                        class: "ok",
                        what: "completed",
                    },
                    Bar {
                        value: 0,
                        class: "bad",
                        what: "failed",
                    },
                ],
            },
            Row {
                label: "<cirq>".into(),
                bars: vec![Bar {
                    value: 10,
                    class: "ok",
                    what: "completed",
                }],
            },
        ];
        let svg = bars("runs", &rows).into_string();
        assert_eq!(svg.matches("<rect").count(), 3, "{svg}");
        assert!(svg.contains(r#"width="280.0""#), "{svg}");
        assert!(svg.contains(r#"width="70.0""#), "{svg}");
        assert!(svg.contains(r#"width="0.0""#), "{svg}");
        assert!(
            svg.contains("<title>qiskit, completed: 40</title>"),
            "{svg}"
        );
        assert!(
            svg.contains("&lt;cirq&gt;") && !svg.contains("<cirq>"),
            "{svg}"
        );
    }

    #[test]
    fn columns_stack_their_parts_and_mark_minutes_without_a_sample() {
        let column = |label: &str, ok: u64, bad: u64| Column {
            label: label.into(),
            parts: Some(vec![
                Bar {
                    value: ok,
                    class: "ok",
                    what: "completed",
                },
                Bar {
                    value: bad,
                    class: "bad",
                    what: "failed",
                },
            ]),
        };
        let svg = columns(
            "runs per minute",
            &[
                column("10:00", 6, 4),
                Column {
                    label: "10:01".into(),
                    parts: None,
                },
                column("10:02", 5, 0),
            ],
            "60 min ago",
            "now",
        )
        .into_string();
        // The tallest stack (10) spans the height; a zero part draws nothing.
        assert!(
            svg.contains(r#"y="0.0" width="113.1" height="44.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"y="44.0" width="113.1" height="66.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"y="55.0" width="113.1" height="55.0""#),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"class="bar ok""#).count(), 2, "{svg}");
        assert_eq!(svg.matches(r#"class="bar bad""#).count(), 1, "{svg}");
        assert!(svg.contains("<title>10:01: no sample</title>"), "{svg}");
        assert!(svg.contains("<title>10:00, failed: 4</title>"), "{svg}");
        assert!(
            svg.contains(">10</text>") && svg.contains(">now</text>"),
            "{svg}"
        );
    }
}
