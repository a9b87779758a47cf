//! The Prometheus text exposition format (version 0.0.4), pure: metric families in, the
//! `/metrics` body out. Values are integers, or seconds written from whole microseconds, so the
//! router build carries no float formatting. Label values are escaped as the format requires;
//! metric and label names are lango's own constants.

use std::fmt::Write;

/// A counter only grows (it restarts from zero with lango, which Prometheus's `rate` expects);
/// a gauge goes up and down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// One sample's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    /// Seconds, given in microseconds: `1500` is written `0.001500`.
    Micros(u64),
}

/// A metric family: its name, help text, kind and samples (label pairs, value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<(Vec<(&'static str, String)>, Value)>,
}

impl Family {
    pub fn new(name: &'static str, help: &'static str, kind: Kind) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    /// A family with one unlabelled sample.
    pub fn single(name: &'static str, help: &'static str, kind: Kind, value: Value) -> Family {
        Family::new(name, help, kind).with(&[], value)
    }

    /// Adds a sample.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: Value) -> Family {
        let labels = labels.iter().map(|(k, v)| (*k, v.to_string())).collect();
        self.samples.push((labels, value));
        self
    }
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Pure: the exposition text of `families`, in their order. A family without samples is left
/// out (its HELP and TYPE lines too).
pub fn render(families: &[Family]) -> String {
    let mut out = String::new();
    for family in families.iter().filter(|f| !f.samples.is_empty()) {
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {kind}", family.name);
        for (labels, value) in &family.samples {
            out.push_str(family.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (key, text)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(key);
                    out.push_str("=\"");
                    escape(text, &mut out);
                    out.push('"');
                }
                out.push('}');
            }
            let _ = match value {
                Value::Int(n) => writeln!(out, " {n}"),
                Value::Micros(us) => writeln!(out, " {}.{:06}", us / 1_000_000, us % 1_000_000),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_render_as_the_text_format() {
        let text = render(&[
            Family::single("a_total", "As.", Kind::Counter, Value::Int(3)),
            Family::new("empty", "Nothing.", Kind::Gauge),
            Family::new("b_seconds", "Bs.", Kind::Gauge)
                .with(&[("kind", "x")], Value::Micros(1_500))
                .with(&[("kind", "y"), ("n", "2")], Value::Micros(2_000_001)),
        ]);
        assert_eq!(
            text,
            "# HELP a_total As.\n# TYPE a_total counter\na_total 3\n\
             # HELP b_seconds Bs.\n# TYPE b_seconds gauge\n\
             b_seconds{kind=\"x\"} 0.001500\nb_seconds{kind=\"y\",n=\"2\"} 2.000001\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render(&[
            Family::new("m", "M.", Kind::Gauge).with(&[("name", "a\"b\\c\nd")], Value::Int(-1))
        ]);
        assert!(text.ends_with("m{name=\"a\\\"b\\\\c\\nd\"} -1\n"), "{text}");
    }
}
