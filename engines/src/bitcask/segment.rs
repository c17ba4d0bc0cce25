//! Data files ("segments"): their names, the payloads carried in `engines::log` frames, and
//! the scan that reads one file back at start-up and during a merge. Every data file is an
//! `engines::log` log: the synced-length watermark header, then the frames from
//! [`log::LOG_START`] (the layout is drawn in the module comment of `bitcask`).

use std::path::Path;

use crate::io::{File, Io};
use crate::log::{self, Scanner, SyncedMark, Tail, HEADER_LEN, LOG_START};
use crate::{Error, Result};

/// Payload type tags (first byte of every payload).
pub const REC_PUT: u8 = 1;
pub const REC_DEL: u8 = 2;
pub const REC_HEADER: u8 = 3;
pub const REC_SEAL: u8 = 4;

/// Who created a data file: the writer (as its active file) or a merge.
pub const BORN_ACTIVE: u8 = 1;
pub const BORN_MERGE: u8 = 2;

const MAGIC: &[u8; 8] = b"kvbcask2";
/// type u8 | seq u64 | key_len u16
pub const REC_FIXED: usize = 1 + 8 + 2;
const HEADER_PAYLOAD: usize = 1 + 8 + 1 + 4;
const SEAL_PAYLOAD: usize = 1 + 8 + 8;

/// Bytes of the seal frame that ends every immutable data file.
pub const SEAL_FRAME_LEN: u64 = (HEADER_LEN + SEAL_PAYLOAD) as u64;

/// Offset of the first record of a data file: the log's watermark header, then the header
/// frame that names the file.
pub const DATA_START: u64 = LOG_START + (HEADER_LEN + HEADER_PAYLOAD) as u64;

/// The kinds of file in a bitcask directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `NNNNNNNN.data`: a data file the writer appended to (the active file, or one it
    /// rolled over from, then sealed).
    Data,
    /// `NNNNNNNN.merged`: a data file written by a committed merge (always sealed).
    Merged,
    /// `NNNNNNNN.merging`: a data file a merge is writing; renamed to `.merged` once the
    /// merge commits, removed at open if it never did.
    Merging,
    /// `NNNNNNNN.hint`: the hint file of an immutable data file.
    Hint,
}

impl FileType {
    fn ext(self) -> &'static str {
        match self {
            FileType::Data => "data",
            FileType::Merged => "merged",
            FileType::Merging => "merging",
            FileType::Hint => "hint",
        }
    }
}

/// `NNNNNNNN.ext` for file `id`.
pub fn file_name(id: u32, ty: FileType) -> String {
    format!("{id:08}.{}", ty.ext())
}

/// Parses a name made by [`file_name`].
pub fn parse_name(name: &str) -> Option<(u32, FileType)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 8 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ty = [
        FileType::Data,
        FileType::Merged,
        FileType::Merging,
        FileType::Hint,
    ]
    .into_iter()
    .find(|t| t.ext() == ext)?;
    Some((stem.parse().ok()?, ty))
}

/// Appends the frame of a put (`tombstone == false`) or a delete to `out`.
pub fn encode_record(out: &mut Vec<u8>, tombstone: bool, seq: u64, key: &[u8], value: &[u8]) {
    log::encode_with(out, |b| {
        b.reserve(REC_FIXED + key.len() + value.len());
        b.push(if tombstone { REC_DEL } else { REC_PUT });
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&(key.len() as u16).to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(value);
    });
}

/// Frame length of a record with this key and value.
pub fn record_frame_len(key: usize, value: usize) -> usize {
    log::frame_len(REC_FIXED + key + value)
}

/// Appends the header frame of data file `id`.
pub fn encode_header(out: &mut Vec<u8>, born: u8, id: u32) {
    log::encode_with(out, |b| {
        b.push(REC_HEADER);
        b.extend_from_slice(MAGIC);
        b.push(born);
        b.extend_from_slice(&id.to_le_bytes());
    });
}

/// Creates data file `id` at `path`: the log's watermark header (nothing synced yet) and the
/// header frame, [`DATA_START`] bytes in all. Neither the file nor its name is durable yet:
/// the caller fsyncs both when it needs them to be.
/// A failure removes the part made.
pub fn create(io: &Io, path: &Path, born: u8, id: u32) -> Result<(File, SyncedMark)> {
    let file = io.create(path)?;
    match write_head(&file, born, id) {
        Ok(mark) => Ok((file, mark)),
        Err(e) => {
            drop(file);
            let _ = io.remove(path);
            Err(e)
        }
    }
}

/// Writes the head of data file `id` (watermark header and header frame) into `file`, which
/// is empty, and returns its mark.
pub fn write_head(file: &File, born: u8, id: u32) -> Result<SyncedMark> {
    let mark = log::create_log(file)?;
    let mut buf = Vec::with_capacity((DATA_START - LOG_START) as usize);
    encode_header(&mut buf, born, id);
    file.write_all_at(&buf, LOG_START)?;
    Ok(mark)
}

/// Appends the seal frame that closes an immutable data file.
pub fn encode_seal(out: &mut Vec<u8>, records: u64, max_seq: u64) {
    log::encode_with(out, |b| {
        b.push(REC_SEAL);
        b.extend_from_slice(&records.to_le_bytes());
        b.extend_from_slice(&max_seq.to_le_bytes());
    });
}

/// A put or delete as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub tombstone: bool,
    pub seq: u64,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// One decoded payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    Record(Record<'a>),
    Header { born: u8, id: u32 },
    Seal { records: u64, max_seq: u64 },
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Decodes a payload whose frame checksum held; `None` when its structure is wrong.
pub fn parse(p: &[u8]) -> Option<Payload<'_>> {
    match *p.first()? {
        t @ (REC_PUT | REC_DEL) => {
            if p.len() < REC_FIXED {
                return None;
            }
            let klen = u16::from_le_bytes([p[9], p[10]]) as usize;
            if klen == 0
                || p.len() < REC_FIXED + klen
                || (t == REC_DEL && p.len() != REC_FIXED + klen)
            {
                return None;
            }
            Some(Payload::Record(Record {
                tombstone: t == REC_DEL,
                seq: u64_at(p, 1),
                key: &p[REC_FIXED..REC_FIXED + klen],
                value: &p[REC_FIXED + klen..],
            }))
        }
        REC_HEADER if p.len() == HEADER_PAYLOAD && &p[1..9] == MAGIC => Some(Payload::Header {
            born: p[9],
            id: u32::from_le_bytes(p[10..14].try_into().unwrap()),
        }),
        REC_SEAL if p.len() == SEAL_PAYLOAD => Some(Payload::Seal {
            records: u64_at(p, 1),
            max_seq: u64_at(p, 9),
        }),
        _ => None,
    }
}

/// What a scan of a whole data file found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanned {
    /// From the header; `None` when the file ends before a whole header (a file created just
    /// before a crash).
    pub born: Option<u8>,
    /// The file ends with a seal record.
    pub sealed: bool,
    pub tail: Tail,
    pub max_seq: u64,
    pub records: u64,
}

/// How far a scan may trust that the file reached stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// Up to the synced length its watermark records: damage before it is corruption, damage
    /// at or after it a torn tail (a file the writer appended to).
    Watermark,
    /// All of it: the file was complete and fsynced before it was used, so every damage is
    /// corruption (a merged file, a sealed file known to be durable).
    Whole,
}

/// Reads every frame of data file `id`, handing each put or delete to `visit` with the offset
/// of its frame. Checks the header (first) and the seal (last, nothing after it). A torn tail
/// is reported in `Scanned::tail`; the caller decides whether this file may have one.
pub fn scan(
    file: &File,
    id: u32,
    trust: Trust,
    mut visit: impl FnMut(u64, &[u8], Record<'_>) -> Result<()>,
) -> Result<Scanned> {
    let corrupt = |at: u64, what: &str| Error::corruption(file.path(), at, what);
    let mut out = Scanned {
        born: None,
        sealed: false,
        tail: Tail {
            valid_len: 0,
            torn: false,
        },
        max_seq: 0,
        records: 0,
    };
    let len = file.len()?;
    if len < LOG_START {
        // Cut inside the watermark header: a file that never completed an fsync (a crash
        // while it was created) holds nothing, anything else lost synced bytes.
        if trust == Trust::Watermark && log::read_synced_len(file)? == LOG_START {
            out.tail.torn = len > 0;
            return Ok(out);
        }
        return Err(corrupt(len, "data file ends inside its header"));
    }
    let mut s = match trust {
        Trust::Watermark => Scanner::log(file)?,
        Trust::Whole => Scanner::whole(file, LOG_START)?,
    };
    while let Some((at, payload)) = s.next_record()? {
        if out.sealed {
            return Err(corrupt(at, "record after the seal of a data file"));
        }
        match parse(payload) {
            Some(Payload::Header { born, id: hid }) if at == LOG_START => {
                if hid != id || !(born == BORN_ACTIVE || born == BORN_MERGE) {
                    return Err(corrupt(at, "data file header names another file"));
                }
                out.born = Some(born);
            }
            _ if at == LOG_START => {
                return Err(corrupt(at, "data file does not start with a header"))
            }
            Some(Payload::Record(r)) => {
                out.records += 1;
                out.max_seq = out.max_seq.max(r.seq);
                visit(at, payload, r)?;
            }
            Some(Payload::Seal { records, max_seq }) => {
                if records != out.records || max_seq != out.max_seq {
                    return Err(corrupt(at, "seal does not match the records of the file"));
                }
                out.sealed = true;
            }
            _ => return Err(corrupt(at, "malformed record in a data file")),
        }
    }
    out.tail = s.tail().expect("the scan ended");
    Ok(out)
}

/// Reads the frame of a record at `offset` (`len` bytes) into `buf` and checks it.
pub fn read_frame(file: &File, offset: u64, len: u32, buf: &mut Vec<u8>) -> Result<()> {
    buf.clear();
    buf.resize(len as usize, 0);
    file.read_exact_at(buf, offset).map_err(|e| match e {
        Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::corruption(
            file.path(),
            offset,
            "data file ends inside a record the keydir points at",
        ),
        e => e,
    })?;
    log::decode(buf, file, offset)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Io;

    #[test]
    fn names_round_trip() {
        assert_eq!(file_name(7, FileType::Data), "00000007.data");
        assert_eq!(parse_name("00000007.hint"), Some((7, FileType::Hint)));
        assert_eq!(parse_name("00000007.merged"), Some((7, FileType::Merged)));
        assert_eq!(parse_name("00000007.merging"), Some((7, FileType::Merging)));
        assert_eq!(parse_name("7.data"), None);
        assert_eq!(parse_name("0000000x.data"), None);
        assert_eq!(parse_name("00000007.data.tmp"), None);
        assert_eq!(parse_name("KVBENCH"), None);
    }

    #[test]
    fn records_round_trip_and_bad_payloads_are_refused() {
        let mut buf = Vec::new();
        encode_record(&mut buf, false, 42, b"key", b"value");
        assert_eq!(buf.len(), record_frame_len(3, 5));
        let p = &buf[HEADER_LEN..];
        assert_eq!(
            parse(p),
            Some(Payload::Record(Record {
                tombstone: false,
                seq: 42,
                key: b"key",
                value: b"value"
            }))
        );
        for cut in 0..p.len().min(REC_FIXED + 3) {
            assert_eq!(parse(&p[..cut]), None, "cut {cut}");
        }
        let mut del = Vec::new();
        encode_record(&mut del, true, 43, b"key", b"");
        assert!(matches!(parse(&del[HEADER_LEN..]), Some(Payload::Record(r)) if r.tombstone));
        let mut bad = del[HEADER_LEN..].to_vec();
        bad.push(0);
        assert_eq!(parse(&bad), None, "a tombstone carries no value");
        assert_eq!(parse(&[9, 0, 0]), None);
    }

    proptest::proptest! {
        /// Bytes from disk never panic the decoder, whatever they are.
        #[test]
        fn parse_takes_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }

        /// A data file of random frames (valid checksums, arbitrary payloads) and random
        /// trailing bytes, with any synced length, scans to records or an error, never a panic.
        #[test]
        fn scan_takes_any_file(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), 0..8),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30),
            header in proptest::prelude::any::<bool>(),
            synced in 0u64..600,
            whole in proptest::prelude::any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let f = Io::new().create(&dir.path().join("00000001.data")).unwrap();
            let mark = log::create_log(&f).unwrap();
            let mut buf = Vec::new();
            if header {
                encode_header(&mut buf, BORN_ACTIVE, 1);
            }
            for p in &payloads {
                log::encode(p, &mut buf);
            }
            buf.extend_from_slice(&tail);
            f.write_all_at(&buf, LOG_START).unwrap();
            mark.record(&f, LOG_START + synced).unwrap();
            let trust = if whole { Trust::Whole } else { Trust::Watermark };
            let _ = scan(&f, 1, trust, |_, _, _| Ok(()));
        }
    }

    #[test]
    fn scan_checks_header_and_seal() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let (f, _) = create(&io, &dir.path().join("00000003.data"), BORN_ACTIVE, 3).unwrap();
        let mut buf = Vec::new();
        encode_record(&mut buf, false, 1, b"a", b"1");
        encode_record(&mut buf, true, 2, b"a", b"");
        encode_seal(&mut buf, 2, 2);
        f.write_all_at(&buf, DATA_START).unwrap();
        let mut seen = Vec::new();
        let s = scan(&f, 3, Trust::Whole, |at, _, r| {
            seen.push((at, r.seq, r.tombstone));
            Ok(())
        })
        .unwrap();
        assert!(s.sealed && !s.tail.torn);
        assert_eq!((s.born, s.records, s.max_seq), (Some(BORN_ACTIVE), 2, 2));
        assert_eq!(seen[0], (DATA_START, 1, false));
        assert!(
            scan(&f, 4, Trust::Whole, |_, _, _| Ok(())).is_err(),
            "header names file 3"
        );
        let mut wrong_seal = buf[..buf.len() - log::frame_len(SEAL_PAYLOAD)].to_vec();
        encode_seal(&mut wrong_seal, 5, 2);
        f.set_len(DATA_START).unwrap();
        f.write_all_at(&wrong_seal, DATA_START).unwrap();
        assert!(matches!(
            scan(&f, 3, Trust::Whole, |_, _, _| Ok(())),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn a_file_cut_inside_its_watermark_header() {
        let dir = tempfile::tempdir().unwrap();
        let io = Io::new();
        let (f, mark) = create(&io, &dir.path().join("00000003.data"), BORN_ACTIVE, 3).unwrap();
        f.set_len(300).unwrap();
        let s = scan(&f, 3, Trust::Watermark, |_, _, _| Ok(())).unwrap();
        assert_eq!((s.born, s.tail.torn, s.tail.valid_len), (None, true, 0));
        assert!(scan(&f, 3, Trust::Whole, |_, _, _| Ok(())).is_err());
        // A file whose watermark names synced bytes must not be this short.
        f.set_len(DATA_START).unwrap();
        mark.record(&f, DATA_START).unwrap();
        f.set_len(600).unwrap();
        assert!(matches!(
            scan(&f, 3, Trust::Watermark, |_, _, _| Ok(())),
            Err(Error::Corruption { .. })
        ));
    }
}
