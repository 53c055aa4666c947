//! `tidings build` and `tidings check`, driven through the real binary on sites written into
//! temp dirs. Every feed produced is parsed back by independent parsers.

mod common;

use std::time::Duration;

use common::{Site, assert_feeds_valid, files, hexo_post, parse_feed};

fn seed_site() -> Site {
    let site = Site::new();
    site.post(
        "新媒体/趣头条/分类/第一条.md",
        hexo_post(
            "第一条 <b>新闻</b> &amp; 更多",
            "Thu, 17 Jun 2021 11:05:02 GMT",
            &["新媒体", "趣头条", "分类"],
            "<div><p>正文 <a href=\"../x/\">链接</a></p><img data-original=\"/img/a.jpg\"></div>",
        ),
    )
    .post(
        "新媒体/ZAKER/channel/second.md",
        hexo_post("Second", "Fri, 18 Jun 2021 08:00:00 GMT", &["新媒体", "ZAKER", "channel"], "<p>Two</p>"),
    )
    .post(
        "二次元/番剧/第1话.md",
        hexo_post("第1话 - 开始", "2021-06-16 20:00:00", &["二次元", "番剧"], "<p>ep</p>"),
    )
    .post(
        "notes/markdown.md",
        "---\ntitle: Markdown post\ndate: 2021-06-15\ncategories: [[Tech, Rust], Notes]\ntags: [rust, 2021]\nheadimg: /img/cover.png\n---\nIntro text.\n\n<!-- more -->\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nlet x = 1;\n\tindented();\n```\n",
    )
    .post(
        "notes/toml.md",
        "+++\r\ntitle = \"TOML post\"\r\ndate = \"2021-06-14T06:17:00.877081\"\r\ntags = [  \"toml\" , \"rust\" ]\r\n+++\r\n\r\nBody with {{< shortcode >}}.\r\n",
    )
    .post("notes/draft.md", "---\ntitle: Draft\ndate: 2021-06-10\ndraft: true\n---\nno\n")
    .post("_drafts/folder-draft.md", "---\ntitle: Folder draft\ndate: 2021-06-10\n---\nno\n")
    .post(
        "notes/future.md",
        "---\ntitle: Future\ndate: 2999-01-01 00:00:00\ncategories: [Later]\n---\nnot yet\n",
    );
    site
}

#[test]
fn builds_every_feed_and_they_all_parse() {
    let site = seed_site();
    let run = site.run(&["build"]).expect(0);
    assert!(
        run.stdout().contains("5 published, 1 scheduled, 2 drafts"),
        "{}",
        run.stdout()
    );

    let mut expected = vec!["index.opml".to_string()];
    for dir in [
        "",
        "categories/新媒体/",
        "categories/新媒体/趣头条/",
        "categories/新媒体/趣头条/分类/",
        "categories/新媒体/ZAKER/channel/",
        "categories/二次元/番剧/",
        "categories/Tech/Rust/",
        "categories/Notes/",
        "categories/Later/",
        "tags/rust/",
        "tags/2021/",
        "tags/toml/",
    ] {
        for file in ["rss.xml", "atom.xml", "feed.json"] {
            expected.push(format!("{dir}{file}"));
        }
    }
    let written: Vec<String> = files(&site.out())
        .iter()
        .map(|p| {
            p.strip_prefix(site.out())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for file in &expected {
        assert!(written.contains(file), "missing {file} in {written:#?}");
    }
    assert_feeds_valid(&site.out());

    // The parent category holds its children's posts, newest first.
    let parent = parse_feed(&site.out().join("categories/新媒体/atom.xml"));
    let titles: Vec<String> = parent
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect();
    assert_eq!(titles, ["Second", "第一条 新闻 & 更多"]);
    // A category whose only post is scheduled has a valid, empty feed.
    assert!(
        parse_feed(&site.out().join("categories/Later/rss.xml"))
            .entries
            .is_empty()
    );
}

#[test]
fn items_carry_what_readers_need() {
    let site = seed_site();
    site.run(&["build"]).expect(0);
    let rss = site.read("rss.xml");
    let atom = site.read("atom.xml");
    let json: serde_json::Value = serde_json::from_str(&site.read("feed.json")).unwrap();

    // Channel dates are the newest item's, never the build time, in the site's zone.
    assert!(
        rss.contains("<lastBuildDate>Fri, 18 Jun 2021 16:00:00 +0800</lastBuildDate>"),
        "{rss}"
    );
    assert!(
        atom.contains("<updated>2021-06-18T16:00:00+08:00</updated>"),
        "{atom}"
    );
    // Absolute self links.
    assert!(
        rss.contains(r#"<atom:link href="https://example.org/blog/feeds/rss.xml" rel="self""#),
        "{rss}"
    );
    assert!(
        site.read("categories/新媒体/rss.xml").contains(
            "https://example.org/blog/feeds/categories/%E6%96%B0%E5%AA%92%E4%BD%93/rss.xml"
        )
    );
    // Titles are plain text; ids are not permalinks.
    assert!(
        rss.contains("<title>第一条 新闻 &amp; 更多</title>"),
        "{rss}"
    );
    assert!(rss.contains(r#"<guid isPermaLink="false">urn:uuid:"#));
    // Zone-less dates are read in the site's zone; RSS dates have numeric offsets.
    assert!(
        rss.contains("<pubDate>Wed, 16 Jun 2021 20:00:00 +0800</pubDate>"),
        "{rss}"
    );
    // Relative URLs absolute, lazy images promoted, CJK percent-encoded once.
    assert!(rss.contains(r#"<a href="https://example.org/blog/2021/06/17/%E6%96%B0%E5%AA%92%E4%BD%93/%E8%B6%A3%E5%A4%B4%E6%9D%A1/%E5%88%86%E7%B1%BB/x/">"#), "{rss}");
    // A root-relative URL resolves against the host, as a browser would.
    assert!(
        rss.contains(r#"src="https://example.org/img/a.jpg""#),
        "{rss}"
    );
    assert!(!rss.contains("%25E"), "double-encoded URL in {rss}");
    // Images in every format.
    assert!(
        rss.contains(r#"<media:thumbnail url="https://example.org/img/cover.png""#),
        "{rss}"
    );
    assert!(
        atom.contains(r#"rel="enclosure" type="image/png""#),
        "{atom}"
    );
    let markdown_item = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Markdown post")
        .unwrap();
    assert_eq!(markdown_item["image"], "https://example.org/img/cover.png");
    // The excerpt marker gives the summary; Markdown tables render; tabs in code survive.
    assert_eq!(markdown_item["summary"], "Intro text.");
    assert!(
        markdown_item["content_html"]
            .as_str()
            .unwrap()
            .contains("<table>")
    );
    assert!(
        markdown_item["content_html"]
            .as_str()
            .unwrap()
            .contains("\n\tindented();")
    );
    // Atom summary and content are typed HTML.
    assert!(
        atom.contains(r#"<summary type="html">"#) && atom.contains(r#"<content type="html">"#),
        "{atom}"
    );
    // Shortcodes pass through untouched.
    assert!(
        rss.contains("{{&lt; shortcode &gt;}}") || rss.contains("{{< shortcode >}}"),
        "{rss}"
    );
}

#[test]
fn same_input_same_bytes_and_no_rewrites() {
    let site = seed_site();
    site.run(&["build"]).expect(0);
    // Every file is dated 2001: a rewrite, however quick, would date it now, even on a file
    // system that keeps whole seconds.
    let long_ago = std::time::UNIX_EPOCH + Duration::from_secs(978_307_200);
    let snapshot: Vec<(std::path::PathBuf, Vec<u8>)> = files(&site.out())
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
            (p, bytes)
        })
        .collect();
    // Twice: once stopped early by the manifest, once rendering everything again.
    for forget_manifest in [false, true] {
        if forget_manifest {
            std::fs::remove_file(site.out().join(".tidings-manifest")).unwrap();
        }
        let run = site.run(&["build"]).expect(0);
        assert!(
            run.stdout().contains(" 0 files written"),
            "{}",
            run.stdout()
        );
    }
    for (path, bytes) in snapshot
        .into_iter()
        .filter(|(p, ..)| !p.ends_with(".tidings-manifest"))
    {
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{}", path.display());
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            long_ago,
            "{} was rewritten",
            path.display()
        );
    }
}

#[test]
fn feeds_changed_or_removed_by_hand_are_restored() {
    let site = seed_site();
    site.run(&["build"]).expect(0);
    let original = site.read("categories/新媒体/rss.xml");
    std::fs::write(site.out().join("categories/新媒体/rss.xml"), "tampered").unwrap();
    std::fs::remove_file(site.out().join("atom.xml")).unwrap();
    let run = site.run(&["build"]).expect(0);
    assert!(
        run.stdout().contains(" 2 files written"),
        "{}",
        run.stdout()
    );
    assert_eq!(site.read("categories/新媒体/rss.xml"), original);
    assert!(site.out().join("atom.xml").exists());
}

#[test]
fn edits_keep_item_ids_and_gone_categories_lose_their_feeds() {
    let site = seed_site();
    site.run(&["build"]).expect(0);
    let id_before = parse_feed(&site.out().join("categories/二次元/atom.xml")).entries[0]
        .id
        .clone();
    site.post(
        "二次元/番剧/第1话.md",
        hexo_post(
            "第1话 - 新标题",
            "2021-06-16 21:00:00",
            &["二次元", "番剧"],
            "<p>edited</p>",
        ),
    );
    site.run(&["build"]).expect(0);
    let entry = &parse_feed(&site.out().join("categories/二次元/atom.xml")).entries[0];
    assert_eq!(entry.id, id_before, "an edit must not change the item id");
    assert_eq!(entry.title.as_ref().unwrap().content, "第1话 - 新标题");

    site.remove_post("二次元/番剧/第1话.md");
    let run = site.run(&["build"]).expect(0);
    assert!(run.stdout().contains("6 removed"), "{}", run.stdout());
    assert!(!site.out().join("categories/二次元").exists());
}

#[test]
fn ties_are_broken_by_id_and_the_limit_applies() {
    let settings = common::BASE_SETTINGS.replace("tags = true", "limit = 2");
    let site = Site::with_settings(&settings);
    for name in ["c", "a", "b"] {
        site.post(
            &format!("{name}.md"),
            format!("---\ntitle: {name}\ndate: 2021-01-01 10:00:00\n---\n{name}\n"),
        );
    }
    site.run(&["build"]).expect(0);
    let feed = parse_feed(&site.out().join("rss.xml"));
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect();
    assert_eq!(titles, ["a", "b"]);
}

#[test]
fn hostile_content_cannot_break_the_feed() {
    let site = Site::new();
    site.post(
        "evil.md",
        "---\ntitle: \"Ends ]]> here \\x01 \\uFFFF <script>x</script>\"\ndate: 2021-01-01\ncategories: [\"..\", \"/\", \"\\x07bell\", \"a/../../b\"]\n---\n<p>cdata ]]> end \u{1}\u{b}</p><pre>keep\ttabs\n  and lines</pre><p onmouseover=\"steal()\">x</p><a href=\"javascript:alert(1)\">y</a><script>alert(2)</script>\n",
    );
    site.run(&["build"]).expect(0);
    assert_feeds_valid(&site.out());
    let rss = site.read("rss.xml");
    assert!(!rss.contains("steal()") && !rss.contains("alert("), "{rss}");
    assert!(rss.contains("<pre>keep\ttabs\n  and lines</pre>"), "{rss}");
    // Every file stays inside the feeds folder (or the state folder).
    for path in files(site.path()) {
        let rel = path.strip_prefix(site.path()).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        assert!(
            // `.tidings/` holds the state: the parse cache and the settled record.
            ["out", "posts", "settings.toml", ".tidings"].contains(&top.as_str()),
            "wrote outside: {}",
            path.display()
        );
    }
    assert!(
        site.out()
            .join("categories/_/_/bell/a_.._.._b/rss.xml")
            .exists(),
        "{:#?}",
        files(&site.out())
    );
}

#[test]
fn bad_files_are_reported_and_the_rest_published() {
    let site = Site::new();
    site.post("good.md", "---\ntitle: Good\ndate: 2021-01-01\n---\nfine\n")
        .post(
            "latin1.md",
            b"---\ntitle: caf\xe9\ndate: 2021-01-01\n---\n".as_slice(),
        )
        .post("binary.md", b"\x00\x01\x02binary".as_slice())
        .post("empty.md", "")
        .post("yaml.md", "---\ntitle: a\ntags:\n- x\n\t- y\n---\n")
        .post("toml.md", "+++\ntitle = \"x\"\ndate = \n+++\n")
        .post("date.md", "---\ntitle: x\ndate: 2021-02-30 10:00:00\n---\n")
        .post("unclosed.md", "---\ntitle: x\n")
        .post("nofront.md", "# Just a heading\n")
        .post(
            "2021-03-04-jekyll-no-front.md",
            "# A Jekyll page without front matter\n",
        );
    std::fs::write(
        site.path().join("posts/huge.md"),
        vec![b'a'; 50 * 1024 * 1024],
    )
    .unwrap();
    std::os::unix::fs::symlink(".", site.path().join("posts/loop")).unwrap();

    let run = site.run(&["build"]).expect(1);
    let err = run.stderr();
    let posts = site.path().join("posts");
    for expected in [
        format!("{}:2: not UTF-8", posts.join("latin1.md").display()),
        format!("{}: binary file", posts.join("binary.md").display()),
        format!("{}: empty file", posts.join("empty.md").display()),
        format!("{}:5: invalid YAML", posts.join("yaml.md").display()),
        format!("{}:3: invalid TOML", posts.join("toml.md").display()),
        format!(
            "{}:3: `date` `2021-02-30 10:00:00` is an impossible date",
            posts.join("date.md").display()
        ),
        format!(
            "{}:1: front matter opened with `---` on line 1 is never closed",
            posts.join("unclosed.md").display()
        ),
        format!("{}:1: no front matter", posts.join("nofront.md").display()),
        format!("{}: file is 50.0 MiB", posts.join("huge.md").display()),
        "symlink loop".to_string(),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    let titles = feed_titles(&site.out().join("rss.xml"));
    assert_eq!(titles, ["jekyll-no-front", "Good"]);
}

#[test]
fn a_repeated_id_is_reported_on_every_later_post_and_the_first_published() {
    let site = Site::new();
    site.post(
        "a.md",
        "---\ntitle: First\nid: 7\ndate: 2021-01-01\n---\nx\n",
    )
    .post(
        "b.md",
        "---\ntitle: Second\nid: 7\ndate: 2021-01-02\n---\nx\n",
    )
    .post(
        "c.md",
        "---\ntitle: Third\nid: 7\ndate: 2021-01-03\n---\nx\n",
    )
    .post(
        "d.md",
        "---\ntitle: Other\nid: 8\ndate: 2021-01-04\n---\nx\n",
    );
    let err = site.run(&["build"]).expect(1).stderr();
    let posts = site.path().join("posts");
    for later in ["b.md", "c.md"] {
        let expected = format!(
            "{}: id `7` is also used by `a.md`",
            posts.join(later).display()
        );
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    let titles = feed_titles(&site.out().join("rss.xml"));
    assert_eq!(titles, ["Other", "First"]);
}

/// Bad settings, missing keys (named with their table), a schedule that never fires and a
/// feeds folder that cannot be made stop `build` and `check` alike, naming the key.
#[test]
fn bad_settings_stop_everything_and_name_the_key() {
    for (patch, key) in [
        ("[site]\nfoo = 1", "foo"),
        (
            "url = \"https://example.org/blog/\"=>url = \"example.org\"",
            "site.url",
        ),
        (
            "timezone = \"Asia/Shanghai\"=>timezone = \"Asia/Atlantis\"",
            "site.timezone",
        ),
        ("dir = \"posts\"=>dir = \"missing\"", "content.dir"),
        ("tags = true=>limit = -1", "limit"),
        ("url = \"https://example.org/blog/\"=>", "`site.url`"),
        ("[content]\ndir = \"posts\"=>", "`content`"),
        (
            "tags = true=>tags = true\n[schedule]\nscan = \"0 0 31 4 *\"",
            "`schedule.scan`",
        ),
        ("dir = \"out\"=>dir = \"settings.toml/out\"", "`feeds.dir`"),
    ] {
        let settings = match patch.split_once("=>") {
            Some((from, to)) => common::BASE_SETTINGS.replace(from, to),
            None => common::BASE_SETTINGS.replacen("[site]", patch, 1),
        };
        let site = Site::with_settings(&settings);
        site.post("good.md", "---\ntitle: Good\ndate: 2021-01-01\n---\nfine\n");
        let run = site.run(&["build"]).expect(2);
        assert!(run.stderr().contains(key), "{patch}: {}", run.stderr());
        let check = site.run(&["check"]).expect(2);
        assert!(check.stderr().contains(key), "{patch}: {}", check.stderr());
        assert!(
            !site.out().exists(),
            "{patch}: wrote output despite bad settings"
        );
    }
}

#[test]
fn check_writes_nothing_and_reports_the_same() {
    let site = seed_site();
    site.post("bad.md", "---\ntitle: x\ndate: never\n---\n");
    let run = site.run(&["check"]).expect(1);
    assert!(
        run.stderr().contains("bad.md:3: `date`"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stdout().contains("would be written"),
        "{}",
        run.stdout()
    );
    assert!(!site.out().exists());
    site.remove_post("bad.md");
    site.run(&["build"]).expect(0);
    let run = site.run(&["check"]).expect(0);
    assert!(
        run.stdout().contains("0 files would be written"),
        "{}",
        run.stdout()
    );
}

#[test]
fn summary_mode_and_formats_setting() {
    let settings = common::BASE_SETTINGS.replace(
        "tags = true",
        "formats = [\"atom\"]\ncontent = \"summary\"\nsummary_length = 10\ncategories = false",
    );
    let site = Site::with_settings(&settings);
    site.post(
        "a.md",
        "---\ntitle: A\ndate: 2021-01-01\n---\nThe quick brown fox jumps over the lazy dog.\n",
    );
    site.run(&["build"]).expect(0);
    let written = files(&site.out());
    assert_eq!(
        written,
        [
            site.out().join(".tidings-manifest"),
            site.out().join("atom.xml"),
            site.out().join("feed.js"),
            site.out().join("feed.xsl"),
            site.out().join("index.opml")
        ]
    );
    let atom = site.read("atom.xml");
    assert!(atom.contains("The quick…"), "{atom}");
    assert!(!atom.contains("<content"), "{atom}");
    assert_feeds_valid(&site.out());
}

#[test]
fn the_bundled_example_builds_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    // The example's settings, with the output sent to a temp dir.
    let settings = std::fs::read_to_string(root.join("settings.toml"))
        .unwrap()
        .replace(
            "dir = \"feeds\"",
            &format!("dir = {:?}", out.path().join("feeds").to_str().unwrap()),
        )
        .replace(
            "dir = \"examples/site/posts\"",
            &format!(
                "dir = {:?}",
                root.join("examples/site/posts").to_str().unwrap()
            ),
        );
    let config = out.path().join("settings.toml");
    std::fs::write(&config, settings).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(&config)
        .arg("build")
        .output()
        .unwrap();
    let run = common::Run(output).expect(0);
    assert!(
        run.stdout().contains("1 scheduled, 2 drafts"),
        "{}",
        run.stdout()
    );
    assert!(assert_feeds_valid(&out.path().join("feeds")) > 30);
}

/// Years after the test writes its files: the parse cache trusts only files last changed
/// more than a moment before a scan.
const LATER: &str = "2040-01-01T00:00:00Z";

/// Replaces `from` by `to` (of the same length) in the parse cache, as if a file had once
/// parsed that way.
fn doctor_cache(site: &Site, from: &str, to: &str) {
    assert_eq!(from.len(), to.len(), "records carry their lengths");
    let path = site.path().join(".tidings/state.db.posts");
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("the cache holds `{from}`"));
    let mut doctored = bytes.clone();
    doctored[at..at + to.len()].copy_from_slice(to.as_bytes());
    std::fs::write(&path, doctored).unwrap();
    // The feeds' own manifest would skip rendering: the file's bytes did not change.
    let _ = std::fs::remove_file(site.out().join(".tidings-manifest"));
}

/// An unchanged file is taken from the parse cache; any change to the file (even one that
/// keeps its size and modification time), to the settings that shape posts, or to the cache
/// itself means reading again; `build --full` reads everything.
#[test]
fn the_parse_cache_is_trusted_only_for_unchanged_files() {
    let site = seed_site();
    site.run_at(LATER, &["build"]).expect(0);
    let title = |site: &Site| {
        parse_feed(&site.out().join("categories/二次元/atom.xml")).entries[0]
            .title
            .clone()
            .unwrap()
            .content
    };
    assert_eq!(title(&site), "第1话 - 开始");

    // Proof the cache is read: a doctored entry for an unchanged file is believed…
    doctor_cache(&site, "第1话 - 开始", "第1话 - 缓存");
    site.run_at(LATER, &["build"]).expect(0);
    assert_eq!(title(&site), "第1话 - 缓存");
    // …until `--full`, which reads every file and writes the cache afresh.
    site.run_at(LATER, &["build", "--full"]).expect(0);
    assert_eq!(title(&site), "第1话 - 开始");
    site.run_at(LATER, &["build"]).expect(0);
    assert_eq!(title(&site), "第1话 - 开始");

    // Same size, modification time put back: the change time still gives the edit away.
    let rel = "二次元/番剧/第1话.md";
    let path = site.path().join("posts").join(rel);
    let before = std::fs::read_to_string(&path).unwrap();
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    site.post(rel, before.replace("开始", "结束"));
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    site.run_at(LATER, &["build"]).expect(0);
    assert_eq!(title(&site), "第1话 - 结束");

    // A setting that changes what every post becomes empties the cache.
    site.run_at(LATER, &["build"]).expect(0);
    doctor_cache(&site, "第1话 - 结束", "第1话 - 缓存");
    let settings = site.path().join("settings.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, text.replace("Asia/Shanghai", "Europe/Berlin")).unwrap();
    site.run_at(LATER, &["build"]).expect(0);
    assert_eq!(title(&site), "第1话 - 结束");

    // A damaged cache is ignored whole, and a gone file is forgotten.
    let cache = site.path().join(".tidings/state.db.posts");
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() / 2]).unwrap();
    site.remove_post(rel);
    let run = site.run_at(LATER, &["build"]).expect(0);
    assert!(run.stdout().contains("4 published"), "{}", run.stdout());
    assert!(!site.out().join("categories/二次元").exists());
    let bytes = std::fs::read(&cache).unwrap();
    assert!(!bytes.windows(7).any(|w| w == "第1话".as_bytes()));

    // `check` trusts no cache and writes none.
    std::fs::remove_file(&cache).unwrap();
    site.run_at(LATER, &["check"]).expect(0);
    assert!(!cache.exists());
}

/// Posts shaped to exhaust a parser or the file system (a 2,000-level category chain, 100,000
/// nested brackets, thousands of tags) are each reported with file and line and skipped;
/// every other post is published, and the daemon announces it.
#[test]
fn a_post_over_a_limit_is_reported_and_skipped_and_the_rest_announced() {
    let site = Site::with_settings(&format!(
        "{}\n[notifiers.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n",
        common::BASE_SETTINGS
    ));
    site.post(
        "good.md",
        "---\ntitle: Good\ndate: 2021-01-01\ncategories: [News]\n---\nfine\n",
    );
    let chain: String = (0..2000).map(|i| format!(" - level{i}\n")).collect();
    site.post(
        "chain.md",
        format!("---\ntitle: Chain\ndate: 2021-01-01\ncategories:\n{chain}---\nx\n"),
    );
    site.post(
        "brackets.md",
        format!(
            "---\ntitle: B\ndate: 2021-01-01\nx: {}\n---\nx\n",
            "[".repeat(200_000)
        ),
    );
    site.post(
        "braces.md",
        format!(
            "---\ntitle: B\ndate: 2021-01-01\nx: {}\n---\nx\n",
            "{a: ".repeat(50_000)
        ),
    );
    let tags: String = (0..1000).map(|i| format!(" - t{i}\n")).collect();
    site.post(
        "tags.md",
        format!("---\ntitle: Tags\ndate: 2021-01-01\ntags:\n{tags}---\nx\n"),
    );
    let deep: String = (0..70).map(|i| format!("d{i}/")).collect();
    site.post(
        &format!("{deep}deep.md"),
        "---\ntitle: Deep\ndate: 2021-01-01\n---\nx\n",
    );
    let run = site.run(&["build"]).expect(1);
    let err = run.stderr();
    assert!(
        err.contains("folders nest deeper than 64 levels here; skipped"),
        "{err}"
    );
    let posts = site.path().join("posts");
    for expected in [
        format!(
            "{}:4: `categories` is a chain 2000 levels deep",
            posts.join("chain.md").display()
        ),
        format!(
            "{}:4: front matter nests brackets more than 64 deep",
            posts.join("brackets.md").display()
        ),
        format!(
            "{}:4: front matter nests brackets",
            posts.join("braces.md").display()
        ),
        format!(
            "{}:4: `tags` lists 1000 tags",
            posts.join("tags.md").display()
        ),
    ] {
        assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    }
    assert!(run.stdout().contains("1 published"), "{}", run.stdout());
    assert!(site.out().join("categories/News/rss.xml").exists());
    assert!(!site.out().join("categories/level0").exists());
    assert!(!site.out().join("tags").exists());

    // The daemon: the bad posts are reported, the good one recorded and (when new) announced.
    let run = site.run(&["run", "--once"]);
    assert!(run.stderr().contains("chain.md:4"), "{}", run.stderr());
    site.post("new.md", "---\ntitle: New\ndate: 2021-01-02\n---\nnew\n");
    site.run(&["run", "--once"]);
    let status = site.run(&["status"]).expect(0);
    assert!(
        status.stdout().contains("2 posts, 1 new, 5 with problems")
            && status.stdout().contains("1 retrying"),
        "the new post is recorded and queued for the webhook:\n{}",
        status.stdout()
    );
}

/// A rebuild over unchanged files and settings says so, writes nothing and reports the same
/// problems with the same exit status; a change in settings builds in full.
#[test]
fn a_settled_build_reports_the_same_and_settings_changes_build_in_full() {
    let site = seed_site();
    site.post("bad.md", "---\ntitle: x\ndate: 2021-02-30 10:00:00\n---\n");
    let first = site.run_at(LATER, &["build"]).expect(1);
    assert!(!first.stdout().contains("nothing changed"));
    let again = site.run_at(LATER, &["build"]).expect(1);
    assert!(
        again
            .stdout()
            .contains("(nothing changed since the last build)"),
        "{}",
        again.stdout()
    );
    assert_eq!(first.stderr(), again.stderr(), "the same problems");
    assert!(
        again
            .stdout()
            .contains("5 published, 1 scheduled, 2 drafts"),
        "{}",
        again.stdout()
    );
    let settings = site.path().join("settings.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, text.replace("tags = true", "tags = false")).unwrap();
    let changed = site.run_at(LATER, &["build"]).expect(1);
    assert!(
        !changed.stdout().contains("nothing changed"),
        "{}",
        changed.stdout()
    );
    assert!(!site.out().join("tags/rust/rss.xml").exists());
}

/// A link or image from front matter that is not http or https (`javascript:`, `data:`)
/// never reaches a feed: a post whose own link would be one is reported and skipped, an
/// image is left out and the post published.
#[test]
fn front_matter_urls_other_than_http_are_refused() {
    let site = Site::new();
    site.post(
        "link.md",
        "---\ntitle: Link\ndate: 2021-01-01\npermalink: \"javascript:alert(1)\"\n---\nx\n",
    )
    .post(
        "url.md",
        "---\ntitle: Url\ndate: 2021-01-01\nurl: \"data:text/html,<script>alert(2)</script>\"\n---\nx\n",
    )
    .post(
        "image.md",
        "---\ntitle: Image\ndate: 2021-01-02\nheadimg: \"javascript:alert(3)\"\nthumbnail: x\n---\nx\n",
    )
    .post(
        "data.md",
        "---\ntitle: Data\ndate: 2021-01-03\ncover: \"data:text/html;base64,PHNjcmlwdD4=\"\n---\nx\n",
    );
    let run = site.run(&["build"]).expect(1);
    let err = run.stderr();
    let posts = site.path().join("posts");
    assert!(
        err.contains(&format!(
            "{}:4: `permalink` makes the post's link a `javascript:` URL",
            posts.join("link.md").display()
        )),
        "{err}"
    );
    assert!(
        err.contains("`url` makes the post's link a `data:` URL"),
        "{err}"
    );
    let titles = feed_titles(&site.out().join("rss.xml"));
    assert_eq!(titles, ["Data", "Image"]);
    for file in files(&site.out()) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("javascript:") && !text.contains("data:text"),
            "{}: {text}",
            file.display()
        );
    }
}

/// `content.categories = "flat"` reads a list of categories the way Hugo, Jekyll and Zola
/// do: each is a category of its own, not a chain.
#[test]
fn flat_categories_are_separate_feeds() {
    let site = Site::with_settings(
        &common::BASE_SETTINGS.replace("dir = \"posts\"", "dir = \"posts\"\ncategories = \"flat\""),
    );
    site.post(
        "hugo.md",
        "+++\ntitle = \"Forward\"\ndate = 2021-01-01\ncategories = [\"plugin\", \"external\"]\n+++\nx\n",
    );
    site.run(&["build"]).expect(0);
    for feed in ["categories/plugin/rss.xml", "categories/external/rss.xml"] {
        let titles = feed_titles(&site.out().join(feed));
        assert_eq!(titles, ["Forward"], "{feed}");
    }
    assert!(!site.out().join("categories/plugin/external").exists());
    let bad = Site::with_settings(
        &common::BASE_SETTINGS.replace("dir = \"posts\"", "dir = \"posts\"\ncategories = \"tree\""),
    );
    let run = bad.run(&["check"]).expect(2);
    assert!(
        run.stderr().contains("content.categories"),
        "{}",
        run.stderr()
    );
}

/// The item titles of a feed file, in feed order.
fn feed_titles(path: &std::path::Path) -> Vec<String> {
    parse_feed(path)
        .entries
        .iter()
        .map(|e| e.title.clone().unwrap().content)
        .collect()
}

/// A word that is both a category and a tag (in any case) is listed once per item, in
/// every format; a post of images alone gets its first image's alt text as its summary,
/// or its title, never an empty one.
#[test]
fn each_word_once_per_item_and_no_empty_summary() {
    let site = Site::with_settings(
        &common::BASE_SETTINGS.replace("dir = \"posts\"", "dir = \"posts\"\ncategories = \"flat\""),
    );
    site.post(
        "both.md",
        "---\ntitle: Both\ndate: 2021-01-03 10:00:00\ncategories: [plugin]\ntags: [plugin, Plugin, other]\n---\ntext\n",
    );
    site.post(
        "alt.md",
        "---\ntitle: Pictured\ndate: 2021-01-02 10:00:00\n---\n<p><img src=\"/a.png\" alt=\"A cat &amp; a dog\"></p>\n",
    );
    site.post(
        "bare.md",
        "---\ntitle: Only a picture\ndate: 2021-01-01 10:00:00\n---\n<img src=\"/b.png\">\n",
    );
    site.run(&["build"]).expect(0);
    for file in ["rss.xml", "atom.xml", "feed.json"] {
        let feed = parse_feed(&site.out().join(file));
        let by_title = |title: &str| {
            feed.entries
                .iter()
                .find(|e| e.title.as_ref().is_some_and(|t| t.content == title))
                .unwrap_or_else(|| panic!("{title} in {file}"))
        };
        let terms: Vec<&str> = by_title("Both")
            .categories
            .iter()
            .map(|c| c.term.as_str())
            .collect();
        assert_eq!(terms, ["plugin", "other"], "{file}");
        let summary = |title: &str| {
            by_title(title)
                .summary
                .as_ref()
                // HTML in RSS and Atom, text in JSON Feed.
                .map(|s| s.content.replace("&amp;", "&"))
                .unwrap_or_default()
        };
        assert_eq!(summary("Pictured"), "A cat & a dog", "{file}");
        assert_eq!(summary("Only a picture"), "Only a picture", "{file}");
    }
    common::assert_feeds_valid(&site.out());
}
