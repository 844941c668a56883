//! The cluster: nodes, partition leases, the cluster view, and the clock
//! index queries.
//!
//! # Leases
//!
//! Each partition has one row in `partitions`: its owner, an epoch bumped
//! at every takeover, an expiry, and its cursor. Time is the database's
//! `now()` throughout, never a node's clock. A node calls
//! [`escalier_store::Backend::leases`] every second or so; in one
//! transaction that:
//!
//! 1. heartbeats its `nodes` row;
//! 2. renews every lease it owns (`expires_at = now() + lease`; the epoch
//!    stays: nobody else can have processed the partition, since a
//!    takeover changes the owner);
//! 3. computes its share, `ceil(partitions / live nodes)` (live: heartbeat
//!    within the lease time);
//! 4. below its share, takes free or expired partitions with `FOR UPDATE
//!    SKIP LOCKED` (two nodes taking at once get different rows; a
//!    partition whose chunk is being committed is locked and skipped),
//!    bumping their epoch;
//! 5. above its share (a node joined), gives back the extras.
//!
//! The owner is written `<node id>/<incarnation>`: the incarnation tells
//! apart the processes that ran under one node id (the database's clock
//! when it connected, so a later one sorts higher, and a random part). A
//! node restarted after a crash takes its previous incarnation's
//! partitions back at once (new epoch: the old process, should it still
//! run, is fenced out), instead of waiting for the leases to expire; an
//! older incarnation never takes a newer one's. The cluster view shows the
//! node id.
//!
//! A partition whose owner died is taken over once its lease expires: at
//! most the lease time (plus one renewal period) after the crash.

use escalier_core::Timestamp;
use escalier_store::StoreError;
use escalier_store::backend::{ClockRow, ClusterView, Held, Lease, Node, NodeView, PartitionView};

use crate::PgBackend;
use crate::conn::PgResult;
use crate::log::{to_i64, to_u64};
use crate::process::parts_param;

/// Nodes silent this long are dropped from `nodes` (and from the view).
const FORGET_AFTER: &str = "1 hour";

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|m| Timestamp::from_millisecond(m).ok())
}

impl PgBackend {
    pub(crate) fn pg_leases(&self, node: &Node) -> Result<Vec<Held>, StoreError> {
        let key = format!("{}/{}", node.id, self.inner.incarnation);
        {
            let mut n = self.inner.node.lock().unwrap_or_else(|p| p.into_inner());
            *n = Some(key.clone());
        }
        let node = node.clone();
        let incarnation = self.inner.incarnation.clone();
        let lease_ms = to_i64(self.inner.lease_ms);
        let partitions = i64::from(self.inner.partitions);
        self.run(move |db| async move {
            let mut client = db.lease_client().await?;
            let tx = client.transaction().await.pg()?;
            tx.execute(
                "INSERT INTO nodes (id, addr, started_at, heartbeat_at)
                 VALUES ($1, $2, now(), now())
                 ON CONFLICT (id) DO UPDATE SET addr = EXCLUDED.addr, heartbeat_at = now()",
                &[&node.id, &node.addr],
            )
            .await
            .pg()?;
            let renewed = tx
                .execute(
                    "UPDATE partitions SET expires_at = now() + $2::int8 * interval '1 millisecond'
                      WHERE owner = $1",
                    &[&key, &lease_ms],
                )
                .await
                .pg()?;
            // An earlier incarnation of this node (killed, restarted): its
            // partitions are taken over at once, with a new epoch.
            let adopted = tx
                .execute(
                    "UPDATE partitions SET owner = $1, epoch = epoch + 1,
                            expires_at = now() + $4::int8 * interval '1 millisecond'
                      WHERE id IN (SELECT id FROM partitions
                                    WHERE left(owner, -33) = $2 AND right(owner, 32) < $3
                                    ORDER BY id
                                    FOR UPDATE SKIP LOCKED)",
                    &[&key, &node.id, &incarnation, &lease_ms],
                )
                .await
                .pg()?;
            let live: i64 = tx
                .query_one(
                    "SELECT count(*) FROM nodes
                      WHERE heartbeat_at > now() - $1::int8 * interval '1 millisecond'",
                    &[&lease_ms],
                )
                .await
                .pg()?
                .get(0);
            let live = live.max(1);
            let share = (partitions + live - 1) / live;
            let owned = i64::try_from(renewed + adopted).unwrap_or(i64::MAX);
            if owned < share {
                tx.execute(
                    "UPDATE partitions SET owner = $1, epoch = epoch + 1,
                            expires_at = now() + $2::int8 * interval '1 millisecond'
                      WHERE id IN (SELECT id FROM partitions
                                    WHERE owner IS NULL OR expires_at IS NULL OR expires_at <= now()
                                    ORDER BY id LIMIT $3
                                    FOR UPDATE SKIP LOCKED)",
                    &[&key, &lease_ms, &(share - owned)],
                )
                .await
                .pg()?;
            } else if owned > share {
                // Give back the highest-numbered extras.
                tx.execute(
                    "UPDATE partitions SET owner = NULL, expires_at = NULL
                      WHERE id IN (SELECT id FROM partitions WHERE owner = $1
                                    ORDER BY id DESC LIMIT $2)",
                    &[&key, &(owned - share)],
                )
                .await
                .pg()?;
            }
            tx.execute(
                &format!(
                    "DELETE FROM nodes n WHERE heartbeat_at < now() - interval '{FORGET_AFTER}'
                       AND NOT EXISTS (SELECT 1 FROM partitions p WHERE left(p.owner, -33) = n.id)"
                ),
                &[],
            )
            .await
            .pg()?;
            let rows = tx
                .query(
                    "SELECT id, epoch, cursor FROM partitions WHERE owner = $1 ORDER BY id",
                    &[&key],
                )
                .await
                .pg()?;
            tx.commit().await.pg()?;
            Ok(rows
                .iter()
                .map(|r| Held {
                    lease: Lease {
                        partition: u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                        epoch: to_u64(r.get(1)),
                    },
                    cursor: to_u64(r.get(2)),
                })
                .collect())
        })
    }

    pub(crate) fn pg_release(&self, node: &Node) -> Result<(), StoreError> {
        let id = node.id.clone();
        let key = format!("{}/{}", node.id, self.inner.incarnation);
        self.run(move |db| async move {
            let mut client = db.lease_client().await?;
            let tx = client.transaction().await.pg()?;
            tx.execute(
                "UPDATE partitions SET owner = NULL, expires_at = NULL WHERE owner = $1",
                &[&key],
            )
            .await
            .pg()?;
            // Unless another incarnation of the node still holds partitions.
            tx.execute(
                "DELETE FROM nodes WHERE id = $1
                   AND NOT EXISTS (SELECT 1 FROM partitions WHERE left(owner, -33) = $1)",
                &[&id],
            )
            .await
            .pg()?;
            tx.commit().await.pg()
        })
    }

    pub(crate) fn pg_cluster(&self) -> Result<ClusterView, StoreError> {
        let lease_ms = self.inner.lease_ms;
        self.run(move |db| async move {
            let c = db.client().await?;
            let ms = to_i64(lease_ms);
            let nodes = c
                .query(
                    "SELECT n.id, n.addr,
                            (extract(epoch FROM n.started_at) * 1000)::int8,
                            (extract(epoch FROM n.heartbeat_at) * 1000)::int8,
                            n.heartbeat_at > now() - $1::int8 * interval '1 millisecond',
                            (SELECT count(*) FROM partitions p
                              WHERE left(p.owner, -33) = n.id AND p.expires_at > now())
                       FROM nodes n ORDER BY n.id",
                    &[&ms],
                )
                .await
                .pg()?;
            let parts = c
                .query(
                    "SELECT p.id, left(p.owner, -33), p.epoch,
                            (extract(epoch FROM p.expires_at) * 1000)::int8, p.cursor,
                            (SELECT count(*) FROM events e WHERE e.part = p.id AND e.seq > p.cursor)
                       FROM partitions p ORDER BY p.id",
                    &[],
                )
                .await
                .pg()?;
            Ok(ClusterView {
                store: "postgres".into(),
                lease_ms,
                nodes: nodes
                    .iter()
                    .map(|r| NodeView {
                        id: r.get(0),
                        addr: r.get(1),
                        started_at: ts(r.get(2)),
                        heartbeat_at: ts(r.get(3)),
                        live: r.get(4),
                        partitions: u32::try_from(r.get::<_, i64>(5)).unwrap_or(0),
                    })
                    .collect(),
                partitions: parts
                    .iter()
                    .map(|r| PartitionView {
                        partition: u32::try_from(r.get::<_, i32>(0)).unwrap_or(0),
                        owner: r.get(1),
                        epoch: to_u64(r.get(2)),
                        expires_at: ts(r.get(3)),
                        cursor: to_u64(r.get(4)),
                        lag: to_u64(r.get(5)),
                    })
                    .collect(),
            })
        })
    }

    pub(crate) fn pg_due_clocks(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError> {
        let parts = parts_param(partitions);
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT due_ms, ticket_id, key FROM clocks
                      WHERE due_ms <= $1 AND ($2::int4[] IS NULL OR part = ANY($2))
                      ORDER BY due_ms, ticket_id, key LIMIT $3",
                    &[&to_i64(now_ms), &parts, &lim],
                )
                .await
                .pg()?;
            let due: Vec<ClockRow> = rows
                .iter()
                .map(|r| (to_u64(r.get(0)), r.get(1), r.get(2)))
                .collect();
            // As the embedded store: the next due time only when every
            // due row fit.
            let next = if due.len() < limit {
                let row = c
                    .query_one(
                        "SELECT min(due_ms) FROM clocks
                          WHERE due_ms > $1 AND ($2::int4[] IS NULL OR part = ANY($2))",
                        &[&to_i64(now_ms), &parts],
                    )
                    .await
                    .pg()?;
                row.get::<_, Option<i64>>(0).map(to_u64)
            } else {
                None
            };
            Ok((due, next))
        })
    }

    pub(crate) fn pg_due_between(
        &self,
        from_ms: u64,
        until_ms: u64,
    ) -> Result<Vec<ClockRow>, StoreError> {
        self.run(move |db| async move {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT due_ms, ticket_id, key FROM clocks
                      WHERE due_ms >= $1 AND due_ms <= $2
                      ORDER BY due_ms, ticket_id, key",
                    &[&to_i64(from_ms), &to_i64(until_ms)],
                )
                .await
                .pg()?;
            Ok(rows
                .iter()
                .map(|r| (to_u64(r.get(0)), r.get(1), r.get(2)))
                .collect())
        })
    }
}
