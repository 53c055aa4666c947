//! `GET /feeds/...`: the files the last build wrote, with validators and compression, and
//! nothing else. A request path is decoded segment by segment and refused if any segment
//! could climb out (`..`, `.`, an encoded `/` or `\`), is hidden (`.tidings-manifest`), or
//! names anything but a feed or the OPML index; what is left is resolved and must still be
//! inside `feeds.dir`.
//!
//! Files are cached in memory with their ETag and gzip form, checked against the file's
//! size and modification time on every request: the build replaces files atomically and only
//! when their bytes change, so those two are a faithful fingerprint.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use percent_encoding::percent_decode_str;

use super::answer::Answer;
use crate::feeds::output::OPML;
use crate::settings::Format;

/// The media type of a file the build writes, by its name.
pub fn media_type(file_name: &str) -> Option<&'static str> {
    Some(match file_name {
        name if name == Format::Rss.file_name() => "application/rss+xml; charset=utf-8",
        name if name == Format::Atom.file_name() => "application/atom+xml; charset=utf-8",
        name if name == Format::Json.file_name() => "application/feed+json; charset=utf-8",
        OPML => "text/x-opml; charset=utf-8",
        crate::feeds::stylesheet::XSL => "text/xsl; charset=utf-8",
        crate::feeds::stylesheet::SCRIPT => "text/javascript; charset=utf-8",
        _ => return None,
    })
}

/// Whether the client is a browser opening a page: it asks for `text/html` first (feed
/// readers ask for feeds, or for anything).
pub fn wants_html(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept
            .split(',')
            .next()
            .is_some_and(|first| first.trim().starts_with("text/html"))
    })
}

/// A browser (it asks for `text/html` first) is given an RSS or Atom feed as
/// `application/xml`: browsers apply a feed's stylesheet (`feed.xsl`) only to XML types they
/// render, and show `application/rss+xml` as raw text or download it. Feed readers get the
/// feed's own type.
fn for_browsers(media_type: &'static str, accept: Option<&str>) -> &'static str {
    let is_feed = media_type.starts_with("application/rss+xml")
        || media_type.starts_with("application/atom+xml");
    if is_feed && wants_html(accept) {
        "application/xml; charset=utf-8"
    } else {
        media_type
    }
}

/// The segments of a path below `/feeds/`, decoded, if every one is safe to join.
pub fn safe_segments(raw: &str) -> Option<Vec<String>> {
    let mut segments = Vec::new();
    for part in raw.split('/') {
        let segment = percent_decode_str(part).decode_utf8().ok()?;
        let unsafe_segment = segment.is_empty()
            || segment.starts_with('.')
            || segment.contains(['/', '\\', '\0'])
            || segment.chars().any(char::is_control);
        if unsafe_segment {
            return None;
        }
        segments.push(segment.into_owned());
    }
    media_type(segments.last()?)?;
    Some(segments)
}

/// The `Link` headers WebSub asks of a topic (§4): each hub (`rel="hub"`) and the feed's
/// own address (`rel="self"`), the very URL the publish ping names, so a hub that fetches
/// the feed finds it is the topic it was told of. Only feeds are topics; without hubs there
/// is nothing to say.
pub fn websub_links(raw: &str, feeds_url: &url::Url, hubs: &[url::Url]) -> Vec<HeaderValue> {
    let Some(segments) = safe_segments(raw) else {
        return Vec::new();
    };
    let is_feed = Format::ALL
        .iter()
        .any(|f| segments.last().is_some_and(|name| name == f.file_name()));
    if hubs.is_empty() || !is_feed {
        return Vec::new();
    }
    let encoded: Vec<String> = segments
        .iter()
        .map(|s| crate::settings::permalink::encode_segment(s))
        .collect();
    let own = format!("{feeds_url}{}", encoded.join("/"));
    hubs.iter()
        .map(|hub| format!("<{hub}>; rel=\"hub\""))
        .chain(std::iter::once(format!("<{own}>; rel=\"self\"")))
        .filter_map(|link| HeaderValue::from_str(&link).ok())
        .collect()
}

/// One file as served.
struct Cached {
    len: u64,
    modified: SystemTime,
    media_type: &'static str,
    /// Strong validator of the bytes (xxh3), quoted.
    etag: String,
    /// `Last-Modified`, an HTTP date.
    last_modified: String,
    body: Bytes,
    gzip: OnceLock<Bytes>,
}

impl Cached {
    /// The gzip form, made on first request.
    fn gzipped(&self) -> Bytes {
        self.gzip.get_or_init(|| gzip(&self.body)).clone()
    }

    /// The ETag of the gzip form: a different representation needs a different strong tag.
    fn gzip_etag(&self) -> String {
        format!("{}-gz\"", self.etag.trim_end_matches('"'))
    }

    /// The modification time, for `If-Modified-Since`.
    fn modified(&self) -> SystemTime {
        self.modified
    }
}

/// The feeds folder as the server sees it.
pub struct FeedFiles {
    root: PathBuf,
    cache: Mutex<HashMap<Vec<String>, Arc<Cached>>>,
}

/// Above this many bytes of cached files, the cache starts again (a build that renamed
/// everything should not keep the old names in memory).
const CACHE_BUDGET: usize = 256 * 1024 * 1024;

impl FeedFiles {
    pub fn new(root: &Path) -> FeedFiles {
        FeedFiles {
            root: root.to_path_buf(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The file for the path below `/feeds/` (still percent-encoded); `None` when it is not
    /// a file to serve, whether refused or not there (the same answer either way).
    fn lookup(&self, raw: &str) -> Option<Arc<Cached>> {
        let segments = safe_segments(raw)?;
        let path = segments
            .iter()
            .fold(self.root.clone(), |path, segment| path.join(segment));
        let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some(cached) = crate::sync::lock(&self.cache).get(&segments)
            && cached.len == meta.len()
            && cached.modified == modified
        {
            return Some(cached.clone());
        }
        self.load(&path, &segments, meta.len(), modified)
    }

    /// The feed at `raw` (below `/feeds/`) and its format, when it is a feed file there is.
    pub fn feed(&self, raw: &str) -> Option<(Format, Bytes)> {
        let name = safe_segments(raw)?.pop()?;
        let format = Format::ALL.into_iter().find(|f| f.file_name() == name)?;
        Some((format, self.lookup(raw)?.body.clone()))
    }

    /// The answer to `GET /feeds/<raw>`: the file, or `304`; `None` when there is no such
    /// file to serve.
    pub fn answer(&self, raw: &str, headers: &hyper::HeaderMap) -> Option<Answer> {
        let file = self.lookup(raw)?;
        let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let gzip =
            file.body.len() > 1024 && header(header::ACCEPT_ENCODING).is_some_and(accepts_gzip);
        let etag = if gzip {
            file.gzip_etag()
        } else {
            file.etag.clone()
        };
        let unchanged = match header(header::IF_NONE_MATCH) {
            Some(tags) => none_match(tags, &[&file.etag, &file.gzip_etag()]),
            None => header(header::IF_MODIFIED_SINCE)
                .is_some_and(|since| not_modified_since(since, file.modified())),
        };
        let (status, body) = if unchanged {
            (StatusCode::NOT_MODIFIED, Bytes::new())
        } else if gzip {
            (StatusCode::OK, file.gzipped())
        } else {
            (StatusCode::OK, file.body.clone())
        };
        let mut answer = Response::new(Full::new(body));
        *answer.status_mut() = status;
        let headers = answer.headers_mut();
        let value = |text: &str| HeaderValue::from_str(text).expect("ASCII header value");
        headers.insert(header::ETAG, value(&etag));
        headers.insert(header::LAST_MODIFIED, value(&file.last_modified));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("Accept-Encoding, Accept"),
        );
        // Web-based feed readers fetch from their own origin.
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if status == StatusCode::OK {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(for_browsers(file.media_type, header(header::ACCEPT))),
            );
            if gzip {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
        }
        Some(answer)
    }

    fn load(
        &self,
        path: &Path,
        segments: &[String],
        len: u64,
        modified: SystemTime,
    ) -> Option<Arc<Cached>> {
        // A symlink inside the folder must not lead out of it.
        let root = std::fs::canonicalize(&self.root).ok()?;
        let real = std::fs::canonicalize(path).ok()?;
        if !real.starts_with(&root) {
            tracing::warn!(path = %path.display(), "refused: resolves outside the feeds folder");
            return None;
        }
        let body = std::fs::read(&real).ok()?;
        let cached = Arc::new(Cached {
            len,
            modified,
            media_type: media_type(segments.last()?)?,
            etag: format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&body)),
            last_modified: httpdate::fmt_http_date(modified),
            body: Bytes::from(body),
            gzip: OnceLock::new(),
        });
        let mut cache = crate::sync::lock(&self.cache);
        let size: usize = cache.values().map(|c| c.body.len()).sum();
        if size + cached.body.len() > CACHE_BUDGET {
            cache.clear();
        }
        cache.insert(segments.to_vec(), cached.clone());
        Some(cached)
    }
}

/// Whether an `If-None-Match` value matches any of `tags` (weak comparison, as RFC 9110 asks
/// for GET).
pub fn none_match(header: &str, tags: &[&str]) -> bool {
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*"
            || tags
                .iter()
                .any(|tag| candidate.trim_start_matches("W/") == tag.trim_start_matches("W/"))
    })
}

/// Whether the file is unchanged since an `If-Modified-Since` date (whole seconds).
pub fn not_modified_since(header: &str, modified: SystemTime) -> bool {
    let Ok(since) = httpdate::parse_http_date(header.trim()) else {
        return false;
    };
    let seconds = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    seconds(modified) <= seconds(since)
}

/// `bytes` gzipped (level 6: most of the gain at a fraction of the time of 9).
pub fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::new(6),
    );
    encoder
        .write_all(bytes)
        .expect("writing to memory cannot fail");
    Bytes::from(encoder.finish().expect("writing to memory cannot fail"))
}

/// Whether `Accept-Encoding` takes gzip (and does not refuse it with `q=0`).
pub fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let coding = pieces.next().unwrap_or("");
        let refused = pieces.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_feed_files_below_the_folder() {
        assert_eq!(safe_segments("rss.xml"), Some(vec!["rss.xml".into()]));
        assert_eq!(
            safe_segments("categories/%E6%96%B0%E9%97%BB/feed.json"),
            Some(vec!["categories".into(), "新闻".into(), "feed.json".into()])
        );
        for bad in [
            "../state.db",
            "%2e%2e/state.db",
            "%2E%2E%2Fstate.db",
            "a/../../rss.xml",
            "..%2frss.xml",
            "a%5c..%5crss.xml",
            ".tidings-manifest",
            "a//rss.xml",
            "./rss.xml",
            "rss.xml%00",
            "state.db",
            "",
            "categories/",
        ] {
            assert_eq!(safe_segments(bad), None, "{bad}");
        }
    }

    #[test]
    fn validators() {
        assert!(none_match("\"abc\"", &["\"abc\""]));
        assert!(none_match("W/\"abc\", \"x\"", &["\"abc\""]));
        assert!(none_match("*", &["\"abc\""]));
        assert!(!none_match("\"abd\"", &["\"abc\""]));
        let t = httpdate::parse_http_date("Fri, 27 Nov 2026 08:00:00 GMT").unwrap();
        assert!(not_modified_since("Fri, 27 Nov 2026 08:00:00 GMT", t));
        assert!(!not_modified_since("Fri, 27 Nov 2026 07:59:59 GMT", t));
        assert!(!not_modified_since("yesterday", t));
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0, br"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn browsers_get_feeds_as_xml_readers_as_feeds() {
        let rss = "application/rss+xml; charset=utf-8";
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert_eq!(
            for_browsers(rss, Some(browser)),
            "application/xml; charset=utf-8"
        );
        for reader in [
            None,
            Some("application/rss+xml, */*"),
            Some("*/*"),
            Some("application/xml, text/html;q=0.1"),
        ] {
            assert_eq!(for_browsers(rss, reader), rss, "{reader:?}");
        }
        let json = "application/feed+json; charset=utf-8";
        assert_eq!(for_browsers(json, Some(browser)), json);
    }
}
