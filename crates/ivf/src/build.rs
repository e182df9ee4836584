//! Index build: write the meta and centroid pages, assign every vector to its
//! nearest centroid and write the lists page by page.
//!
//! Tuples arrive in any order through [`IvfBuilder::push`] (the heap scan
//! callback); they are assigned in parallel batches, by the same
//! [`Space::distance`] and tie rule as [`crate::insert`], and buffered per list.
//! As soon as a list has more than a page of tuples, one full page is written,
//! so memory stays at about one page per list whatever the table size. Pages
//! of different lists therefore interleave in the relation; each list is a
//! chain through `opaque.next`. A page's `next` link must be known when it is
//! written, so each list keeps one block reserved (appended empty) for the page
//! it is filling.

use pagestore::{BlockNumber, ItemPointer, Page, PageMut, Relation, INVALID_BLOCK};

use crate::assign::ListAssigner;
use crate::error::IvfError;
use crate::format::{
    centroid_pages, centroid_piece_len, encode_list_tuple, items_per_page, max_payload_size,
    CentroidHeader, MetaTuple, PageRole, CENTROID_HEADER_SIZE, FORMAT_VERSION,
    LIST_TUPLE_HEADER_SIZE, MAX_SPANNING_PAYLOAD_SIZE, META_BLOCK, META_MAGIC,
};
use crate::rabitq::RabitqCodec;
use crate::space::Space;
use crate::threads::WorkerPool;

/// Tuples assigned to lists per parallel batch, at most.
const BATCH_TUPLES: usize = 4096;
/// Bytes of payloads a batch holds at most (a code build holds as many
/// again of vectors): 4,096 rows up to 512 `f32` dimensions, 131 rows at
/// 16,000.
const BATCH_BYTES: usize = 8 << 20;

/// Shape of the index being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexParams {
    /// Vector dimensions (recorded for the caller).
    pub dims: u32,
    /// Bytes of every vector payload and centroid.
    pub payload_size: usize,
    /// Caller-defined id of the distance and payload encoding, recorded in the
    /// meta page.
    pub space_id: u32,
    /// How the caller encoded the payloads, recorded in the meta page:
    /// [`crate::format::QUANTIZATION_NONE`] or [`crate::format::QUANTIZATION_HALF`].
    pub quantization: u32,
}

/// What a finished build wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildStats {
    /// Tuples written to lists.
    pub tuples: u64,
    /// Blocks of the relation, meta and centroid pages included.
    pub pages: BlockNumber,
}

/// Writes a new index into an empty relation.
pub struct IvfBuilder<'a, R: Relation, S: Space> {
    rel: &'a R,
    space: &'a S,
    assigner: ListAssigner<'a, S>,
    /// Largest [`Space::payload_norm`] pushed so far.
    max_payload_norm: f32,
    payload_size: usize,
    centroid_blocks: Vec<BlockNumber>,
    lists: Vec<ListWriter>,
    tuples_per_page: usize,
    /// Tuples per batch (fewer for large payloads, see [`BATCH_BYTES`]).
    batch_tuples: usize,
    /// Tuples waiting for assignment: heap TIDs and row-major payloads.
    batch_tids: Vec<ItemPointer>,
    batch_payloads: Vec<u8>,
    tuples_done: u64,
    progress: Box<dyn FnMut(u64) + 'a>,
    /// Where batches are assigned (this thread's rayon pool if `None`).
    pool: Option<&'a WorkerPool>,
    /// Bytes of a list tuple's payload: `payload_size`, or the code size.
    tuple_size: usize,
    /// A build of a code index (see [`IvfBuilder::new_with_codes`]).
    codes: Option<CodeBuild<'a>>,
}

/// State of a build that stores RaBitQ codes in the lists.
struct CodeBuild<'a> {
    codec: &'a RabitqCodec,
    /// The centroids as f32, row-major.
    centroids: Vec<f32>,
    /// The batch's vectors as the operator sees them, row-major.
    batch_vectors: Vec<f32>,
}

/// Build state of one list.
#[derive(Default)]
struct ListWriter {
    head: Option<BlockNumber>,
    /// Block reserved for the page being filled.
    reserved: Option<BlockNumber>,
    /// Encoded tuples not yet written, back to back.
    pending: Vec<u8>,
    tuples: u64,
}

impl<'a, R: Relation, S: Space> IvfBuilder<'a, R, S> {
    /// Starts a build: writes the meta page and reserves the centroid pages of
    /// an empty relation. `centroids` holds the lists' centroids as payloads,
    /// back to back (`lists × payload_size` bytes; at least one list).
    /// `progress` is called on this thread with the number of tuples written.
    pub fn new(
        rel: &'a R,
        space: &'a S,
        params: IndexParams,
        centroids: Vec<u8>,
        progress: impl FnMut(u64) + 'a,
    ) -> Result<Self, IvfError> {
        Self::new_inner(rel, space, params, centroids, None, progress)
    }

    /// [`Self::new_with_codes`] when `codec` is given, else [`Self::new`].
    pub fn new_maybe_codes(
        rel: &'a R,
        space: &'a S,
        params: IndexParams,
        centroids: Vec<u8>,
        codec: Option<&'a RabitqCodec>,
        progress: impl FnMut(u64) + 'a,
    ) -> Result<Self, IvfError> {
        match codec {
            Some(codec) => Self::new_with_codes(rel, space, params, centroids, codec, progress),
            None => Self::new(rel, space, params, centroids, progress),
        }
    }

    /// Starts the build of a code index ([`crate::format::FORMAT_VERSION_RABITQ`]):
    /// as [`IvfBuilder::new`], with centroids that are f32 payloads
    /// (`payload_size = 4 × dims`), rows assigned to lists by their payloads
    /// as usual, and each list tuple holding `codec`'s code of the row's
    /// vector (given to [`IvfBuilder::push_with_vector`]) relative to its
    /// list's centroid. `params.quantization` is ignored.
    pub fn new_with_codes(
        rel: &'a R,
        space: &'a S,
        params: IndexParams,
        centroids: Vec<u8>,
        codec: &'a RabitqCodec,
        progress: impl FnMut(u64) + 'a,
    ) -> Result<Self, IvfError> {
        if params.dims as usize != codec.dims() || params.payload_size != codec.dims() * 4 {
            return Err(IvfError::InvalidBuild(format!(
                "a code index needs f32 centroids of the codec's {} dimensions",
                codec.dims()
            )));
        }
        let f32s: Vec<f32> = bytemuck::pod_collect_to_vec(&centroids);
        let mut builder = Self::new_inner(rel, space, params, centroids, Some(codec), progress)?;
        builder.codes = Some(CodeBuild {
            codec,
            centroids: f32s,
            batch_vectors: Vec::with_capacity(builder.batch_tuples * codec.dims()),
        });
        Ok(builder)
    }

    fn new_inner(
        rel: &'a R,
        space: &'a S,
        params: IndexParams,
        centroids: Vec<u8>,
        codec: Option<&RabitqCodec>,
        progress: impl FnMut(u64) + 'a,
    ) -> Result<Self, IvfError> {
        let size = params.payload_size;
        let invalid = |why: String| Err(IvfError::InvalidBuild(why));
        // Only the f32 centroids of a code index may span pages.
        let max_size = match codec {
            Some(_) => MAX_SPANNING_PAYLOAD_SIZE,
            None => max_payload_size(),
        };
        if size == 0 || size > max_size {
            return invalid(format!("payload size {size} outside 1..={max_size}"));
        }
        if let Some(codec) = codec {
            if codec.code_size() > max_payload_size() {
                return invalid(format!(
                    "codes of {} bytes do not fit a page (at most {})",
                    codec.code_size(),
                    max_payload_size()
                ));
            }
        }
        if centroids.is_empty() || !centroids.len().is_multiple_of(size) {
            return invalid(format!(
                "{} centroid bytes are not whole payloads",
                centroids.len()
            ));
        }
        if rel.nblocks() != 0 {
            return invalid("relation is not empty".into());
        }
        let lists = centroids.len() / size;
        let assigner = ListAssigner::new(space, centroids, size)?;
        let centroid_blocks = write_meta_and_reserve_centroid_pages(rel, params, lists, codec)?;
        let tuple_size = codec.map_or(size, |c| c.code_size());
        let batch_tuples = (BATCH_BYTES / size).clamp(1, BATCH_TUPLES);
        Ok(Self {
            rel,
            space,
            assigner,
            max_payload_norm: 0.0,
            payload_size: size,
            centroid_blocks,
            lists: (0..lists).map(|_| ListWriter::default()).collect(),
            tuples_per_page: items_per_page(LIST_TUPLE_HEADER_SIZE + tuple_size),
            batch_tuples,
            batch_tids: Vec::with_capacity(batch_tuples),
            batch_payloads: Vec::with_capacity(batch_tuples * size),
            tuples_done: 0,
            progress: Box::new(progress),
            pool: None,
            tuple_size,
            codes: None,
        })
    }

    /// Assigns rows to lists on `pool`'s workers.
    pub fn with_pool(mut self, pool: &'a WorkerPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Adds one heap tuple's vector.
    pub fn push(&mut self, tid: ItemPointer, payload: &[u8]) -> Result<(), IvfError> {
        if self.codes.is_some() {
            return Err(IvfError::InvalidBuild(
                "a code index is built with push_with_vector".into(),
            ));
        }
        self.push_payload(tid, payload)
    }

    /// Adds one heap tuple to a code index: `payload` (the space's encoding,
    /// used to assign it to a list) and `vector`, the value the operator
    /// compares (for cosine: not normalised), which the code encodes.
    pub fn push_with_vector(
        &mut self,
        tid: ItemPointer,
        payload: &[u8],
        vector: &[f32],
    ) -> Result<(), IvfError> {
        let Some(codes) = self.codes.as_mut() else {
            return self.push(tid, payload);
        };
        if vector.len() != codes.codec.dims() {
            return Err(IvfError::PayloadSize {
                expected: codes.codec.dims() * 4,
                actual: vector.len() * 4,
            });
        }
        if payload.len() != self.payload_size {
            return Err(IvfError::PayloadSize {
                expected: self.payload_size,
                actual: payload.len(),
            });
        }
        codes.batch_vectors.extend_from_slice(vector);
        self.push_payload(tid, payload)
    }

    fn push_payload(&mut self, tid: ItemPointer, payload: &[u8]) -> Result<(), IvfError> {
        if payload.len() != self.payload_size {
            return Err(IvfError::PayloadSize {
                expected: self.payload_size,
                actual: payload.len(),
            });
        }
        self.max_payload_norm = self.max_payload_norm.max(self.space.payload_norm(payload));
        self.batch_tids.push(tid);
        self.batch_payloads.extend_from_slice(payload);
        if self.batch_tids.len() == self.batch_tuples {
            self.write_batch();
        }
        Ok(())
    }

    /// Writes everything still buffered and the centroid pages.
    pub fn finish(mut self) -> Result<BuildStats, IvfError> {
        self.write_batch();
        let mut headers = Vec::with_capacity(self.lists.len());
        for list in 0..self.lists.len() {
            let tail = self.write_last_page(list);
            let writer = &self.lists[list];
            headers.push(CentroidHeader {
                head: writer.head.unwrap_or(INVALID_BLOCK),
                insert_block: tail.unwrap_or(INVALID_BLOCK),
                tuples: writer.tuples,
            });
        }
        self.write_centroid_pages(&headers);
        if self.max_payload_norm > 0.0 {
            crate::centroids::raise_max_payload_norm(self.rel, self.max_payload_norm)?;
        }
        Ok(BuildStats {
            tuples: self.tuples_done,
            pages: self.rel.nblocks(),
        })
    }

    /// Assigns the batch to lists (in parallel) and appends it to them.
    fn write_batch(&mut self) {
        if self.batch_tids.is_empty() {
            return;
        }
        let size = self.payload_size;
        let (assigner, payloads) = (&self.assigner, &self.batch_payloads);
        let assignment = match self.pool {
            Some(pool) => pool.install(|| assigner.assign(payloads)),
            None => assigner.assign(payloads),
        };
        // A code index stores the code of each vector relative to its list's
        // centroid, encoded in parallel like the assignment.
        let code_bytes = self.codes.as_ref().map(|codes| {
            use rayon::prelude::*;
            let (dims, len) = (codes.codec.dims(), codes.codec.code_size());
            let mut out = vec![0u8; assignment.len() * len];
            let mut encode = || {
                out.par_chunks_mut(len).enumerate().for_each(|(i, code)| {
                    let c = assignment[i] * dims;
                    codes.codec.encode_into(
                        &codes.batch_vectors[i * dims..(i + 1) * dims],
                        &codes.centroids[c..c + dims],
                        code,
                    );
                })
            };
            match self.pool {
                Some(pool) => pool.install(encode),
                None => encode(),
            }
            out
        });
        let tsize = self.tuple_size;
        let mut tuple = Vec::with_capacity(LIST_TUPLE_HEADER_SIZE + tsize);
        for (i, &list) in assignment.iter().enumerate() {
            let payload = match &code_bytes {
                Some(codes) => &codes[i * tsize..(i + 1) * tsize],
                None => &self.batch_payloads[i * size..(i + 1) * size],
            };
            encode_list_tuple(self.batch_tids[i], payload, &mut tuple);
            let writer = &mut self.lists[list];
            writer.pending.extend_from_slice(&tuple);
            writer.tuples += 1;
            // Only write a page once a later tuple proves it is not the last.
            if writer.pending.len() > self.tuples_per_page * tuple.len() {
                self.write_full_page(list);
            }
        }
        self.tuples_done += self.batch_tids.len() as u64;
        self.batch_tids.clear();
        self.batch_payloads.clear();
        if let Some(codes) = self.codes.as_mut() {
            codes.batch_vectors.clear();
        }
        (self.progress)(self.tuples_done);
    }

    /// Writes a page's worth of the list's pending tuples, linked to a newly
    /// reserved block that will receive the following page.
    fn write_full_page(&mut self, list: usize) {
        let tuple_len = LIST_TUPLE_HEADER_SIZE + self.tuple_size;
        let writer = &mut self.lists[list];
        let block = writer
            .reserved
            .unwrap_or_else(|| reserve_list_page(self.rel));
        let next = reserve_list_page(self.rel);
        let page_bytes = self.tuples_per_page * tuple_len;
        write_list_page(
            self.rel,
            block,
            &writer.pending[..page_bytes],
            tuple_len,
            next,
        );
        writer.pending.drain(..page_bytes);
        writer.head.get_or_insert(block);
        writer.reserved = Some(next);
    }

    /// Writes the list's remaining tuples as its tail page; returns the tail.
    fn write_last_page(&mut self, list: usize) -> Option<BlockNumber> {
        let tuple_len = LIST_TUPLE_HEADER_SIZE + self.tuple_size;
        let writer = &mut self.lists[list];
        if writer.pending.is_empty() {
            // A reserved block always has pending tuples for it.
            return None;
        }
        let block = writer
            .reserved
            .unwrap_or_else(|| reserve_list_page(self.rel));
        write_list_page(self.rel, block, &writer.pending, tuple_len, INVALID_BLOCK);
        writer.pending.clear();
        writer.head.get_or_insert(block);
        Some(block)
    }

    /// Fills the reserved centroid pages, chained in order.
    fn write_centroid_pages(&self, headers: &[CentroidHeader]) {
        let size = self.payload_size;
        let payloads = self.assigner.centroids().chunks(size);
        let next_of = |i: usize| {
            self.centroid_blocks
                .get(i + 1)
                .copied()
                .unwrap_or(INVALID_BLOCK)
        };
        let pieces = centroid_pages(size);
        if pieces > 1 {
            // One item per page: the header and the centroid's first bytes,
            // then its continuation pieces.
            let mut blocks = self.centroid_blocks.iter().enumerate();
            let mut item = Vec::with_capacity(centroid_piece_len(size, 0));
            for (header, payload) in headers.iter().zip(payloads) {
                let mut rest = payload;
                for piece in 0..pieces {
                    let (i, &block) = blocks.next().expect("pages reserved per centroid");
                    item.clear();
                    if piece == 0 {
                        item.extend_from_slice(bytemuck::bytes_of(header));
                    }
                    let take = centroid_piece_len(size, piece) - item.len();
                    item.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    let mut page = self.rel.write(block);
                    page.opaque_mut().next = next_of(i);
                    assert!(page.add_item(&item).is_some(), "centroid page overflow");
                }
                debug_assert!(rest.is_empty());
            }
            return;
        }
        let per_page = items_per_page(CENTROID_HEADER_SIZE + size);
        let mut item = vec![0u8; CENTROID_HEADER_SIZE + size];
        let mut entries = headers.iter().zip(payloads);
        for (i, &block) in self.centroid_blocks.iter().enumerate() {
            let mut page = self.rel.write(block);
            page.opaque_mut().next = next_of(i);
            for (header, payload) in entries.by_ref().take(per_page) {
                header.encode_into(&mut item);
                item[CENTROID_HEADER_SIZE..].copy_from_slice(payload);
                assert!(page.add_item(&item).is_some(), "centroid page overflow");
            }
        }
    }
}

/// Writes block 0 and appends the (still empty) centroid pages.
fn write_meta_and_reserve_centroid_pages<R: Relation>(
    rel: &R,
    params: IndexParams,
    lists: usize,
    codec: Option<&RabitqCodec>,
) -> Result<Vec<BlockNumber>, IvfError> {
    let pieces = centroid_pages(params.payload_size);
    let pages = if pieces > 1 {
        lists * pieces
    } else {
        lists.div_ceil(items_per_page(CENTROID_HEADER_SIZE + params.payload_size))
    };
    let meta = MetaTuple {
        magic: META_MAGIC,
        version: FORMAT_VERSION,
        dims: params.dims,
        payload_size: params.payload_size as u32,
        lists: u32::try_from(lists).map_err(|_| IvfError::InvalidBuild("too many lists".into()))?,
        space_id: params.space_id,
        quantization: params.quantization,
        first_centroid_block: META_BLOCK + 1,
        max_payload_norm: 0.0,
        reserved: 0,
    };
    let mut page = rel.extend();
    assert_eq!(page.block(), META_BLOCK, "the relation was checked empty");
    *page.opaque_mut() = PageRole::Meta.opaque();
    let item = match codec {
        Some(codec) => codec.meta_item(meta).encode(),
        None => bytemuck::bytes_of(&meta).to_vec(),
    };
    assert!(page.add_item(&item).is_some());
    drop(page);
    let blocks: Vec<BlockNumber> = (0..pages)
        .map(|i| {
            let mut page = rel.extend();
            *page.opaque_mut() = if i % pieces == 0 {
                PageRole::Centroids.opaque()
            } else {
                PageRole::CentroidPiece.opaque()
            };
            page.block()
        })
        .collect();
    let contiguous = blocks
        .iter()
        .enumerate()
        .all(|(i, &b)| b == META_BLOCK + 1 + i as BlockNumber);
    if contiguous {
        Ok(blocks)
    } else {
        Err(IvfError::InvalidBuild(
            "another backend extended the relation".into(),
        ))
    }
}

/// Appends an empty list page to be written later.
fn reserve_list_page<R: Relation>(rel: &R) -> BlockNumber {
    let mut page = rel.extend();
    *page.opaque_mut() = PageRole::List.opaque();
    page.block()
}

/// Writes encoded tuples (each `tuple_len` bytes) to a reserved list page.
fn write_list_page<R: Relation>(
    rel: &R,
    block: BlockNumber,
    tuples: &[u8],
    tuple_len: usize,
    next: BlockNumber,
) {
    let mut page = rel.write(block);
    page.opaque_mut().next = next;
    for tuple in tuples.chunks(tuple_len) {
        assert!(page.add_item(tuple).is_some(), "list page overflow");
    }
}
