//! Small horizontal bar charts as inline SVG, rendered by the server: one row per label, one
//! or more bars per row, each with its value written after it and a `<title>` for hover. No
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
}
