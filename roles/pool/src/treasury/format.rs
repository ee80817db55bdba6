//! Report tables rendered as aligned text, CSV or JSON. Amounts are shown in BTC in tables
//! and given as exact integer satoshis (`<column>_sats`) in CSV and JSON.

use serde_json::{Map, Value};

use super::reports::btc;

/// Output format of `sv2-pool treasury`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// Comma separated, one header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// How a number is shown in tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Hashes per second, scaled (`1.50 TH/s`).
    Hashrate,
    /// Six decimals.
    Decimal,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
    /// An amount in satoshis.
    Sats(i64),
    /// A fraction shown as a percentage.
    Ratio(f64),
    /// A number shown in `unit` in tables.
    Num(f64, Unit),
    /// Absent.
    Empty,
}

/// A report table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Title printed above the table.
    pub title: String,
    /// Column names.
    pub columns: Vec<&'static str>,
    /// Rows (each as long as `columns`).
    pub rows: Vec<Vec<Cell>>,
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl Cell {
    fn table(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Sats(s) => btc(*s),
            Cell::Ratio(r) => format!("{:.3}%", r * 100.0),
            Cell::Num(v, Unit::Hashrate) => super::reports::human_hashrate(*v),
            Cell::Num(v, Unit::Decimal) => format!("{v:.6}"),
            Cell::Empty => "-".into(),
        }
    }

    fn plain(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) | Cell::Sats(i) => i.to_string(),
            Cell::Ratio(r) => format!("{r:.6}"),
            Cell::Num(v, _) => format!("{v}"),
            Cell::Empty => String::new(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Int(i) | Cell::Sats(i) => Value::from(*i),
            Cell::Ratio(v) | Cell::Num(v, _) => {
                serde_json::Number::from_f64(*v).map_or(Value::Null, Value::Number)
            }
            Cell::Empty => Value::Null,
        }
    }
}

fn key(col: &str, cell: Option<&Cell>) -> String {
    match cell {
        Some(Cell::Sats(_)) => format!("{col}_sats"),
        _ => col.to_owned(),
    }
}

impl Table {
    /// Renders in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.text(),
            Format::Csv => self.csv(),
            Format::Json => self.json(),
        }
    }

    fn text(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Cell::table).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.len()).collect();
        for r in &cells {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..self.columns.len())
            .map(|i| {
                self.rows.iter().any(|r| {
                    matches!(
                        r.get(i),
                        Some(Cell::Int(_) | Cell::Sats(_) | Cell::Ratio(_) | Cell::Num(..))
                    )
                })
            })
            .collect();
        let line = |vals: Vec<String>| -> String {
            vals.iter()
                .enumerate()
                .map(|(i, v)| {
                    let w = widths.get(i).copied().unwrap_or(0);
                    if numeric.get(i).copied().unwrap_or(false) {
                        format!("{v:>w$}")
                    } else {
                        format!("{v:<w$}")
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        };
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&self.title);
            out.push('\n');
        }
        out.push_str(&line(
            self.columns.iter().map(|c| (*c).to_owned()).collect(),
        ));
        out.push('\n');
        out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
        out.push('\n');
        for r in cells {
            out.push_str(&line(r));
            out.push('\n');
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }

    fn csv(&self) -> String {
        let first = self.rows.first();
        let header: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| csv_escape(&key(c, first.and_then(|r| r.get(i)))))
            .collect();
        let mut out = header.join(",");
        out.push('\n');
        for r in &self.rows {
            out.push_str(
                &r.iter()
                    .map(|c| csv_escape(&c.plain()))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        out
    }

    fn json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let mut m = Map::new();
                for (c, cell) in self.columns.iter().zip(r) {
                    m.insert(key(c, Some(cell)), cell.json());
                }
                Value::Object(m)
            })
            .collect();
        let mut s = serde_json::to_string_pretty(&Value::Array(rows)).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Table {
        Table {
            title: "T".into(),
            columns: vec!["site", "mined", "uptime"],
            rows: vec![vec![
                Cell::Text("fra,1".into()),
                Cell::Sats(150_000_000),
                Cell::Ratio(0.5),
            ]],
        }
    }

    #[test]
    fn renders_three_ways() {
        let txt = t().render(Format::Table);
        assert!(txt.contains("1.50000000"), "{txt}");
        assert!(txt.contains("50.000%"));
        let csv = t().render(Format::Csv);
        assert_eq!(
            csv,
            "site,mined_sats,uptime\n\"fra,1\",150000000,0.500000\n"
        );
        let json: Value = serde_json::from_str(&t().render(Format::Json)).unwrap();
        assert_eq!(json[0]["mined_sats"], 150_000_000);
        assert_eq!(json[0]["site"], "fra,1");
    }
}
