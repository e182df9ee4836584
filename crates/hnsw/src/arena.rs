//! Append-only storage of payloads, each starting 8-byte aligned.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Payloads packed into `u64` words so every payload starts 8-byte aligned,
/// the same guarantee page items give [`Space`](crate::Space) implementations.
#[derive(Default)]
pub(crate) struct PayloadArena {
    words: Vec<u64>,
    spans: Vec<(usize, u32)>,
    /// The length of every payload so far, while they are all equally long
    /// (fixed-size vector types): `get` then computes where a payload is
    /// instead of loading its span, a dependent cache miss per lookup.
    uniform: Option<u32>,
}

impl PayloadArena {
    /// Appends a payload and returns its index.
    pub fn push(&mut self, payload: &[u8]) -> u32 {
        let start = self.words.len();
        let words = payload.len().div_ceil(8);
        self.words.resize(start + words, 0);
        bytemuck::cast_slice_mut::<u64, u8>(&mut self.words[start..])[..payload.len()]
            .copy_from_slice(payload);
        let len = payload.len() as u32;
        self.uniform = match (self.spans.is_empty(), self.uniform) {
            (true, _) => Some(len),
            (false, Some(u)) if u == len => Some(u),
            _ => None,
        };
        self.spans.push((start, len));
        (self.spans.len() - 1) as u32
    }

    /// The payload with index `i`.
    #[inline]
    pub fn get(&self, i: u32) -> &[u8] {
        let (start, len) = match self.uniform {
            Some(len) => (i as usize * (len as usize).div_ceil(8), len),
            None => self.spans[i as usize],
        };
        &bytemuck::cast_slice::<u64, u8>(&self.words[start..])[..len as usize]
    }

    /// Bytes of memory used by `n` payloads of `len` bytes each.
    pub fn cost(len: usize) -> usize {
        len.div_ceil(8) * 8 + std::mem::size_of::<(usize, u32)>()
    }

    /// Bytes counted for the payloads held, as [`PayloadArena::cost`] does.
    pub fn bytes(&self) -> usize {
        self.words.len() * 8 + self.spans.len() * std::mem::size_of::<(usize, u32)>()
    }

    /// An arena of `n` payloads of `len` bytes each, payload `i` written by
    /// `fill(i, scratch, out)` into `out` (zeroed, `len` bytes; `scratch` is
    /// the calling worker's own buffer), in parallel on the current rayon
    /// pool. Stops early with `None` once `fill` returns false or `cancel`
    /// is set; counts filled payloads in `done`.
    pub fn fill_uniform(
        n: usize,
        len: usize,
        fill: impl Fn(usize, &mut Vec<u8>, &mut [u8]) -> bool + Sync,
        cancel: &AtomicBool,
        done: &AtomicU64,
    ) -> Option<Self> {
        use rayon::prelude::*;
        let stride = len.div_ceil(8).max(1);
        let mut words = vec![0u64; n * stride];
        let failed = AtomicBool::new(false);
        words
            .par_chunks_mut(stride)
            .enumerate()
            .for_each_init(Vec::new, |scratch, (i, chunk)| {
                if cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                    return;
                }
                let out = &mut bytemuck::cast_slice_mut::<u64, u8>(chunk)[..len];
                if fill(i, scratch, out) {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.store(true, Ordering::Relaxed);
                }
            });
        if cancel.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
            return None;
        }
        Some(PayloadArena {
            words,
            spans: (0..n).map(|i| (i * stride, len as u32)).collect(),
            uniform: (n > 0).then_some(len as u32),
        })
    }

    /// Removes all payloads, keeping the allocation.
    pub fn clear(&mut self) {
        self.words.clear();
        self.spans.clear();
        self.uniform = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_aligned_and_intact() {
        let mut arena = PayloadArena::default();
        let a = arena.push(&[1, 2, 3]);
        let b = arena.push(&[4; 17]);
        let c = arena.push(&[]);
        assert_eq!(arena.get(a), &[1, 2, 3]);
        assert_eq!(arena.get(b), &[4; 17]);
        assert_eq!(arena.get(c), &[] as &[u8]);
        assert_eq!(arena.get(b).as_ptr() as usize % 8, 0);
    }

    #[test]
    fn uniform_payloads_are_found_without_spans() {
        let mut arena = PayloadArena::default();
        for i in 0..10u8 {
            arena.push(&[i; 12]);
        }
        assert_eq!(arena.uniform, Some(12));
        assert_eq!(arena.get(7), &[7; 12]);
        arena.push(&[1; 3]);
        assert_eq!(arena.uniform, None);
        assert_eq!(arena.get(7), &[7; 12]);
        assert_eq!(arena.get(10), &[1; 3]);
        arena.clear();
        arena.push(&[5; 3]);
        assert_eq!(arena.get(0), &[5; 3]);
    }
}
