//! Append-only storage of payloads, each starting 8-byte aligned.

/// Payloads packed into `u64` words so every payload starts 8-byte aligned,
/// the same guarantee page items give [`Space`](crate::Space) implementations.
#[derive(Default)]
pub(crate) struct PayloadArena {
    words: Vec<u64>,
    spans: Vec<(usize, u32)>,
}

impl PayloadArena {
    /// Appends a payload and returns its index.
    pub fn push(&mut self, payload: &[u8]) -> u32 {
        let start = self.words.len();
        let words = payload.len().div_ceil(8);
        self.words.resize(start + words, 0);
        bytemuck::cast_slice_mut::<u64, u8>(&mut self.words[start..])[..payload.len()]
            .copy_from_slice(payload);
        self.spans.push((start, payload.len() as u32));
        (self.spans.len() - 1) as u32
    }

    /// The payload with index `i`.
    pub fn get(&self, i: u32) -> &[u8] {
        let (start, len) = self.spans[i as usize];
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

    /// Removes all payloads, keeping the allocation.
    pub fn clear(&mut self) {
        self.words.clear();
        self.spans.clear();
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
}
