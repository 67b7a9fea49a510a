//! Plain text of any size in bounded memory: fixed-size reads go through a
//! [`StreamScanner`], line numbers are counted as the stream goes, and a redacted copy is written
//! as soon as the bytes before it can no longer change.
//!
//! Memory is bounded by the scanner's window plus one read, whatever the input's length (a
//! single finding longer than the scanner's overlap is the only thing that can hold more back).

use crate::{read_full, Hit, InputError, Place, Redaction, Scan, Sink};
use guardline_detect::redact::merge_spans;
use guardline_detect::{Engine, Finding, StreamScanner};
use std::io::Read;

/// Bytes asked of the reader at a time.
pub const READ_SIZE: usize = 256 * 1024;

/// Sizes for [`scan_text_sized`]; tests use tiny ones to put findings across every boundary.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub window: usize,
    pub overlap: usize,
    pub read: usize,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            window: StreamScanner::DEFAULT_WINDOW,
            overlap: StreamScanner::DEFAULT_OVERLAP,
            read: READ_SIZE,
        }
    }
}

/// Scans `reader` as text to its end; hits go to `sink`, a redacted copy to `redact`.
pub fn scan_text(
    scan: &Scan,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    redact: Option<&mut Redaction>,
) -> Result<(), InputError> {
    scan_text_sized(scan, reader, sink, redact, Sizes::default())
}

/// [`scan_text`] with chosen window, overlap and read sizes.
pub fn scan_text_sized(
    scan: &Scan,
    reader: &mut dyn Read,
    sink: &mut dyn Sink,
    mut redact: Option<&mut Redaction>,
    sizes: Sizes,
) -> Result<(), InputError> {
    let mut stream = TextStream::with_window(scan.engine, sizes.window, sizes.overlap);
    let mut buf = vec![0u8; sizes.read.max(1)];
    loop {
        let n = read_full(reader, &mut buf)?;
        if n == 0 {
            break;
        }
        stream.push(scan, &buf[..n], sink, redact.as_deref_mut())?;
        if scan.cancelled() {
            return Err(InputError::Cancelled);
        }
    }
    stream.finish(scan, sink, redact)
}

/// The state of one text stream: the scanner, the bytes still needed (to show matches, count
/// lines and write the redacted copy), the line count, and the findings not yet redacted.
pub struct TextStream<'e> {
    /// `None` once finished.
    scanner: Option<StreamScanner<'e>>,
    /// Stream bytes `tail_base .. tail_base + tail.len()`.
    tail: Vec<u8>,
    tail_base: usize,
    /// Bytes pushed so far.
    total: usize,
    /// Newlines are counted up to this offset…
    lines_upto: usize,
    /// …where the line number (1-based) is `line`, which started at `line_start`.
    line: u64,
    line_start: usize,
    /// Redaction: output written up to here, and findings not yet applied.
    emitted: usize,
    pending: Vec<Finding>,
    found: Vec<Finding>,
}

impl<'e> TextStream<'e> {
    pub fn new(engine: &'e Engine) -> TextStream<'e> {
        TextStream::with_window(
            engine,
            StreamScanner::DEFAULT_WINDOW,
            StreamScanner::DEFAULT_OVERLAP,
        )
    }

    pub fn with_window(engine: &'e Engine, window: usize, overlap: usize) -> TextStream<'e> {
        TextStream {
            scanner: Some(StreamScanner::with_window(engine, window, overlap)),
            tail: Vec::new(),
            tail_base: 0,
            total: 0,
            lines_upto: 0,
            line: 1,
            line_start: 0,
            emitted: 0,
            pending: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Adds the next bytes of the stream.
    pub fn push(
        &mut self,
        scan: &Scan,
        data: &[u8],
        sink: &mut dyn Sink,
        redact: Option<&mut Redaction>,
    ) -> Result<(), InputError> {
        self.tail.extend_from_slice(data);
        self.total += data.len();
        let mut found = std::mem::take(&mut self.found);
        let Some(scanner) = self.scanner.as_mut() else {
            return Ok(());
        };
        scanner.push(data, &mut found);
        let safe = scanner.reported_upto();
        let r = self.settle(scan, &mut found, safe, sink, redact);
        self.found = found;
        r
    }

    /// End of stream: reports and writes the rest.
    pub fn finish(
        mut self,
        scan: &Scan,
        sink: &mut dyn Sink,
        redact: Option<&mut Redaction>,
    ) -> Result<(), InputError> {
        let mut found = std::mem::take(&mut self.found);
        if let Some(scanner) = self.scanner.take() {
            scanner.finish(&mut found);
        }
        let total = self.total;
        self.settle(scan, &mut found, total, sink, redact)
    }

    /// Reports `found`; then everything before `safe` is final (no finding reported later can
    /// start before it), so lines are counted up to it and redacted output written as far as
    /// the findings allow.
    fn settle(
        &mut self,
        scan: &Scan,
        found: &mut Vec<Finding>,
        safe: usize,
        sink: &mut dyn Sink,
        redact: Option<&mut Redaction>,
    ) -> Result<(), InputError> {
        // Windows report in start order; keep that order stable within one push.
        found.sort_by_key(|f| f.start);
        let redacting = redact.is_some();
        for f in found.drain(..) {
            let column = self.locate(f.start);
            let raw = self.tail_slice(f.start, f.end);
            let text = scan.render(raw);
            if redacting {
                self.pending.push(f.clone());
            }
            sink.hit(Hit {
                finding: f,
                line: self.line,
                place: Place::Text { column },
                text,
            });
        }
        self.count_lines_to(safe);
        let mut keep_from = safe.min(self.lines_upto);
        if let Some(r) = redact {
            self.write_redacted(r, safe)?;
            keep_from = keep_from.min(self.emitted);
        }
        if keep_from > self.tail_base {
            self.tail.drain(..keep_from - self.tail_base);
            self.tail_base = keep_from;
        }
        Ok(())
    }

    /// Writes the redacted copy up to `safe`, or up to the start of the first merged span that
    /// reaches past it: a finding reported later may still overlap that span and change it.
    fn write_redacted(&mut self, r: &mut Redaction, safe: usize) -> Result<(), InputError> {
        let spans = merge_spans(&self.pending, self.total);
        let mut upto = safe;
        for (s, e, kind) in spans {
            if e > safe {
                upto = s;
                break;
            }
            let before = self.tail_slice(self.emitted, s);
            r.out.write_all(before).map_err(InputError::Write)?;
            let replacement = r.replacement(&kind, self.tail_slice(s, e));
            r.out.write_all(&replacement).map_err(InputError::Write)?;
            self.emitted = e;
        }
        if upto > self.emitted {
            let before = self.tail_slice(self.emitted, upto);
            r.out.write_all(before).map_err(InputError::Write)?;
            self.emitted = upto;
        }
        let emitted = self.emitted;
        self.pending.retain(|f| f.start >= emitted);
        Ok(())
    }

    /// 1-based byte column of `offset`, counting lines up to it.
    fn locate(&mut self, offset: usize) -> u64 {
        self.count_lines_to(offset);
        (offset.saturating_sub(self.line_start) + 1) as u64
    }

    fn count_lines_to(&mut self, offset: usize) {
        if offset <= self.lines_upto {
            return;
        }
        let from = self.lines_upto - self.tail_base;
        let to = (offset - self.tail_base).min(self.tail.len());
        for i in memchr::memchr_iter(b'\n', &self.tail[from..to]) {
            self.line += 1;
            self.line_start = self.lines_upto + i + 1;
        }
        self.lines_upto = self.tail_base + to;
    }

    /// Stream bytes `start..end`, clipped to what is still held.
    fn tail_slice(&self, start: usize, end: usize) -> &[u8] {
        let s = start.saturating_sub(self.tail_base).min(self.tail.len());
        let e = end.saturating_sub(self.tail_base).clamp(s, self.tail.len());
        &self.tail[s..e]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Collect;
    use guardline_detect::{Key, Operator, Redactor, Vault};

    const VALUES: [&str; 5] = [
        "A123456(3)",
        "+852 9123 4567",
        "chan.taiman@example.com.hk",
        "4111 1111 1111 1111",
        "11010519491231002X",
    ];

    /// Text with the sample values at many different offsets, some lines long, some short, some
    /// Chinese, so that with a small window they land across every kind of boundary.
    fn corpus() -> Vec<u8> {
        let fillers = [
            "lorem ipsum dolor ",
            "請於辦公時間內聯絡 ",
            "x",
            "",
            "The quick brown fox jumps over the lazy dog. ",
        ];
        let mut s = String::new();
        for i in 0..120 {
            let filler = fillers[i % fillers.len()].repeat(1 + i % 7);
            s.push_str(&filler);
            s.push_str(VALUES[i % VALUES.len()]);
            s.push_str(if i % 3 == 0 { "\n" } else { " ; " });
            if i % 11 == 0 {
                s.push_str("\n\n");
            }
        }
        s.into_bytes()
    }

    fn line_of(input: &[u8], offset: usize) -> u64 {
        1 + input[..offset].iter().filter(|&&b| b == b'\n').count() as u64
    }

    fn column_of(input: &[u8], offset: usize) -> u64 {
        let ls = input[..offset]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        (offset - ls + 1) as u64
    }

    fn stream(input: &[u8], sizes: Sizes, redactor: Option<&Redactor>) -> (Collect, Vec<u8>) {
        let engine = Engine::with_defaults();
        let scan = Scan::new(&engine);
        let mut sink = Collect::default();
        let mut out = Vec::new();
        let mut vault = Vault::new();
        let mut r = redactor.map(|redactor| Redaction {
            redactor,
            vault: &mut vault,
            out: &mut out,
        });
        let mut reader = input;
        scan_text_sized(&scan, &mut reader, &mut sink, r.as_mut(), sizes).unwrap();
        (sink, out)
    }

    #[test]
    fn tiny_windows_find_what_a_whole_scan_finds() {
        let input = corpus();
        let engine = Engine::with_defaults();
        let whole = engine.scan(&input);
        assert!(whole.len() >= 100, "corpus should have many findings");
        let key = |f: &Finding| (f.kind.to_string(), f.start, f.end);
        let expected: Vec<_> = whole.iter().map(key).collect();
        for (window, overlap, read) in [
            (64, 64, 7),
            (100, 64, 1),
            (300, 128, 4096),
            (1 << 20, 20 << 10, 13),
        ] {
            let (sink, _) = stream(
                &input,
                Sizes {
                    window,
                    overlap,
                    read,
                },
                None,
            );
            let got: Vec<_> = sink.hits.iter().map(|h| key(&h.finding)).collect();
            assert_eq!(
                got, expected,
                "window {window}, overlap {overlap}, read {read}"
            );
            for h in &sink.hits {
                assert_eq!(h.line, line_of(&input, h.finding.start));
                assert_eq!(
                    h.place,
                    Place::Text {
                        column: column_of(&input, h.finding.start)
                    }
                );
                let raw = String::from_utf8_lossy(&input[h.finding.range()]);
                assert_eq!(h.text, crate::mask::mask(&raw));
            }
        }
    }

    #[test]
    fn findings_straddling_the_read_and_window_edges() {
        // Put the HKID across byte 64 exactly, and the phone across byte 128.
        let mut input = "a".repeat(60).into_bytes();
        input.extend_from_slice(b" A123456(3) ");
        while input.len() < 122 {
            input.push(b'b');
        }
        input.extend_from_slice(b" tel +852 9123 4567 end\n");
        let (sink, _) = stream(
            &input,
            Sizes {
                window: 64,
                overlap: 64,
                read: 64,
            },
            None,
        );
        let kinds: Vec<_> = sink
            .hits
            .iter()
            .map(|h| h.finding.kind.to_string())
            .collect();
        assert_eq!(kinds, ["hk_id", "hk_phone"]);
        assert_eq!(sink.hits[0].finding.start, 61);
    }

    #[test]
    fn streaming_redaction_equals_whole_input_redaction() {
        let input = corpus();
        let engine = Engine::with_defaults();
        let whole = engine.scan(&input);
        for op in [
            Operator::Label,
            Operator::Mask,
            Operator::Pseudonym,
            Operator::Hash,
            Operator::Remove,
        ] {
            let redactor = Redactor::new(op, Key::derive(b"test"));
            let expected = redactor.redact(&input, &whole, &mut Vault::new());
            for (window, overlap, read) in
                [(64, 64, 5), (200, 100, 1000), (1 << 20, 20 << 10, 1 << 18)]
            {
                let (_, out) = stream(
                    &input,
                    Sizes {
                        window,
                        overlap,
                        read,
                    },
                    Some(&redactor),
                );
                assert!(
                    out == expected,
                    "{op}: window {window}, overlap {overlap}, read {read}:\n{}\n---\n{}",
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&expected)
                );
            }
        }
    }

    #[test]
    fn redaction_removes_every_sample_value() {
        let input = corpus();
        let redactor = Redactor::new(Operator::Label, Key::derive(b"k"));
        let (_, out) = stream(
            &input,
            Sizes {
                window: 64,
                overlap: 64,
                read: 3,
            },
            Some(&redactor),
        );
        let out = String::from_utf8(out).unwrap();
        for v in VALUES {
            assert!(!out.contains(v), "{v} survived");
        }
        assert!(out.contains("<HK_ID>") && out.contains("<EMAIL>"));
    }

    #[test]
    fn invalid_utf8_and_empty_inputs() {
        let mut input = b"\xff\xfe bad \xc3 bytes A123456(3) \x80".to_vec();
        input.extend_from_slice(&[0xed, 0xa0, 0x80]);
        let redactor = Redactor::new(Operator::Label, Key::derive(b"k"));
        let (sink, out) = stream(&input, Sizes::default(), Some(&redactor));
        assert_eq!(sink.hits.len(), 1);
        assert!(out.starts_with(b"\xff\xfe bad \xc3 bytes <HK_ID> \x80"));
        let (sink, out) = stream(b"", Sizes::default(), Some(&redactor));
        assert!(sink.hits.is_empty() && out.is_empty());
    }

    #[test]
    fn a_span_reaching_past_the_safe_point_waits_for_later_overlaps() {
        // Findings from two windows that overlap: the first reaches past the point up to which
        // the scanner had reported when it was found. Whole-input redaction merges them into one
        // span; so must the stream.
        let engine = Engine::with_defaults();
        let scan = Scan::new(&engine);
        let input: Vec<u8> = (0..200u8).map(|i| b'a' + i % 26).collect();
        let finding = |kind: &str, start, end, score| Finding {
            kind: guardline_detect::Kind::new(kind),
            dimension: guardline_detect::Dimension::Privacy,
            start,
            end,
            score,
            detector: std::sync::Arc::from(kind),
        };
        let a = finding("hk_id", 90, 110, 0.8);
        let b = finding("email", 105, 120, 0.9);
        let redactor = Redactor::new(Operator::Label, Key::derive(b"k"));
        let expected = redactor.redact(&input, &[a.clone(), b.clone()], &mut Vault::new());
        assert_eq!(&expected[90..97], b"<EMAIL>");

        let mut out = Vec::new();
        let mut vault = Vault::new();
        let mut r = Redaction {
            redactor: &redactor,
            vault: &mut vault,
            out: &mut out,
        };
        let mut sink = Collect::default();
        let mut ts = TextStream::new(&engine);
        ts.tail.extend_from_slice(&input);
        ts.total = input.len();
        ts.settle(&scan, &mut vec![a], 100, &mut sink, Some(&mut r))
            .unwrap();
        assert_eq!(ts.emitted, 90, "the span reaching past 100 is held back");
        ts.settle(&scan, &mut vec![b], 150, &mut sink, Some(&mut r))
            .unwrap();
        ts.settle(&scan, &mut vec![], 200, &mut sink, Some(&mut r))
            .unwrap();
        assert_eq!(out, expected);
        assert_eq!(sink.hits.len(), 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn any_split_redacts_like_the_whole(
            parts in proptest::collection::vec((0usize..5, "[ a-z\n請\u{ff11}]{0,40}"), 1..30),
            window in 64usize..300,
            read in 1usize..200,
        ) {
            let mut input = String::new();
            for (v, filler) in &parts {
                input.push_str(filler);
                input.push(' ');
                input.push_str(VALUES[*v]);
                input.push(' ');
            }
            let input = input.into_bytes();
            let engine = Engine::with_defaults();
            let redactor = Redactor::new(Operator::Pseudonym, Key::derive(b"p"));
            let expected = redactor.redact(&input, &engine.scan(&input), &mut Vault::new());
            let (sink, out) = stream(&input, Sizes { window, overlap: 64, read }, Some(&redactor));
            proptest::prop_assert_eq!(sink.hits.len(), engine.scan(&input).len());
            proptest::prop_assert_eq!(out, expected);
        }
    }
}
