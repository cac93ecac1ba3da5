//! One row of the results: `{"name","unit","figure","baseline","ratio","target"}`
//! (ratio oriented so that higher is better), plus a note and details for
//! the Markdown report.

use serde_json::{Value, json};

pub struct Scenario {
    pub name: String,
    pub unit: String,
    pub figure: f64,
    pub baseline: f64,
    /// figure ÷ baseline, or baseline ÷ figure where lower is better.
    pub ratio: f64,
    /// The ratio the scenario must reach; `None` when the issue sets none
    /// (reported for comparison).
    pub target: Option<f64>,
    /// What the figures are and what limits them, for the Markdown report.
    pub note: String,
    pub details: Value,
}

impl Scenario {
    /// A scenario where a higher figure is better (a rate).
    pub fn higher(name: &str, unit: &str, figure: f64, baseline: f64, target: Option<f64>) -> Self {
        Scenario {
            name: name.to_owned(),
            unit: unit.to_owned(),
            figure,
            baseline,
            ratio: if baseline > 0.0 {
                figure / baseline
            } else {
                0.0
            },
            target,
            note: String::new(),
            details: Value::Null,
        }
    }

    /// A scenario where a lower figure is better (a latency, memory).
    pub fn lower(name: &str, unit: &str, figure: f64, baseline: f64, target: Option<f64>) -> Self {
        Scenario {
            // Capped, so that a figure of zero (no 429 at all) stays a number.
            ratio: if figure > 0.0 {
                (baseline / figure).min(100.0)
            } else {
                100.0
            },
            ..Scenario::higher(name, unit, figure, baseline, target)
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "unit": self.unit,
            "figure": round(self.figure),
            "baseline": round(self.baseline),
            "ratio": (self.ratio * 1000.0).round() / 1000.0,
            "target": self.target,
        });
        if let Some(target) = self.target {
            v["met"] = json!(self.ratio >= target);
        }
        if !self.note.is_empty() {
            v["note"] = json!(self.note);
        }
        if !self.details.is_null() {
            v["details"] = self.details.clone();
        }
        v
    }

    pub fn print(&self) {
        let target = self
            .target
            .map_or_else(|| "—".to_owned(), |t| format!("≥ {t}"));
        println!(
            "  {:<64} {:>12.1} {:<6} {:>12.1} {:<6} ratio {:>6.3}  target {}",
            self.name, self.figure, self.unit, self.baseline, self.unit, self.ratio, target
        );
    }
}

fn round(x: f64) -> f64 {
    if x.abs() >= 100.0 {
        (x * 10.0).round() / 10.0
    } else {
        (x * 1000.0).round() / 1000.0
    }
}
