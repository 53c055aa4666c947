//! The rules tidings applies without `site.generator`: the site's permalink pattern
//! (`site.permalink`, with Hexo, Hugo and Jekyll tokens) and the front-matter fields the
//! generators share: `date` (or a date in the file name, or in a Zola `path`), `draft` and
//! `published: false`, `categories` as chains or flat (`content.categories`), `tags`, a
//! front-matter `permalink`, `path` or `url` over the pattern. A file without front matter
//! or date is a problem: without the generator's rules, tidings cannot tell a page from a
//! post that lost its date.

use chrono::NaiveTime;
use serde_json::{Map, Value};
use url::Url;

use super::common::{self, Parts, chains, first, is_true, names, split_rel, text_of};
use std::collections::BTreeMap;

use super::contract::{FieldError, Generator, Setup, Site, Source, Verdict, field_error};
use crate::content::dates;
use crate::settings::permalink::{Permalink, PermalinkValues};

/// The generic rules, with what they read of tidings' settings.
#[derive(Debug)]
pub struct Generic {
    site: Site,
    timezone: chrono_tz::Tz,
    permalink: Permalink,
    flat_categories: bool,
    category_map: BTreeMap<String, String>,
}

impl Generic {
    pub fn new(setup: &Setup) -> Generic {
        Generic {
            site: setup.site.clone(),
            timezone: setup.timezone,
            permalink: setup.permalink.clone(),
            flat_categories: setup.flat_categories,
            category_map: setup.category_map.clone(),
        }
    }
}

impl Generator for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
    ) -> Result<Verdict, FieldError> {
        let empty = Map::new();
        let meta = match meta {
            Some(meta) => meta,
            // Only a file whose name carries a date may do without front matter.
            None if dates::from_file_name(split_rel(src.rel).1).is_some() => &empty,
            None => {
                return Err(field_error(
                    "",
                    "no front matter: start the file with a `---` line (YAML) or a `+++` line (TOML), then `title` and `date`, then the same line again",
                ));
            }
        };
        self.read(meta, src)
    }

    fn fingerprint(&self) -> u64 {
        0
    }
}

impl Generic {
    /// Builds a post from its front matter (an empty map for a file that has none).
    pub fn read(&self, meta: &Map<String, Value>, src: &Source) -> Result<Verdict, FieldError> {
        if is_true(meta.get("draft"))
            || meta.get("published").and_then(Value::as_bool) == Some(false)
        {
            return Ok(Verdict::Draft);
        }
        let tz = self.timezone;
        let (stem_path, file_stem) = split_rel(src.rel);
        let jekyll = dates::from_file_name(file_stem);
        let slug = text_of(meta.get("slug"))
            .unwrap_or_else(|| jekyll.map_or(file_stem, |(_, s)| s).to_owned());

        let published = match common::date_of(meta, &["date", "pubDate", "published_at"], |t| {
            dates::parse(t, tz)
        })? {
            Some((_, date)) => date,
            None => {
                let zola_path = text_of(meta.get("path"));
                let day = jekyll
                .map(|(d, _)| d)
                .or_else(|| zola_path.as_deref().and_then(dates::from_url_path))
                .ok_or_else(|| {
                    field_error(
                        "date",
                        "no date: add `date: 2021-06-17 10:00:00` (YAML) or `date = 2021-06-17T10:00:00Z` (TOML), or name the file `YYYY-MM-DD-slug.md`",
                    )
                })?;
                dates::in_zone(day.and_time(NaiveTime::MIN), tz)
            }
        };
        let updated = common::date_of(
            meta,
            &["updated", "lastmod", "last_modified_at", "modified"],
            |t| dates::parse(t, tz),
        )?
        .map(|(_, date)| date);

        // Zola keeps them under `[taxonomies]`.
        let taxonomies = meta.get("taxonomies").and_then(Value::as_object);
        let category_value = first(meta, &["categories", "category"])
            .or_else(|| first(taxonomies?, &["categories", "category"]))
            .map(|(_, v)| v);
        let categories = if self.flat_categories {
            names(category_value)
                .into_iter()
                .map(|name| vec![name])
                .collect()
        } else {
            chains(category_value)
        };
        let tags = common::tags(meta);
        let id = common::id(meta, src);
        let title = common::title(meta, src, &slug);
        let (url_key, url) = self.post_url(
            meta,
            &PermalinkValues {
                date: published.with_timezone(&tz),
                title: &Self::title_token(stem_path, &slug),
                name: &slug,
                category: &self.first_chain_segments(&categories),
                id: &id,
                section: stem_path.split_once('/').map_or("", |(section, _)| section),
                base_name: file_stem,
                categories: &self.every_category(&categories),
            },
        )?;
        let parts = Parts {
            id,
            title,
            url,
            published,
            updated,
            categories,
            tags,
            terms: Vec::new(),
            visible_from: None,
            expires: None,
        };
        common::finish(meta, src, &self.site, parts, url_key)
            .map(|post| Verdict::Post(Box::new(post)))
    }

    /// Hexo's `:title`: the path below the content folder, its last part replaced by the slug.
    fn title_token(stem_path: &str, slug: &str) -> String {
        match stem_path.rfind('/') {
            Some(slash) => format!("{}/{slug}", &stem_path[..slash]),
            None => slug.to_owned(),
        }
    }

    /// Every category the post names, each once, in order (renamed), for Jekyll's `:categories`.
    fn every_category(&self, chains: &[Vec<String>]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in chains.iter().flatten() {
            let name = self.category_map.get(name).unwrap_or(name);
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        out
    }

    fn first_chain_segments(&self, chains: &[Vec<String>]) -> Vec<String> {
        chains.first().map_or_else(Vec::new, |chain| {
            chain
                .iter()
                .map(|name| self.category_map.get(name).unwrap_or(name).clone())
                .collect()
        })
    }

    /// The post's absolute URL, and the key that made it: a front-matter `permalink` (Hexo,
    /// Jekyll), `path` (Zola) or `url` wins over the site's pattern.
    fn post_url(
        &self,
        meta: &Map<String, Value>,
        values: &PermalinkValues,
    ) -> Result<(&'static str, Url), FieldError> {
        let site = &self.site.url;
        if let Some((key, value)) = first(meta, &["permalink", "path", "url"]) {
            let Some(text) = text_of(Some(value)).filter(|t| !t.trim().is_empty()) else {
                return Err(field_error(key, "is not a URL path"));
            };
            let text = text.trim();
            let mut relative = text.trim_start_matches('/').to_owned();
            if key == "path" && !relative.ends_with('/') {
                relative.push('/'); // Zola serves `path` as a folder
            }
            return site
                .join(&relative)
                .map(|url| (key, url))
                .map_err(|e| field_error(key, format!("`{text}` is not a usable URL path: {e}")));
        }
        site.join(&self.permalink.render(values))
            .map(|url| ("permalink", url))
            .map_err(|e| {
                field_error(
                    "permalink",
                    format!("the site permalink gives a bad URL: {e}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BodyFormat;
    use crate::settings::Settings;
    use serde_json::json;

    fn settings() -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\ntimezone = \"Asia/Shanghai\"\n[content]\ndir = \"posts\"\n[feeds]\ncategory_map = { \"新媒体\" = \"media\" }\n";
        let s = Settings::parse(text, std::path::Path::new("s.toml"), dir.path()).unwrap();
        (dir, s)
    }

    fn post(meta: serde_json::Value, rel: &str) -> Result<crate::model::Post, FieldError> {
        let (_dir, s) = settings();
        let src = Source {
            rel,
            format: BodyFormat::Markdown,
            hash: 0,
        };
        match s
            .generator
            .interpret(Some(meta.as_object().unwrap()), &src)?
        {
            Verdict::Post(p) => Ok(*p),
            _ => panic!("not a post"),
        }
    }

    #[test]
    fn hexo_category_semantics() {
        assert_eq!(chains(Some(&json!("技术"))), vec![vec!["技术"]]);
        assert_eq!(
            chains(Some(&json!(["A", "B", "C"]))),
            vec![vec!["A", "B", "C"]]
        );
        assert_eq!(
            chains(Some(&json!([["A", "B"], "C"]))),
            vec![vec!["A", "B"], vec!["C"]]
        );
        assert_eq!(chains(Some(&json!([" A ", null, 3]))), vec![vec!["A", "3"]]);
        assert_eq!(chains(Some(&json!([]))), Vec::<Vec<String>>::new());
    }

    #[test]
    fn tags_tolerate_numbers_and_repeats() {
        assert_eq!(
            names(Some(&json!(["youji", 1560942895181u64, "youji", ""]))),
            vec!["youji", "1560942895181"]
        );
        assert_eq!(names(Some(&json!("one"))), vec!["one"]);
    }

    #[test]
    fn seed_shaped_post() {
        let p = post(
            json!({"title": "加强基层党建 _ 我为群众办实事", "categories": ["新媒体", "趣头条", "分类"],
                   "date": "Thu, 17 Jun 2021 11:05:02 GMT", "headimg": "https://cors.example/?http://img.example/a.jpeg"}),
            "新媒体/趣头条/分类/加强基层党建 _ 我为群众办实事.md",
        )
        .unwrap();
        assert_eq!(p.published.to_rfc3339(), "2021-06-17T11:05:02+00:00");
        assert_eq!(p.id, "新媒体/趣头条/分类/加强基层党建 _ 我为群众办实事.md");
        assert_eq!(
            p.url,
            "https://example.org/2021/06/17/%E6%96%B0%E5%AA%92%E4%BD%93/%E8%B6%A3%E5%A4%B4%E6%9D%A1/%E5%88%86%E7%B1%BB/%E5%8A%A0%E5%BC%BA%E5%9F%BA%E5%B1%82%E5%85%9A%E5%BB%BA%20_%20%E6%88%91%E4%B8%BA%E7%BE%A4%E4%BC%97%E5%8A%9E%E5%AE%9E%E4%BA%8B/"
        );
        assert_eq!(
            p.image.as_deref(),
            Some("https://cors.example/?http://img.example/a.jpeg")
        );
    }

    #[test]
    fn jekyll_date_from_file_name_and_zola_path() {
        let p = post(json!({"title": "x"}), "2024-12-5-project-defaults.md").unwrap();
        assert_eq!(p.published.to_rfc3339(), "2024-12-05T00:00:00+08:00");
        assert_eq!(p.url, "https://example.org/2024/12/05/project-defaults/");
        let z = post(
            json!({"title": "y", "path": "inside-rust/2020/07/27/1.45.1-prerelease"}),
            "inside-rust/x.md",
        )
        .unwrap();
        assert_eq!(z.published.to_rfc3339(), "2020-07-27T00:00:00+08:00");
        assert_eq!(
            z.url,
            "https://example.org/inside-rust/2020/07/27/1.45.1-prerelease/"
        );
    }

    #[test]
    fn front_matter_permalink_and_id_win() {
        let p = post(json!({"title": "G", "id": 1527, "date": "2024-10-31 22:02:00", "permalink": "/archives/Gossip-算法/"}), "g.md").unwrap();
        assert_eq!(p.id, "1527");
        assert_eq!(
            p.url,
            "https://example.org/archives/Gossip-%E7%AE%97%E6%B3%95/"
        );
        let q = post(
            json!({"title": "G", "date": "2024-10-31", "permalink": "/archives/%E7%AE%97/"}),
            "g.md",
        )
        .unwrap();
        assert_eq!(
            q.url, "https://example.org/archives/%E7%AE%97/",
            "already-encoded paths are not encoded twice"
        );
    }

    #[test]
    fn bad_dates_name_their_key() {
        let err = post(json!({"title": "x", "date": "2021-02-30"}), "x.md").unwrap_err();
        assert_eq!(err.key, "date");
        let err = post(
            json!({"title": "x", "date": "2021-02-01", "updated": true}),
            "x.md",
        )
        .unwrap_err();
        assert_eq!(err.key, "updated");
        let err = post(json!({"title": "x"}), "x.md").unwrap_err();
        assert!(err.message.starts_with("no date"));
    }

    #[test]
    fn drafts() {
        let (_dir, s) = settings();
        let src = Source {
            rel: "a.md",
            format: BodyFormat::Markdown,
            hash: 0,
        };
        for meta in [
            json!({"draft": true}),
            json!({"published": false}),
            json!({"draft": "true"}),
        ] {
            assert!(matches!(
                s.generator
                    .interpret(Some(meta.as_object().unwrap()), &src)
                    .unwrap(),
                Verdict::Draft
            ));
        }
    }

    #[test]
    fn titles_fall_back_to_the_slug_and_lose_tags() {
        let p = post(
            json!({"date": "2021-01-01", "title": "<b>Bold</b> &amp; <i>x</i>\u{0}"}),
            "a.md",
        )
        .unwrap();
        assert_eq!(p.title, "Bold & x");
        let p = post(json!({"date": "2021-01-01"}), "2021-01-01-hello.md").unwrap();
        assert_eq!(p.title, "hello");
    }
}
