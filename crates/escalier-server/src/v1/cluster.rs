//! `GET /v1/cluster` (`read`): the nodes sharing this store, the log's
//! partitions, which node holds each (its lease and when it expires), how
//! far each has processed and how many inputs wait. One node and one
//! partition on the embedded store.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use escalier_store::backend::ClusterView;

use crate::auth::{self, Scope};
use crate::{ApiError, AppState};

pub fn router(st: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/cluster", get(cluster))
        .route_layer(from_fn_with_state(st.guard(Scope::Read), auth::guard))
}

/// One node of the cluster.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents `escalier_store::backend::NodeView`
#[schema(as = ClusterNode)]
struct NodeDoc {
    id: String,
    /// The address its API listener is bound to, as bound (`0.0.0.0:8600`
    /// for a node listening on every interface).
    addr: String,
    #[schema(format = DateTime)]
    started_at: Option<String>,
    #[schema(format = DateTime)]
    heartbeat_at: Option<String>,
    /// Heartbeat within the lease time.
    live: bool,
    /// Partitions it holds.
    partitions: u32,
}

/// One partition of the log.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents `escalier_store::backend::PartitionView`
#[schema(as = ClusterPartition)]
struct PartitionDoc {
    partition: u32,
    /// The node holding its lease, if any.
    owner: Option<String>,
    /// Bumped each time another node takes the partition over.
    epoch: u64,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    /// Last input seq of the partition processed.
    cursor: u64,
    /// Inputs of the partition committed and not yet processed.
    lag: u64,
}

/// The cluster.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents `escalier_store::backend::ClusterView`
#[schema(as = Cluster)]
struct ClusterDoc {
    /// `redb` (one node) or `postgres`.
    store: String,
    /// How long a lease lasts without renewal, in milliseconds.
    lease_ms: u64,
    nodes: Vec<NodeDoc>,
    partitions: Vec<PartitionDoc>,
}

/// Nodes, partitions, their owners and lag.
#[utoipa::path(
    get,
    path = "/v1/cluster",
    tag = "ops",
    security(("bearer" = ["read"])),
    responses(
        (status = 200, description = "The cluster", body = ClusterDoc),
        (status = 401, response = super::openapi::responses::Unauthorized),
        (status = 403, response = super::openapi::responses::Forbidden),
        (status = 503, response = super::openapi::responses::Unavailable),
    )
)]
pub(crate) async fn cluster(State(st): State<AppState>) -> Result<Json<ClusterView>, ApiError> {
    let store = st.store.clone();
    let view = tokio::task::spawn_blocking(move || store.cluster())
        .await
        .map_err(|_| ApiError::unavailable("internal", "the cluster view could not be read"))??;
    Ok(Json(view))
}
