//! How the CLI prints: aligned tables and `Key: value` lines for people, or JSON
//! (`--output json`) for scripts. Every result type implements [`Render`]; its JSON is its
//! serde form, the same body the admin API answers with.

use serde::Serialize;

/// The output format chosen with `--output`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables and `Key: value` lines.
    #[default]
    Human,
    /// One JSON document.
    Json,
}

/// A result the CLI can print.
pub trait Render: Serialize {
    /// The human form, ending with a new line.
    fn human(&self) -> String;
}

/// Prints `value` to stdout in `format`.
pub fn print<T: Render>(format: Format, value: &T) {
    match format {
        Format::Human => print!("{}", value.human()),
        Format::Json => match serde_json::to_string_pretty(value) {
            Ok(json) => println!("{json}"),
            // Our views are plain structs of strings, numbers and flags: cannot happen.
            Err(e) => eprintln!("viawork: cannot encode the result as JSON: {e}"),
        },
    }
}

/// Aligned `Key: value` lines (rows with an empty value are skipped).
pub fn fields(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!(
            "{key:<width$}  {value}\n",
            key = format!("{key}:")
        ));
    }
    out
}

/// A table: a header row and aligned columns (widths in characters).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            s.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
    }
    out
}

/// `yes` or `no`.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_unicode_by_characters() {
        let t = table(
            &["NAME", "X"],
            &[
                vec!["王秀英".into(), "1".into()],
                vec!["ab".into(), "".into()],
            ],
        );
        assert_eq!(t, "NAME  X\n王秀英   1\nab\n");
    }

    #[test]
    fn fields_skip_empty_values() {
        let f = fields(&[("A", "1".into()), ("Long", "".into()), ("Bb", "2".into())]);
        assert_eq!(f, "A:     1\nBb:    2\n");
    }
}
