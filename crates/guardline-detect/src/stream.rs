//! Scanning inputs of any size in bounded memory: overlapping windows, each finding reported
//! exactly once, with offsets into the whole stream.

use crate::engine::Engine;
use crate::finding::Finding;

/// Push bytes in, get findings out. Memory is bounded by `window + overlap` whatever the stream
/// length. A finding is reported by the window in which it starts (before the overlap), so one
/// that straddles two windows is neither lost nor doubled, provided it is shorter than `overlap`
/// (the longest recognised value, a PEM key block, is capped well below the default).
pub struct StreamScanner<'e> {
    engine: &'e Engine,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: usize,
    /// Bytes at the front of `buf` that were already reported on (kept only as context).
    context: usize,
    window: usize,
    overlap: usize,
    back: usize,
}

impl<'e> StreamScanner<'e> {
    pub const DEFAULT_WINDOW: usize = 1 << 20;
    pub const DEFAULT_OVERLAP: usize = 20 * 1024;
    const BACK: usize = 256;

    pub fn new(engine: &'e Engine) -> StreamScanner<'e> {
        StreamScanner::with_window(engine, Self::DEFAULT_WINDOW, Self::DEFAULT_OVERLAP)
    }

    /// Custom sizes (tests use tiny windows to exercise boundaries). `overlap` is raised to at
    /// least 64 bytes and `window` to at least `overlap`.
    pub fn with_window(engine: &'e Engine, window: usize, overlap: usize) -> StreamScanner<'e> {
        let overlap = overlap.max(64);
        StreamScanner {
            engine,
            buf: Vec::new(),
            base: 0,
            context: 0,
            window: window.max(overlap),
            overlap,
            back: Self::BACK.min(overlap),
        }
    }

    /// Stream offset up to which findings have been reported. Guarantee: every finding that
    /// `push` or `finish` reports later starts at or after this offset (it may end after it, so a
    /// streaming redactor must still hold back the tail of a reported finding that reaches past it).
    pub fn reported_upto(&self) -> usize {
        self.base + self.context
    }

    /// Add bytes; findings that can no longer change are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<Finding>) {
        while !data.is_empty() {
            let room = (self.context + self.window + self.overlap).saturating_sub(self.buf.len());
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= self.context + self.window + self.overlap {
                self.flush_window(out);
            }
        }
    }

    fn flush_window(&mut self, out: &mut Vec<Finding>) {
        let cut = self.context + self.window;
        self.emit(self.context..cut, out);
        // Keep a little context before the cut, drop the rest.
        let drop = cut - self.back;
        self.buf.drain(..drop);
        self.base += drop;
        self.context = self.back;
    }

    fn emit(&self, keep: std::ops::Range<usize>, out: &mut Vec<Finding>) {
        for mut f in self.engine.scan_window(&self.buf, keep) {
            f.start += self.base;
            f.end += self.base;
            out.push(f);
        }
    }

    /// End of stream: report the rest.
    pub fn finish(mut self, out: &mut Vec<Finding>) {
        let keep = self.context..self.buf.len().max(self.context);
        if !self.buf.is_empty() {
            self.emit(keep, out);
        }
        self.buf.clear();
    }
}
