//! A completed run's outcome counts as an inline SVG bar chart: the [`TOP`] most frequent
//! outcomes sorted by bit string, then one "other" bar for the rest; each bar labelled with
//! its count (and probability when there is room) and a `<title>` with both for hover, plus
//! the same numbers as a table.

use std::collections::BTreeMap;

use maud::{Markup, html};

/// Outcomes drawn as their own bar; the rest share the "other" bar.
pub const TOP: usize = 64;

const PLOT_HEIGHT: f64 = 220.0;
const TOP_MARGIN: f64 = 34.0;
const SIDE: f64 = 36.0;
/// Axis labels longer than this show their last characters after "…" (the title and the
/// table keep them whole).
const LABEL_CHARS: usize = 24;
const TARGET_WIDTH: f64 = 940.0;

/// One bar of the chart.
#[derive(Debug, PartialEq)]
pub struct Bar {
    /// The bit string, or `other (N outcomes)`.
    pub label: String,
    pub count: u64,
    pub probability: f64,
    /// Whether this bar aggregates the outcomes beyond the top ones.
    pub other: bool,
}

/// The bars for `counts`: the `top` most frequent outcomes (ties to the smaller bit string)
/// in bit-string order, then "other" if any outcome is left.
pub fn bars(counts: &BTreeMap<String, u64>, top: usize) -> Vec<Bar> {
    let total: u64 = counts.values().sum();
    let probability = |count: u64| {
        if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        }
    };
    let mut by_count: Vec<(&String, u64)> = counts.iter().map(|(k, v)| (k, *v)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let rest = by_count.split_off(top.min(by_count.len()));
    by_count.sort_by(|a, b| a.0.cmp(b.0));
    let mut bars: Vec<Bar> = by_count
        .into_iter()
        .map(|(label, count)| Bar {
            label: label.clone(),
            count,
            probability: probability(count),
            other: false,
        })
        .collect();
    if !rest.is_empty() {
        let count = rest.iter().map(|(_, c)| c).sum();
        bars.push(Bar {
            label: match rest.len() {
                1 => "other (1 outcome)".to_owned(),
                n => format!("other ({n} outcomes)"),
            },
            count,
            probability: probability(count),
            other: true,
        });
    }
    bars
}

/// A bar's label under the axis: "other", or the bit string (its end if very long).
fn axis_label(bar: &Bar) -> String {
    if bar.other {
        return "other".to_owned();
    }
    let chars = bar.label.chars().count();
    if chars <= LABEL_CHARS {
        bar.label.clone()
    } else {
        let tail: String = bar.label.chars().skip(chars - (LABEL_CHARS - 1)).collect();
        format!("…{tail}")
    }
}

fn percent(p: f64) -> String {
    format!("{:.2}%", p * 100.0)
}

/// The chart and, folded, the table of the same numbers.
pub fn histogram(counts: &BTreeMap<String, u64>) -> Markup {
    let bars = bars(counts, TOP);
    let n = bars.len().max(1) as f64;
    let slot = (TARGET_WIDTH / n).clamp(14.0, 90.0);
    // Never narrower than the target, so few bars keep a sane size; they sit centred.
    let width = (SIDE * 2.0 + slot * n).max(TARGET_WIDTH + SIDE * 2.0);
    let left = (width - slot * n) / 2.0;
    let labels: Vec<String> = bars.iter().map(axis_label).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    // Labels are rotated by 60°: ~6.6 units per monospace character, times sin 60°.
    let height = TOP_MARGIN + PLOT_HEIGHT + 16.0 + longest as f64 * 6.6 * 0.87;
    let base = TOP_MARGIN + PLOT_HEIGHT;
    // Scaled to the largest outcome: an "other" bar taller than that is drawn clipped (its
    // label and title say its count), so it cannot flatten the outcomes it sums.
    let max = bars
        .iter()
        .filter(|b| !b.other)
        .map(|b| b.count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let wide = slot >= 48.0;
    html! {
        svg class="histogram" xmlns="http://www.w3.org/2000/svg" role="img"
            viewBox={ "0 0 " (width) " " (height) }
            aria-label={ "Outcome counts: " (bars.len()) " bars" } {
            line class="axis" x1=(SIDE) x2=(width - SIDE) y1=(base) y2=(base) {}
            @for (i, (bar, label)) in bars.iter().zip(&labels).enumerate() {
                @let x = left + slot * i as f64;
                @let h = (bar.count as f64 / max * PLOT_HEIGHT).clamp(1.0, PLOT_HEIGHT);
                @let clipped = bar.count as f64 > max;
                @let centre = x + slot / 2.0;
                g class="outcome" data-outcome=(bar.label) {
                    title { (bar.label) ": " (bar.count) " (" (percent(bar.probability)) ")" }
                    rect class=(if bar.other { "bar other" } else { "bar" }) data-clipped=[clipped.then_some("true")]
                        x=(x + slot * 0.12) y=(base - h) width=(slot * 0.76) height=(h) {}
                    @if wide {
                        text x=(centre) y=(base - h - 18.0) text-anchor="middle" { (bar.count) }
                        text x=(centre) y=(base - h - 5.0) text-anchor="middle" { (percent(bar.probability)) }
                    } @else {
                        text x=(centre + 3.0) y=(base - h - 4.0) text-anchor="start"
                            transform={ "rotate(-90 " (centre + 3.0) " " (base - h - 4.0) ")" } { (bar.count) }
                    }
                    text x=(centre + 3.0) y=(base + 8.0) text-anchor="end"
                        transform={ "rotate(-60 " (centre + 3.0) " " (base + 8.0) ")" } { (label) }
                }
            }
        }
        details {
            summary { "Counts as a table" }
            table {
                thead { tr { th { "outcome" } th.num { "count" } th.num { "probability" } } }
                tbody {
                    @for bar in &bars {
                        tr { td.mono { (bar.label) } td.num { (bar.count) } td.num { (percent(bar.probability)) } }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn few_outcomes_are_each_a_bar_in_bit_string_order() {
        let bars = bars(&counts(&[("11", 494), ("00", 506)]), TOP);
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["00", "11"]);
        assert!((bars[0].probability - 0.506).abs() < 1e-12);
        assert!(bars.iter().all(|b| !b.other));
    }

    #[test]
    fn beyond_the_top_the_rest_is_one_other_bar() {
        let many: BTreeMap<String, u64> =
            (0..100u64).map(|i| (format!("{i:07b}"), i + 1)).collect();
        let bars = bars(&many, 64);
        assert_eq!(bars.len(), 65);
        // The 64 most frequent are 36..=99 (counts 37..=100), in bit-string order.
        assert_eq!(bars[0].label, format!("{:07b}", 36));
        assert!(bars[..64].windows(2).all(|w| w[0].label < w[1].label));
        let other = &bars[64];
        assert!(other.other);
        assert_eq!(other.label, "other (36 outcomes)");
        assert_eq!(other.count, (1..=36).sum::<u64>());
        let total: f64 = bars.iter().map(|b| b.probability).sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn ties_at_the_cut_go_to_the_smaller_bit_string() {
        let bars = bars(&counts(&[("10", 5), ("01", 5), ("00", 5)]), 2);
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["00", "01", "other (1 outcome)"]);
    }

    #[test]
    fn a_tall_other_bar_is_clipped_and_long_labels_keep_their_end() {
        let many: BTreeMap<String, u64> = (0..70u64).map(|i| (format!("{i:030b}"), 10)).collect();
        let svg = histogram(&many).into_string();
        assert_eq!(svg.matches("data-clipped").count(), 1, "{svg}");
        let long = format!("{:030b}", 63);
        assert!(svg.contains(&format!(">{}<", axis_label(&bars(&many, TOP)[63]))));
        assert!(
            svg.contains(&format!("<title>{long}: 10 (")),
            "the title keeps it whole"
        );
        assert_eq!(
            axis_label(&bars(&many, TOP)[0]).chars().count(),
            LABEL_CHARS
        );
    }

    #[test]
    fn the_svg_has_a_bar_and_a_title_per_outcome() {
        let svg = histogram(&counts(&[("00", 3), ("11", 1)])).into_string();
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 2);
        assert!(svg.contains("<title>00: 3 (75.00%)</title>"), "{svg}");
    }
}
