//! A `/metrics` scrape read back: Prometheus's text format, sample by sample.

use std::collections::BTreeMap;

/// One sample of a scrape: `name{labels} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// `name{labels}` as written (labels in the exporter's order).
    pub series: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).map(String::as_str)
    }
}

/// Every sample of the scrape `text` (comments and blank lines passed over).
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (k, v) = pair.split_once("=\"")?;
                    Some((k.to_owned(), v.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some(Sample {
                series: series.to_owned(),
                name: name.to_owned(),
                labels,
                value: value.trim().parse().ok()?,
            })
        })
        .collect()
}
