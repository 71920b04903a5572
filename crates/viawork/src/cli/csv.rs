//! A small reader for the CSV that PowerShell's `Export-Csv` writes (RFC 4180): fields
//! separated by commas, optionally in double quotes with `""` for a quote, quoted fields may
//! span lines; CRLF or LF line ends; an optional UTF-8 byte-order mark and an optional
//! `#TYPE ...` line before the header (written unless `-NoTypeInformation` was given).
//!
//! Each record keeps the line number it starts on, so that an import can name the line of a
//! bad row as an editor shows it.

/// One record and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The line number of its first character.
    pub line: usize,
    /// The fields, unquoted.
    pub fields: Vec<String>,
}

/// A parsed file: the header's column names and the data records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Column names as written.
    pub header: Vec<String>,
    /// Data records (blank lines skipped).
    pub records: Vec<Record>,
}

impl Table {
    /// The index of the first column named like one of `names` (ignoring case).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|name| {
            self.header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        })
    }
}

/// Why a file is not CSV, at which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    /// The line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses `text`. Fails on an unterminated quote, text after a closing quote, or a file
/// without a header.
pub fn parse(text: &str) -> Result<Table, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted_field = false;
        loop {
            match chars.next() {
                None => {
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some('"') if field.is_empty() && !quoted_field => {
                    quoted_field = true;
                    loop {
                        match chars.next() {
                            None => {
                                return Err(CsvError {
                                    line: start,
                                    message: "a quoted field is never closed".to_owned(),
                                })
                            }
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => {
                                if c == '\n' {
                                    line += 1;
                                }
                                field.push(c);
                            }
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => {
                            return Err(CsvError {
                                line,
                                message: "text after a closing quote".to_owned(),
                            })
                        }
                    }
                }
                Some(',') => {
                    fields.push(std::mem::take(&mut field));
                    quoted_field = false;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some('\n') => {
                    line += 1;
                    fields.push(std::mem::take(&mut field));
                    break;
                }
                Some(c) => field.push(c),
            }
        }
        let blank = fields.len() == 1 && fields[0].trim().is_empty() && !quoted_field;
        if !blank {
            records.push(Record {
                line: start,
                fields,
            });
        }
    }
    let mut records = records.into_iter().peekable();
    // `Export-Csv` without -NoTypeInformation starts with "#TYPE <type name>".
    if records
        .peek()
        .is_some_and(|r| r.fields.len() == 1 && r.fields[0].starts_with("#TYPE"))
    {
        records.next();
    }
    let header = records.next().ok_or_else(|| CsvError {
        line: 1,
        message: "the file has no header row".to_owned(),
    })?;
    Ok(Table {
        header: header.fields,
        records: records.collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_export_csv_with_type_line_quotes_and_multiline_fields() {
        let text = "\u{feff}#TYPE Microsoft.Rtc.Management.ADConnect.Schema.OCSADUser\r\n\
                    \"SipAddress\",\"DisplayName\"\r\n\
                    \"sip:a@x.com\",\"Smith, \"\"Al\"\"\"\r\n\
                    \r\n\
                    \"sip:b@x.com\",\"two\nlines\"\r\n\
                    sip:c@x.com,plain\n";
        let t = parse(text).unwrap();
        assert_eq!(t.header, ["SipAddress", "DisplayName"]);
        assert_eq!(t.column(&["displayname"]), Some(1));
        let lines: Vec<usize> = t.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 5, 7]);
        assert_eq!(t.records[0].fields[1], "Smith, \"Al\"");
        assert_eq!(t.records[1].fields[1], "two\nlines");
        assert_eq!(t.records[2].fields, ["sip:c@x.com", "plain"]);
    }

    #[test]
    fn reports_the_line_of_an_unclosed_quote() {
        let e = parse("a,b\n1,2\n\"3,4\n5,6\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(parse("").is_err());
    }
}
