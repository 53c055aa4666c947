//! Validated settings: every URL, time zone, glob and pattern is parsed once, here.
//!
//! `settings.toml` is read into [`raw::RawSettings`] and checked in one function,
//! [`Settings::from_raw`]. A bad value is reported with its TOML key before anything runs, so
//! the rest of the program never meets an unparsed string.

pub mod bounce_settings;
pub mod content_settings;
pub mod email_settings;
pub mod env;
pub mod feeds_settings;
pub mod notify_settings;
pub mod permalink;
pub mod raw;
pub mod secret;
pub mod server_settings;
pub mod site_settings;
pub mod state;
pub mod template_source;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use url::Url;

pub use content_settings::Content;
pub use email_settings::{Email, EmailTarget};
pub use feeds_settings::{ContentMode, Feeds, Format};
pub use notify_settings::{Chat, ChatSetup, Delivery, Endpoint, Notifier, NotifierKind, Webhook};
pub use permalink::Permalink;
pub use server_settings::Server;
pub use site_settings::Site;

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
    /// `[bounces]`, when present.
    pub bounces: Option<bounce_settings::Bounces>,
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

    /// The one function that turns what was written into what is used: each table is
    /// checked by its own function, in the order their values depend on each other.
    pub fn from_raw(
        raw: RawSettings,
        path: &Path,
        base: &Path,
        chats: &[&dyn notify_settings::ChatSetup],
    ) -> Result<Settings, SettingsError> {
        let invalid = |(key, message): Fault| SettingsError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        let raw_fingerprint = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(format!("{:?}\n{:?}", raw.site, raw.content).as_bytes());
            h.update(base.as_os_str().as_encoded_bytes());
            h.digest()
        };
        let site = site_settings::site(&raw.site, base).map_err(invalid)?;
        let flat_categories = content_settings::flat_categories(&raw.content).map_err(invalid)?;
        let content_dir = content_settings::dir(&raw.content, base).map_err(invalid)?;
        let generator = site_settings::generator(&raw, base, &site, &content_dir, flat_categories)
            .map_err(|(key, m)| invalid((key.to_owned(), m)))?;
        let posts_fingerprint = {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(&raw_fingerprint.to_le_bytes());
            h.update(&generator.fingerprint().to_le_bytes());
            h.digest()
        };
        let feeds =
            feeds_settings::feeds(raw.feeds, base, &site.url, &content_dir).map_err(invalid)?;
        let content = content_settings::content(
            &raw.content,
            content_dir,
            flat_categories,
            &[Some(&feeds.dir), site.output.as_ref()],
        )
        .map_err(invalid)?;
        let scan =
            Cron::parse(&raw.schedule.scan).map_err(|m| invalid(("schedule.scan".into(), m)))?;
        let state = state::state(&raw.state, base).map_err(|(key, m)| invalid((key.into(), m)))?;
        let server = match &raw.server {
            Some(raw_server) => Some(
                server_settings::server(raw_server, base)
                    .map_err(|(key, m)| invalid((format!("server.{key}"), m)))?,
            ),
            None => None,
        };
        let mut email = match &raw.email {
            Some(raw_email) => Some(
                email_settings::email(raw_email, base)
                    .map_err(|(key, m)| invalid((format!("email.{key}"), m)))?,
            ),
            None => None,
        };
        if let (Some(server), Some(email)) = (&server, &mut email) {
            links_through_the_server(server, email).map_err(invalid)?;
        }
        if let Some(email) = &email
            && email.return_path.is_some()
            && email.secret.is_none()
        {
            return Err(invalid((
                "email.return_path".into(),
                "needs `email.secret` (or `[server]`): it signs each recipient's return path"
                    .into(),
            )));
        }
        let bounces = match &raw.bounces {
            Some(raw_bounces) => Some(
                bounce_settings::bounces(raw_bounces, email.as_ref(), server.is_some(), base)
                    .map_err(invalid)?,
            ),
            None => None,
        };
        let notifiers =
            notifiers(raw.notifiers, &feeds.hubs, &email, &server, base, chats).map_err(invalid)?;
        let words = crate::i18n::Catalog::load(base, raw.site.language.as_deref())
            .map_err(|m| invalid(("site.language".into(), m)))?;
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
            bounces,
            site,
            generator,
            content,
            feeds,
        })
    }
}

/// A setting at fault: its full key and what is wrong with it (each table's check
/// returns one).
type Fault = (String, String);

/// With `[server]`, the server takes the unsubscribe links: one secret signs and checks
/// them, so `[email]` must not name its own.
fn links_through_the_server(server: &Server, email: &mut Email) -> Result<(), Fault> {
    for (key, set) in [
        ("unsubscribe_url", email.unsubscribe_url.is_some()),
        ("secret", email.secret.is_some()),
    ] {
        if set {
            return Err((
                format!("email.{key}"),
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
    Ok(())
}

/// `[notifiers.*]`, in name order, then one per WebSub hub.
fn notifiers(
    raw: BTreeMap<String, raw::RawNotifier>,
    hubs: &[Url],
    email: &Option<Email>,
    server: &Option<Server>,
    base: &Path,
    chats: &[&dyn notify_settings::ChatSetup],
) -> Result<Vec<Notifier>, Fault> {
    let mut notifiers = Vec::new();
    for (name, raw_notifier) in raw {
        if raw_notifier.kind == "email" && email.is_none() {
            return Err((
                format!("notifiers.{name}.type"),
                "an email notifier needs an `[email]` table with at least `from` (and `smtp`, or messages go to `outbox/` as files)".into(),
            ));
        }
        if raw_notifier.signup && server.is_none() {
            return Err((
                format!("notifiers.{name}.signup"),
                "needs a `[server]` table: the sign-up form is on its front page".into(),
            ));
        }
        notifiers.push(
            notify_settings::validate(&name, raw_notifier, base, chats)
                .map_err(|(key, m)| (format!("notifiers.{name}.{key}"), m))?,
        );
    }
    notifiers.extend(hubs.iter().cloned().map(notify_settings::hub));
    Ok(notifiers)
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
