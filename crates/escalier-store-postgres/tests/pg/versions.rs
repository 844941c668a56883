//! Stored versions: put-if-absent (also with two nodes racing), replace,
//! get, and listing by a prefix that means exactly itself.

use std::sync::Barrier;

use escalier_store::Backend;
use escalier_store_postgres::PgOptions;

use crate::common;

#[test]
fn versions_are_stored_once_replaced_and_read() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions::default());
    assert!(pg.put_version_if_absent("policy-set:v1", b"one").unwrap());
    assert!(!pg.put_version_if_absent("policy-set:v1", b"other").unwrap());
    assert_eq!(
        pg.version("policy-set:v1").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    pg.put_version("policy-set:v1", b"two").unwrap();
    assert_eq!(
        pg.version("policy-set:v1").unwrap().as_deref(),
        Some(&b"two"[..])
    );
    pg.put_version("books:b1", b"").unwrap();
    assert_eq!(pg.version("books:b1").unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(pg.version("policy-set:v2").unwrap(), None);
}

#[test]
fn a_prefix_is_matched_as_it_is() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions::default());
    for key in ["abc", "a_c", "a%b", "a\\d", "b", "A", "a", "ab'; --"] {
        pg.put_version(key, key.as_bytes()).unwrap();
    }
    let keys = |prefix: &str| -> Vec<String> {
        pg.versions(prefix)
            .unwrap()
            .into_iter()
            .map(|(k, v)| {
                assert_eq!(k.as_bytes(), v.as_slice());
                k
            })
            .collect()
    };
    // Byte order, as the embedded store lists them.
    assert_eq!(
        keys(""),
        ["A", "a", "a%b", "a\\d", "a_c", "ab'; --", "abc", "b"]
    );
    assert_eq!(keys("a"), ["a", "a%b", "a\\d", "a_c", "ab'; --", "abc"]);
    assert_eq!(keys("a%"), ["a%b"]);
    assert_eq!(keys("a_"), ["a_c"]);
    assert_eq!(keys("a\\"), ["a\\d"]);
    assert_eq!(keys("ab"), ["ab'; --", "abc"]);
    assert_eq!(keys("ab'"), ["ab'; --"]);
    assert!(keys("%").is_empty());
    assert!(keys("c").is_empty());
}

#[test]
fn two_nodes_storing_the_same_versions_at_once_store_each_once() {
    let Some(db) = common::db() else { return };
    let nodes = [
        db.connect(PgOptions::default()),
        db.connect(PgOptions::default()),
    ];
    const KEYS: usize = 40;
    let barrier = Barrier::new(nodes.len());
    let stored: Vec<Vec<bool>> = std::thread::scope(|s| {
        let handles: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(n, pg)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    (0..KEYS)
                        .map(|k| {
                            let value = format!("node {n}");
                            pg.put_version_if_absent(&format!("policy-set:{k}"), value.as_bytes())
                                .unwrap()
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for k in 0..KEYS {
        let winners: Vec<usize> = (0..nodes.len())
            .filter(|n| stored.get(*n).and_then(|s| s.get(k)) == Some(&true))
            .collect();
        assert_eq!(winners.len(), 1, "key {k}: {winners:?}");
        let value = nodes[0]
            .version(&format!("policy-set:{k}"))
            .unwrap()
            .unwrap();
        assert_eq!(value, format!("node {}", winners[0]).into_bytes());
    }
    assert_eq!(nodes[1].versions("policy-set:").unwrap().len(), KEYS);
}
