//! `[site]`: what the site is (title, address, language, zone, link pattern) and which
//! generator's rules say what it publishes.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use url::Url;

use super::permalink::Permalink;
use super::raw::{self, RawSettings, RawSite};

/// `[site]`, validated.
#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    /// Always ends with `/`, so relative joins land under it.
    pub url: Url,
    pub description: String,
    pub language: Option<String>,
    pub author: Option<String>,
    pub timezone: Tz,
    /// The pattern of post links without a generator (`site.permalink`).
    pub permalink: Permalink,
    /// The folder the generator writes the site to (`site.output`), when set.
    pub output: Option<PathBuf>,
}

/// `[site]`, checked; relative paths resolve against `base`.
pub fn site(raw: &RawSite, base: &Path) -> Result<Site, (String, String)> {
    let invalid = |key: &str, message: String| (format!("site.{key}"), message);
    let url = crate::base_url::parse(&raw.url).map_err(|m| invalid("url", m))?;
    let timezone: Tz = raw.timezone.parse().map_err(|_| {
        invalid(
            "timezone",
            format!(
                "unknown time zone `{}`; use an IANA name such as `UTC`, `Europe/Berlin` or `Asia/Shanghai`",
                raw.timezone
            ),
        )
    })?;
    let permalink = Permalink::parse(
        raw.permalink
            .as_deref()
            .unwrap_or(&raw::default_permalink()),
    )
    .map_err(|m| invalid("permalink", m))?;
    if raw.title.trim().is_empty() {
        return Err(invalid("title", "must not be empty".into()));
    }
    if let Some(lang) = &raw.language
        && !is_language_tag(lang)
    {
        return Err(invalid(
            "language",
            format!("`{lang}` is not a language tag; use e.g. `en`, `en-US` or `zh-CN`"),
        ));
    }
    Ok(Site {
        title: raw.title.clone(),
        url,
        description: raw.description.clone(),
        language: raw.language.clone(),
        author: raw.author.clone().filter(|a| !a.trim().is_empty()),
        timezone,
        permalink,
        output: raw.output.as_ref().map(|o| base.join(o)),
    })
}

/// The generator `[site]` names, with its configuration read from `site.root`; the generic
/// rules without one. Errors name the key at fault.
pub fn generator(
    raw: &RawSettings,
    base: &Path,
    site: &Site,
    content_dir: &Path,
    flat_categories: bool,
) -> Result<std::sync::Arc<dyn crate::generators::Generator>, (&'static str, String)> {
    let name = raw.site.generator.as_deref();
    if name.is_none() {
        for (key, set) in [
            ("site.root", raw.site.root.is_some()),
            ("site.build_timezone", raw.site.build_timezone.is_some()),
        ] {
            if set {
                return Err((
                    key,
                    "applies only with `site.generator` (`hexo`, `jekyll`, `hugo` or `zola`)"
                        .into(),
                ));
            }
        }
    } else if raw.site.permalink.is_some() {
        return Err((
            "site.permalink",
            "remove it: with `site.generator`, the generator's own configuration says how links are made".into(),
        ));
    }
    let build_timezone = match &raw.site.build_timezone {
        Some(zone) => Some(zone.parse::<Tz>().map_err(|_| {
            (
                "site.build_timezone",
                format!(
                    "unknown time zone `{zone}`; use an IANA name such as `UTC` or `Asia/Shanghai`"
                ),
            )
        })?),
        None => None,
    };
    if build_timezone.is_some() && !matches!(name, Some("hexo" | "jekyll")) {
        return Err((
            "site.build_timezone",
            "applies only to Hexo and Jekyll, which read dates in the zone of the machine that builds the site (when their configuration names none)".into(),
        ));
    }
    let root = base.join(raw.site.root.as_deref().unwrap_or("."));
    let setup = crate::generators::Setup {
        site: crate::generators::Site {
            url: site.url.clone(),
            content: content_dir.to_owned(),
            author: site.author.clone(),
        },
        root: &root,
        timezone: site.timezone,
        build_timezone,
        permalink: site.permalink.clone(),
        flat_categories,
        category_map: raw.feeds.category_map.clone(),
    };
    crate::generators::load(name, &setup)
        .map(std::sync::Arc::from)
        .map_err(|m| ("site.generator", m))
}

/// BCP 47 in the shape feeds use: letters, digits and hyphens, starting with a letter.
fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.starts_with(|c: char| c.is_ascii_alphabetic())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !tag.ends_with('-')
}
