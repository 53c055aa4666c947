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

use super::Status;

/// The generators `init` reads, with what it takes from each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    Hexo,
    Jekyll,
    Hugo,
    Zola,
}

impl Generator {
    fn name(self) -> &'static str {
        match self {
            Generator::Hexo => "Hexo",
            Generator::Jekyll => "Jekyll",
            Generator::Hugo => "Hugo",
            Generator::Zola => "Zola",
        }
    }
}

/// What the settings file will say.
#[derive(Debug)]
struct Found {
    generator: Generator,
    config: PathBuf,
    title: String,
    url: String,
    language: Option<String>,
    timezone: Option<String>,
    permalink: String,
    /// Why the permalink is what it is, for the comment above it.
    permalink_note: String,
    content_dir: String,
    flat: bool,
    category_map: Vec<(String, String)>,
    tag_map: Vec<(String, String)>,
    limit: Option<u64>,
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
    crate::outln!(
        "{} site found ({}); wrote {}. Next: `tidings --config {} check`, then `build`.",
        found.generator.name(),
        found.config.display(),
        target.display(),
        target.display()
    );
    Status::Clean
}

/// Finds the generator's configuration and reads what the settings need from it.
fn read_site(site: &Path) -> Result<Found, String> {
    for name in [
        "hugo.toml",
        "hugo.yaml",
        "hugo.yml",
        "hugo.json",
        "config.toml",
        "config.yaml",
        "config.yml",
        "config.json",
    ] {
        let path = site.join(name);
        let Some(config) = read_config(&path)? else {
            continue;
        };
        if config
            .get("baseURL")
            .or_else(|| config.get("baseurl"))
            .is_some()
        {
            return Ok(hugo(&path, &config));
        }
        if name == "config.toml" && config.get("base_url").is_some() {
            return Ok(zola(&path, &config));
        }
    }
    let path = site.join("_config.yml");
    if let Some(config) = read_config(&path)? {
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
        "no Hexo or Jekyll `_config.yml`, Hugo `hugo.toml`/`config.toml`, or Zola `config.toml` in `{}`",
        site.display()
    ))
}

/// A configuration file as JSON values; `None` when there is no such file.
fn read_config(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let value = match extension {
        "toml" => toml::from_str::<Value>(&text).map_err(|e| e.to_string()),
        "json" => serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()),
        _ => serde_norway::from_str::<Value>(&text).map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("`{}` is not valid: {e}", path.display()))?;
    Ok(Some(value))
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
    Found {
        generator: Generator::Hexo,
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(&text(config, "url").unwrap_or_else(|| "http://example.com".into())),
        language: text(config, "language"),
        timezone: text(config, "timezone"),
        permalink: text(config, "permalink").unwrap_or_else(|| ":year/:month/:day/:title/".into()),
        permalink_note: "Hexo's `permalink`".into(),
        content_dir: format!("{source}/_posts"),
        flat: false,
        category_map: string_map(config, "category_map"),
        tag_map: string_map(config, "tag_map"),
        limit: config
            .get("feed")
            .and_then(|feed| feed.get("limit"))
            .and_then(Value::as_u64),
    }
}

fn jekyll(path: &Path, config: &Value) -> Found {
    let base = text(config, "baseurl").unwrap_or_default();
    let url = text(config, "url").unwrap_or_else(|| "http://localhost:4000".into());
    Found {
        generator: Generator::Jekyll,
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(&format!("{}{}", url.trim_end_matches('/'), base)),
        language: text(config, "lang"),
        timezone: text(config, "timezone"),
        permalink: text(config, "permalink").unwrap_or_else(|| "date".into()),
        permalink_note: "Jekyll's `permalink` (default `date`)".into(),
        content_dir: "_posts".into(),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: None,
    }
}

fn hugo(path: &Path, config: &Value) -> Found {
    // Hugo's own permalink tokens that tidings reads the same way; its `:title` is the
    // title made into a path segment, which `:slug` (front-matter `slug`, else the file
    // name) stands in for.
    let permalinks = config.get("permalinks").and_then(Value::as_object);
    let chosen = permalinks.and_then(|map| {
        ["posts", "post", "blog"]
            .iter()
            .find_map(|section| map.get(*section).and_then(Value::as_str))
            .or_else(|| map.values().find_map(Value::as_str))
    });
    let (permalink, permalink_note) = match chosen {
        Some(pattern) => (
            pattern.replace(":title", ":slug"),
            format!("Hugo's `permalinks` (`{pattern}`)"),
        ),
        None => (
            ":title/".into(),
            "Hugo's default: the path below the content folder".into(),
        ),
    };
    Found {
        generator: Generator::Hugo,
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(
            &text(config, "baseURL")
                .or_else(|| text(config, "baseurl"))
                .unwrap_or_default(),
        ),
        language: text(config, "languageCode").or_else(|| text(config, "defaultContentLanguage")),
        timezone: text(config, "timeZone"),
        permalink,
        permalink_note,
        content_dir: text(config, "contentDir").unwrap_or_else(|| "content".into()),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: config
            .get("services")
            .and_then(|s| s.get("rss"))
            .and_then(|rss| rss.get("limit"))
            .and_then(Value::as_u64)
            .filter(|&limit| limit > 0),
    }
}

fn zola(path: &Path, config: &Value) -> Found {
    Found {
        generator: Generator::Zola,
        config: path.to_owned(),
        title: text(config, "title").unwrap_or_else(|| "My site".into()),
        url: with_slash(&text(config, "base_url").unwrap_or_default()),
        language: text(config, "default_language"),
        timezone: None,
        permalink: ":title/".into(),
        permalink_note: "Zola's: the section path and the page's slug (a page's `path` wins)"
            .into(),
        content_dir: "content".into(),
        flat: true,
        category_map: Vec::new(),
        tag_map: Vec::new(),
        limit: None,
    }
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn settings_text(found: &Found) -> String {
    let mut out = format!(
        "# Written by `tidings init` from {} ({}). Every key is explained in the README.\n\n[site]\n",
        found.generator.name(),
        found.config.display()
    );
    out += &format!("title = {}\n", quoted(&found.title));
    out += &format!("url = {}\n", quoted(&found.url));
    if let Some(language) = &found.language {
        out += &format!("language = {}\n", quoted(language));
    }
    match &found.timezone {
        Some(tz) => out += &format!("timezone = {}\n", quoted(tz)),
        None => out += "# timezone = \"UTC\"   # the zone of dates written without one\n",
    }
    out += &format!(
        "# {}\npermalink = {}\n\n[content]\ndir = {}\n",
        found.permalink_note,
        quoted(&found.permalink),
        quoted(&found.content_dir)
    );
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
