//! Deciding which feeds exist and which posts each one lists.
//!
//! Pure: posts, settings and "now" in, a list of [`FeedSpec`]s out. The category tree follows
//! Hexo: a post belongs to every node of its chains, so the feed of `新媒体` lists the posts
//! of `新媒体/趣头条/分类`. A category exists while any post (published or scheduled) names
//! it; a feed whose posts are all scheduled is empty but present.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use rayon::slice::ParallelSliceMut;

use crate::model::Post;
use crate::settings::Settings;

/// Which slice of the site a feed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedKind {
    Site,
    /// The category's names, parent first.
    Category(Vec<String>),
    Tag(String),
    /// A term of one of the generator's other taxonomies (Zola's `theme-tags`).
    Term {
        taxonomy: String,
        term: String,
    },
}

/// One feed to write, in every configured format.
#[derive(Debug, Clone)]
pub struct FeedSpec {
    pub kind: FeedKind,
    pub title: String,
    /// Folder below the feeds folder, one safe segment each (empty for the site feed).
    pub dir: Vec<String>,
    /// Indices into the posts, newest first, at most `feeds.limit`.
    pub items: Vec<usize>,
    /// Published posts that belong in this feed, however many it lists.
    pub total: usize,
    /// The newest date among the items (for an empty feed: the site's newest).
    pub updated: DateTime<FixedOffset>,
}

/// Every feed of the site.
#[derive(Debug)]
pub struct Plan {
    pub feeds: Vec<FeedSpec>,
    /// Posts whose date has come.
    pub published: usize,
    /// Posts dated in the future, left out until their time (expired ones are neither).
    pub scheduled: usize,
}

/// Works out every feed.
pub fn plan(posts: &[Post], settings: &Settings, now: DateTime<Utc>) -> Plan {
    let limit = settings.feeds.limit.unwrap_or(usize::MAX);
    let mut order: Vec<usize> = (0..posts.len())
        .filter(|&i| posts[i].is_live(now))
        .collect();
    // Ids are unique, so the order is total and an unstable (parallel) sort is exact.
    order.par_sort_unstable_by(|&a, &b| {
        posts[b]
            .published
            .cmp(&posts[a].published)
            .then_with(|| posts[a].id.cmp(&posts[b].id))
            .then(a.cmp(&b))
    });
    let site_updated = order
        .iter()
        .map(|&i| posts[i].freshness())
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH.fixed_offset());
    let take = |items: Vec<usize>| -> (Vec<usize>, DateTime<FixedOffset>) {
        let updated = items
            .iter()
            .map(|&i| posts[i].freshness())
            .max()
            .unwrap_or(site_updated);
        (items, updated)
    };

    let site_title = &settings.site.title;
    // Feed titles are words readers see: in the site's language, its punctuation included.
    let words = &settings.words;
    let site = || ("site", site_title.clone());
    let mut feeds = Vec::new();
    let (items, updated) = take(order.iter().copied().take(limit).collect());
    feeds.push(FeedSpec {
        kind: FeedKind::Site,
        title: site_title.clone(),
        dir: Vec::new(),
        items,
        total: order.len(),
        updated,
    });

    if settings.feeds.categories {
        let members = group(posts, &order, limit, category_nodes);
        let dirs = safe_dirs(
            members.keys().copied(),
            "categories",
            &settings.feeds.category_map,
        );
        for ((names, (items, total)), dir) in members.into_iter().zip(dirs) {
            let (items, updated) = take(items);
            feeds.push(FeedSpec {
                title: words.text(
                    "feed_title_category",
                    None,
                    &[site(), ("category", names.join(" / "))],
                ),
                kind: FeedKind::Category(names.to_vec()),
                dir,
                items,
                total,
                updated,
            });
        }
    }
    if settings.feeds.tags {
        let members = group(posts, &order, limit, |post| {
            post.tags.iter().map(std::slice::from_ref).collect()
        });
        let dirs = safe_dirs(members.keys().copied(), "tags", &settings.feeds.tag_map);
        for ((names, (items, total)), dir) in members.into_iter().zip(dirs) {
            let (items, updated) = take(items);
            let tag = names.last().cloned().unwrap_or_default();
            feeds.push(FeedSpec {
                title: words.text("feed_title_tag", None, &[site(), ("tag", tag.clone())]),
                kind: FeedKind::Tag(tag),
                dir,
                items,
                total,
                updated,
            });
        }
    }
    if settings.feeds.tags {
        for taxonomy in settings.generator.taxonomies() {
            let name = taxonomy.name.as_str();
            let members = group(posts, &order, limit, |post| {
                post.terms
                    .iter()
                    .filter(|(t, _)| t == name)
                    .flat_map(|(_, terms)| terms.iter().map(std::slice::from_ref))
                    .collect()
            });
            let root = safe_segment(name);
            let dirs = safe_dirs(members.keys().copied(), &root, &BTreeMap::new());
            for ((names, (items, total)), dir) in members.into_iter().zip(dirs) {
                let (items, updated) = take(items);
                let term = names.last().cloned().unwrap_or_default();
                feeds.push(FeedSpec {
                    title: words.text(
                        "feed_title_term",
                        None,
                        &[
                            site(),
                            ("taxonomy", name.to_owned()),
                            ("term", term.clone()),
                        ],
                    ),
                    kind: FeedKind::Term {
                        taxonomy: name.to_owned(),
                        term,
                    },
                    dir,
                    items,
                    total,
                    updated,
                });
            }
        }
    }
    Plan {
        feeds,
        published: order.len(),
        scheduled: posts.iter().filter(|p| p.available() > now).count(),
    }
}

/// Every node a post belongs to: each prefix of each chain, once (borrowed: grouping 100,000
/// posts must not copy their names).
fn category_nodes(post: &Post) -> Vec<&[String]> {
    let mut nodes: Vec<&[String]> = Vec::new();
    for chain in &post.categories {
        for len in 1..=chain.len() {
            let node = &chain[..len];
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        }
    }
    nodes
}

/// Groups posts by key. Every key named by any post exists; published posts (taken in
/// `order`, so newest first) fill each group up to `limit`, and are all counted.
fn group<'p>(
    posts: &'p [Post],
    order: &[usize],
    limit: usize,
    keys: impl Fn(&'p Post) -> Vec<&'p [String]>,
) -> BTreeMap<&'p [String], (Vec<usize>, usize)> {
    // Each post's keys are looked up once, by hash: a plan of 100,000 posts has 300,000 of
    // them, and a walk down a tree of name comparisons for each, twice, was most of its time.
    let mut index: HashMap<&[String], usize> = HashMap::new();
    let mut groups: Vec<(Vec<usize>, usize)> = Vec::new();
    let member_of: Vec<Vec<usize>> = posts
        .iter()
        .map(|post| {
            keys(post)
                .into_iter()
                .map(|key| {
                    *index.entry(key).or_insert_with(|| {
                        groups.push((Vec::new(), 0));
                        groups.len() - 1
                    })
                })
                .collect()
        })
        .collect();
    for &i in order {
        for &g in &member_of[i] {
            let (items, total) = &mut groups[g];
            *total += 1;
            if items.len() < limit {
                items.push(i);
            }
        }
    }
    index
        .into_iter()
        .map(|(key, g)| (key, std::mem::take(&mut groups[g])))
        .collect()
}

/// Folder segments for each key (in the map's order, so parents come before children):
/// names renamed by the map, made safe for any file system, and made unique among siblings
/// regardless of case.
fn safe_dirs<'a>(
    keys: impl Iterator<Item = &'a [String]>,
    root: &str,
    rename: &BTreeMap<String, String>,
) -> Vec<Vec<String>> {
    let mut by_names: BTreeMap<&[String], Vec<String>> = BTreeMap::new();
    let mut taken: HashSet<Vec<String>> = HashSet::new();
    let mut out = Vec::new();
    for names in keys {
        let (last, parent) = names.split_last().expect("keys are never empty");
        let mut dir = match parent {
            [] => vec![root.to_owned()],
            parent => by_names[parent].clone(),
        };
        let base = safe_segment(rename.get(last).unwrap_or(last));
        let mut segment = base.clone();
        let mut n = 1;
        loop {
            dir.push(segment.clone());
            // Compared without case: on macOS and Windows `Rust` and `rust` are one folder.
            if taken.insert(dir.iter().map(|s| s.to_lowercase()).collect()) {
                break;
            }
            dir.pop();
            n += 1;
            segment = format!("{base}~{n}");
        }
        by_names.insert(names, dir.clone());
        out.push(dir);
    }
    out
}

/// A name as one folder name: separators, control characters and characters Windows refuses
/// become `_`, Windows device names (`CON`, `NUL`, `COM1`…) get a `_` after them, leading dots and surrounding spaces go (no `..`, no hidden folders), and long
/// names are cut to 200 bytes on a character boundary. Unicode stays as it is.
pub fn safe_segment(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = mapped
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' ']);
    let mut segment = String::new();
    for c in trimmed.chars() {
        if segment.len() + c.len_utf8() > 200 {
            break;
        }
        segment.push(c);
    }
    if segment.is_empty() {
        "_".to_owned()
    } else if is_reserved_on_windows(&segment) {
        segment.push('_');
        segment
    } else {
        segment
    }
}

/// `CON`, `NUL`, `COM1`… (with any extension, in any case) name devices on Windows: a folder
/// of that name cannot be made there, or copied there from a server.
fn is_reserved_on_windows(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or(segment).trim_end();
    let upper = stem.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || (upper.len() == 4
        && (upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.as_bytes()[3].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_stay_inside() {
        for (name, want) in [
            ("..", "_"),
            ("/", "_"),
            ("", "_"),
            ("a/../b", "a_.._b"),
            (".hidden", "hidden"),
            ("\u{1}\u{7f}", "__"),
            ("新媒体", "新媒体"),
            ("— 番剧", "— 番剧"),
            ("C:\\x", "C__x"),
            ("CON", "CON_"),
            ("nul", "nul_"),
            ("Com1", "Com1_"),
            ("LPT9.txt", "LPT9.txt_"),
            ("CONTENT", "CONTENT"),
            ("COMA", "COMA"),
        ] {
            assert_eq!(safe_segment(name), want, "{name:?}");
        }
        assert!(safe_segment(&"字".repeat(300)).len() <= 200);
    }

    #[test]
    fn sibling_collisions_get_suffixes() {
        let keys = [
            vec!["a/b".to_string()],
            vec!["a_b".to_string()],
            vec!["a_b".to_string(), "c".to_string()],
        ];
        let dirs = safe_dirs(
            keys.iter().map(Vec::as_slice),
            "categories",
            &BTreeMap::new(),
        );
        assert_eq!(dirs[0], ["categories", "a_b"]);
        assert_eq!(dirs[1], ["categories", "a_b~2"]);
        assert_eq!(dirs[2], ["categories", "a_b~2", "c"]);
    }

    #[test]
    fn names_differing_only_in_case_get_their_own_folders() {
        let keys = [vec!["Rust".to_string()], vec!["rust".to_string()]];
        let dirs = safe_dirs(keys.iter().map(Vec::as_slice), "tags", &BTreeMap::new());
        assert_eq!(dirs, [vec!["tags", "Rust"], vec!["tags", "rust~2"]]);
    }

    #[test]
    fn renamed_segments() {
        let keys = [
            vec!["新媒体".to_string()],
            vec!["新媒体".to_string(), "趣头条".to_string()],
        ];
        let map = BTreeMap::from([("新媒体".to_string(), "media".to_string())]);
        let dirs = safe_dirs(keys.iter().map(Vec::as_slice), "categories", &map);
        assert_eq!(dirs[1], ["categories", "media", "趣头条"]);
    }
}
