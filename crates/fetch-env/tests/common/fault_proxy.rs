//! A small HTTP/1 proxy on loopback in front of the AWS-compatible server: it counts every
//! request by API operation (the `X-Amz-Target` header of the JSON protocols) and can answer
//! instead of the server (throttling, 5xx, a reset connection, a slow answer, a truncated or
//! invalid body) for the first N requests or for all of them, or rewrite the server's real
//! answers to one operation (to put into them what the server never sends). One request per
//! connection, as moto's own server does.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does instead of forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException`.
    Throttle,
    /// HTTP 500 with a JSON error.
    ServerError,
    /// HTTP 503.
    Unavailable,
    /// Close the connection without an answer.
    Reset,
    /// Wait this long, then forward.
    Delay(Duration),
    /// A 200 whose body stops half-way.
    Truncated,
    /// A 200 whose body is not JSON.
    InvalidJson,
}

/// Turns the body of a server's answer into the body the client gets.
type Rewrite = Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Default)]
struct State {
    operations: Mutex<BTreeMap<String, usize>>,
    requests: AtomicUsize,
    /// The fault to inject and how many more requests get it (`usize::MAX`: all).
    fault: Mutex<(Option<Fault>, usize)>,
    /// At most this many requests a second reach the server; the rest are throttled.
    rate_limit: Mutex<Option<(usize, std::collections::VecDeque<std::time::Instant>)>>,
    throttled: AtomicUsize,
    /// The operation (`X-Amz-Target`) whose answers are rewritten, and how.
    rewrite: Mutex<Option<(String, Rewrite)>>,
    rewritten: AtomicUsize,
    /// The `User-Agent` header of every request since the last reset.
    user_agents: Mutex<Vec<String>>,
    /// Per operation: the requests being handled now, and the most there were at once.
    in_flight: Mutex<BTreeMap<String, (usize, usize)>>,
    stop: AtomicBool,
}

/// The running proxy; stops accepting when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<State>,
}

impl FaultProxy {
    /// A proxy forwarding to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&shared);
                std::thread::spawn(move || handle(stream, upstream_port, &state));
            }
        });
        FaultProxy { endpoint, state }
    }

    /// Answers the next `count` requests with `fault` (`usize::MAX`: every request).
    pub fn inject(&self, fault: Fault, count: usize) {
        *self.state.fault.lock().expect("lock") = (Some(fault), count);
    }

    /// Lets at most `per_second` requests a second through (a sliding one-second window) and
    /// answers the others with a throttling error, as AWS does above an account's rate.
    pub fn limit_rate(&self, per_second: usize) {
        *self.state.rate_limit.lock().expect("lock") =
            Some((per_second, std::collections::VecDeque::new()));
    }

    /// Passes every request for `operation` (an `X-Amz-Target` such as
    /// `secretsmanager.BatchGetSecretValue`) to the server and hands the client the server's
    /// answer with its body put through `rewrite` (`Content-Length` adjusted).
    pub fn rewrite_answers(
        &self,
        operation: &str,
        rewrite: impl Fn(&str) -> String + Send + Sync + 'static,
    ) {
        *self.state.rewrite.lock().expect("lock") = Some((operation.to_owned(), Arc::new(rewrite)));
    }

    /// Answers rewritten so far.
    pub fn rewritten(&self) -> usize {
        self.state.rewritten.load(Ordering::SeqCst)
    }

    /// Requests answered with a throttling error by the rate limit.
    pub fn throttled(&self) -> usize {
        self.state.throttled.load(Ordering::SeqCst)
    }

    /// Requests seen per operation since the last reset.
    pub fn operations(&self) -> BTreeMap<String, usize> {
        self.state.operations.lock().expect("lock").clone()
    }

    /// Requests seen since the last reset.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// The `User-Agent` header of every request seen since the last reset.
    pub fn user_agents(&self) -> Vec<String> {
        self.state.user_agents.lock().expect("lock").clone()
    }

    /// The most requests of `operation` (its `X-Amz-Target`) handled at once since the last
    /// reset.
    pub fn most_in_flight(&self, operation: &str) -> usize {
        self.state
            .in_flight
            .lock()
            .expect("lock")
            .get(operation)
            .map_or(0, |(_, most)| *most)
    }

    pub fn reset(&self) {
        self.state.in_flight.lock().expect("lock").clear();
        self.state.operations.lock().expect("lock").clear();
        self.state.user_agents.lock().expect("lock").clear();
        self.state.requests.store(0, Ordering::SeqCst);
        *self.state.fault.lock().expect("lock") = (None, 0);
        *self.state.rewrite.lock().expect("lock") = None;
        self.state.rewritten.store(0, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

fn handle(mut client: TcpStream, upstream_port: u16, state: &State) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let Some(request) = read_request(&mut client) else {
        return;
    };
    let head = String::from_utf8_lossy(&request[..request.len().min(8192)]).to_string();
    let operation = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-amz-target")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| "other".to_owned());
    state.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(agent) = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("user-agent")
            .then(|| value.trim().to_owned())
    }) {
        state.user_agents.lock().expect("lock").push(agent);
    }
    let rewrite = match &*state.rewrite.lock().expect("lock") {
        Some((target, rewrite)) if *target == operation => Some(Arc::clone(rewrite)),
        _ => None,
    };
    *state
        .operations
        .lock()
        .expect("lock")
        .entry(operation.clone())
        .or_default() += 1;
    {
        let mut in_flight = state.in_flight.lock().expect("lock");
        let (now, most) = in_flight.entry(operation.clone()).or_default();
        *now += 1;
        *most = (*most).max(*now);
    }
    // Counted out however the request ends.
    struct Done<'a>(&'a State, String);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            if let Some((now, _)) = self.0.in_flight.lock().expect("lock").get_mut(&self.1) {
                *now = now.saturating_sub(1);
            }
        }
    }
    let _done = Done(state, operation);

    let over_rate = {
        let mut guard = state.rate_limit.lock().expect("lock");
        match &mut *guard {
            None => false,
            Some((per_second, recent)) => {
                let now = std::time::Instant::now();
                while recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                {
                    recent.pop_front();
                }
                if recent.len() >= *per_second {
                    true
                } else {
                    recent.push_back(now);
                    false
                }
            }
        }
    };
    if over_rate {
        state.throttled.fetch_add(1, Ordering::SeqCst);
    }
    let fault = if over_rate {
        Some(Fault::Throttle)
    } else {
        let mut guard = state.fault.lock().expect("lock");
        let (fault, left) = &mut *guard;
        match *left {
            0 => None,
            usize::MAX => *fault,
            _ => {
                *left -= 1;
                *fault
            }
        }
    };
    let answer = |client: &mut TcpStream, status: &str, body: &str, content_length: usize| {
        let _ = write!(
            client,
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n{body}"
        );
    };
    match fault {
        Some(Fault::Throttle) => {
            let body = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
            answer(&mut client, "400 Bad Request", body, body.len());
        }
        Some(Fault::ServerError) => {
            let body = r#"{"__type":"InternalServerError","message":"injected"}"#;
            answer(&mut client, "500 Internal Server Error", body, body.len());
        }
        Some(Fault::Unavailable) => {
            let body = r#"{"__type":"ServiceUnavailable","message":"injected"}"#;
            answer(&mut client, "503 Service Unavailable", body, body.len());
        }
        Some(Fault::Reset) => {
            let _ = client.shutdown(Shutdown::Both);
        }
        Some(Fault::Truncated) => {
            let body = r#"{"Parameters":[{"Name":"/x"#;
            answer(&mut client, "200 OK", body, body.len() + 100);
        }
        Some(Fault::InvalidJson) => {
            let body = "<html>not json</html>";
            answer(&mut client, "200 OK", body, body.len());
        }
        Some(Fault::Delay(delay)) => {
            std::thread::sleep(delay);
            forward(
                &mut client,
                &request,
                upstream_port,
                rewrite.as_deref(),
                state,
            );
        }
        None => forward(
            &mut client,
            &request,
            upstream_port,
            rewrite.as_deref(),
            state,
        ),
    }
    let _ = client.shutdown(Shutdown::Write);
}

fn forward(
    client: &mut TcpStream,
    request: &[u8],
    upstream_port: u16,
    rewrite: Option<&(dyn Fn(&str) -> String + Send + Sync)>,
    state: &State,
) {
    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    if upstream.write_all(request).is_err() {
        return;
    }
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    if let Some(rewrite) = rewrite {
        response = rewritten(&response, rewrite);
        state.rewritten.fetch_add(1, Ordering::SeqCst);
    }
    let _ = client.write_all(&response);
}

/// `response` (a whole HTTP/1 answer with a `Content-Length` body, as moto's server sends)
/// with its body put through `rewrite` and its `Content-Length` set to the new body's.
fn rewritten(response: &[u8], rewrite: &dyn Fn(&str) -> String) -> Vec<u8> {
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP answer from the server")
        + 4;
    let head = String::from_utf8_lossy(&response[..head_end]);
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "the server's answer is not a Content-Length one:\n{head}"
    );
    let body = rewrite(&String::from_utf8_lossy(&response[head_end..]));
    let mut out = String::new();
    for line in head.trim_end().split("\r\n") {
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// One whole request: the head, then `Content-Length` bytes of body.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    // Forwarded as one request per connection, like moto's server answers.
    let text = String::from_utf8_lossy(&data[..head_end])
        .replace("Connection: keep-alive", "Connection: close");
    let mut out = text.into_bytes();
    out.extend_from_slice(&data[head_end..]);
    Some(out)
}
