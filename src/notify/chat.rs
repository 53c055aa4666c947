//! The shared renderer for chat platforms: posts become messages in the platform's own
//! markup, split at post boundaries so every message stays within the platform's limits
//! (counted the platform's way), and a post too large on its own is shortened with an
//! ellipsis while its link stays whole.
//!
//! Each platform module says four things: how to escape text, how many posts a message may
//! hold, whether a set of rendered posts fits one message, and what the payload looks like.
//! Escaping is applied to every template value automatically, so a title like `<b>` or
//! `*_~` shows as written and a template author cannot forget it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment};

use super::item::PostItem;
use super::outcome::Outcome;
use super::platform::{Frame, Platform, Rendered};
use super::{http, platforms};
use crate::content::markup::cut;
use crate::settings::{Chat, Settings};

/// The platform a chat notifier speaks (its type was checked against the registry when the
/// settings loaded).
pub fn platform(chat: &Chat) -> &'static dyn Platform {
    platforms::named(chat.kind).expect("a chat's kind is a registered platform")
}

/// One message: which posts (indices into the input) it tells of, and its JSON body.
#[derive(Debug, Clone)]
pub struct Message {
    pub posts: Vec<usize>,
    pub body: String,
}

/// The messages that tell of `posts`, each within the platform's limits and holding at most
/// `max_posts` posts. Every post appears in exactly one message, in order.
pub fn messages(
    settings: &Settings,
    chat: &Chat,
    digest: bool,
    posts: &[PostItem],
    max_posts: usize,
) -> Result<Vec<Message>, String> {
    messages_with(platform(chat), settings, chat, digest, posts, max_posts)
}

/// [`messages`] in the words of `contract`, a platform the registry need not list (a
/// platform's own tests).
pub fn messages_with(
    contract: &'static dyn Platform,
    settings: &Settings,
    chat: &Chat,
    digest: bool,
    posts: &[PostItem],
    max_posts: usize,
) -> Result<Vec<Message>, String> {
    let env = environment(contract, chat)?;
    let frame = Frame {
        platform: contract,
        words: &settings.words,
        site_title: &settings.site.title,
        site_url: settings.site.url.as_str(),
        digest,
        total: posts.len(),
        chat,
    };
    let per_message = max_posts.min(contract.max_posts()).max(1);
    let mut chunks: Vec<Vec<Rendered>> = Vec::new();
    let mut current: Vec<Rendered> = Vec::new();
    for item in posts {
        let post = render_fitting(&env, &frame, item)?;
        current.push(post);
        if current.len() > per_message || !fits(&frame, &current) {
            let post = current.pop().expect("just pushed");
            if !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
            }
            current.push(post);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let mut next = 0;
    Ok(chunks
        .iter()
        .map(|chunk| {
            let indices = (next..next + chunk.len()).collect();
            next += chunk.len();
            Message {
                posts: indices,
                body: contract.payload(&frame, chunk).to_string(),
            }
        })
        .collect())
}

fn fits(frame: &Frame, posts: &[Rendered]) -> bool {
    frame.platform.fits(frame, posts)
}

/// Renders a post, shortening its summary (and, if need be, its title) until a message with
/// it alone fits.
fn render_fitting<'a>(
    env: &Environment,
    frame: &Frame,
    item: &'a PostItem,
) -> Result<Rendered<'a>, String> {
    let whole = render(env, frame, item, &item.summary, &item.title)?;
    if fits(frame, std::slice::from_ref(&whole)) {
        return Ok(whole);
    }
    let summary_len = item.summary.chars().count();
    if let Some(len) = longest_fitting(summary_len, |n| {
        render(env, frame, item, &shorten(&item.summary, n), &item.title)
            .is_ok_and(|r| fits(frame, &[r]))
    }) {
        return render(env, frame, item, &shorten(&item.summary, len), &item.title);
    }
    let title_len = item.title.chars().count();
    let len = longest_fitting(title_len, |n| {
        render(env, frame, item, "", &shorten(&item.title, n)).is_ok_and(|r| fits(frame, &[r]))
    })
    .unwrap_or(0);
    render(env, frame, item, "", &shorten(&item.title, len))
}

/// `text` cut to `n` characters with an ellipsis (empty for 0).
fn shorten(text: &str, n: usize) -> String {
    if n == 0 { String::new() } else { cut(text, n) }
}

/// The largest `n` in `0..max` for which `ok(n)` holds, if any (binary search: `ok` is
/// monotone, longer never fits better).
fn longest_fitting(max: usize, ok: impl Fn(usize) -> bool) -> Option<usize> {
    if !ok(0) {
        return None;
    }
    let (mut good, mut bad) = (0, max);
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        if ok(mid) { good = mid } else { bad = mid }
    }
    Some(good)
}

fn render<'a>(
    env: &Environment,
    frame: &Frame,
    item: &'a PostItem,
    summary: &str,
    title: &str,
) -> Result<Rendered<'a>, String> {
    let contract = frame.platform;
    let mut post: std::collections::BTreeMap<String, Value> =
        match serde_json::to_value(item).expect("plain structs serialize") {
            serde_json::Value::Object(map) => map
                .into_iter()
                .map(|(k, v)| (k, Value::from(minijinja::value::Serde(v))))
                .collect(),
            _ => unreachable!("a PostItem serializes to an object"),
        };
    post.insert("summary".into(), Value::from(summary));
    post.insert("title".into(), Value::from(title));
    // URLs are escaped the way the platform needs them inside links, and marked safe.
    post.insert(
        "url".into(),
        Value::from_safe_string(contract.escape_url(&item.url)),
    );
    if let Some(image) = &item.image {
        post.insert(
            "image".into(),
            Value::from_safe_string(contract.escape_url(image)),
        );
    }
    let context = minijinja::context! {
        post => Value::from_object(post),
        site => minijinja::context! { title => frame.site_title, url => frame.site_url },
        digest => frame.digest,
    };
    let template = env.get_template("post").map_err(|e| e.to_string())?;
    let text = template
        .render(context)
        .map_err(|e| format!("template `{}`: {e}", frame.chat.template.0))?;
    Ok(Rendered {
        item,
        text: text.trim().to_owned(),
        title: title.to_owned(),
    })
}

/// A template environment whose every `{{ value }}` is escaped for the platform.
fn environment(speaks: &'static dyn Platform, chat: &Chat) -> Result<Environment<'static>, String> {
    let mut env = crate::templates::bare();
    env.set_auto_escape_callback(|_| AutoEscape::Custom("chat".into()));
    env.set_formatter(move |out, state, value| {
        if value.is_safe() || *state.auto_escape() == AutoEscape::None {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            value.to_string()
        };
        out.write_str(&speaks.escape(&text))
            .map_err(minijinja::Error::from)
    });
    env.add_template_owned("post", chat.template.1.clone())
        .map_err(|e| format!("template `{}`: {e}", chat.template.0))?;
    Ok(env)
}

/// Sends one chat message, once, and reads the platform's verdict.
pub async fn send(
    client: &reqwest::Client,
    chat: &Chat,
    key: &str,
    timeout: Duration,
    message_id: &str,
    body: &str,
    now: DateTime<Utc>,
) -> Outcome {
    let contract = platform(chat);
    let request = contract.request(chat, message_id, body, now);
    match http::send_json(
        client,
        request.method,
        &request.url,
        timeout,
        &request.headers,
        &request.body,
        http::Receiver {
            host: &chat.host(),
            key,
        },
        now,
    )
    .await
    {
        Ok(answer) => contract.classify(&answer),
        Err(outcome) => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::platform::utf16_len;
    use crate::settings::Settings;

    fn setup(kind: &str, extra: &str) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = format!(
            "[site]\ntitle = \"Site <&>\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n\
             [notifiers.c]\ntype = \"{kind}\"\n{extra}\n"
        );
        let settings = Settings::parse_with(
            &text,
            std::path::Path::new("s.toml"),
            dir.path(),
            &platforms::setups(),
        )
        .unwrap();
        (dir, settings)
    }

    fn chat_of(settings: &Settings) -> &Chat {
        match &settings.notifiers[0].kind {
            crate::settings::NotifierKind::Chat(chat) => chat,
            _ => unreachable!(),
        }
    }

    fn item(n: usize, title: &str, summary: &str) -> PostItem {
        PostItem {
            id: format!("urn:uuid:{n}"),
            post_id: format!("p{n}.md"),
            title: title.into(),
            url: format!("https://example.org/{n}/%E6%96%B0/"),
            summary: summary.into(),
            categories: vec!["新媒体/趣头条".into()],
            tags: vec![],
            image: Some(format!("https://img.example.org/{n}.jpg")),
            published: "2026-11-27T08:00:00+00:00".into(),
            updated: "2026-11-27T08:00:00+00:00".into(),
            published_utc: String::new(),
            date: String::new(),
            author: None,
        }
    }

    #[test]
    fn a_digest_header_speaks_the_sites_language() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        for (language, one, two) in [
            ("en", "1 new post on Site", "2 new posts on Site"),
            ("zh-CN", "Site 有 1 篇新文章", "Site 有 2 篇新文章"),
        ] {
            let text = format!(
                "[site]\ntitle = \"Site\"\nurl = \"https://example.org/\"\nlanguage = \"{language}\"\n\
                 [content]\ndir = \"posts\"\n[notifiers.c]\ntype = \"slack\"\nurl = \"https://hooks.example.org/x\"\n"
            );
            let settings = Settings::parse_with(
                &text,
                std::path::Path::new("s.toml"),
                dir.path(),
                &platforms::setups(),
            )
            .unwrap();
            let chat = chat_of(&settings);
            for (posts, expected) in [(1, one), (2, two)] {
                let items: Vec<PostItem> = (0..posts).map(|n| item(n, "T", "s")).collect();
                let body = &messages(&settings, chat, true, &items, 20).unwrap()[0].body;
                assert!(body.contains(expected), "{language}: {body}");
            }
        }
    }

    const PLATFORMS: [(&str, &str); 8] = [
        ("slack", "url = \"https://hooks.slack.example/T/B/x\""),
        (
            "discord",
            "url = \"https://discord.example/api/webhooks/1/x\"",
        ),
        ("teams", "url = \"https://prod.workflows.example/x\""),
        ("telegram", "token = \"123:abc\"\nchat_id = \"-100\""),
        (
            "dingtalk",
            "url = \"https://oapi.dingtalk.example/robot/send?access_token=x\"\nsecret = \"SECx\"",
        ),
        (
            "feishu",
            "url = \"https://open.feishu.example/open-apis/bot/v2/hook/x\"\nsecret = \"s\"",
        ),
        (
            "wecom",
            "url = \"https://qyapi.weixin.example/cgi-bin/webhook/send?key=x\"",
        ),
        (
            "matrix",
            "homeserver = \"https://matrix.example\"\nroom_id = \"!r:example\"\ntoken = \"t\"",
        ),
    ];

    /// Checks a payload against the platform's documented limits, counted its way.
    fn within_limits(kind: &str, body: &serde_json::Value) -> usize {
        match kind {
            "slack" => {
                let blocks = body["blocks"].as_array().unwrap();
                assert!(blocks.len() <= 50);
                for b in blocks {
                    assert!(utf16_len(b["text"]["text"].as_str().unwrap()) <= 3000);
                }
                blocks
                    .iter()
                    .filter(|b| b.get("accessory").is_some())
                    .count()
            }
            "discord" => {
                let embeds = body["embeds"].as_array().unwrap();
                assert!(embeds.len() <= 10);
                let total: usize = embeds
                    .iter()
                    .map(|e| {
                        utf16_len(e["title"].as_str().unwrap())
                            + utf16_len(e["description"].as_str().unwrap())
                    })
                    .sum();
                assert!(total <= 6000, "{total}");
                embeds.len()
            }
            "teams" => {
                assert!(body.to_string().len() <= 28 * 1024);
                body["attachments"][0]["content"]["body"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|b| b["type"] == "Container")
                    .count()
            }
            "telegram" => {
                let text = body["text"].as_str().unwrap();
                let seen = utf16_len(&crate::notify::telegram::visible(text));
                assert!(seen <= 4096, "{seen}");
                text.matches("<a href=").count()
            }
            "dingtalk" => {
                let text = body["markdown"]["text"].as_str().unwrap();
                assert!(text.len() <= 20 * 1024);
                text.matches("#### [").count()
            }
            "feishu" => {
                assert!(body.to_string().len() <= 20 * 1024);
                body["card"]["elements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["tag"] == "div")
                    .count()
            }
            "wecom" => {
                let content = body["markdown"]["content"].as_str().unwrap();
                assert!(content.len() <= 4096, "{} bytes", content.len());
                content.matches("**[").count()
            }
            _ => {
                assert!(body.to_string().len() <= 64 * 1024);
                body["formatted_body"]
                    .as_str()
                    .unwrap()
                    .matches("<a href=")
                    .count()
            }
        }
    }

    #[test]
    fn titles_show_as_written_on_every_platform() {
        let expected = [
            ("slack", "&lt;b&gt;*_~ &amp;"),
            ("discord", "\\<b\\>\\*\\_\\~ &"),
            ("teams", "\\<b\\>\\*\\_\\~ &"),
            ("telegram", "&lt;b&gt;*_~ &amp;"),
            ("dingtalk", "\\<b\\>\\*\\_\\~ &"),
            ("feishu", "\\<b>\\*\\_\\~ &"),
            ("wecom", "\\<b\\>\\*\\_~ &"),
            ("matrix", "&lt;b&gt;*_~ &amp;"),
        ];
        assert_eq!(expected.len(), PLATFORMS.len());
        for ((kind, extra), (_, want)) in PLATFORMS.iter().zip(expected) {
            let (_dir, settings) = setup(kind, extra);
            let posts = [item(1, "<b>*_~ &", "<b>*_~ &")];
            let messages = messages(&settings, chat_of(&settings), false, &posts, 20).unwrap();
            assert_eq!(messages.len(), 1);
            let json = serde_json::to_string(want).unwrap();
            let inner = &json[1..json.len() - 1];
            assert!(
                messages[0].body.contains(inner),
                "{kind}: {inner} not in {}",
                messages[0].body
            );
        }
    }

    #[test]
    fn splitting_keeps_every_post_once_and_each_message_in_limits() {
        let summary = "新媒体的摘要🙂 emoji and 中文 ".repeat(40);
        let posts: Vec<PostItem> = (0..120)
            .map(|n| item(n, &format!("标题 {n} 🙂"), &summary))
            .collect();
        for (kind, extra) in PLATFORMS {
            let (_dir, settings) = setup(kind, extra);
            let messages = messages(&settings, chat_of(&settings), true, &posts, 100).unwrap();
            let seen: Vec<usize> = messages.iter().flat_map(|m| m.posts.clone()).collect();
            assert_eq!(seen, (0..120).collect::<Vec<_>>(), "{kind}");
            let counted: usize = messages
                .iter()
                .map(|m| within_limits(kind, &serde_json::from_str(&m.body).unwrap()))
                .sum();
            assert_eq!(counted, 120, "{kind}: each post rendered once");
            assert!(messages.len() > 1, "{kind}");
        }
    }

    #[test]
    fn an_oversized_post_is_shortened_but_keeps_its_link() {
        let summary = "长".repeat(20_000);
        for (kind, extra) in PLATFORMS {
            let (_dir, settings) = setup(kind, extra);
            let posts = [item(7, "Huge", &summary)];
            let messages = messages(&settings, chat_of(&settings), false, &posts, 20).unwrap();
            assert_eq!(messages.len(), 1);
            let body: serde_json::Value = serde_json::from_str(&messages[0].body).unwrap();
            within_limits(kind, &body);
            assert!(
                messages[0]
                    .body
                    .contains("https://example.org/7/%E6%96%B0/"),
                "{kind}"
            );
            assert!(messages[0].body.contains('…'), "{kind}");
        }
    }
}
