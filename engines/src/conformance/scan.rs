//! Range scans: bounds, limits, order, deletions and overwrites, checked against a model
//! before and after compaction (and after a reopen for engines with files).

use std::collections::BTreeMap;
use std::ops::Bound;

use super::{temp_dir, Kit};
use crate::Engine;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// (start, end, limit) of one scan.
type Range<'a> = (&'a [u8], Option<&'a [u8]>, usize);

fn expect(
    model: &Model,
    start: &[u8],
    end: Option<&[u8]>,
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    if end.is_some_and(|e| e <= start) {
        return Vec::new();
    }
    let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
    model
        .range::<[u8], _>((Bound::Included(start), upper))
        .take(limit)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_all(db: &dyn Engine, model: &Model, when: &str) {
    let cases: &[Range] = &[
        (b"", None, usize::MAX),
        (b"k010", None, 5),
        (b"k010", Some(b"k015"), 100),
        (b"k010", Some(b"k010"), 100),
        (b"k020", Some(b"k010"), 100),
        (b"k010", None, 0),
        (b"z", None, 10),
        (b"k099", None, 10),
        (b"a", Some(b"k003"), 100),
        (b"k0105", Some(b"k0135"), 100),
        (b"k045", Some(b"k065"), 100),
        (b"k045", Some(b"k065"), 3),
        (b"k055", Some(b"k056"), 100),
        (b"k09", None, usize::MAX),
    ];
    for &(start, end, limit) in cases {
        let got = db
            .scan(start, end, limit)
            .unwrap_or_else(|e| panic!("{when}: scan failed: {e}"));
        let want = expect(model, start, end, limit);
        let show = |v: &[(Vec<u8>, Vec<u8>)]| -> Vec<String> {
            v.iter()
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect()
        };
        assert!(
            got == want,
            "{when}: scan({:?}, {:?}, {limit}) returned {:?}, expected {:?}",
            String::from_utf8_lossy(start),
            end.map(String::from_utf8_lossy),
            show(&got),
            show(&want)
        );
    }
}

pub fn semantics(kit: &Kit) {
    let dir = temp_dir();
    let db = kit.open(dir.path());
    let mut model = Model::new();
    // Insert in a scrambled order so that sorting is the engine's job.
    for i in (0..100u32).map(|i| (i * 37) % 100) {
        let (k, v) = (
            format!("k{i:03}").into_bytes(),
            format!("v{i}").into_bytes(),
        );
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    check_all(&*db, &model, "after inserts");
    for i in 50..60u32 {
        let k = format!("k{i:03}").into_bytes();
        db.delete(&k).unwrap();
        model.remove(&k);
    }
    for i in [60u32, 61, 5, 99] {
        let (k, v) = (
            format!("k{i:03}").into_bytes(),
            format!("new-{i}").into_bytes(),
        );
        db.put(&k, &v).unwrap();
        model.insert(k, v);
    }
    check_all(&*db, &model, "after deletes and overwrites");
    db.compact().unwrap();
    check_all(&*db, &model, "after compact");
    if kit.persistent {
        db.close().unwrap();
        let db = kit.open(dir.path());
        check_all(&*db, &model, "after reopen");
        db.close().unwrap();
    } else {
        db.close().unwrap();
    }
}
