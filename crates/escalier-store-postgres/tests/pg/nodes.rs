//! Nodes sharing one database: a shared store is processed under leases
//! and followed by polling whatever its number of partitions, one
//! included.

use std::sync::Arc;
use std::time::Duration;

use escalier_core::ManualClock;
use escalier_store::backend::Node;
use escalier_store::{Processor, ProcessorConfig, Store, Writer, WriterConfig};
use escalier_store_postgres::PgOptions;

use crate::common::{self, batch, comment, created, now};

#[test]
fn with_one_partition_the_node_holding_it_processes_what_another_node_stored() {
    let Some(db) = common::db() else { return };
    let one = || PgOptions {
        partitions: 1,
        ..PgOptions::default()
    };
    let a = Store::from_backend(Arc::new(db.connect(one()))).expect("store A");
    let b = Store::from_backend(Arc::new(db.connect(one()))).expect("store B");
    assert_eq!(
        b.held_partitions(),
        Some(Vec::new()),
        "a shared store's partitions are leased, even a lone one"
    );
    let clock = Arc::new(ManualClock::new(now()));
    let (writer_a, thread_a) = Writer::spawn(a.clone(), clock.clone(), WriterConfig::default());
    let (writer_b, thread_b) = Writer::spawn(b.clone(), clock.clone(), WriterConfig::default());
    // Only B runs a processor: it takes the one partition.
    let processor = Processor::spawn(
        b.clone(),
        Arc::new(()),
        ProcessorConfig {
            clock: clock.clone(),
            node: Node {
                id: "B".into(),
                addr: String::new(),
            },
            ..ProcessorConfig::default()
        },
    );
    let stored = writer_a
        .append_blocking(batch(vec![created("e1", "T-1"), comment("e2", "T-1")]))
        .expect("A stores");
    let last = stored.iter().map(|s| s.seq()).max().expect("two seqs");
    assert_eq!(
        b.committed_now().expect("B asks"),
        last,
        "B sees A's commit"
    );
    assert!(
        b.progress()
            .wait_processed_blocking(last, Duration::from_secs(30)),
        "B processes what A stored"
    );
    assert_eq!(b.held_partitions(), Some(vec![0]));
    let ticket = b.ticket("T-1").expect("read").expect("T-1 folded");
    assert_eq!(ticket.id.as_str(), "T-1");
    drop(writer_a);
    drop(writer_b);
    thread_a.join().expect("writer A");
    thread_b.join().expect("writer B");
    processor.join().expect("processor B");
}
