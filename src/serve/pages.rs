//! The server's HTML: the front page (every feed, and a sign-up form per email notifier that
//! offers one) and the short answer pages. Rendered from `templates/index.html` and
//! `templates/page.html` with HTML auto-escaping, so whatever a page echoes (an address, a
//! category name) is text, never markup.

use serde::Serialize;

use crate::feeds::{FeedKind, Listed};
use crate::settings::{Format, Settings};

/// Both page templates, compiled once.
pub struct Pages {
    env: minijinja::Environment<'static>,
}

#[derive(Serialize)]
struct SiteInfo<'a> {
    title: &'a str,
    url: &'a str,
    description: &'a str,
    language: Option<&'a str>,
}

#[derive(Serialize)]
struct FeedLink {
    label: &'static str,
    media_type: &'static str,
    url: String,
    /// The same address as a person reads it: percent-escapes decoded (`/categories/新媒体/`),
    /// for the copy box; `url` is what the button copies.
    shown: String,
}

#[derive(Serialize)]
struct FeedInfo {
    title: String,
    name: String,
    kind: &'static str,
    depth: usize,
    /// Published posts in it.
    posts: usize,
    /// Of those, the newest this many are in the file.
    items: usize,
    links: Vec<FeedLink>,
}

/// One sign-up form on the front page.
#[derive(Serialize)]
pub struct SignupForm {
    pub notifier: String,
    pub label: String,
    /// Signed, expiring: the form must have come from this page.
    pub token: String,
    pub categories: Vec<CategoryChoice>,
}

/// A category a sign-up can follow.
#[derive(Serialize, Clone)]
pub struct CategoryChoice {
    /// `A/B`, as posted back.
    pub path: String,
    pub name: String,
    pub depth: usize,
}

/// A short answer page: a title, a sentence, and at most one button.
pub struct Page {
    pub title: &'static str,
    pub message: String,
    pub form: Option<PageForm>,
}

/// The one button of a page: a POST to `action` with hidden `fields`.
#[derive(Serialize)]
pub struct PageForm {
    pub action: String,
    /// The button's English text.
    pub button: &'static str,
    /// The button as the reader sees it (filled in when the page is rendered).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    pub fields: Vec<Field>,
}

#[derive(Serialize, Clone)]
pub struct Field {
    pub name: &'static str,
    pub value: String,
}

impl Pages {
    pub fn new(
        pages: &crate::settings::server_settings::Pages,
        words: &crate::i18n::Catalog,
    ) -> Result<Pages, String> {
        let mut env = crate::templates::environment();
        words.register(&mut env);
        // The `.html` names switch auto-escaping on.
        env.add_template_owned("index.html", pages.index.clone())
            .map_err(|e| format!("template `index.html`: {e}"))?;
        env.add_template_owned("page.html", pages.page.clone())
            .map_err(|e| format!("template `page.html`: {e}"))?;
        env.add_template("feed.css", crate::feeds::stylesheet::STYLE)
            .map_err(|e| format!("template `feed.css`: {e}"))?;
        env.add_template_owned("feed.html", pages.feed.clone())
            .map_err(|e| format!("template `feed.html`: {e}"))?;
        Ok(Pages { env })
    }

    /// The front page.
    pub fn index(
        &self,
        settings: &Settings,
        base: &str,
        listing: &[Listed],
        signups: &[SignupForm],
    ) -> Result<String, String> {
        #[derive(Serialize)]
        struct Context<'a> {
            site: SiteInfo<'a>,
            base: &'a str,
            site_feed: Option<FeedInfo>,
            categories: Vec<FeedInfo>,
            tags: Vec<FeedInfo>,
            opml_url: String,
            signups: &'a [SignupForm],
            generator: &'static str,
            /// Feeds listed: past a screenful, the page offers a filter box.
            feed_count: usize,
        }
        let (mut site_feed, mut categories, mut tags) = (None, Vec::new(), Vec::new());
        for listed in listing {
            let feed = feed_info(listed, &settings.words);
            match listed.kind {
                FeedKind::Site => site_feed = Some(feed),
                FeedKind::Category(_) => categories.push(feed),
                FeedKind::Tag(_) | FeedKind::Term { .. } => tags.push(feed),
            }
        }
        let context = Context {
            site: site_info(settings),
            base,
            site_feed,
            categories,
            tags,
            opml_url: format!("{}{}", settings.feeds.url, crate::feeds::output::OPML),
            signups,
            generator: crate::feeds::GENERATOR,
            feed_count: listing.len(),
        };
        self.render("index.html", &context)
    }

    /// An answer page.
    pub fn page(&self, settings: &Settings, base: &str, page: &Page) -> Result<String, String> {
        #[derive(Serialize)]
        struct Context<'a> {
            site: SiteInfo<'a>,
            base: &'a str,
            title: String,
            message: &'a str,
            form: Option<PageForm>,
        }
        // Titles and buttons are English in the code; the catalog's `[pages]` has them.
        let words = &settings.words;
        let context = Context {
            site: site_info(settings),
            base,
            title: words.phrase(page.title, &[]),
            message: &page.message,
            form: page.form.as_ref().map(|form| PageForm {
                action: form.action.clone(),
                button: form.button,
                label: words.phrase(form.button, &[]),
                fields: form.fields.clone(),
            }),
        };
        self.render("page.html", &context)
    }

    /// A feed as a page (see `feed_page`).
    pub fn feed(
        &self,
        settings: &Settings,
        base: &str,
        feed: &super::feed_page::Feed,
    ) -> Result<String, String> {
        #[derive(Serialize)]
        struct Context<'a> {
            site: SiteInfo<'a>,
            feed: &'a super::feed_page::Feed,
            script: String,
        }
        let context = Context {
            site: site_info(settings),
            feed,
            script: format!("{base}assets/copy.js"),
        };
        self.render("feed.html", &context)
    }

    fn render(&self, name: &str, context: &impl Serialize) -> Result<String, String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(context)))
            .map_err(|e| format!("template `{name}`: {e}"))
    }
}

fn site_info(settings: &Settings) -> SiteInfo<'_> {
    SiteInfo {
        title: &settings.site.title,
        url: settings.site.url.as_str(),
        description: &settings.site.description,
        language: settings.site.language.as_deref(),
    }
}

fn feed_info(listed: &Listed, words: &crate::i18n::Catalog) -> FeedInfo {
    let (kind, name, depth) = match &listed.kind {
        FeedKind::Site => ("site", words.phrase("All posts", &[]), 0),
        FeedKind::Category(path) => (
            "category",
            path.last().cloned().unwrap_or_default(),
            path.len() - 1,
        ),
        FeedKind::Tag(tag) => ("tag", tag.clone(), 0),
        FeedKind::Term { taxonomy, term } => ("tag", format!("{taxonomy}: {term}"), 0),
    };
    FeedInfo {
        title: listed.title.clone(),
        name,
        kind,
        depth,
        posts: listed.total,
        items: listed.items,
        links: listed
            .urls
            .iter()
            .map(|(format, url)| {
                let (label, media_type) = match format {
                    Format::Rss => ("RSS", "application/rss+xml"),
                    Format::Atom => ("Atom", "application/atom+xml"),
                    Format::Json => ("JSON", "application/feed+json"),
                };
                FeedLink {
                    label,
                    media_type,
                    url: url.clone(),
                    shown: percent_encoding::percent_decode_str(url)
                        .decode_utf8_lossy()
                        .into_owned(),
                }
            })
            .collect(),
    }
}

/// The categories a notifier's sign-up form offers: every category feed inside the
/// notifier's own filter (all of them when it has none), parent first.
pub fn category_choices(listing: &[Listed], filter: &[Vec<String>]) -> Vec<CategoryChoice> {
    listing
        .iter()
        .filter_map(|listed| match &listed.kind {
            FeedKind::Category(path) => Some(path),
            _ => None,
        })
        .filter(|path| filter.is_empty() || filter.iter().any(|f| path.starts_with(f)))
        .map(|path| CategoryChoice {
            path: path.join("/"),
            name: path.last().cloned().unwrap_or_default(),
            depth: path.len() - 1,
        })
        .collect()
}
