//! A programmable HTTP receiver on 127.0.0.1: records every request and
//! answers from a script, like the service it stands in for would — a
//! few `503`s then `200`, a `429` with `Retry-After`, a `409` conflict, a
//! `400` with the vendor's error body. It can go down (the listener is
//! closed: connections are refused) and come back on the same port.
//!
//! Every answer carries `connection: close`, so going down never waits
//! on a kept-alive connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::oneshot;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the stand-in answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Which requests a scripted answer applies to, and how many times.
struct Rule {
    method: Option<String>,
    path_prefix: String,
    times: usize,
    reply: Reply,
}

struct Shared {
    rules: Vec<Rule>,
    default: Reply,
    /// `Authorization` the service expects; anything else is answered 401.
    auth: Option<(String, Reply)>,
    got: Vec<Request>,
}

pub struct StandIn {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    rt: tokio::runtime::Runtime,
    running: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl StandIn {
    /// Start on a free port, answering `default` to anything not scripted.
    pub fn start(default: Reply) -> StandIn {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("stand-in runtime");
        let listener = rt
            .block_on(bind("127.0.0.1:0".parse().unwrap()))
            .expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared {
            rules: Vec::new(),
            default,
            auth: None,
            got: Vec::new(),
        }));
        let mut s = StandIn {
            addr,
            url: format!("http://{addr}"),
            shared,
            rt,
            running: None,
        };
        s.serve(listener);
        s
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let (tx, rx) = oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(self.shared.clone());
        let task = self.rt.spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        self.running = Some((tx, task));
    }

    /// Answer the next `times` requests whose method is `method` (any when
    /// `None`) and whose path starts with `path_prefix` with `reply`.
    /// Rules apply in the order they were added.
    pub fn script(&self, method: Option<&str>, path_prefix: &str, times: usize, reply: Reply) {
        self.shared.lock().unwrap().rules.push(Rule {
            method: method.map(str::to_owned),
            path_prefix: path_prefix.to_owned(),
            times,
            reply,
        });
    }

    /// Answer anything not scripted with `reply`.
    pub fn set_default(&self, reply: Reply) {
        self.shared.lock().unwrap().default = reply;
    }

    /// Refuse (with `refusal`, like the service does) every request whose
    /// `Authorization` header is not exactly `expected`.
    pub fn require_authorization(&self, expected: &str, refusal: Reply) {
        self.shared.lock().unwrap().auth = Some((expected.to_owned(), refusal));
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Request> {
        self.shared.lock().unwrap().got.clone()
    }

    /// Close the listener: connections are refused until `up`.
    pub fn down(&mut self) {
        if let Some((tx, task)) = self.running.take() {
            let _ = tx.send(());
            let _ = self.rt.block_on(task);
        }
    }

    /// Listen again on the same port.
    pub fn up(&mut self) {
        if self.running.is_some() {
            return;
        }
        let listener = self
            .rt
            .block_on(bind(self.addr))
            .expect("listen again on the same port");
        self.serve(listener);
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some((tx, _)) = self.running.take() {
            let _ = tx.send(());
        }
    }
}

async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(64)
}

async fn answer(State(shared): State<Arc<Mutex<Shared>>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let method = parts.method.as_str().to_owned();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let reply = {
        let mut s = shared.lock().unwrap();
        let authorization = parts
            .headers
            .get("authorization")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let refused = match &s.auth {
            Some((expected, refusal)) if authorization.as_deref() != Some(expected.as_str()) => {
                Some(refusal.clone())
            }
            _ => None,
        };
        let reply = match refused {
            Some(r) => r,
            None => {
                let rule = s.rules.iter_mut().find(|r| {
                    r.times > 0
                        && r.method
                            .as_deref()
                            .is_none_or(|m| m.eq_ignore_ascii_case(&method))
                        && path.starts_with(&r.path_prefix)
                });
                match rule {
                    Some(r) => {
                        r.times -= 1;
                        r.reply.clone()
                    }
                    None => s.default.clone(),
                }
            }
        };
        s.got.push(Request {
            method,
            path,
            headers,
            body,
            answered: reply.status,
        });
        reply
    };
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (k, v) in &reply.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp.headers_mut()
        .insert("connection", HeaderValue::from_static("close"));
    resp
}
