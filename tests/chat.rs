//! Slack, Discord and Telegram notifiers through the real binary, against receivers on
//! 127.0.0.1 that enforce each platform's documented contract (shape and size limits,
//! counted the platform's way) and answer with the platform's real error bodies.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Site;
use common::receiver::{Receiver, Reply, Request};

fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}

fn post(n: usize, title: &str) -> String {
    let summary = "新闻摘要，带表情🙂: 2 * 3 in snake_case words. ".repeat(12);
    format!(
        "---\ntitle: {title:?}\ndate: 2021-01-{:02} 10:{:02}:00\ncategories: [News, Tech]\nheadimg: /img/{n}.jpg\n---\n{summary}\n",
        n % 28 + 1,
        n % 60
    )
}

fn site(notifier: &str) -> Site {
    let site = Site::with_settings(&format!("{}\n{notifier}", common::BASE_SETTINGS));
    site.post("old.md", post(0, "Old"));
    site.run(&["run", "--once"]).expect(0);
    site
}

/// Every post title in the requests, in order.
fn titles(requests: &[Request], extract: fn(&serde_json::Value) -> Vec<String>) -> Vec<String> {
    requests.iter().flat_map(|r| extract(&r.json())).collect()
}

// --- Slack -----------------------------------------------------------------------------

fn slack_contract(request: &Request) -> Option<Reply> {
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let blocks = body["blocks"].as_array();
    let ok = body["text"].is_string()
        && blocks.is_some_and(|b| {
            b.len() <= 50
                && b.iter().all(|block| {
                    block["type"] == "section"
                        && block["text"]["text"]
                            .as_str()
                            .is_some_and(|t| utf16(t) <= 3000)
                })
        });
    (!ok).then(|| Reply::Json(400, "invalid_blocks".into()))
}

fn slack_titles(body: &serde_json::Value) -> Vec<String> {
    body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["accessory"]["alt_text"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn slack_escapes_splits_and_waits_when_told() {
    let receiver = Receiver::enforcing(vec![Reply::RetryAfter(429, "1")], slack_contract);
    let site = site(&format!(
        "[notifiers.team]\ntype = \"slack\"\nurl = \"{}\"\nmode = \"digest\"\nschedule = \"* * * * * *\"\nmax_posts = 60",
        receiver.url
    ));
    site.post("evil.md", post(1, "Vec<T> *_~ & <!channel>"));
    for n in 2..=70 {
        site.post(&format!("p{n}.md"), post(n, &format!("Post {n}")));
    }
    // The schedule fires every second: by 2030 it has; Retry-After asks for one second.
    let run = site
        .run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(
        run.stdout().contains("1 to retry"),
        "rate limited first: {}",
        run.stdout()
    );
    site.run_at("2030-01-01T00:00:00.5Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1, "the wait is kept");
    site.run_at("2030-01-01T00:00:02Z", &["run", "--once"])
        .expect(0);

    let requests = receiver.requests();
    let accepted = &requests[1..];
    assert!(
        accepted.len() >= 2,
        "70 posts need more than one message of 50 blocks"
    );
    let all = titles(accepted, slack_titles);
    assert_eq!(all.len(), 70, "every post exactly once");
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 70);
    // The mrkdwn texts (alt text is plain text, which Slack never interprets).
    let texts: String = accepted
        .iter()
        .flat_map(|r| {
            let body = r.json();
            let mut texts = vec![body["text"].as_str().unwrap().to_owned()];
            texts.extend(
                body["blocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["text"]["text"].as_str().unwrap().to_owned()),
            );
            texts
        })
        .collect();
    assert!(
        texts.contains("Vec&lt;T&gt; *_~ &amp; &lt;!channel&gt;"),
        "escaped for mrkdwn"
    );
    assert!(!texts.contains("<!channel>"), "no accidental @channel");
    assert_eq!(
        requests[0].headers.get("webhook-signature"),
        None,
        "Slack messages carry no webhook headers"
    );
}

// --- Discord ---------------------------------------------------------------------------

fn discord_contract(request: &Request) -> Option<Reply> {
    let refuse = || {
        Some(Reply::Json(
            400,
            r#"{"code": 50035, "message": "Invalid Form Body"}"#.into(),
        ))
    };
    if !request.path.contains("wait=true") {
        return refuse();
    }
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let embeds = body["embeds"].as_array()?;
    let total: usize = embeds
        .iter()
        .map(|e| {
            utf16(e["title"].as_str().unwrap_or(""))
                + utf16(e["description"].as_str().unwrap_or(""))
        })
        .sum();
    let content = body["content"].as_str().map_or(0, utf16);
    let mentions_off = body["allowed_mentions"]["parse"]
        .as_array()
        .is_some_and(|p| p.is_empty());
    if embeds.len() > 10 || total > 6000 || content > 2000 || !mentions_off {
        return refuse();
    }
    None
}

fn discord_titles(body: &serde_json::Value) -> Vec<String> {
    body["embeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn discord_digest_fits_embed_limits_and_honours_json_retry_after() {
    let receiver = Receiver::enforcing(
        vec![Reply::Json(
            429,
            r#"{"message": "You are being rate limited.", "retry_after": 0.5, "global": false}"#
                .into(),
        )],
        discord_contract,
    )
    .succeeding_with(r#"{"id": "1180000000000000001", "type": 0}"#);
    let site = site(&format!(
        "[notifiers.guild]\ntype = \"discord\"\nurl = \"{}\"\nmode = \"digest\"\nschedule = \"* * * * * *\"",
        receiver.url
    ));
    for n in 1..=25 {
        site.post(&format!("p{n}.md"), post(n, &format!("Post {n} *bold*")));
    }
    // The schedule fires every second: by 2030 it has. The 429 asks for half a second,
    // which a lane honours as at least a second; five seconds on, the digest goes.
    site.run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1);
    site.run_at("2030-01-01T00:00:00.5Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1, "the wait is kept");
    site.run_at("2030-01-01T00:00:05Z", &["run", "--once"])
        .expect(0);
    let requests = receiver.requests();
    let accepted = &requests[1..];
    assert_eq!(accepted.len(), 3, "10 + 10 + 5 embeds");
    let all = titles(accepted, discord_titles);
    assert_eq!(all.len(), 25);
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 25);
    let first = accepted[0].json();
    assert_eq!(first["content"], "25 new posts on Test Site");
    let description = first["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.contains("2 \\* 3 in snake\\_case"),
        "markdown escaped: {description}"
    );
    assert!(
        first["embeds"][0]["thumbnail"]["url"]
            .as_str()
            .unwrap()
            .ends_with(".jpg")
    );
    assert!(accepted.iter().all(|r| r.path.ends_with("?wait=true")));
}

#[test]
fn discord_webhook_gone_fails_without_retry() {
    let receiver = Receiver::start(vec![Reply::Json(
        404,
        r#"{"message": "Unknown Webhook", "code": 10015}"#.into(),
    )]);
    let site = site(&format!(
        "[notifiers.guild]\ntype = \"discord\"\nurl = \"{}\"",
        receiver.url
    ));
    site.post("p1.md", post(1, "One"));
    site.run(&["run", "--once"]).expect(1);
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("1 failed") && status.stdout().contains("Unknown Webhook"),
        "{}",
        status.stdout()
    );
    site.run(&["run", "--once"]).expect(0);
    assert_eq!(receiver.requests().len(), 1, "not retried");
}

// --- Telegram --------------------------------------------------------------------------

fn telegram_contract(request: &Request) -> Option<Reply> {
    let refuse = |description: &str| {
        Some(Reply::Json(
            400,
            format!(r#"{{"ok": false, "error_code": 400, "description": "{description}"}}"#),
        ))
    };
    if request.path != "/bot123:TEST-token/sendMessage" {
        return Some(Reply::Json(
            404,
            r#"{"ok": false, "error_code": 404, "description": "Not Found"}"#.into(),
        ));
    }
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    if body["chat_id"] != "-1001234" {
        return refuse("Bad Request: chat not found");
    }
    if body["parse_mode"] != "HTML" {
        return refuse("Bad Request: parse_mode");
    }
    if utf16(&telegram_visible(body["text"].as_str().unwrap_or(""))) > 4096 {
        return refuse("Bad Request: message is too long");
    }
    None
}

/// What Telegram counts of an HTML text: the text between the tags, entities read.
fn telegram_visible(html: &str) -> String {
    let text: String = html
        .split('<')
        .enumerate()
        .map(|(i, piece)| {
            if i == 0 {
                piece
            } else {
                piece.split_once('>').map_or("", |(_, after)| after)
            }
        })
        .collect();
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// A digest is split where the next post would take a message past the 4,096 characters
/// its readers see (tags are not counted), so messages are full, not a quarter full.
#[test]
fn telegram_fills_each_message_by_what_readers_see() {
    let receiver = Receiver::enforcing(vec![], telegram_contract)
        .succeeding_with(r#"{"ok": true, "result": {"message_id": 1}}"#);
    let site = site(&format!(
        "{}\nmode = \"digest\"\nschedule = \"* * * * * *\"\nmax_posts = 100",
        telegram_notifier(&receiver.base)
    ));
    for n in 1..=64 {
        site.post(&format!("p{n}.md"), post(n, &format!("新闻 {n} & more")));
    }
    site.run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    let texts: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(texts.len() >= 2, "64 long posts need several messages");
    let seen: Vec<usize> = texts.iter().map(|t| utf16(&telegram_visible(t))).collect();
    // Each post's part is the same size here: a message was cut only when one more would
    // not have fitted.
    let per_post = utf16(&telegram_visible(texts.last().unwrap()))
        / texts.last().unwrap().matches("<a href").count().max(1);
    for (i, len) in seen[..seen.len() - 1].iter().enumerate() {
        assert!(
            len + per_post > 4096 - 64,
            "message {i} holds {len} visible characters of 4,096: {seen:?}"
        );
    }
    let titles = texts
        .iter()
        .map(|t| t.matches("<a href").count())
        .sum::<usize>();
    assert_eq!(titles, 64, "every post once");
}

fn telegram_notifier(base: &str) -> String {
    format!(
        "[notifiers.group]\ntype = \"telegram\"\napi_base = \"{base}\"\ntoken = \"${{TIDINGS_TEST_TELEGRAM}}\"\nchat_id = \"-1001234\""
    )
}

#[test]
fn telegram_html_messages_and_ok_false_answers() {
    let receiver = Receiver::enforcing(
        vec![
            Reply::Json(429, r#"{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}}"#.into()),
        ],
        telegram_contract,
    )
    .succeeding_with(r#"{"ok": true, "result": {"message_id": 1}}"#);
    let site = site(&telegram_notifier(&receiver.base));
    site.post("p1.md", post(1, "<script> & \"quotes\""));
    let run = site.run_at("2030-01-01T00:00:00Z", &["run", "--once"]);
    assert!(run.stdout().contains("1 to retry"), "{}", run.stdout());
    site.run_at("2030-01-01T00:00:00.5Z", &["run", "--once"])
        .expect(0);
    assert_eq!(receiver.requests().len(), 1, "retry_after is kept");
    site.run_at("2030-01-01T00:00:02Z", &["run", "--once"])
        .expect(0);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let text = requests[1].json()["text"].as_str().unwrap().to_owned();
    assert!(
        text.contains("&lt;script&gt; &amp; &quot;quotes&quot;"),
        "{text}"
    );
    assert!(
        text.contains("<a href=\"https://example.org/blog/"),
        "{text}"
    );

    // A permanent refusal inside `ok: false` fails at once, with Telegram's words.
    receiver.then(vec![Reply::Json(403, r#"{"ok": false, "error_code": 403, "description": "Forbidden: bot was kicked from the group chat"}"#.into())]);
    site.post("p2.md", post(2, "Two"));
    site.run(&["run", "--once"]).expect(1);
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("bot was kicked"),
        "{}",
        status.stdout()
    );
}

#[test]
fn chat_settings_refuse_keys_of_other_types() {
    for (notifier, key) in [
        (
            "[notifiers.x]\ntype = \"slack\"\nurl = \"https://h.example/x\"\nsecret = \"s\"",
            "notifiers.x.secret",
        ),
        (
            "[notifiers.x]\ntype = \"telegram\"\nchat_id = \"1\"",
            "notifiers.x.token",
        ),
        (
            "[notifiers.x]\ntype = \"telegram\"\ntoken = \"1:a\"",
            "notifiers.x.chat_id",
        ),
        (
            "[notifiers.x]\ntype = \"webhook\"\nurl = \"https://h.example/x\"\nchat_id = \"1\"",
            "notifiers.x.chat_id",
        ),
    ] {
        let site = Site::with_settings(&format!("{}\n{notifier}", common::BASE_SETTINGS));
        let run = site.run(&["check"]).expect(2);
        assert!(run.stderr().contains(key), "{notifier}: {}", run.stderr());
    }
}

#[test]
fn preview_prints_the_exact_payloads() {
    let site = site(
        "[notifiers.team]\ntype = \"slack\"\nurl = \"http://127.0.0.1:9/hook\"\nmode = \"digest\"\nschedule = \"0 8 * * *\"",
    );
    site.post("p1.md", post(1, "Queued <one>"));
    site.run(&["run", "--once"]).expect(0);
    let run = site.run(&["preview", "team"]).expect(0);
    let out = run.stdout();
    assert!(out.contains("next digest: 1 post"), "{out}");
    let json_start = out.find('{').unwrap();
    let payload: serde_json::Value = serde_json::from_str(out[json_start..].trim()).unwrap();
    assert!(
        payload["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Queued &lt;one&gt;")
    );
    // Previewing sends and marks nothing.
    let status = site.run(&["status"]).expect(0);
    assert!(
        status
            .stdout()
            .contains("team: 1 queued for digest, 0 pending"),
        "{}",
        status.stdout()
    );
}

// --- DingTalk, Feishu, WeCom, Teams, Matrix --------------------------------------------

use base64::Engine;
use hmac::{KeyInit, Mac};

const DINGTALK_SECRET: &str = "SECtidings-test-secret";

fn query(path: &str, key: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://h{path}")).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's robot: checks the token, the signature (its own implementation of the
/// documented formula) and the message shape; every verdict is an HTTP 200.
fn dingtalk_contract(request: &Request) -> Option<Reply> {
    let verdict = |code: i64, message: &str| {
        Some(Reply::Json(
            200,
            format!(r#"{{"errcode": {code}, "errmsg": "{message}"}}"#),
        ))
    };
    if query(&request.path, "access_token").as_deref() != Some("robot-token") {
        return verdict(300001, "token is not exist");
    }
    let (Some(timestamp), Some(sign)) = (
        query(&request.path, "timestamp"),
        query(&request.path, "sign"),
    ) else {
        return verdict(310000, "sign not match");
    };
    let expected = hmac_b64(
        DINGTALK_SECRET.as_bytes(),
        format!("{timestamp}\n{DINGTALK_SECRET}").as_bytes(),
    );
    let now_ms = tidings::clock::Clock::now(&tidings::clock::SystemClock).timestamp_millis();
    if sign != expected || (now_ms - timestamp.parse::<i64>().unwrap_or(0)).abs() > 3_600_000 {
        return verdict(
            310000,
            "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]",
        );
    }
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    if body["msgtype"] != "markdown"
        || !body["markdown"]["title"].is_string()
        || !body["markdown"]["text"].is_string()
    {
        return verdict(40035, "缺少参数 json");
    }
    None
}

#[test]
fn dingtalk_signs_each_attempt_and_reads_errcode_in_200() {
    let receiver = Receiver::enforcing(
        vec![
            Reply::Json(
                200,
                r#"{"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}"#
                    .into(),
            ),
            Reply::Json(200, r#"{"errcode": 0, "errmsg": "ok"}"#.into()),
        ],
        dingtalk_contract,
    )
    .succeeding_with(r#"{"errcode": 0, "errmsg": "ok"}"#);
    let site = site(&format!(
        "[notifiers.robot]\ntype = \"dingtalk\"\nurl = \"{}?access_token=robot-token\"\nsecret = \"{DINGTALK_SECRET}\"\n\
         [notifiers.wrong]\ntype = \"dingtalk\"\nurl = \"{}?access_token=robot-token\"\nsecret = \"SECwrong\"",
        receiver.url, receiver.url
    ));
    site.post("p1.md", post(1, "钉钉 *标题*"));
    let run = site.run(&["run", "--once"]).expect(1);
    assert!(
        run.stdout().contains("1 to retry, 1 failed"),
        "{}",
        run.stdout()
    );
    let status = site.run(&["status", "--json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    let by_name = |name: &str| {
        doc["notifiers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("robot")["retrying"], 1);
    assert!(
        by_name("robot")["last_error"]
            .as_str()
            .unwrap()
            .contains("130101")
    );
    assert_eq!(by_name("wrong")["failed"], 1);
    assert!(
        by_name("wrong")["last_failure"]
            .as_str()
            .unwrap()
            .contains("sign not match")
    );
    // Throttled robots wait ten minutes; let that time pass.
    let db = rusqlite::Connection::open(site.path().join(".tidings/state.db")).unwrap();
    db.execute("UPDATE deliveries SET next_attempt = '2000-01-01T00:00:00.000000Z' WHERE status = 'pending'", []).unwrap();
    site.run(&["run", "--once"]).expect(0);
    let requests = receiver.requests();
    let text = requests.last().unwrap().json()["markdown"]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.contains("钉钉 \\*标题\\*"), "{text}");
    let signs: BTreeSet<String> = requests
        .iter()
        .filter_map(|r| query(&r.path, "sign"))
        .collect();
    assert!(signs.len() >= 2, "each attempt carries its own signature");
}

const FEISHU_SECRET: &str = "feishu-test-secret";

fn feishu_contract(request: &Request) -> Option<Reply> {
    let verdict = |code: i64, message: &str| {
        Some(Reply::Json(
            200,
            format!(r#"{{"code": {code}, "msg": "{message}", "data": {{}}}}"#),
        ))
    };
    if request.body.len() > 20 * 1024 {
        return verdict(9499, "request body too large");
    }
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let timestamp = body["timestamp"].as_str().unwrap_or("");
    let expected = hmac_b64(format!("{timestamp}\n{FEISHU_SECRET}").as_bytes(), b"");
    if body["sign"].as_str() != Some(expected.as_str()) {
        return verdict(
            19021,
            "sign match fail or timestamp is not within one hour from current time",
        );
    }
    if body["msg_type"] != "interactive" || !body["card"]["elements"].is_array() {
        return verdict(9499, "Bad Request");
    }
    None
}

#[test]
fn feishu_signs_in_the_body_and_treats_code_as_the_verdict() {
    let receiver = Receiver::enforcing(vec![], feishu_contract)
        .succeeding_with(r#"{"code": 0, "data": {}, "msg": "success"}"#);
    let site = site(&format!(
        "[notifiers.lark]\ntype = \"feishu\"\nurl = \"{}\"\nsecret = \"{FEISHU_SECRET}\"\n\
         [notifiers.unsigned]\ntype = \"feishu\"\nurl = \"{}\"",
        receiver.url, receiver.url
    ));
    site.post("p1.md", post(1, "飞书 [链接](x)"));
    let run = site.run(&["run", "--once"]).expect(1);
    assert!(
        run.stdout()
            .contains("1 message sent, 0 to retry, 1 failed"),
        "{}",
        run.stdout()
    );
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("error 19021"),
        "{}",
        status.stdout()
    );
    let sent = receiver
        .requests()
        .into_iter()
        .find(|r| r.json()["sign"].is_string())
        .unwrap();
    let content = sent.json()["card"]["elements"][0]["text"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content.contains("飞书 \\[链接\\](x)"), "{content}");
}

fn wecom_contract(request: &Request) -> Option<Reply> {
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let content = body["markdown"]["content"].as_str().unwrap_or("");
    if body["msgtype"] != "markdown" || content.len() > 4096 {
        return Some(Reply::Json(
            200,
            r#"{"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}"#.into(),
        ));
    }
    None
}

#[test]
fn wecom_counts_bytes_and_retries_on_45009() {
    let receiver = Receiver::enforcing(
        vec![Reply::Json(
            200,
            r#"{"errcode": 45009, "errmsg": "api freq out of limit"}"#.into(),
        )],
        wecom_contract,
    )
    .succeeding_with(r#"{"errcode": 0, "errmsg": "ok"}"#);
    let site = site(&format!(
        "[notifiers.work]\ntype = \"wecom\"\nurl = \"{}?key=k\"\nmode = \"digest\"\nschedule = \"* * * * * *\"",
        receiver.url
    ));
    for n in 1..=12 {
        site.post(&format!("p{n}.md"), post(n, &format!("企业微信 {n}")));
    }
    // The schedule fires every second: by 2030 it has; a day on, every retry is due.
    let run = site
        .run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    assert!(run.stdout().contains("to retry"), "{}", run.stdout());
    site.run_at("2030-01-02T00:00:00Z", &["run", "--once"])
        .expect(0);
    let accepted: Vec<Request> = receiver.requests().into_iter().skip(1).collect();
    assert!(
        accepted.len() >= 2,
        "12 CJK posts exceed 4,096 bytes in one message"
    );
    let posts: usize = accepted
        .iter()
        .map(|r| {
            r.json()["markdown"]["content"]
                .as_str()
                .unwrap()
                .matches("**[企业微信")
                .count()
        })
        .sum();
    assert_eq!(posts, 12);
}

#[test]
fn teams_sends_an_adaptive_card() {
    fn contract(request: &Request) -> Option<Reply> {
        if request.body.len() > 28 * 1024 {
            return Some(Reply::Status(413));
        }
        let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
        let card = &body["attachments"][0];
        let ok = body["type"] == "message"
            && card["contentType"] == "application/vnd.microsoft.card.adaptive"
            && card["content"]["type"] == "AdaptiveCard";
        (!ok).then_some(Reply::Status(400))
    }
    let receiver = Receiver::enforcing(vec![Reply::Status(202)], contract);
    let site = site(&format!(
        "[notifiers.channel]\ntype = \"teams\"\nurl = \"{}\"",
        receiver.url
    ));
    site.post("p1.md", post(1, "Teams_post"));
    site.run(&["run", "--once"]).expect(0);
    let body = receiver.requests()[0].json();
    let text = body["attachments"][0]["content"]["body"][0]["items"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("**[Teams\\_post](https://example.org/blog/"),
        "{text}"
    );
}

fn matrix_contract(request: &Request) -> Option<Reply> {
    if request.headers.get("authorization").map(String::as_str) != Some("Bearer matrix-token") {
        return Some(Reply::Json(
            401,
            r#"{"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token"}"#.into(),
        ));
    }
    if !request
        .path
        .starts_with("/_matrix/client/v3/rooms/!room:example.org/send/m.room.message/msg_")
    {
        return Some(Reply::Json(
            404,
            r#"{"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"}"#.into(),
        ));
    }
    let body: serde_json::Value = serde_json::from_str(&request.body).ok()?;
    let ok = body["msgtype"] == "m.text"
        && body["format"] == "org.matrix.custom.html"
        && body["body"].is_string();
    (!ok || request.body.len() > 65536)
        .then(|| Reply::Json(400, r#"{"errcode": "M_BAD_JSON", "error": "bad"}"#.into()))
}

#[test]
fn matrix_retries_reuse_the_transaction_id() {
    let receiver = Receiver::enforcing(
        vec![Reply::Json(429, r#"{"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 200}"#.into())],
        matrix_contract,
    )
    .succeeding_with(r#"{"event_id": "$YUwRidLecu:example.org"}"#);
    let site = site(&format!(
        "[notifiers.room]\ntype = \"matrix\"\nhomeserver = \"{}\"\nroom_id = \"!room:example.org\"\ntoken = \"matrix-token\"",
        receiver.base
    ));
    site.post("p1.md", post(1, "Matrix <post>"));
    site.run_at("2030-01-01T00:00:00Z", &["run", "--once"])
        .expect(0);
    site.run_at("2030-01-01T00:00:05Z", &["run", "--once"])
        .expect(0);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].path, requests[1].path,
        "the same txnId on the retry"
    );
    assert!(
        requests[1].json()["formatted_body"]
            .as_str()
            .unwrap()
            .contains("Matrix &lt;post&gt;")
    );
    assert!(site.run(&["status"]).stdout().contains("1 sent"));
}

#[test]
fn the_daemon_waits_out_a_rate_limit_then_delivers() {
    let receiver = Receiver::enforcing(vec![Reply::RetryAfter(429, "1")], slack_contract);
    let site = site(&format!(
        "[notifiers.team]\ntype = \"slack\"\nurl = \"{}\"",
        receiver.url
    ));
    site.post("p1.md", post(1, "Waited for"));
    let mut daemon = site.command(&["run"]).spawn().unwrap();
    let delivered = receiver.wait_for(2, Duration::from_secs(10));
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let status = daemon.wait().unwrap();
    assert!(
        delivered,
        "the daemon should retry when Retry-After has passed, not at the next scan"
    );
    assert!(status.success());
    let requests = receiver.requests();
    assert_eq!(
        requests[0].body, requests[1].body,
        "the same message, sent again"
    );
}
