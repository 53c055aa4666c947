//! Real archives: with `TIDINGS_CORPUS` pointing at `shared/corpus`, build each one and hold
//! the result to account: how many posts were published, exactly which files had problems and
//! why (each a real defect of that file), and that every feed produced parses.
//!
//! Without `TIDINGS_CORPUS` these tests say so and pass: the archives are not ours to ship.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, assert_feeds_valid, parse_feed};

struct Expect {
    corpus: &'static str,
    /// The content folder below the corpus folder.
    dir: &'static str,
    published: usize,
    /// Files (relative to the content folder) that must be reported, with the reason they
    /// are real defects; no other file may be.
    problems: &'static [(&'static str, &'static str)],
}

const CORPORA: &[Expect] = &[
    Expect {
        corpus: "hexo-daichangya",
        dir: "",
        published: 736,
        problems: &[],
    },
    Expect {
        corpus: "hugo-coredns",
        dir: "",
        // 220 files: `community/_index.md` is a section page, passed over, and the seven
        // manual pages below have no front matter.
        published: 212,
        problems: &[
            ("manual/configuration.md", "no front matter"),
            ("manual/explugins.md", "no front matter"),
            ("manual/installation.md", "no front matter"),
            ("manual/plugins-dev.md", "no front matter"),
            ("manual/plugins.md", "no front matter"),
            ("manual/setups.md", "no front matter"),
            ("manual/what.md", "no front matter"),
        ],
    },
    Expect {
        corpus: "jekyll-18f",
        dir: "",
        // The `- melody<TAB><TAB>` post that PyYAML refuses is valid YAML 1.2 (tabs are
        // allowed as trailing white space), so it is published; the bogus `<p>…</p>` key in
        // another post is ignored like any unknown key. 87 posts are dated by file name.
        published: 509,
        problems: &[],
    },
    Expect {
        corpus: "zola-rust-blog",
        dir: "",
        // Three `_index.md` section pages are passed over; `releases/latest.md` is a
        // front-matter-only template stub with no date, no path and no title.
        published: 750,
        problems: &[("releases/latest.md", "no date")],
    },
    Expect {
        corpus: "zfour-news",
        dir: "source/_posts",
        published: 62,
        problems: &[],
    },
];

fn corpus_root() -> Option<PathBuf> {
    let root = std::env::var_os("TIDINGS_CORPUS")?;
    let root = PathBuf::from(root);
    let root = if root.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(root)
    } else {
        root
    };
    assert!(
        root.is_dir(),
        "TIDINGS_CORPUS={} is not a folder",
        root.display()
    );
    Some(root)
}

fn build(expect: &Expect, root: &Path) -> (tempfile::TempDir, Run) {
    let out = tempfile::tempdir().unwrap();
    let content = root.join(expect.corpus).join(expect.dir);
    let settings = format!(
        "[site]\ntitle = {:?}\nurl = \"https://example.org/\"\ntimezone = \"Asia/Shanghai\"\n\
         [content]\ndir = {:?}\nexclude = [\"SOURCE.md\"]\n[feeds]\ndir = \"feeds\"\ntags = true\n",
        expect.corpus,
        content.to_str().unwrap(),
    );
    let config = out.path().join("settings.toml");
    std::fs::write(&config, settings).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("--config")
        .arg(&config)
        .arg("build")
        .output()
        .unwrap();
    (out, Run(output))
}

fn check(expect: &Expect) {
    let Some(root) = corpus_root() else {
        common::unavailable(&format!(
            "TIDINGS_CORPUS is not set: the {} corpus",
            expect.corpus
        ));
        return;
    };
    let (out, run) = build(expect, &root);
    let run = run.expect(if expect.problems.is_empty() { 0 } else { 1 });
    let stdout = run.stdout();
    assert!(
        stdout.contains(&format!("({} published,", expect.published)),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(", {} with problems;", expect.problems.len())),
        "{stdout}"
    );

    let content = root.join(expect.corpus).join(expect.dir);
    let reported: Vec<String> = run.stderr().lines().map(str::to_owned).collect();
    assert_eq!(reported.len(), expect.problems.len(), "{reported:#?}");
    for (file, reason) in expect.problems {
        let prefix = content.join(file).display().to_string();
        assert!(
            reported
                .iter()
                .any(|line| line.starts_with(&prefix) && line.contains(reason)),
            "expected `{file}: {reason}` in {reported:#?}"
        );
    }
    let feeds = assert_feeds_valid(&out.path().join("feeds"));
    eprintln!("{}: {stdout}{feeds} feeds parsed", expect.corpus);
}

#[test]
fn hexo_daichangya() {
    check(&CORPORA[0]);
}

#[test]
fn hugo_coredns() {
    check(&CORPORA[1]);
}

#[test]
fn jekyll_18f() {
    check(&CORPORA[2]);
}

#[test]
fn zola_rust_blog() {
    check(&CORPORA[3]);
}

#[test]
fn zfour_news_has_no_problems_and_one_tree() {
    let expect = &CORPORA[4];
    check(expect);
    let Some(root) = corpus_root() else { return };
    let (out, _) = build(expect, &root);
    let categories = out.path().join("feeds/categories");
    let mut roots: Vec<String> = std::fs::read_dir(&categories)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    roots.sort();
    assert_eq!(roots, ["二次元", "新媒体", "编程"]);
    // The parent feed holds its descendants' posts.
    let media = parse_feed(&categories.join("新媒体/rss.xml"));
    let leaf = parse_feed(&categories.join("新媒体/趣头条/分类/rss.xml"));
    assert!(!leaf.entries.is_empty());
    assert!(media.entries.len() >= leaf.entries.len());
    let media_ids: Vec<&str> = media.entries.iter().map(|e| e.id.as_str()).collect();
    let newest_leaf = &leaf.entries[0];
    if newest_leaf.published >= media.entries.last().unwrap().published {
        assert!(media_ids.contains(&newest_leaf.id.as_str()));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `tidings init` on each archive laid out as its generator lays it out, with a configuration
/// file of that generator: it recognises the generator, and the settings it writes build the
/// same posts with the same problems.
#[test]
fn init_reads_each_generators_layout() {
    let Some(root) = corpus_root() else {
        common::unavailable("TIDINGS_CORPUS is not set: `init` on the corpus");
        return;
    };
    // (corpus, generator, config file and text, where the posts go in the site, the posts
    // the generator publishes: its rules leave out what it leaves out)
    let layouts = [
        (
            0,
            "Hexo",
            "_config.yml",
            "title: Blog\nurl: https://example.org\nnew_post_name: :title.md\n",
            "source/_posts",
            736,
        ),
        (
            1,
            "Hugo",
            "hugo.toml",
            "baseURL = \"https://coredns.example.org/\"\ntitle = \"CoreDNS\"\n",
            "content",
            212,
        ),
        (
            2,
            "Jekyll",
            "_config.yml",
            "title: 18F\nurl: https://18f.example.org\npermalink: pretty\n",
            "_posts",
            509,
        ),
        (
            3,
            "Zola",
            "config.toml",
            "base_url = \"https://blog.example.org\"\ntitle = \"Rust Blog\"\n",
            "content",
            750,
        ),
        (
            4,
            "Hexo",
            "_config.yml",
            "title: News\nurl: https://news.example.org\nnew_post_name: :title.md\n",
            "source/_posts",
            // Hexo fails on three file names holding a `%` that starts no escape
            // ("URI malformed") and leaves those posts out: tidings reports them.
            59,
        ),
    ];
    for (index, generator, config, text, posts, published) in layouts {
        let expect = &CORPORA[index];
        let site = tempfile::tempdir().unwrap();
        std::fs::write(site.path().join(config), text).unwrap();
        // Copied, not linked: a symlink leading out of the content folder is not followed.
        copy_dir(
            &root.join(expect.corpus).join(expect.dir),
            &site.path().join(posts),
        );
        let init = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .arg("init")
            .arg(site.path())
            .output()
            .unwrap();
        let init = Run(init).expect(0);
        assert!(
            init.stdout()
                .starts_with(&format!("{generator} site found")),
            "{}: {}",
            expect.corpus,
            init.stdout()
        );
        // The archives carry a SOURCE.md of ours beside the posts.
        let settings = site.path().join("settings.toml");
        let written = std::fs::read_to_string(&settings).unwrap();
        let written = written.replacen(
            &format!("dir = \"{posts}\"\n"),
            &format!("dir = \"{posts}\"\nexclude = [\"SOURCE.md\"]\n"),
            1,
        );
        std::fs::write(&settings, written).unwrap();
        let build = Command::new(env!("CARGO_BIN_EXE_tidings"))
            .arg("--config")
            .arg(&settings)
            .arg("build")
            .output()
            .unwrap();
        // With the generator's rules, a page without front matter or date (Hugo's manual
        // pages, Zola's `releases/latest.md`) is a page the generator builds, not a problem.
        let build = Run(build).expect(if published < expect.published { 1 } else { 0 });
        assert!(
            build.stdout().contains(&format!("({published} published,")),
            "{}: {}",
            expect.corpus,
            build.stdout()
        );
        assert_feeds_valid(&site.path().join("feeds"));
    }
}
