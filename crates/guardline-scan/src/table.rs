//! CSV, row by row: every field is scanned on its own; a finding names its data row (`record`,
//! 0-based, the header row not counted), its column (the header name, or the 0-based index
//! without a header) and its byte offsets in the field's value.
//!
//! Rows may have different lengths. The header row is schema, so it is not scanned. Fields need
//! not be UTF-8. A redacted copy is written with the same header and rows, quoting as needed, so
//! it stays valid CSV (the original quoting style and line endings may change).

use crate::{Column, Hit, InputError, Place, Redaction, Scan, Sink};
use std::io::Read;

/// Scans `reader` as CSV to its end. With `header`, the first row names the columns.
pub fn scan_csv(
    scan: &Scan,
    reader: &mut dyn Read,
    header: bool,
    sink: &mut dyn Sink,
    redact: Option<&mut Redaction>,
) -> Result<(), InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(header)
        .flexible(true)
        .from_reader(reader);
    // One writer for the whole copy; the redactor and vault are borrowed beside it.
    let (mut writer, mut redactor) = match redact {
        Some(Redaction {
            redactor,
            vault,
            out,
        }) => (
            Some(
                csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(&mut **out),
            ),
            Some((*redactor, &mut **vault)),
        ),
        None => (None, None),
    };
    let mut names: Vec<String> = Vec::new();
    if header {
        let h = rdr.byte_headers()?.clone();
        names = h
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        if let Some(w) = writer.as_mut() {
            if !h.is_empty() {
                w.write_byte_record(&h).map_err(write_error)?;
            }
        }
    }
    let mut row = csv::ByteRecord::new();
    let mut redacted = csv::ByteRecord::new();
    let mut record: u64 = 0;
    while rdr.read_byte_record(&mut row)? {
        let line = row.position().map_or(0, |p| p.line());
        redacted.clear();
        for (j, field) in row.iter().enumerate() {
            let findings = scan.engine.scan(field);
            if !findings.is_empty() {
                let column = match names.get(j) {
                    Some(n) => Column::Name(n.clone()),
                    None => Column::Index(j),
                };
                for f in &findings {
                    let raw = &field[f.start.min(field.len())..f.end.min(field.len())];
                    sink.hit(Hit {
                        finding: f.clone(),
                        line,
                        place: Place::Row {
                            record,
                            column: column.clone(),
                        },
                        text: scan.render(raw),
                    });
                }
            }
            if let Some((redactor, vault)) = redactor.as_mut() {
                if findings.is_empty() {
                    redacted.push_field(field);
                } else {
                    redacted.push_field(&redactor.redact(field, &findings, vault));
                }
            }
        }
        if let Some(w) = writer.as_mut() {
            w.write_byte_record(&redacted).map_err(write_error)?;
        }
        record += 1;
        if scan.cancelled() {
            return Err(InputError::Cancelled);
        }
    }
    if let Some(mut w) = writer {
        w.flush().map_err(InputError::Write)?;
    }
    Ok(())
}

fn write_error(e: csv::Error) -> InputError {
    InputError::Write(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use guardline_detect::Operator;

    fn run(input: &str, header: bool, op: Option<Operator>) -> (Collect, String) {
        crate::run_for_test(input, op, |scan, reader, sink, r| {
            scan_csv(scan, reader, header, sink, r)
        })
    }

    fn places(c: &Collect) -> Vec<(String, u64, u64, Column, usize)> {
        c.hits
            .iter()
            .map(|h| match &h.place {
                Place::Row { record, column } => (
                    h.finding.kind.to_string(),
                    *record,
                    h.line,
                    column.clone(),
                    h.finding.start,
                ),
                p => panic!("unexpected place {p:?}"),
            })
            .collect()
    }

    const INPUT: &str = "name,contact,note\n\
        Chan,chan.taiman@example.com.hk,ok\n\
        Wong,\"tel +852 9123 4567\nsecond line\",\"HKID A123456(3)\"\n\
        Lee,none,\"card 4111 1111 1111 1111, thanks\",extra 11010519491231002X\n";

    #[test]
    fn records_and_columns_with_a_header() {
        let (sink, _) = run(INPUT, true, None);
        let name = |s: &str| Column::Name(s.into());
        assert_eq!(
            places(&sink),
            [
                ("email".into(), 0, 2, name("contact"), 0),
                ("hk_phone".into(), 1, 3, name("contact"), 4),
                ("hk_id".into(), 1, 3, name("note"), 5),
                ("credit_card".into(), 2, 5, name("note"), 5),
                ("cn_resident_id".into(), 2, 5, Column::Index(3), 6),
            ]
        );
    }

    #[test]
    fn records_and_columns_without_a_header() {
        let (sink, _) = run(INPUT, false, None);
        let p = places(&sink);
        assert_eq!(p.len(), 5);
        assert_eq!(p[0], ("email".into(), 1, 2, Column::Index(1), 0));
        assert_eq!(p[4], ("cn_resident_id".into(), 3, 5, Column::Index(3), 6));
    }

    #[test]
    fn redaction_keeps_valid_csv() {
        let (_, out) = run(INPUT, true, Some(Operator::Label));
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(out.as_bytes());
        assert_eq!(
            rdr.headers().unwrap().iter().collect::<Vec<_>>(),
            ["name", "contact", "note"]
        );
        let rows: Vec<Vec<String>> = rdr
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(
            rows,
            [
                vec!["Chan", "<EMAIL>", "ok"],
                vec!["Wong", "tel <HK_PHONE>\nsecond line", "HKID <HK_ID>"],
                vec![
                    "Lee",
                    "none",
                    "card <CREDIT_CARD>, thanks",
                    "extra <CN_RESIDENT_ID>"
                ],
            ]
        );
    }

    #[test]
    fn empty_and_header_only_inputs() {
        let (sink, out) = run("", true, Some(Operator::Label));
        assert!(sink.hits.is_empty());
        assert_eq!(out, "");
        let (sink, out) = run("a,b\n", true, Some(Operator::Label));
        assert!(sink.hits.is_empty());
        assert_eq!(out, "a,b\n");
    }
}
