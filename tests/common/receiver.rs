//! A real HTTP receiver on 127.0.0.1 for webhook tests: records every request and answers
//! from a script (200, 500, 429 with `Retry-After`, a slow answer, or none at all).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with a `Retry-After` header.
    RetryAfter(u16, &'static str),
    /// Wait, then answer 200.
    Slow(Duration),
    /// Read the request, then say nothing for this long and close.
    Hang(Duration),
    /// A status with a JSON body (a platform's own error).
    Json(u16, String),
    /// A status with headers of our choosing (`Name: value` lines) and a body.
    Raw(u16, String, String),
    /// A status and a body of this many bytes (a receiver that floods its answer).
    Flood(u16, usize),
}

/// Inspects a request before the script answers; `Some(reply)` answers instead (a platform
/// refusing a payload that breaks its contract).
pub type Check = fn(&Request) -> Option<Reply>;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// The answer once the script runs out (200 "ok" unless a platform's success is set).
    success: Arc<Mutex<Reply>>,
}

impl Receiver {
    /// Starts listening on a fresh loopback port; answers 200 once the script runs out.
    pub fn start(script: Vec<Reply>) -> Receiver {
        Receiver::enforcing(script, |_| None)
    }

    /// Like `start`, with a contract check that runs before the script.
    pub fn enforcing(script: Vec<Reply>, check: Check) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let url = format!("{base}/hook");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let success = Arc::new(Mutex::new(Reply::Status(200)));
        let (r, s, ok) = (requests.clone(), script.clone(), success.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, s, ok) = (r.clone(), s.clone(), ok.clone());
                std::thread::spawn(move || serve(stream, &r, &s, &ok, check));
            }
        });
        Receiver {
            base,
            url,
            requests,
            script,
            success,
        }
    }

    /// The success each chat platform documents, for [`Receiver::succeeding_with`].
    pub fn success_of(kind: &str) -> &'static str {
        match kind {
            "telegram" => r#"{"ok": true, "result": {"message_id": 1}}"#,
            "matrix" => r#"{"event_id": "$event:example.org"}"#,
            "discord" => r#"{"id": "1180000000000000001"}"#,
            "dingtalk" | "wecom" => r#"{"errcode": 0, "errmsg": "ok"}"#,
            "feishu" => r#"{"code": 0, "data": {}, "msg": "success"}"#,
            _ => "ok",
        }
    }

    /// Answers `200` with this JSON once the script runs out: the success a platform
    /// documents (`{"ok":true}`, `{"errcode":0}`, an `event_id`).
    pub fn succeeding_with(self, json: &str) -> Receiver {
        *self.success.lock().unwrap() = Reply::Json(200, json.to_owned());
        self
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Adds answers to the end of the script.
    pub fn then(&self, replies: Vec<Reply>) {
        self.script.lock().unwrap().extend(replies);
    }

    /// Waits (at most `timeout`) until at least `n` requests arrived.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.requests.lock().unwrap().len() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

fn serve(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    script: &Mutex<VecDeque<Reply>>,
    success: &Mutex<Reply>,
    check: Check,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let reply = match check(&request) {
        Some(refusal) => refusal,
        None => script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| success.lock().unwrap().clone()),
    };
    requests.lock().unwrap().push(request);
    let mut stream = stream;
    let mut body = "ok".to_owned();
    let (status, extra) = match reply {
        Reply::Status(code) => (code, String::new()),
        Reply::Json(code, json) => {
            body = json;
            (code, "Content-Type: application/json\r\n".to_owned())
        }
        Reply::RetryAfter(code, after) => (code, format!("Retry-After: {after}\r\n")),
        Reply::Slow(wait) => {
            std::thread::sleep(wait);
            match success.lock().unwrap().clone() {
                Reply::Json(code, json) => {
                    body = json;
                    (code, "Content-Type: application/json\r\n".to_owned())
                }
                _ => (200, String::new()),
            }
        }
        Reply::Hang(wait) => {
            std::thread::sleep(wait);
            return;
        }
        Reply::Raw(code, headers, text) => {
            body = text;
            (code, headers)
        }
        Reply::Flood(code, size) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {code} Flood\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            );
            let chunk = vec![b'{'; 64 * 1024];
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len());
                if stream.write_all(&chunk[..n]).is_err() {
                    return; // the client stopped reading, as it should
                }
                left -= n;
            }
            return;
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}
