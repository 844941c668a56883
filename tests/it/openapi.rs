//! `GET /v1/openapi.json` on the real server: open, OpenAPI 3.1, and every
//! operation it lists is one the router serves. (The unit tests beside the
//! document check the other way: every route the source registers is
//! listed.)

use crate::util::{self, Server, TOKEN};

#[test]
fn the_openapi_document_is_open_and_every_operation_in_it_is_routed() {
    let s = Server::start(&[]);
    let doc = s.get_as("/v1/openapi.json", None);
    assert_eq!(doc.status, 200, "{:?}", doc.body);
    assert_eq!(
        doc.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let version = doc.body["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi = {version:?}");

    let paths = doc.body["paths"].as_object().expect("paths");
    let mut probed = 0;
    for (template, item) in paths {
        // Any value reaches the handler; only routing is under test.
        let path = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let r = match method {
                "get" => s.get_as(&path, Some(TOKEN)),
                "post" => s.post_json(&path, Some(TOKEN), "{}"),
                other => panic!("{other} {template}: no probe for this method"),
            };
            let unrouted = r.status == 405 || (r.status == 404 && r.field() == "route");
            assert!(
                !unrouted,
                "{method} {template} is documented but not routed: {} {:?}",
                r.status, r.body
            );
            probed += 1;
        }
    }
    assert!(probed >= 18, "only {probed} operations documented");
}

/// A path segment that is not UTF-8 once percent-decoded is refused in the
/// API's JSON error shape, as the document says, not with axum's plain
/// text.
#[test]
fn a_path_segment_that_is_not_utf8_gets_a_json_400() {
    let s = Server::start(&[]);
    for path in [
        "/v1/tickets/%FF",
        "/v1/tickets/%FF/explain",
        "/v1/tickets/%C3%28/ack",
    ] {
        let r = if path.ends_with("/ack") {
            s.post_json(path, Some(TOKEN), "{}")
        } else {
            s.get_as(path, Some(TOKEN))
        };
        assert_eq!(r.status, 400, "{path}");
        assert_eq!(r.code(), "invalid_field", "{path}: {:?}", r.body);
        assert_eq!(r.field(), "path", "{path}");
    }
}

/// Generic tools cannot sign, so the answers of signed ingest are checked
/// here against the document: each must have every property that one of
/// the documented shapes requires.
#[test]
fn signed_ingest_answers_have_the_documented_shape() {
    let s = Server::start(&[]);
    let doc = s.get_as("/v1/openapi.json", None).body;
    let schema = |status: &str| {
        let r = &doc["paths"]["/v1/events"]["post"]["responses"][status];
        let s = &r["content"]["application/json"]["schema"];
        resolve(&doc, s).clone()
    };
    let one = s.post_events(&util::created("oa-1", "OA-1", ""));
    assert_eq!(one.status, 202, "{:?}", one.body);
    let batch = s.post_events(&format!(
        "[{}, {}]",
        util::created("oa-1", "OA-1", ""),
        util::created("oa-2", "OA-2", "")
    ));
    assert_eq!(batch.status, 202, "{:?}", batch.body);
    let again = s.post_events(&util::created("oa-1", "OA-1", ""));
    assert_eq!(again.status, 200, "{:?}", again.body);
    for (status, answer) in [("202", &one), ("202", &batch), ("200", &again)] {
        let alternatives = schema(status)["oneOf"]
            .as_array()
            .cloned()
            .expect("a oneOf of the single and batch answers");
        let fits = alternatives.iter().any(|alt| {
            let alt = resolve(&doc, alt);
            assert!(alt["oneOf"].is_null(), "a nested oneOf: {alt}");
            alt["required"].as_array().is_some_and(|req| {
                req.iter()
                    .all(|k| answer.body.get(k.as_str().unwrap_or_default()).is_some())
            })
        });
        assert!(fits, "{status} {:?} fits no documented shape", answer.body);
    }
}

fn resolve<'a>(doc: &'a serde_json::Value, s: &'a serde_json::Value) -> &'a serde_json::Value {
    match s["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => doc.pointer(pointer).unwrap_or(&serde_json::Value::Null),
        None => s,
    }
}

/// The query parameters each `GET` documents are exactly those its handler
/// accepts: an unknown parameter is refused with the accepted list, which
/// must match the document; a handler that reads no query ignores it, and
/// then the document must list none.
#[test]
fn documented_query_parameters_are_the_accepted_ones() {
    let s = Server::start(&[]);
    let doc = s.get_as("/v1/openapi.json", None).body;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        let Some(op) = item.get("get") else { continue };
        let mut documented: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        documented.sort();
        let path = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let r = s.get_as(&format!("{path}?zz_not_a_parameter=1"), Some(TOKEN));
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        let mut accepted: Vec<String> = match message.split_once("Accepted: ") {
            Some((_, list)) if r.code() == "invalid_query" => {
                list.split(", ").map(|p| p.trim().to_owned()).collect()
            }
            _ => Vec::new(),
        };
        accepted.sort();
        assert_eq!(
            documented, accepted,
            "GET {template}: documented query parameters vs accepted ({} {:?})",
            r.status, r.body
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} GET operations");
}

/// The admin endpoints bound their bodies by `server.max_body_bytes` and
/// refuse in the JSON error shape, like every other endpoint: axum's own
/// limit let bodies up to 2 MiB through and answered past it in plain
/// text.
#[test]
fn admin_bodies_over_the_limit_get_the_json_413() {
    let s = Server::start(&[]);
    let big = format!(r#"{{"to": "{}"}}"#, "x".repeat(1_100_000));
    for path in ["/v1/admin/clock", "/v1/admin/migrate"] {
        let r = s.post_json(path, Some(TOKEN), &big);
        assert_eq!((r.status, r.code()), (413, "body_too_large"), "{path}");
        assert_eq!(
            r.headers.get("connection").map(|v| v.as_bytes()),
            Some(&b"close"[..]),
            "{path}: the unread body must not be taken for the next request"
        );
    }
}
