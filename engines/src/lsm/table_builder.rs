//! Writes one SSTable: data blocks as entries arrive, then the index block, the bloom
//! filter and the footer (format drawn in `mod.rs`), then an fsync.

use std::path::Path;

use super::block::BlockBuilder;
use super::bloom;
use super::coding::put_short_bytes;
use super::sstable::{table_path, TableMeta, FOOTER_LEN, MAGIC, TABLE_VERSION};
use crate::io::{File, Io};
use crate::Result;

/// Bytes gathered before one write call.
const WRITE_BUFFER: usize = 256 << 10;

/// Writes one table. Entries must come in strictly ascending key order.
pub struct TableBuilder {
    file: File,
    meta: TableMeta,
    block_bytes: usize,
    bloom_bits: usize,
    /// Bytes of the file written so far.
    written: u64,
    pending: Vec<u8>,
    block: BlockBuilder,
    index: Vec<u8>,
    index_count: u32,
    hashes: Vec<u64>,
}

impl TableBuilder {
    pub fn create(
        io: &Io,
        dir: &Path,
        id: u64,
        block_bytes: usize,
        bloom_bits: usize,
    ) -> Result<Self> {
        Ok(TableBuilder {
            file: io.create(&table_path(dir, id))?,
            meta: TableMeta {
                id,
                ..TableMeta::default()
            },
            block_bytes,
            bloom_bits,
            written: 0,
            pending: Vec::with_capacity(WRITE_BUFFER + block_bytes),
            block: BlockBuilder::default(),
            index: Vec::new(),
            index_count: 0,
            hashes: Vec::new(),
        })
    }

    pub fn add(&mut self, key: &[u8], seq: u64, value: Option<&[u8]>) -> Result<()> {
        debug_assert!(self.meta.entries == 0 || key > self.meta.largest.as_slice());
        if self.meta.entries == 0 {
            self.meta.smallest = key.to_vec();
        }
        self.block.add(key, seq, value);
        self.hashes.push(bloom::key_hash(key));
        self.meta.largest.clear();
        self.meta.largest.extend_from_slice(key);
        self.meta.entries += 1;
        self.meta.tombstones += value.is_none() as u64;
        self.meta.max_seq = self.meta.max_seq.max(seq);
        if self.block.size() >= self.block_bytes {
            self.finish_block()?;
        }
        Ok(())
    }

    pub fn id(&self) -> u64 {
        self.meta.id
    }

    /// Bytes the table takes so far (data blocks only).
    pub fn size(&self) -> u64 {
        self.written + (self.pending.len() + self.block.size()) as u64
    }

    fn finish_block(&mut self) -> Result<()> {
        let offset = self.written + self.pending.len() as u64;
        self.block.finish_into(&mut self.pending);
        let len = self.written + self.pending.len() as u64 - offset;
        put_short_bytes(&mut self.index, &self.meta.largest);
        self.index.extend_from_slice(&offset.to_le_bytes());
        self.index.extend_from_slice(&(len as u32).to_le_bytes());
        self.index_count += 1;
        if self.pending.len() >= WRITE_BUFFER {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        self.file.write_all_at(&self.pending, self.written)?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes the index, filter and footer and fsyncs the file (the caller fsyncs the directory).
    pub fn finish(mut self) -> Result<TableMeta> {
        if !self.block.is_empty() {
            self.finish_block()?;
        }
        let base = self.written;
        let index_offset = base + self.pending.len() as u64;
        let start = self.pending.len();
        self.pending.extend_from_slice(&self.index);
        self.pending
            .extend_from_slice(&self.index_count.to_le_bytes());
        let crc = crc32c::crc32c(&self.pending[start..]);
        self.pending.extend_from_slice(&crc.to_le_bytes());
        let index_len = (self.pending.len() - start) as u32;

        let bloom_offset = base + self.pending.len() as u64;
        let start = self.pending.len();
        bloom::build(&self.hashes, self.bloom_bits, &mut self.pending);
        let crc = crc32c::crc32c(&self.pending[start..]);
        self.pending.extend_from_slice(&crc.to_le_bytes());
        let bloom_len = (self.pending.len() - start) as u32;

        let start = self.pending.len();
        let p = &mut self.pending;
        p.extend_from_slice(&index_offset.to_le_bytes());
        p.extend_from_slice(&index_len.to_le_bytes());
        p.extend_from_slice(&bloom_offset.to_le_bytes());
        p.extend_from_slice(&bloom_len.to_le_bytes());
        p.extend_from_slice(&self.meta.entries.to_le_bytes());
        p.extend_from_slice(&self.meta.tombstones.to_le_bytes());
        p.extend_from_slice(&self.meta.max_seq.to_le_bytes());
        p.extend_from_slice(&TABLE_VERSION.to_le_bytes());
        let crc = crc32c::crc32c(&p[start..]);
        p.extend_from_slice(&crc.to_le_bytes());
        p.extend_from_slice(&MAGIC.to_le_bytes());
        debug_assert_eq!(p.len() - start, FOOTER_LEN);
        self.write_pending()?;
        self.file.sync()?;
        self.meta.size = self.written;
        Ok(self.meta)
    }
}
