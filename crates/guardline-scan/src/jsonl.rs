//! JSONL (one JSON document per line), record by record: every string value, however deeply
//! nested, is scanned on its own, and a finding names its line (`record`, 0-based), the value
//! (`field`, an RFC 6901 pointer such as `/messages/0/content`) and its byte offsets in the
//! value's decoded UTF-8.
//!
//! Object keys are not scanned: they are schema, not content. A line that is not valid JSON is
//! reported through [`Sink::bad_record`] and scanned (and redacted) as plain text, so personal
//! data in it is neither missed nor copied through. Blank lines are passed through.
//!
//! Redaction replaces inside the string values and re-serialises the record (key order kept);
//! records without findings are copied byte for byte.

use crate::pointer::push_token;
use crate::{Hit, InputError, Place, Redaction, Scan, Sink};
use guardline_detect::Finding;
use serde_json::Value;
use std::io::BufRead;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Scans `reader` as JSONL to its end.
pub fn scan_jsonl(
    scan: &Scan,
    reader: &mut dyn BufRead,
    sink: &mut dyn Sink,
    mut redact: Option<&mut Redaction>,
) -> Result<(), InputError> {
    let mut line = Vec::new();
    let mut record: u64 = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let body_len = line.len()
            - if line.ends_with(b"\r\n") {
                2
            } else if line.ends_with(b"\n") {
                1
            } else {
                0
            };
        let (mut body, eol) = line.split_at(body_len);
        // A UTF-8 byte-order mark (Windows tools write one) is not part of the first record.
        if record == 0 && body.starts_with(BOM) {
            body = &body[BOM.len()..];
            if let Some(r) = redact.as_deref_mut() {
                write(r, BOM)?;
            }
        }
        scan_line(scan, record, body, eol, sink, redact.as_deref_mut())?;
        record += 1;
        if scan.cancelled() {
            return Err(InputError::Cancelled);
        }
    }
    Ok(())
}

fn scan_line(
    scan: &Scan,
    record: u64,
    body: &[u8],
    eol: &[u8],
    sink: &mut dyn Sink,
    redact: Option<&mut Redaction>,
) -> Result<(), InputError> {
    let line_no = record + 1;
    if body.iter().all(u8::is_ascii_whitespace) {
        if let Some(r) = redact {
            write(r, body)?;
            write(r, eol)?;
        }
        return Ok(());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut doc) => {
            let mut changed = false;
            let mut ptr = String::new();
            let mut redact = redact;
            visit_strings(&mut doc, &mut ptr, &mut |ptr, s| {
                let findings = scan.engine.scan(s.as_bytes());
                if findings.is_empty() {
                    return;
                }
                report(
                    scan,
                    sink,
                    s.as_bytes(),
                    &findings,
                    line_no,
                    record,
                    Some(ptr),
                );
                if let Some(r) = redact.as_deref_mut() {
                    let out = r.redact(s.as_bytes(), &findings);
                    *s = match String::from_utf8(out) {
                        Ok(s) => s,
                        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    };
                    changed = true;
                }
            });
            if let Some(r) = redact {
                if changed {
                    serde_json::to_writer(&mut r.out, &doc)
                        .map_err(|e| InputError::Write(e.into()))?;
                } else {
                    write(r, body)?;
                }
                write(r, eol)?;
            }
        }
        Err(e) => {
            sink.bad_record(line_no, format!("invalid JSON: {e}"));
            let findings = scan.engine.scan(body);
            report(scan, sink, body, &findings, line_no, record, None);
            if let Some(r) = redact {
                let out = r.redact(body, &findings);
                write(r, &out)?;
                write(r, eol)?;
            }
        }
    }
    Ok(())
}

/// One hit per finding in `value` (a decoded string field, or a whole line that is not JSON).
fn report(
    scan: &Scan,
    sink: &mut dyn Sink,
    value: &[u8],
    findings: &[Finding],
    line: u64,
    record: u64,
    field: Option<&str>,
) {
    for f in findings {
        sink.hit(Hit {
            finding: f.clone(),
            line,
            place: Place::Record {
                record,
                field: field.map(str::to_string),
            },
            text: scan.render(&value[f.start.min(value.len())..f.end.min(value.len())]),
        });
    }
}

fn write(r: &mut Redaction, bytes: &[u8]) -> Result<(), InputError> {
    r.out.write_all(bytes).map_err(InputError::Write)
}

/// Calls `f` with the pointer and a mutable reference for every string value in `v`, in
/// document order. Recursion depth is bounded by serde_json's nesting limit (128).
pub fn visit_strings(v: &mut Value, ptr: &mut String, f: &mut dyn FnMut(&str, &mut String)) {
    match v {
        Value::String(s) => f(ptr, s),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = ptr.len();
                push_token(ptr, &i.to_string());
                visit_strings(item, ptr, f);
                ptr.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let len = ptr.len();
                push_token(ptr, k);
                visit_strings(item, ptr, f);
                ptr.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use guardline_detect::{Engine, Operator};

    fn run(input: &str, op: Option<Operator>) -> (Collect, String) {
        crate::run_for_test(input, op, |scan, reader, sink, r| {
            scan_jsonl(scan, reader, sink, r)
        })
    }

    #[test]
    fn records_fields_and_offsets_in_decoded_values() {
        let input = concat!(
            r#"{"id":1,"messages":[{"role":"user","content":"hi"},{"role":"user","content":"Call +852 9123 4567 now"}]}"#,
            "\n",
            "\n",
            // Escapes before the value shift raw offsets but not decoded ones.
            r#"{"a/b":{"m~n":"caf\u00e9 \"q\"\n\u9673 chan.taiman@example.com.hk"},"n":[1,2,{"x":"A123456(3)"}]}"#,
            "\n",
        );
        let (sink, _) = run(input, None);
        let got: Vec<_> = sink
            .hits
            .iter()
            .map(|h| match &h.place {
                Place::Record { record, field } => (
                    h.finding.kind.to_string(),
                    *record,
                    h.line,
                    field.clone().unwrap(),
                    h.finding.start,
                    h.finding.end,
                ),
                p => panic!("unexpected place {p:?}"),
            })
            .collect();
        let email_start = "café \"q\"\n陳 ".len();
        assert_eq!(
            got,
            [
                ("hk_phone".into(), 0, 1, "/messages/1/content".into(), 5, 19),
                (
                    "email".into(),
                    2,
                    3,
                    "/a~1b/m~0n".into(),
                    email_start,
                    email_start + "chan.taiman@example.com.hk".len()
                ),
                ("hk_id".into(), 2, 3, "/n/2/x".into(), 0, 10),
            ]
        );
        // Offsets index the decoded value.
        let doc: Value = serde_json::from_str(input.lines().nth(2).unwrap()).unwrap();
        let v = doc.pointer("/a~1b/m~0n").unwrap().as_str().unwrap();
        assert_eq!(&v[got[1].4..got[1].5], "chan.taiman@example.com.hk");
        assert_eq!(sink.hits[0].text, "+************7");
    }

    #[test]
    fn bad_lines_are_reported_and_scanned_as_text() {
        let input = "{\"ok\":\"fine\"}\n{not json A123456(3)\n{\"x\":\"A123456(3)\"}\n";
        let (sink, out) = run(input, Some(Operator::Label));
        assert_eq!(sink.bad_records.len(), 1);
        assert_eq!(sink.bad_records[0].0, 2);
        assert_eq!(sink.hits.len(), 2);
        assert_eq!(
            sink.hits[0].place,
            Place::Record {
                record: 1,
                field: None
            }
        );
        assert_eq!(
            out,
            "{\"ok\":\"fine\"}\n{not json <HK_ID>\n{\"x\":\"<HK_ID>\"}\n"
        );
    }

    #[test]
    fn redaction_keeps_valid_jsonl_and_key_order() {
        let input = concat!(
            r#"{"z":"keep","a":{"email":"chan.taiman@example.com.hk","n":1.5},"card":["4111 1111 1111 1111"]}"#,
            "\r\n",
            r#"{"untouched" : "spacing kept"}"#,
            "\n",
            "   \n",
            r#"{"last":"+852 9123 4567"}"#,
        );
        let (sink, out) = run(input, Some(Operator::Label));
        assert_eq!(sink.hits.len(), 3);
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(
            lines[0],
            r#"{"z":"keep","a":{"email":"<EMAIL>","n":1.5},"card":["<CREDIT_CARD>"]}"#.to_string()
                + "\r"
        );
        assert_eq!(lines[1], r#"{"untouched" : "spacing kept"}"#);
        assert_eq!(lines[2], "   ");
        assert_eq!(lines[3], r#"{"last":"<HK_PHONE>"}"#);
        for l in out.lines().filter(|l| !l.trim().is_empty()) {
            serde_json::from_str::<Value>(l).unwrap();
        }
    }

    #[test]
    fn a_byte_order_mark_is_kept_out_of_the_first_record() {
        let input = "\u{feff}{\"a\":\"A123456(3)\"}\n{\"b\":\"\u{feff}x\"}\n";
        let (sink, out) = run(input, Some(Operator::Label));
        assert!(sink.bad_records.is_empty(), "{:?}", sink.bad_records);
        assert_eq!(sink.hits.len(), 1);
        assert_eq!(out, "\u{feff}{\"a\":\"<HK_ID>\"}\n{\"b\":\"\u{feff}x\"}\n");
    }

    #[test]
    fn deep_nesting_and_invalid_utf8_are_bad_records_not_crashes() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let mut input = deep.into_bytes();
        input.extend_from_slice(b"\n{\"a\":\"\xff\"}\n");
        let engine = Engine::with_defaults();
        let mut sink = Collect::default();
        scan_jsonl(&Scan::new(&engine), &mut &input[..], &mut sink, None).unwrap();
        assert_eq!(
            sink.bad_records.iter().map(|b| b.0).collect::<Vec<_>>(),
            [1, 2]
        );
    }
}
