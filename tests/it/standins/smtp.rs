//! An SMTP receiver on 127.0.0.1 (plain SMTP, as a loopback relay would
//! be configured with `tls = "none"`): the protocol is the `mailin`
//! crate's state machine, the messages are parsed with `mail-parser` so a
//! test can check From, To, Subject and the plain and HTML parts.
//!
//! With credentials, it advertises `AUTH PLAIN LOGIN` and refuses mail
//! until the client authenticated with exactly those credentials.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mail_parser::MimeHeaders;
use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder, response};

/// One message as received.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `MAIL FROM` and `RCPT TO` (the envelope).
    pub envelope_from: String,
    pub envelope_to: Vec<String>,
    /// The user the client authenticated as, if it did.
    pub authenticated_as: Option<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub raw: Vec<u8>,
}

impl Mail {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.raw)
            .expect("a parseable message")
    }

    /// `From:` address.
    pub fn from(&self) -> String {
        self.parsed()
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_owned()
    }

    /// `To:` addresses.
    pub fn to(&self) -> Vec<String> {
        self.parsed()
            .to()
            .map(|a| {
                a.iter()
                    .filter_map(|a| a.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    /// The first text/plain part, decoded.
    pub fn text(&self) -> Option<String> {
        self.part("plain")
    }

    /// The first text/html part, decoded.
    pub fn html(&self) -> Option<String> {
        self.part("html")
    }

    fn part(&self, subtype: &str) -> Option<String> {
        let m = self.parsed();
        m.parts
            .iter()
            .find(|p| p.is_content_type("text", subtype))
            .and_then(|p| p.text_contents().map(str::to_owned))
    }

    /// Whether the message has a text/html part.
    pub fn has_html_part(&self) -> bool {
        self.html().is_some()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|v| v.trim().to_owned())
    }
}

pub struct SmtpStandIn {
    pub port: u16,
    got: Arc<Mutex<Vec<Mail>>>,
}

#[derive(Clone)]
struct Session {
    credentials: Option<(String, String)>,
    authenticated_as: Option<String>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
    sink: Arc<Mutex<Vec<Mail>>>,
}

impl Handler for Session {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        self.from = from.to_owned();
        self.to.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.to.push(to.to_owned());
        response::OK
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.sink.lock().unwrap().push(Mail {
            envelope_from: self.from.clone(),
            envelope_to: self.to.clone(),
            authenticated_as: self.authenticated_as.clone(),
            raw: std::mem::take(&mut self.data),
        });
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }
}

impl Session {
    fn check(&mut self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => {
                self.authenticated_as = Some(user.to_owned());
                response::AUTH_OK
            }
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

impl SmtpStandIn {
    /// Listen on a free loopback port. With `credentials` (user,
    /// password), mail is taken only after `AUTH` with exactly those.
    pub fn start(credentials: Option<(&str, &str)>) -> SmtpStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let proto = Session {
            credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
            authenticated_as: None,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
            sink: got.clone(),
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = proto.clone();
                std::thread::spawn(move || converse(stream, handler));
            }
        });
        SmtpStandIn { port, got }
    }

    /// Messages received so far, in order.
    pub fn received(&self) -> Vec<Mail> {
        self.got.lock().unwrap().clone()
    }
}

fn converse(stream: std::net::TcpStream, handler: Session) {
    let ip = stream
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let mut builder = SessionBuilder::new("smtp.stand-in.test");
    if handler.credentials.is_some() {
        builder
            .enable_auth(AuthMechanism::Plain)
            .enable_auth(AuthMechanism::Login)
            // Loopback only: there is no TLS to wait for.
            .insecure_enable_plaintext_auth();
    }
    let mut session = builder.build(ip, handler);
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    if session.greeting().write_to(&mut out).is_err() {
        return;
    }
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let res = session.process(&line);
        match res.action {
            Action::Reply => {
                if res.write_to(&mut out).is_err() {
                    return;
                }
            }
            Action::Close => {
                let _ = res.write_to(&mut out);
                let _ = out.flush();
                return;
            }
            Action::NoReply => {}
            // STARTTLS is not offered.
            #[allow(unreachable_patterns)]
            _ => {
                let _ = res.write_to(&mut out);
            }
        }
    }
}
