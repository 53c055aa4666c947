//! `settings.toml` exactly as written: serde structs with a doc line on every key.
//!
//! Nothing here is trusted yet. Unknown keys are refused (`deny_unknown_fields`) so a typo
//! is an error rather than a silently ignored setting; [`super::Settings::from_raw`] turns
//! these into validated values.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// What the site is and where it lives.
    pub site: RawSite,
    /// Where the posts are.
    pub content: RawContent,
    /// What feeds to publish and where.
    #[serde(default)]
    pub feeds: RawFeeds,
    /// When `tidings run` looks for new posts.
    #[serde(default)]
    pub schedule: RawSchedule,
    /// Where tidings remembers what it has seen and sent.
    #[serde(default)]
    pub state: RawState,
    /// Who is told about new posts, by name.
    #[serde(default)]
    pub notifiers: BTreeMap<String, RawNotifier>,
    /// How email is sent (for `email` notifiers).
    pub email: Option<RawEmail>,
    /// The web front door (`tidings serve`, and `tidings run` when set).
    pub server: Option<RawServer>,
    /// Where bounce reports and complaints arrive, read at every pass.
    pub bounces: Option<RawBounces>,
}

/// `[bounces]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounces {
    /// A Maildir the mail server delivers the return path's mail to (relative to the
    /// settings file): new messages are read and marked seen, never deleted.
    pub maildir: Option<String>,
    /// An IMAP mailbox the return path's mail arrives in: `imaps://user@host/INBOX`.
    /// Unseen messages are read and marked seen, never deleted.
    pub imap: Option<String>,
    /// The IMAP password, usually `${IMAP_PASSWORD}`.
    pub password: Option<String>,
    /// Soft bounces (a full mailbox, a server down) an address may have before it is
    /// taken off like a hard bounce. Default 3.
    #[serde(default = "default_soft_limit")]
    pub soft_limit: u32,
    /// Mailgun's webhooks, taken by `tidings serve` at `/bounces/mailgun`. Each service's
    /// table is read by its own module (`bounces::services`), which owns its keys.
    pub mailgun: Option<toml::Value>,
    /// SendGrid's signed Event Webhook, at `/bounces/sendgrid`.
    pub sendgrid: Option<toml::Value>,
    /// Postmark's bounce and spam complaint webhooks, at `/bounces/postmark`.
    pub postmark: Option<toml::Value>,
}

fn default_soft_limit() -> u32 {
    3
}

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    /// Address and port to listen on, e.g. `127.0.0.1:8080`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// How the world reaches this server, e.g. `https://news.example.org/`: the base of the
    /// links in confirmation and unsubscribe emails.
    pub public_url: String,
    /// Signs confirmation and unsubscribe tokens, usually `${TIDINGS_SECRET}`; at least 16
    /// characters.
    pub secret: String,
    /// Sign-up requests accepted from one client address per hour.
    #[serde(default = "default_signups_per_hour")]
    pub signups_per_hour: u32,
    /// Behind a reverse proxy: take the client address from the last `X-Forwarded-For`
    /// entry (the one the proxy added). Only set it when a proxy always sets that header.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Opens the operator's page, `/admin`, to requests carrying `Authorization: Bearer
    /// <token>`; usually `${TIDINGS_ADMIN_TOKEN}`, at least 16 characters. Without it the
    /// page does not exist.
    pub admin_token: Option<String>,
}

/// `[email]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    /// `smtps://user@host:465` (TLS), `smtp://user@host:587` (STARTTLS, required), or
    /// `smtp://host:25?tls=none` (plain, for a local relay). Without it, messages are written
    /// as `.eml` files into `outbox`.
    pub smtp: Option<String>,
    /// The SMTP password, usually `${SMTP_PASSWORD}`.
    pub password: Option<String>,
    /// The sender, e.g. `"Example News <news@example.org>"`.
    pub from: String,
    /// Where replies go.
    pub reply_to: Option<String>,
    /// The language of the mail, when readers are mailed in another than `site.language`.
    pub language: Option<String>,
    /// Messages per second.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// Most SMTP connections open at once.
    #[serde(default = "default_pool")]
    pub pool: u32,
    /// Folder for `.eml` files when no `smtp` is set, relative to the settings file.
    #[serde(default = "default_outbox")]
    pub outbox: String,
    /// HTTPS page that takes signed unsubscribe tokens (`?token=…`), for the one-click
    /// `List-Unsubscribe` header and the footer link.
    pub unsubscribe_url: Option<String>,
    /// Signs unsubscribe tokens, usually `${TIDINGS_SECRET}`; needed with `unsubscribe_url`.
    pub secret: Option<String>,
    /// DKIM: a PEM file with the private key (RSA or Ed25519), relative to the settings file.
    pub dkim_key: Option<String>,
    /// DKIM: the selector published in DNS.
    pub dkim_selector: Option<String>,
    /// DKIM with several keys (RSA and Ed25519 side by side): each signs every message.
    #[serde(default)]
    pub dkim: Vec<RawDkim>,
    /// Seconds before one message is abandoned (and retried later).
    #[serde(default = "default_email_timeout")]
    pub timeout_seconds: u64,
    /// The envelope sender bounces go to, e.g. `bounces@example.org`: each message is
    /// sent from `bounces+TOKEN@example.org`, the token signed for its recipient (VERP).
    pub return_path: Option<String>,
}

/// One entry of `email.dkim`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkim {
    /// A PEM file with the private key, relative to the settings file.
    pub key: String,
    /// The selector its public key is published under.
    pub selector: String,
}

/// `[schedule]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    /// Cron expression (5 fields, or 6 with seconds first) for scanning the content folder.
    #[serde(default = "default_scan")]
    pub scan: String,
}

impl Default for RawSchedule {
    fn default() -> Self {
        RawSchedule {
            scan: default_scan(),
        }
    }
}

/// `[state]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawState {
    /// SQLite file, relative to the settings file; default `.tidings/state.db`.
    pub path: Option<String>,
    /// A PostgreSQL database shared by several nodes, instead of the file:
    /// `postgres://user@host:port/db` (the password from `${VAR}` or `PGPASSWORD`).
    pub url: Option<String>,
    /// Seconds a node's lease on a lane or a message lasts unless renewed: how soon
    /// another node takes over from one that died. Default 30.
    pub lease: Option<u64>,
    /// Days a sent message's row (and a scan's record) is kept before it is pruned; its
    /// count stays in `status`. Default 30.
    pub keep_days: Option<u64>,
}

/// `[notifiers.<name>]` (its unknown keys are collected in `platform`, and refused there
/// unless its type takes them: serde cannot deny unknown keys beside a flattened map).
#[derive(Debug, Deserialize)]
pub struct RawNotifier {
    /// What kind of receiver: `email`, `webhook`, `slack`, `discord`, `teams`,
    /// `telegram`, `dingtalk`, `feishu`, `wecom` or `matrix`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What readers see it called (front page, confirmation mail, email footers), e.g.
    /// `"每周精选"`; default: the catalog's words around its name.
    pub title: Option<String>,
    /// `instant` (one message per post, as soon as it is seen) or `digest` (one message per
    /// `schedule` firing, listing everything new since the last).
    #[serde(default = "default_mode")]
    pub mode: String,
    /// Cron expression for digests.
    pub schedule: Option<String>,
    /// Only posts in these categories (`A/B` paths; a category includes its descendants).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Only posts with these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Posts per message; a larger digest is split into several messages.
    #[serde(default = "default_max_posts")]
    pub max_posts: usize,
    /// Attempts before a delivery is given up as failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Seconds before one request is abandoned (and retried later); default 10. Email
    /// notifiers use `email.timeout_seconds`.
    pub timeout_seconds: Option<u64>,
    /// Webhook, Slack, Discord: the URL to POST to; `${ENV_VAR}` is replaced from the
    /// environment.
    pub url: Option<String>,
    /// Webhook: extra request headers; values may use `${ENV_VAR}`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Webhook: Standard Webhooks signing secret (`whsec_…` base64, or plain text);
    /// DingTalk, Feishu: the robot's signing secret. Usually `${ENV_VAR}`.
    pub secret: Option<String>,
    /// A template in `templates/`: for webhooks it shapes the whole JSON body; for chat
    /// platforms it writes each post's text (default `<type>.jinja`, compiled in); for email
    /// it names the `<name>.html` / `<name>.txt` pair (default `digest` or `instant`).
    pub template: Option<String>,
    /// Email: recipients.
    #[serde(default)]
    pub to: Vec<String>,
    /// Email: a CSV file of subscribers (`email,name,categories,tags`), relative to the
    /// settings file.
    pub subscribers: Option<String>,
    /// Email: the subject, a template (default `{{ site.title }}: {{ posts|length }} new posts`).
    pub subject: Option<String>,
    /// Email: offer a sign-up form for this notifier on the server's front page (double
    /// opt-in); confirmed subscribers are kept in the state file.
    #[serde(default)]
    pub signup: bool,
    /// A chat platform's own keys (Telegram `api_base`, `token`, `chat_id`; Matrix
    /// `homeserver`, `room_id`, `token`), each documented by its platform; a key no type
    /// takes is an error.
    #[serde(flatten)]
    pub platform: BTreeMap<String, toml::Value>,
}

impl RawNotifier {
    /// A platform key's text, when it is set to text.
    pub fn platform_text(&self, key: &str) -> Option<&str> {
        self.platform.get(key).and_then(toml::Value::as_str)
    }
}

/// `[site]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// The site's name: the title of the site feed and the prefix of every other feed title.
    pub title: String,
    /// The public root URL of the site, e.g. `https://blog.example.org/`. Post links and
    /// relative URLs in post bodies are resolved against it.
    pub url: String,
    /// One line about the site, used as the feeds' description.
    #[serde(default)]
    pub description: String,
    /// Language tag of the content, e.g. `en` or `zh-CN`.
    pub language: Option<String>,
    /// Default author for posts that name none.
    pub author: Option<String>,
    /// IANA time zone (e.g. `Asia/Shanghai`) in which dates without an offset are read.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Post URL pattern with Hexo tokens: `:year :month :day :i_month :i_day :hour :minute
    /// :second :title :name :category :id` (without `generator`; with it, the generator's
    /// own configuration says how links are made).
    pub permalink: Option<String>,
    /// The generator that builds the site (`hexo`, `jekyll`, `hugo`, `zola`): its own
    /// configuration and rules then decide each post's link, date and what is published.
    pub generator: Option<String>,
    /// The generator's site folder (where its configuration file is), relative to the
    /// settings file; default: the settings file's folder.
    pub root: Option<String>,
    /// The folder the generator writes the site to (`public`, `_site`), relative to the
    /// settings file: `tidings check` verifies every item link against it when it exists.
    pub output: Option<String>,
    /// Hexo and Jekyll: the IANA time zone of the machine that builds the site (they read
    /// dates and make links in it when their configuration names no zone); default:
    /// `timezone`.
    pub build_timezone: Option<String>,
}

/// `[content]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// The folder of posts, relative to the settings file.
    pub dir: String,
    /// Glob patterns, relative to `dir`, of files and folders to leave out.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Files larger than this many MiB are reported and skipped.
    #[serde(default = "default_max_file_mib")]
    pub max_file_mib: u64,
    /// How a list of categories reads: `chain` (Hexo: `[A, B]` is B inside A) or `flat`
    /// (Hugo, Jekyll, Zola: `[A, B]` is two categories).
    #[serde(default = "default_categories")]
    pub categories: String,
}

fn default_categories() -> String {
    "chain".into()
}

/// `[feeds]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeds {
    /// Output folder, relative to the settings file.
    #[serde(default = "default_feeds_dir")]
    pub dir: String,
    /// Public URL of the output folder; default `<site.url>feeds/`.
    pub url: Option<String>,
    /// Formats to write: any of `rss`, `atom`, `json`.
    #[serde(default = "default_formats")]
    pub formats: Vec<String>,
    /// Items per feed, newest first; 0 = every post.
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// `full` (summary and whole post) or `summary` (summary only) in every item.
    #[serde(default = "default_content")]
    pub content: String,
    /// Length in characters of a summary cut from the post text.
    #[serde(default = "default_summary_length")]
    pub summary_length: usize,
    /// Write a feed for every category node.
    #[serde(default = "default_true")]
    pub categories: bool,
    /// Write a feed for every tag.
    #[serde(default)]
    pub tags: bool,
    /// Renames category names in feed paths, e.g. `{ "新媒体" = "media" }`.
    #[serde(default)]
    pub category_map: BTreeMap<String, String>,
    /// Renames tag names in feed paths.
    #[serde(default)]
    pub tag_map: BTreeMap<String, String>,
    /// WebSub hubs: announced in every feed, and pinged when a feed changes.
    #[serde(default)]
    pub hubs: Vec<String>,
    /// Write `feed.xsl` and name it in RSS and Atom feeds, so a browser shows a page.
    #[serde(default = "default_true")]
    pub stylesheet: bool,
}

impl Default for RawFeeds {
    fn default() -> Self {
        RawFeeds {
            dir: default_feeds_dir(),
            url: None,
            formats: default_formats(),
            limit: default_limit(),
            content: default_content(),
            summary_length: default_summary_length(),
            categories: true,
            tags: false,
            category_map: BTreeMap::new(),
            tag_map: BTreeMap::new(),
            hubs: Vec::new(),
            stylesheet: true,
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_signups_per_hour() -> u32 {
    10
}
fn default_rate() -> f64 {
    2.0
}
fn default_pool() -> u32 {
    4
}
fn default_outbox() -> String {
    "outbox".into()
}
fn default_email_timeout() -> u64 {
    30
}
fn default_scan() -> String {
    "*/5 * * * *".into()
}
fn default_mode() -> String {
    "instant".into()
}
fn default_max_posts() -> usize {
    20
}
fn default_max_attempts() -> u32 {
    10
}
fn default_timezone() -> String {
    "UTC".into()
}
pub(crate) fn default_permalink() -> String {
    ":year/:month/:day/:title/".into()
}
fn default_max_file_mib() -> u64 {
    10
}
fn default_feeds_dir() -> String {
    "feeds".into()
}
fn default_formats() -> Vec<String> {
    vec!["rss".into(), "atom".into(), "json".into()]
}
fn default_limit() -> usize {
    20
}
fn default_content() -> String {
    "full".into()
}
fn default_summary_length() -> usize {
    200
}
fn default_true() -> bool {
    true
}
