//! `tidings init` on small sites laid out as each generator lays them out, with their own
//! configuration files: the settings it writes build feeds whose links are the URLs the
//! generator publishes, with the generator's category semantics.

mod common;

use std::path::Path;
use std::process::Command;

use common::parse_feed;

fn tidings(args: &[&str]) -> common::Run {
    common::Run(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(args)
            .output()
            .unwrap(),
    )
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `init` then `build`; the links of the site feed's items, newest first.
fn init_and_build(root: &Path) -> Vec<String> {
    tidings(&["init", root.to_str().unwrap()]).expect(0);
    let settings = root.join("settings.toml");
    tidings(&["--config", settings.to_str().unwrap(), "build"]).expect(0);
    parse_feed(&root.join("feeds/rss.xml"))
        .entries
        .iter()
        .map(|e| e.links[0].href.clone())
        .collect()
}

#[test]
fn hexo_links_by_its_permalink_and_chains_categories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "_config.yml",
        "title: Hexo Blog\nurl: https://hexo.example.org/blog\npermalink: :year/:month/:day/:title/\ntimezone: Asia/Shanghai\nlanguage: zh-CN\nsource_dir: source\ncategory_map:\n  新闻: news\n",
    );
    write(
        root,
        "package.json",
        "{\"dependencies\": {\"hexo\": \"^7.0.0\"}}",
    );
    write(
        root,
        "source/_posts/hello-world.md",
        "---\ntitle: Hello\ndate: 2024-01-02 10:00:00\ncategories: [新闻, 科技]\n---\nHi.\n",
    );
    let links = init_and_build(root);
    assert_eq!(
        links,
        ["https://hexo.example.org/blog/2024/01/02/hello-world/"]
    );
    assert!(
        root.join("feeds/categories/news/科技/rss.xml").exists(),
        "a chain, renamed"
    );
    let settings = std::fs::read_to_string(root.join("settings.toml")).unwrap();
    assert!(settings.contains("language = \"zh-CN\""), "{settings}");
    // Never over an existing file without --force.
    let again = tidings(&["init", root.to_str().unwrap()]).expect(2);
    assert!(again.stderr().contains("--force"), "{}", again.stderr());
    tidings(&["init", root.to_str().unwrap(), "--force"]).expect(0);
}

#[test]
fn jekyll_links_pretty_with_lower_case_categories_each_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "_config.yml",
        "title: Jekyll Docs\nurl: https://jekyll.example.org\nbaseurl: /docs\npermalink: pretty\ntimezone: UTC\n",
    );
    write(
        root,
        "_posts/2024-01-03-welcome.md",
        "---\ntitle: Welcome\ncategories: [Release, Notes]\n---\nHi.\n",
    );
    let links = init_and_build(root);
    assert_eq!(
        links,
        ["https://jekyll.example.org/docs/release/notes/2024/01/03/welcome/"]
    );
    for feed in ["Release", "Notes"] {
        assert!(
            root.join(format!("feeds/categories/{feed}/rss.xml"))
                .exists(),
            "{feed}"
        );
    }
    assert!(!root.join("feeds/categories/Release/Notes").exists());
}

#[test]
fn hugo_links_by_its_permalinks_or_its_paths() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "hugo.toml",
        "baseURL = \"https://hugo.example.org/\"\ntitle = \"Hugo Site\"\nlanguageCode = \"en-us\"\n[permalinks]\nposts = \"/:year/:month/:slug/\"\n",
    );
    write(
        root,
        "content/posts/my-first-post.md",
        "+++\ntitle = \"First\"\ndate = 2024-02-03T10:00:00Z\ncategories = [\"plugin\", \"external\"]\n+++\nHi.\n",
    );
    write(
        root,
        "content/posts/_index.md",
        "+++\ntitle = \"Posts\"\n+++\n",
    );
    // Hugo's `:slug` is the front-matter `slug`, else the title made a path: "First".
    let links = init_and_build(root);
    assert_eq!(links, ["https://hugo.example.org/2024/02/first/"]);
    assert!(root.join("feeds/categories/plugin/rss.xml").exists());
    assert!(root.join("feeds/categories/external/rss.xml").exists());

    // Without `permalinks`, a page's link is its path below the content folder.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "config.toml",
        "baseURL = \"https://docs.example.org/\"\ntitle = \"Docs\"\n",
    );
    write(
        root,
        "content/docs/install.md",
        "---\ntitle: Install\ndate: 2024-02-04\n---\nHi.\n",
    );
    assert_eq!(
        init_and_build(root),
        ["https://docs.example.org/docs/install/"]
    );
}

#[test]
fn zola_links_by_section_and_reads_taxonomies() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "config.toml",
        "base_url = \"https://zola.example.org\"\ntitle = \"Zola Blog\"\ndefault_language = \"en\"\ntaxonomies = [{ name = \"categories\" }, { name = \"tags\" }]\n",
    );
    write(
        root,
        "content/blog/first-post.md",
        "+++\ntitle = \"First\"\ndate = 2024-03-04\n[taxonomies]\ncategories = [\"news\", \"rust\"]\ntags = [\"x\"]\n+++\nHi.\n",
    );
    write(
        root,
        "content/blog/_index.md",
        "+++\ntitle = \"Blog\"\n+++\n",
    );
    let links = init_and_build(root);
    assert_eq!(links, ["https://zola.example.org/blog/first-post/"]);
    assert!(root.join("feeds/categories/news/rss.xml").exists());
    assert!(root.join("feeds/categories/rust/rss.xml").exists());
}

#[test]
fn a_folder_without_a_generator_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = tidings(&["init", dir.path().to_str().unwrap()]).expect(2);
    assert!(
        run.stderr().contains("no Hexo or Jekyll"),
        "{}",
        run.stderr()
    );
    assert!(!dir.path().join("settings.toml").exists());
}

/// Without a settings file, the message says how to get one.
#[test]
fn a_missing_settings_file_points_to_init() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("settings.toml");
    let run = tidings(&["--config", missing.to_str().unwrap(), "build"]).expect(2);
    assert!(
        run.stderr().contains("tidings init SITE_DIR"),
        "{}",
        run.stderr()
    );
}
