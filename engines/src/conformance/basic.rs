//! Point operations, binary data, limits, large values and use after close.

use std::collections::BTreeMap;

use super::{temp_dir, Kit};
use crate::{Engine, Error, MAX_KEY_LEN, MAX_VALUE_LEN};

fn get(db: &dyn Engine, key: &[u8]) -> Option<Vec<u8>> {
    db.get(key)
        .unwrap_or_else(|e| panic!("get {:?}: {e}", String::from_utf8_lossy(key)))
}

/// Put, get, overwrite, delete, missing keys; then a thousand keys against a model.
pub fn ops(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    assert_eq!(get(&*db, b"missing"), None, "get of a key never written");
    db.put(b"a", b"1").unwrap();
    assert_eq!(get(&*db, b"a").as_deref(), Some(&b"1"[..]));
    db.put(b"a", b"22").unwrap();
    assert_eq!(get(&*db, b"a").as_deref(), Some(&b"22"[..]), "overwrite");
    db.delete(b"a").unwrap();
    assert_eq!(get(&*db, b"a"), None, "get of a deleted key");
    db.delete(b"never-written")
        .expect("delete of a missing key is not an error");
    db.delete(b"a").expect("deleting twice is not an error");
    db.put(b"a", b"333").unwrap();
    assert_eq!(
        get(&*db, b"a").as_deref(),
        Some(&b"333"[..]),
        "put after delete"
    );

    let mut model = BTreeMap::new();
    model.insert(b"a".to_vec(), b"333".to_vec());
    let mut user_bytes = 5u64;
    for i in 0..1000u32 {
        let k = format!("key-{i:04}").into_bytes();
        let v = format!("value-{i}-{}", "x".repeat(i as usize % 50)).into_bytes();
        user_bytes += (k.len() + v.len()) as u64;
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    for i in (0..1000u32).step_by(2) {
        let k = format!("key-{i:04}").into_bytes();
        let v = format!("second-{i}").into_bytes();
        user_bytes += (k.len() + v.len()) as u64;
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    for i in (0..1000u32).step_by(3) {
        let k = format!("key-{i:04}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    for i in 0..1000u32 {
        let k = format!("key-{i:04}").into_bytes();
        assert_eq!(get(&*db, &k), model.get(&k).cloned(), "key-{i:04}");
    }
    if kit.persistent && kit.counts_io {
        db.sync().unwrap();
        let written = db.stats().io.bytes_written;
        assert!(
            written >= user_bytes,
            "{}: the I/O layer counted {written} bytes written for {user_bytes} user bytes",
            kit.name
        );
    }
    db.close().unwrap();
}

/// Every byte value in keys and values, embedded zeros, empty values, 1- and 1024-byte keys.
pub fn binary(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    for b in 0..=255u8 {
        db.put(&[b], &all_bytes[b as usize..]).unwrap();
    }
    let zeros = [0u8, 0, 1, 0, 0];
    db.put(&zeros, &[0, 0, 0]).unwrap();
    db.put(b"empty", b"").unwrap();
    let long_key = vec![0xAB; MAX_KEY_LEN];
    db.put(&long_key, &all_bytes).unwrap();
    for b in 0..=255u8 {
        assert_eq!(
            get(&*db, &[b]).as_deref(),
            Some(&all_bytes[b as usize..]),
            "key [{b}]"
        );
    }
    assert_eq!(get(&*db, &zeros).as_deref(), Some(&[0u8, 0, 0][..]));
    assert_eq!(
        get(&*db, &[0, 0, 1, 0]),
        None,
        "a prefix of a key is another key"
    );
    assert_eq!(
        get(&*db, b"empty").as_deref(),
        Some(&b""[..]),
        "empty value is not absent"
    );
    assert_eq!(get(&*db, &long_key).as_deref(), Some(&all_bytes[..]));

    let firsts: Vec<Vec<u8>> = db
        .scan(&[], None, 3)
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        firsts,
        vec![vec![0u8], zeros.to_vec(), vec![1u8]],
        "byte-wise order"
    );
    if kit.persistent {
        db.close().unwrap();
        let db = kit.open(dir.path());
        assert_eq!(get(&*db, b"empty").as_deref(), Some(&b""[..]));
        assert_eq!(get(&*db, &[255]).as_deref(), Some(&all_bytes[255..]));
        assert_eq!(get(&*db, &long_key).as_deref(), Some(&all_bytes[..]));
        db.close().unwrap();
    } else {
        db.close().unwrap();
    }
}

fn invalid(r: crate::Result<impl std::fmt::Debug>, what: &str, says: &str) {
    match r {
        Err(Error::InvalidInput(msg)) => {
            assert!(
                msg.contains(says),
                "{what}: message '{msg}' does not state the limit"
            )
        }
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

/// Keys and values outside the limits are `InvalidInput` naming the limit, and change nothing.
pub fn limits(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    db.put(b"keep", b"me").unwrap();
    invalid(db.put(b"", b"v"), "put of an empty key", "1 to 1024");
    invalid(db.get(b""), "get of an empty key", "1 to 1024");
    invalid(db.delete(b""), "delete of an empty key", "1 to 1024");
    let long = vec![b'k'; MAX_KEY_LEN + 1];
    invalid(db.put(&long, b"v"), "put of a 1025-byte key", "1024");
    invalid(db.get(&long), "get of a 1025-byte key", "1024");
    let huge = vec![0u8; MAX_VALUE_LEN + 1];
    invalid(db.put(b"big", &huge), "put of a 16 MiB + 1 value", "16 MiB");
    assert_eq!(get(&*db, b"big"), None, "a rejected put must not land");
    assert_eq!(get(&*db, b"keep").as_deref(), Some(&b"me"[..]));
    db.close().unwrap();
}

/// Values of 1 MiB and 16 MiB (the limit) round-trip, are overwritten and survive a reopen.
pub fn large_values(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    let one: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    let sixteen: Vec<u8> = (0..MAX_VALUE_LEN as u32).map(|i| (i % 253) as u8).collect();
    db.put(b"one-mib", &one).unwrap();
    db.put(b"sixteen-mib", &sixteen).unwrap();
    db.put(b"small", b"s").unwrap();
    assert!(
        get(&*db, b"one-mib").as_deref() == Some(&one[..]),
        "1 MiB value differs"
    );
    assert!(
        get(&*db, b"sixteen-mib").as_deref() == Some(&sixteen[..]),
        "16 MiB value differs"
    );
    db.put(b"one-mib", b"now small").unwrap();
    if kit.persistent {
        db.close().unwrap();
        let db = kit.open(dir.path());
        assert_eq!(get(&*db, b"one-mib").as_deref(), Some(&b"now small"[..]));
        assert!(
            get(&*db, b"sixteen-mib").as_deref() == Some(&sixteen[..]),
            "16 MiB value differs after reopen"
        );
        assert_eq!(get(&*db, b"small").as_deref(), Some(&b"s"[..]));
        db.close().unwrap();
    } else {
        db.close().unwrap();
    }
}

/// Every call on a closed engine is `Error::Closed`, not a panic.
pub fn closed(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let closed = |r: crate::Result<()>, what: &str| {
        assert!(matches!(r, Err(Error::Closed)), "{what} after close: {r:?}")
    };
    closed(db.put(b"k", b"v"), "put");
    closed(db.get(b"k").map(|_| ()), "get");
    closed(db.delete(b"k"), "delete");
    closed(db.scan(b"a", None, 10).map(|_| ()), "scan");
    closed(db.sync(), "sync");
    closed(db.compact(), "compact");
    let again = db.close();
    assert!(
        matches!(again, Ok(()) | Err(Error::Closed)),
        "second close: {again:?}"
    );
    let _ = db.stats();
}
