//! `tidings init [SITE_DIR]`: a settings file for an existing Hexo, Jekyll, Hugo or Zola site,
//! read from the site's own configuration.
//!
//! The generator is recognised by its configuration file; from it come the site's title,
//! address, language and time zone, where the posts are, how links are made and how a list
//! of categories reads (a chain for Hexo, separate categories for the others). The result is
//! a commented `settings.toml` in the site folder whose `build` needs no further edits. An
//! existing file is never replaced without `--force`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::common::Status;
use crate::generators;

/// What the settings file will say.
#[derive(Debug)]
struct Found {
    /// As `site.generator` names it.
    generator: &'static str,
    config: PathBuf,
    title: String,
    url: String,
    language: Option<String>,
    timezone: Option<String>,
    content_dir: String,
    /// The folder the generator writes the site to.
    output: String,
    flat: bool,
    category_map: Vec<(String, String)>,
    tag_map: Vec<(String, String)>,
    limit: Option<u64>,
    /// Lines for the reader of the settings file (what differs from the generator, and why).
    notes: Vec<String>,
}

/// `tidings init [SITE_DIR] [--force]`.
pub fn init(site: &Path, force: bool) -> Status {
    let target = site.join("settings.toml");
    if target.exists() && !force {
        crate::errln!(
            "error: `{}` exists; it is left as it is (`--force` replaces it)",
            target.display()
        );
        return Status::Failed;
    }
    let found = match read_site(site) {
        Ok(found) => found,
        Err(message) => {
            crate::errln!("error: {message}");
            return Status::Failed;
        }
    };
    if let Err(e) = std::fs::write(&target, settings_text(&found)) {
        crate::errln!("error: cannot write `{}`: {e}", target.display());
        return Status::Failed;
    }
    let shown = match found.generator {
        "hexo" => "Hexo",
        "jekyll" => "Jekyll",
        "hugo" => "Hugo",
        _ => "Zola",
    };
    crate::outln!(
        "{shown} site found ({}); wrote {}. Next: `tidings --config {} check`, then `build`.",
        found.config.display(),
        target.display(),
        target.display()
    );
    Status::Clean
}

/// Finds the generator's configuration and reads what the settings need from it.
fn read_site(site: &Path) -> Result<Found, String> {
    if let Some((config, _)) = generators::hugo::read_config(site)? {
        let named = generators::first_existing(site, &generators::hugo::CONFIG_FILES)
            .unwrap_or_else(|| site.join("config/_default"));
        let is_zola = named.file_name().is_some_and(|n| n == "config.toml")
            && config.get("base_url").is_some();
        if !is_zola && (config.get("baseurl").is_some() || named.ends_with("config/_default")) {
            return Ok(hugo(named, &Value::Object(config)));
        }
    }
    let zola_config = site.join("config.toml");
    if let Some(config) = generators::read_config(&zola_config)?
        && config.get("base_url").is_some()
    {
        return Ok(zola(&zola_config, &config));
    }
    let path = site.join("_config.yml");
    if let Some(config) = generators::read_config(&path)? {
        let hexo = site.join("package.json").is_file()
            && std::fs::read_to_string(site.join("package.json"))
                .is_ok_and(|text| text.contains("\"hexo\""))
            || site.join("scaffolds").is_dir()
            || config.get("new_post_name").is_some();
        return Ok(if hexo {
            hexo_site(&path, &config)
        } else {
            jekyll(&path, &config)
        });
    }
    Err(format!(
        "no Hexo or Jekyll `_config.yml`, Hugo `hugo.toml`/`config.toml`/`config/_default/`, or Zola `config.toml` in `{}`",
        site.display()
    ))
}

fn text(config: &Value, key: &str) -> Option<String> {
    match config.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Array(items) => items.first().and_then(|v| v.as_str()).map(str::to_owned),
        _ => None,
    }
}

/// A site address ending in `/`.
fn with_slash(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

fn string_map(config: &Value, key: &str) -> Vec<(String, String)> {
    config
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn hexo_site(path: &Path, config: &Value) -> Found {
    let source = text(config, "source_dir").unwrap_or_else(|| "source".into());
    // Hexo's `url` holds the site's folder too (`root` repeats it for relative links).
    let url = text(config, "url").unwrap_or_else(|| "http://example.com".into());
    let timezone = text(config, "timezone");
    let mut notes = Vec::new();
    if timezone.is_none() {
        notes.push("Hexo's `_config.yml` names no `timezone`: Hexo reads dates, and makes links, in the zone of the machine that runs it. Set `build_timezone` to that machine's zone (CI runners: usually UTC).".to_owned());
    }
    Found {
        generator: "hexo",
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(url.trim_end_matches('/')),
        language: text(config, "language"),
        timezone,
        content_dir: format!("{source}/_posts"),
        output: text(config, "public_dir").unwrap_or_else(|| "public".into()),
        flat: false,
        category_map: string_map(config, "category_map"),
        tag_map: string_map(config, "tag_map"),
        limit: config
            .get("feed")
            .and_then(|feed| feed.get("limit"))
            .and_then(Value::as_u64),
        notes,
    }
}

fn jekyll(path: &Path, config: &Value) -> Found {
    let base = text(config, "baseurl").unwrap_or_default();
    let url = text(config, "url").unwrap_or_else(|| "http://localhost:4000".into());
    let source = text(config, "source").unwrap_or_else(|| ".".into());
    Found {
        generator: "jekyll",
        config: path.to_owned(),
        // Jekyll themes read the site's name from `title`, older ones from `name`.
        title: text(config, "title")
            .or_else(|| text(config, "name"))
            .unwrap_or_else(|| "My site".into()),
        url: with_slash(&format!("{}{}", url.trim_end_matches('/'), base)),
        language: text(config, "lang"),
        timezone: text(config, "timezone"),
        content_dir: source,
        output: text(config, "destination").unwrap_or_else(|| "_site".into()),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: None,
        notes: Vec::new(),
    }
}

fn hugo(path: PathBuf, config: &Value) -> Found {
    let language = text(config, "defaultcontentlanguage").unwrap_or_else(|| "en".into());
    let content_dir = config
        .get("languages")
        .and_then(|l| l.get(language.to_lowercase()))
        .and_then(|l| l.get("contentdir"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| text(config, "contentdir"))
        .unwrap_or_else(|| "content".into());
    let mut notes = Vec::new();
    if config
        .get("languages")
        .and_then(Value::as_object)
        .is_some_and(|l| l.len() > 1)
    {
        notes.push(format!(
            "Several languages: the feeds are the default language's (`{language}`) posts only."
        ));
    }
    Found {
        generator: "hugo",
        config: path,
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(&text(config, "baseurl").unwrap_or_default()),
        language: text(config, "languagecode")
            .or_else(|| text(config, "locale"))
            .or(Some(language)),
        timezone: text(config, "timezone"),
        content_dir,
        output: text(config, "publishdir").unwrap_or_else(|| "public".into()),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: config
            .get("services")
            .and_then(|s| s.get("rss"))
            .and_then(|rss| rss.get("limit"))
            .and_then(Value::as_u64)
            .filter(|&limit| limit > 0),
        notes,
    }
}

fn zola(path: &Path, config: &Value) -> Found {
    Found {
        generator: "zola",
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(&text(config, "base_url").unwrap_or_default()),
        language: text(config, "default_language"),
        timezone: None,
        content_dir: "content".into(),
        output: text(config, "output_dir").unwrap_or_else(|| "public".into()),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: config.get("feed_limit").and_then(Value::as_u64),
        notes: Vec::new(),
    }
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn settings_text(found: &Found) -> String {
    let mut out = format!(
        "# Written by `tidings init` from {} ({}). Every key is explained in the README.\n\n[site]\n",
        found.generator,
        found.config.display()
    );
    out += &format!("title = {}\n", quoted(&found.title));
    out += &format!("url = {}\n", quoted(&found.url));
    if let Some(language) = &found.language {
        out += &format!("language = {}\n", quoted(language));
    }
    match &found.timezone {
        Some(tz) => out += &format!("timezone = {}\n", quoted(tz)),
        None => out += "# timezone = \"UTC\"   # the zone readers see dates in\n",
    }
    out += &format!(
        "# The generator's own configuration decides each post's link, date and whether it is published.\ngenerator = {}\n",
        quoted(found.generator)
    );
    out += &format!(
        "# Where {} writes the site: `tidings check` verifies every item link against it.\noutput = {}\n",
        found.generator,
        quoted(&found.output)
    );
    for note in &found.notes {
        out += &format!("# {note}\n");
    }
    if found.generator == "hexo" && found.timezone.is_none() {
        out += "# build_timezone = \"UTC\"\n";
    }
    out += &format!("\n[content]\ndir = {}\n", quoted(&found.content_dir));
    out += if found.flat {
        "# A list of categories is several categories, as this generator reads it.\ncategories = \"flat\"\n"
    } else {
        "# `categories: [A, B]` is B inside A, as Hexo reads it.\ncategories = \"chain\"\n"
    };
    out +=
        "\n[feeds]\n# Publish this folder at <site.url>feeds/ (or set `url`).\ndir = \"feeds\"\n";
    if let Some(limit) = found.limit {
        out += &format!("limit = {limit}\n");
    }
    for (key, map) in [
        ("category_map", &found.category_map),
        ("tag_map", &found.tag_map),
    ] {
        if !map.is_empty() {
            let entries: Vec<String> = map
                .iter()
                .map(|(from, to)| format!("{} = {}", quoted(from), quoted(to)))
                .collect();
            out += &format!("{key} = {{ {} }}\n", entries.join(", "));
        }
    }
    out
}
