//! Feeds for the format writers' tests: every shape an item takes (whole post or summary
//! only; with or without author, image, categories and tags; text that needs escaping, a
//! `]]>` and line breaks), written beforehand or not, alone, together and absent, with and
//! without the stylesheet, at the site's level and two folders down.

use chrono::{DateTime, FixedOffset};

use super::entry::{Entry, guid};
use super::{FeedDoc, FeedKind, FeedSpec, item_bytes};
use crate::model::{BodyFormat, Post};
use crate::settings::{Format, Settings};

fn settings(stylesheet: bool) -> (tempfile::TempDir, Settings) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("posts")).unwrap();
    let text = format!(
        "[site]\ntitle = \"T & <co>\"\nurl = \"https://example.org/\"\nauthor = \"Site\"\n\
         [content]\ndir = \"posts\"\n[feeds]\nstylesheet = {stylesheet}\n\
         hubs = [\"https://hub.example.net/\"]\n"
    );
    let settings = Settings::parse(&text, std::path::Path::new("s.toml"), dir.path()).unwrap();
    (dir, settings)
}

fn date(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

/// A plain post (Markdown, no author, image, categories or tags), its title needing escapes.
pub fn post(n: usize) -> Post {
    Post {
        id: format!("p{n}.md"),
        source: format!("p{n}.md"),
        file: format!("posts/p{n}.md").into(),
        format: BodyFormat::Markdown,
        hash: n as u64,
        title: format!("Post {n} <b>&amp;</b> \"quoted\""),
        url: format!("https://example.org/{n}/"),
        published: date("2024-03-01T08:00:00+08:00"),
        updated: None,
        author: None,
        categories: Vec::new(),
        tags: Vec::new(),
        image: None,
        summary: None,
        terms: Vec::new(),
        visible_from: None,
        expires: None,
    }
}

fn posts() -> Vec<Post> {
    let mut rich = post(1);
    rich.author = Some("Ann <ann@example.org>".into());
    rich.categories = vec![vec!["新闻".into(), "科技".into()]];
    rich.tags = vec!["rust & go".into()];
    rich.image = Some("https://img.example.org/a.png".into());
    rich.updated = Some(date("2024-03-02T08:00:00+08:00"));
    vec![rich, post(2), post(3)]
}

fn entries<'p>(posts: &'p [Post], full: bool) -> Vec<Entry<'p>> {
    let site = url::Url::parse("https://example.org/").unwrap();
    posts
        .iter()
        .map(|post| Entry {
            post,
            guid: guid(&site, &post.id),
            summary_html: "<p>Sum &amp; <em>mary</em></p>".into(),
            summary_text: "Sum & mary \"q\"\nline".into(),
            content_html: full.then(|| {
                format!(
                    "<p>{}</p>\n<pre>a ]]> b\n  c</pre><p>&lt;x&gt;</p>",
                    post.title
                )
            }),
            published: post.published,
            updated: post.freshness(),
        })
        .collect()
}

/// Calls `check` on every kind of feed document, as written in `format`.
pub fn each_doc(format: Format, check: impl Fn(&FeedDoc)) {
    let posts = posts();
    for stylesheet in [false, true] {
        let (_dir, settings) = settings(stylesheet);
        for full in [true, false] {
            let entries = entries(&posts, full);
            for (dir, pick) in [
                (vec![], vec![0, 1, 2]),
                (vec!["categories".to_owned(), "新闻".to_owned()], vec![0]),
                (vec!["tags".to_owned(), "x".to_owned()], vec![1, 2]),
                (vec![], vec![]),
            ] {
                let spec = FeedSpec {
                    kind: FeedKind::Site,
                    title: "T & <co>".into(),
                    dir,
                    items: pick.clone(),
                    total: pick.len(),
                    updated: date("2024-03-02T08:00:00+08:00"),
                };
                // The second post as if several feeds listed it: written beforehand.
                let second = item_bytes(&entries[1], format);
                let doc = FeedDoc {
                    spec: &spec,
                    entries: pick.iter().map(|&i| &entries[i]).collect(),
                    written: pick
                        .iter()
                        .map(|&i| (i == 1).then_some(second.as_slice()))
                        .collect(),
                    settings: &settings,
                };
                check(&doc);
            }
        }
    }
}

/// Asserts that a spliced feed is the whole written one, showing both as text when not.
pub fn whole(spliced: &[u8], expected: &[u8]) {
    assert_eq!(
        String::from_utf8_lossy(spliced),
        String::from_utf8_lossy(expected)
    );
}
