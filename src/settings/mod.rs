//! Validated settings: every URL, time zone, glob and pattern is parsed once, here.
//!
//! `settings.toml` is read into [`raw::RawSettings`] and checked in one function,
//! [`Settings::from_raw`]. A bad value is reported with its TOML key before anything runs, so
//! the rest of the program never meets an unparsed string.

pub mod email_settings;
pub mod env;
pub mod notify_settings;
pub mod permalink;
pub mod raw;
pub mod secret;
pub mod server_settings;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use globset::{Glob, GlobSet, GlobSetBuilder};
use url::Url;

pub use email_settings::{Email, EmailTarget};
pub use notify_settings::{Chat, ChatSetup, Delivery, Endpoint, Notifier, NotifierKind, Webhook};
pub use permalink::Permalink;
pub use server_settings::Server;

use crate::schedule::Cron;
use raw::RawSettings;

/// A setting that cannot be used, named by its TOML key.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings file `{path}`: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no settings file `{path}`: `tidings init SITE_DIR` writes one from a Hexo, Jekyll, Hugo or Zola site's own configuration, or pass another with `--config`"
    )]
    Missing { path: PathBuf },
    #[error("`{path}` is not valid settings: {message}")]
    Malformed { path: PathBuf, message: String },
    #[error("`{key}` in `{path}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// A feed format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    /// The file name a feed of this format is written to.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    /// Every format, for recognising files this program wrote.
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];
}

/// What an item carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// The summary and the whole post.
    Full,
    /// The summary only.
    Summary,
}

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

/// `[content]`, validated.
#[derive(Debug, Clone)]
pub struct Content {
    /// Absolute or relative to the working directory (already resolved against the
    /// settings file's folder).
    pub dir: PathBuf,
    pub exclude: GlobSet,
    pub max_file_bytes: u64,
    /// Whether `categories: [A, B]` is one chain (Hexo) or two categories.
    pub flat_categories: bool,
}

/// `[feeds]`, validated.
#[derive(Debug, Clone)]
pub struct Feeds {
    pub dir: PathBuf,
    /// Always ends with `/`.
    pub url: Url,
    /// In the order given; the first is the one listed in `index.opml`.
    pub formats: Vec<Format>,
    /// `None` means every post.
    pub limit: Option<usize>,
    pub content: ContentMode,
    pub summary_length: usize,
    pub categories: bool,
    pub tags: bool,
    pub category_map: BTreeMap<String, String>,
    pub tag_map: BTreeMap<String, String>,
    /// WebSub hubs named in every feed.
    pub hubs: Vec<Url>,
    /// Whether RSS and Atom feeds name `feed.xsl`, written beside them.
    pub stylesheet: bool,
}

/// Everything the program needs to know, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these came from, for messages.
    pub path: PathBuf,
    /// Hash of the settings text and the folder it was read against: whatever changes it may
    /// change every feed.
    pub fingerprint: u64,
    /// Hash of what shapes a post read from its file (`[site]`, `[content]`, the folder they
    /// resolve against): the parse cache is trusted only under the same value.
    pub posts_fingerprint: u64,
    pub site: Site,
    /// The site generator's rules (`site.generator`), or the generic ones.
    pub generator: std::sync::Arc<dyn crate::generators::Generator>,
    pub content: Content,
    pub feeds: Feeds,
    pub schedule: Schedule,
    /// Where what was seen and sent is kept, and this node's name and leases there.
    pub state: state::State,
    /// In name order, then one per WebSub hub (see [`notify_settings::hub`]).
    pub notifiers: Vec<Notifier>,
    /// `[email]`, when present.
    pub email: Option<email_settings::Email>,
    /// `[server]`, when present.
    pub server: Option<Server>,
    /// The words readers see, in `site.language` (`templates/i18n/`).
    pub words: crate::i18n::Catalog,
}

/// `[schedule]`, validated.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub scan: Cron,
}

/// The full name (`site.url`, `notifiers.team.type`, `content`) of a required key the TOML
/// lacks. The parser names only the field; the table is the header its error points at.
fn missing_key(text: &str, error: &toml::de::Error) -> Option<String> {
    let field = error
        .message()
        .strip_prefix("missing field `")?
        .strip_suffix('`')?;
    // A table's error spans its whole `[header]`; the top level's, the first character.
    let spanned = error
        .span()
        .and_then(|span| text.get(span))
        .unwrap_or("")
        .trim();
    let table = spanned
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .map(|name| name.trim_matches(['[', ']', ' ']).replace(['"', '\''], ""))
        .filter(|name| !name.is_empty());
    Some(match table {
        Some(table) => format!("{table}.{field}"),
        None => field.to_owned(),
    })
}

impl Settings {
    /// Whether the state is a SQLite file not made yet (looking must not create it).
    pub fn state_missing(&self) -> bool {
        matches!(&self.state.location, state::Location::File(path) if !path.exists())
    }

    /// Where the parse cache lives: beside the state file, never in the published feeds.
    pub fn posts_cache_path(&self) -> PathBuf {
        let mut name = self.state.path.file_name().unwrap_or_default().to_owned();
        name.push(".posts");
        self.state.path.with_file_name(name)
    }

    /// Reads and validates a settings file without chat platforms (the registry's loader,
    /// `crate::registry::settings`, has them); relative paths resolve against its folder.
    pub fn from_file(path: &Path) -> Result<Settings, SettingsError> {
        Settings::from_file_with(path, &[])
    }

    /// Reads and validates a settings file; `chats` are the chat platforms a notifier's
    /// `type` may name.
    pub fn from_file_with(
        path: &Path,
        chats: &[&dyn notify_settings::ChatSetup],
    ) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SettingsError::Missing {
                    path: path.to_owned(),
                }
            } else {
                SettingsError::Unreadable {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Settings::parse_with(&text, path, base, chats)
    }

    /// Validates settings text. `path` names the file in messages; `base` is the folder that
    /// relative paths are resolved against.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Settings, SettingsError> {
        Settings::parse_with(text, path, base, &[])
    }

    /// [`Settings::parse`] with the chat platforms a notifier's `type` may name.
    pub fn parse_with(
        text: &str,
        path: &Path,
        base: &Path,
        chats: &[&dyn notify_settings::ChatSetup],
    ) -> Result<Settings, SettingsError> {
        let raw: RawSettings = toml::from_str(text).map_err(|e| match missing_key(text, &e) {
            Some(key) => SettingsError::Invalid {
                path: path.to_owned(),
                message: if key.contains('.') {
                    "is required".to_owned()
                } else {
                    format!("is required: add a `[{key}]` table (see the README's settings)")
                },
                key,
            },
            None => SettingsError::Malformed {
                path: path.to_owned(),
                message: e.to_string().trim_end().to_owned(),
            },
        })?;
        let mut settings = Settings::from_raw(raw, path, base, chats)?;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(text.as_bytes());
        h.update(base.as_os_str().as_encoded_bytes());
        h.update(&settings.generator.fingerprint().to_le_bytes());
        settings.fingerprint = h.digest();
        Ok(settings)
    }

    /// The one function that turns what was written into what is used.
    pub fn from_raw(
        raw: RawSettings,
        path: &Path,
        base: &Path,
        chats: &[&dyn notify_settings::ChatSetup],
    ) -> Result<Settings, SettingsError> {
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };

        let posts_fingerprint = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(format!("{:?}\n{:?}", raw.site, raw.content).as_bytes());
            h.update(base.as_os_str().as_encoded_bytes());
            h.digest()
        };
        let site_url = crate::base_url::parse(&raw.site.url).map_err(|m| invalid("site.url", m))?;
        let flat_categories = match raw.content.categories.as_str() {
            "chain" => false,
            "flat" => true,
            other => {
                return Err(invalid(
                    "content.categories",
                    format!(
                        "`{other}` is not `chain` (Hexo: `[A, B]` is B inside A) or `flat` (Hugo, Jekyll, Zola: two categories)"
                    ),
                ));
            }
        };
        let timezone: Tz = raw.site.timezone.parse().map_err(|_| {
            invalid(
                "site.timezone",
                format!(
                    "unknown time zone `{}`; use an IANA name such as `UTC`, `Europe/Berlin` or `Asia/Shanghai`",
                    raw.site.timezone
                ),
            )
        })?;
        let permalink = Permalink::parse(
            raw.site
                .permalink
                .as_deref()
                .unwrap_or(&raw::default_permalink()),
        )
        .map_err(|m| invalid("site.permalink", m))?;
        if raw.site.title.trim().is_empty() {
            return Err(invalid("site.title", "must not be empty".into()));
        }
        if let Some(lang) = &raw.site.language
            && !is_language_tag(lang)
        {
            return Err(invalid(
                "site.language",
                format!("`{lang}` is not a language tag; use e.g. `en`, `en-US` or `zh-CN`"),
            ));
        }

        let content_dir = base.join(&raw.content.dir);
        if !content_dir.is_dir() {
            return Err(invalid(
                "content.dir",
                format!(
                    "`{}` is not a folder; point it at the folder that holds your posts (relative to the settings file)",
                    content_dir.display()
                ),
            ));
        }
        build_globs(&raw.content.exclude).map_err(|m| invalid("content.exclude", m))?;
        let generator = generator(
            &raw,
            base,
            crate::generators::Site {
                url: site_url.clone(),
                content: content_dir.clone(),
                author: raw.site.author.clone().filter(|a| !a.trim().is_empty()),
            },
            timezone,
            &permalink,
            flat_categories,
        )
        .map_err(|(key, m)| invalid(key, m))?;
        let posts_fingerprint = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(&posts_fingerprint.to_le_bytes());
            h.update(&generator.fingerprint().to_le_bytes());
            h.digest()
        };
        if raw.content.max_file_mib == 0 {
            return Err(invalid("content.max_file_mib", "must be at least 1".into()));
        }

        let feeds_url = match &raw.feeds.url {
            Some(u) => crate::base_url::parse(u).map_err(|m| invalid("feeds.url", m))?,
            None => site_url
                .join("feeds/")
                .expect("a relative path joins any base URL"),
        };
        let formats = parse_formats(&raw.feeds.formats).map_err(|m| invalid("feeds.formats", m))?;
        let content = match raw.feeds.content.as_str() {
            "full" => ContentMode::Full,
            "summary" => ContentMode::Summary,
            other => {
                return Err(invalid(
                    "feeds.content",
                    format!("`{other}` is not one of `full`, `summary`"),
                ));
            }
        };
        if raw.feeds.summary_length == 0 {
            return Err(invalid("feeds.summary_length", "must be at least 1".into()));
        }
        check_map(&raw.feeds.category_map).map_err(|m| invalid("feeds.category_map", m))?;
        check_map(&raw.feeds.tag_map).map_err(|m| invalid("feeds.tag_map", m))?;
        let feeds_dir = base.join(&raw.feeds.dir);
        if content_dir.starts_with(&feeds_dir) {
            return Err(invalid(
                "feeds.dir",
                "must not contain `content.dir` (or be it): posts would sit among the feeds".into(),
            ));
        }
        // The feeds folder and the generator's output may sit inside the content folder
        // (a Jekyll site's root is both): they are never read as posts.
        let output = raw.site.output.as_ref().map(|o| base.join(o));
        let mut exclude_patterns = raw.content.exclude.clone();
        for inner in std::iter::once(&feeds_dir).chain(output.as_ref()) {
            if let Ok(rel) = normalized(inner).strip_prefix(normalized(&content_dir)) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                if !rel.is_empty() {
                    exclude_patterns.push(format!("{rel}/**"));
                    exclude_patterns.push(rel);
                }
            }
        }
        let exclude = build_globs(&exclude_patterns).map_err(|m| invalid("content.exclude", m))?;

        let scan = Cron::parse(&raw.schedule.scan).map_err(|m| invalid("schedule.scan", m))?;
        let state = state::state(&raw.state, base).map_err(|(key, m)| invalid(key, m))?;
        let server = match &raw.server {
            Some(raw_server) => Some(
                server_settings::server(raw_server, base)
                    .map_err(|(key, m)| invalid(&format!("server.{key}"), m))?,
            ),
            None => None,
        };
        let mut email = match &raw.email {
            Some(raw_email) => Some(
                email_settings::email(raw_email, base)
                    .map_err(|(key, m)| invalid(&format!("email.{key}"), m))?,
            ),
            None => None,
        };
        if let (Some(server), Some(email)) = (&server, &mut email) {
            // The server takes the links: one secret signs and checks them.
            for (key, set) in [
                ("unsubscribe_url", email.unsubscribe_url.is_some()),
                ("secret", email.secret.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        &format!("email.{key}"),
                        "remove it: with `[server]`, unsubscribe links go to `<server.public_url>unsubscribe`, signed with `server.secret`".into(),
                    ));
                }
            }
            email.unsubscribe_url = Some(
                server
                    .public_url
                    .join("unsubscribe")
                    .expect("a relative path joins any base URL"),
            );
            email.secret = Some(server.secret.clone());
        }
        let hubs = parse_hubs(&raw.feeds.hubs).map_err(|m| invalid("feeds.hubs", m))?;
        let mut notifiers = Vec::new();
        for (name, raw_notifier) in raw.notifiers {
            if raw_notifier.kind == "email" && email.is_none() {
                return Err(invalid(
                    &format!("notifiers.{name}.type"),
                    "an email notifier needs an `[email]` table with at least `from` (and `smtp`, or messages go to `outbox/` as files)".into(),
                ));
            }
            if raw_notifier.signup && server.is_none() {
                return Err(invalid(
                    &format!("notifiers.{name}.signup"),
                    "needs a `[server]` table: the sign-up form is on its front page".into(),
                ));
            }
            notifiers.push(
                notify_settings::validate(&name, raw_notifier, base, chats)
                    .map_err(|(key, m)| invalid(&format!("notifiers.{name}.{key}"), m))?,
            );
        }
        notifiers.extend(hubs.iter().cloned().map(notify_settings::hub));

        let words = crate::i18n::Catalog::load(base, raw.site.language.as_deref())
            .map_err(|m| invalid("site.language", m))?;
        Ok(Settings {
            words,
            path: path.to_owned(),
            fingerprint: 0,
            posts_fingerprint,
            schedule: Schedule { scan },
            state,
            notifiers,
            email,
            server,
            site: Site {
                title: raw.site.title,
                url: site_url,
                description: raw.site.description,
                language: raw.site.language,
                author: raw.site.author.filter(|a| !a.trim().is_empty()),
                timezone,
                permalink,
                output,
            },
            generator,
            content: Content {
                dir: content_dir,
                exclude,
                max_file_bytes: raw.content.max_file_mib.saturating_mul(1024 * 1024),
                flat_categories,
            },
            feeds: Feeds {
                dir: feeds_dir,
                url: feeds_url,
                formats,
                limit: (raw.feeds.limit > 0).then_some(raw.feeds.limit),
                content,
                summary_length: raw.feeds.summary_length,
                categories: raw.feeds.categories,
                tags: raw.feeds.tags,
                category_map: raw.feeds.category_map,
                tag_map: raw.feeds.tag_map,
                hubs,
                stylesheet: raw.feeds.stylesheet,
            },
        })
    }
}

/// The generator `[site]` names, with its configuration read from `site.root`; the generic
/// rules without one. Errors name the key at fault.
fn generator(
    raw: &RawSettings,
    base: &Path,
    site: crate::generators::Site,
    timezone: Tz,
    permalink: &Permalink,
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
        site,
        root: &root,
        timezone,
        build_timezone,
        permalink: permalink.clone(),
        flat_categories,
        category_map: raw.feeds.category_map.clone(),
    };
    crate::generators::load(name, &setup)
        .map(std::sync::Arc::from)
        .map_err(|m| ("site.generator", m))
}

/// A template's source: `templates/<file>` beside the settings file when it exists, else
/// the compiled-in `default`; checked to compile, so a broken template is a settings error.
pub(crate) fn template_source(
    base: &Path,
    file: &str,
    default: Option<&str>,
) -> Result<String, String> {
    let path = base.join("templates").join(file);
    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(_) => default
            .map(str::to_owned)
            .ok_or_else(|| format!("`{}` does not exist", path.display()))?,
    };
    minijinja::Environment::new()
        .template_from_str(&source)
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok(source)
}

fn parse_hubs(texts: &[String]) -> Result<Vec<Url>, String> {
    let mut hubs: Vec<Url> = Vec::new();
    for text in texts {
        let url = Url::parse(text.trim())
            .map_err(|e| format!("`{text}` is not an absolute URL ({e})"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("`{text}` must start with `https://` or `http://`"));
        }
        if !hubs.contains(&url) {
            hubs.push(url);
        }
    }
    Ok(hubs)
}

fn parse_formats(names: &[String]) -> Result<Vec<Format>, String> {
    let mut formats = Vec::new();
    for name in names {
        let format = match name.as_str() {
            "rss" => Format::Rss,
            "atom" => Format::Atom,
            "json" => Format::Json,
            other => return Err(format!("`{other}` is not one of `rss`, `atom`, `json`")),
        };
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    if formats.is_empty() {
        return Err("list at least one of `rss`, `atom`, `json`".into());
    }
    Ok(formats)
}

/// A path with its `.` parts dropped, for comparing folders written differently.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| format!("bad glob `{pattern}`: {e}"))?;
        set.add(glob);
    }
    set.build().map_err(|e| e.to_string())
}

fn check_map(map: &BTreeMap<String, String>) -> Result<(), String> {
    for (from, to) in map {
        if to.trim().is_empty() {
            return Err(format!("`{from}` is renamed to an empty name"));
        }
    }
    Ok(())
}

/// BCP 47 in the shape feeds use: letters, digits and hyphens, starting with a letter.
fn is_language_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 35
        && tag.starts_with(|c: char| c.is_ascii_alphabetic())
        && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !tag.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        Settings::parse(text, Path::new("settings.toml"), dir.path())
    }

    const MINIMAL: &str =
        "[site]\ntitle = \"T\"\nurl = \"https://example.org/blog\"\n[content]\ndir = \"posts\"\n";

    #[test]
    fn minimal_settings_get_defaults() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.site.url.as_str(), "https://example.org/blog/");
        assert_eq!(s.feeds.url.as_str(), "https://example.org/blog/feeds/");
        assert_eq!(
            s.feeds.formats,
            vec![Format::Rss, Format::Atom, Format::Json]
        );
        assert_eq!(s.feeds.limit, Some(20));
        assert_eq!(s.site.timezone, chrono_tz::UTC);
    }

    #[test]
    fn unknown_key_is_refused() {
        let err = parse(&format!("{MINIMAL}[feeds]\nlimt = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("limt"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (
                "url = \"https://example.org/blog\"",
                "url = \"example.org\"",
                "site.url",
            ),
            ("[content]", "[site.x]\n[content]", "site"),
            ("dir = \"posts\"", "dir = \"nowhere\"", "content.dir"),
        ];
        for (from, to, key) in cases {
            let err = parse(&MINIMAL.replace(from, to)).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
        let extra = [
            ("[site]\ntimezone = \"Mars/Base\"", "site.timezone"),
            ("[feeds]\nformats = [\"rdf\"]", "feeds.formats"),
            ("[feeds]\ncontent = \"most\"", "feeds.content"),
            ("[content]\nexclude = [\"a[\"]", "content.exclude"),
            ("[site]\npermalink = \":year/:slugg/\"", "site.permalink"),
            ("[feeds]\ndir = \".\"", "feeds.dir"),
            ("[site]\ngenerator = \"gatsby\"", "site.generator"),
            ("[site]\nroot = \"site\"", "site.root"),
            ("[site]\nbuild_timezone = \"UTC\"", "site.build_timezone"),
        ];
        for (patch, key) in extra {
            let text = merge(MINIMAL, patch);
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(key), "{patch}: {err}");
        }
    }

    /// Puts `patch`'s key into the table it names, adding the table when the base lacks it.
    fn merge(base: &str, patch: &str) -> String {
        let (table, line) = patch.split_once('\n').unwrap();
        let header = format!("{table}\n");
        if base.contains(&header) {
            base.replacen(&header, &format!("{header}{line}\n"), 1)
        } else {
            format!("{base}{patch}\n")
        }
    }
}
