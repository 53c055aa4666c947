//! Making post HTML fit to travel in a feed.
//!
//! A feed item is read far from the site, so relative links must become absolute (against
//! the post's own URL), lazy-loading images must get a real `src`, and nothing executable
//! may ride along. One parse: `ammonia` keeps only an allowlist of elements, attributes and
//! URL schemes (`http`, `https`, `mailto`), its attribute filter makes the surviving URLs
//! absolute, and it writes the HTML out again well-formed, entities normalised (`&` in text or
//! a link becomes `&amp;`). Posts with lazy images alone take a second, streaming pass
//! (`lol_html`) over the cleaned HTML. An allowlist, not a blocklist: `<iframe srcdoc>`,
//! `<meta http-equiv>`, `<form>`, `<object>`, `<embed>`, event handlers and
//! `javascript:`/`data:` URLs all fall outside it.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use lol_html::html_content::{Element, TextType};
use lol_html::{HtmlRewriter, Settings, doc_text, element};
use url::Url;

use crate::content::markup::fold_whitespace;
use crate::generators::common::is_xml_char;

/// Attributes that hold one URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "poster",
    "cite",
    "action",
    "formaction",
    "background",
    "longdesc",
    "usemap",
    "data",
    "xlink:href",
    "manifest",
    "icon",
];

/// Attributes that lazy-loading scripts read the real image URL from.
const LAZY_SOURCES: &[&str] = &[
    "data-src",
    "data-original",
    "data-lazy-src",
    "data-actualsrc",
];

/// Elements after which text reads as a new word (`<p>a</p><p>b</p>` is "a b", not "ab").
const BLOCKS: &[&str] = &[
    "br",
    "p",
    "div",
    "li",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "section",
    "article",
    "figure",
    "figcaption",
    "hr",
];

/// What post HTML may keep in a feed, an email or a chat message: ammonia's defaults (text
/// structure, tables, lists, quotes, code, images and links, no styles or scripts) plus the
/// media elements posts embed, with URLs limited to the web's schemes and mail.
static ALLOWLIST: std::sync::LazyLock<ammonia::Builder<'static>> = std::sync::LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_tags(["video", "audio", "source", "picture", "section"])
        .add_tag_attributes("img", ["srcset", "sizes", "loading"])
        .add_tag_attributes("video", ["src", "poster", "controls", "width", "height"])
        .add_tag_attributes("audio", ["src", "controls"])
        .add_tag_attributes("source", ["src", "srcset", "type", "media", "sizes"])
        // Lazy-loading sources stay until `promote_lazy_sources` has read them.
        .add_tag_attributes("img", LAZY_SOURCES)
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .attribute_filter(resolve_attribute)
        // Feed readers and mail clients decide how links open; no `rel` added to every one.
        .link_rel(None);
    builder
});

/// Post HTML rewritten for a feed, with the start of its visible text.
#[derive(Debug)]
pub struct Cleaned {
    pub html: String,
    /// White space folded; at least `text_chars` characters when the post has that many.
    pub text: String,
}

thread_local! {
    /// The URL that relative links resolve against while [`ALLOWLIST`] cleans a post on this
    /// thread. ammonia takes one attribute filter for the life of the builder, and building a
    /// builder per post (its tag and attribute sets) would cost more than the cleaning.
    static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
}

/// Rewrites post HTML for a feed: absolute URLs, real image sources, nothing executable, no
/// characters that XML forbids, and the start of its visible text (a little over `text_chars`
/// characters) for summaries.
///
/// One parse does the work: ammonia keeps the allowlist and its attribute filter
/// ([`resolve_attribute`]) makes the URLs that survive absolute. Only a post with lazy images
/// takes a second, streaming pass over the cleaned HTML to give them a `src`.
pub fn clean_for_feed(html: &str, base: &Url, text_chars: usize) -> Cleaned {
    let cleaned = with_base(base, || serialize(&ALLOWLIST.clean(html), html.len()));
    let cleaned = if has_lazy_source(&cleaned) {
        promote_lazy_sources(&cleaned)
    } else {
        cleaned
    };
    let html = match strip_illegal_xml(&cleaned) {
        Cow::Borrowed(_) => cleaned,
        Cow::Owned(stripped) => stripped,
    };
    let text = serialized_text(&html, text_chars);
    Cleaned { html, text }
}

/// The cleaned document as text. ammonia's `Display` would serialise into bytes, check them
/// with the standard library's UTF-8 validator (3% of a cold build) and copy them once more.
fn serialize(document: &ammonia::Document, source_len: usize) -> String {
    // Cleaning rarely grows a post by more than its resolved URLs.
    let mut bytes = Vec::with_capacity(source_len + source_len / 8);
    document
        .write_to(&mut bytes)
        .expect("writing to memory cannot fail");
    match simdutf8::basic::from_utf8(&bytes) {
        // SAFETY: the bytes were just checked to be UTF-8 (html5ever writes only `str`s).
        Ok(_) => unsafe { String::from_utf8_unchecked(bytes) },
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Runs `clean` with [`BASE`] set to `base`, and unset after, even if it panics.
fn with_base<T>(base: &Url, clean: impl FnOnce() -> T) -> T {
    struct Unset;
    impl Drop for Unset {
        fn drop(&mut self) {
            BASE.with(|slot| slot.borrow_mut().take());
        }
    }
    BASE.with(|slot| *slot.borrow_mut() = Some(base.clone()));
    let _unset = Unset;
    clean()
}

/// ammonia's attribute filter: it sees only attributes the allowlist kept, after ammonia has
/// checked the schemes of the URL attributes it knows. URLs are made absolute against the
/// post's URL; scriptable ones go, and so does a lazy image source that is not on the web.
fn resolve_attribute<'v>(_element: &str, attribute: &str, value: &'v str) -> Option<Cow<'v, str>> {
    BASE.with(|slot| {
        let slot = slot.borrow();
        let Some(base) = slot.as_ref() else {
            return Some(Cow::Borrowed(value));
        };
        if URL_ATTRIBUTES.contains(&attribute) {
            absolute_url(value, base).map(Cow::Owned)
        } else if attribute == "srcset" {
            Some(Cow::Owned(absolute_srcset(value, base)))
        } else if LAZY_SOURCES.contains(&attribute) {
            absolute_url(value, base)
                .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
                .map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(value))
        }
    })
}

/// Whether cleaned HTML (whose attributes the serializer writes as ` name="`) still holds a
/// lazy-loading attribute, which only an `img` may keep.
fn has_lazy_source(cleaned: &str) -> bool {
    cleaned.contains(" data-")
        && LAZY_SOURCES
            .iter()
            .any(|name| cleaned.contains(&format!(" {name}=\"")))
}

/// `<img data-src="…">` with no `src` (none, empty, or a `data:` placeholder, which the
/// allowlist dropped) gets the real URL as `src`, since feed readers run no lazy-loading
/// script; the lazy attributes go, their work done. The input is already clean and its URLs
/// absolute, so a failure (lol_html's memory limit) leaves it as it is.
fn promote_lazy_sources(cleaned: &str) -> String {
    let settings = Settings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        .append_element_content_handler(element!("img", |el| {
            promote_lazy_source(el);
            Ok(())
        }));
    let mut out = Vec::with_capacity(cleaned.len());
    let result = {
        let mut rewriter = HtmlRewriter::new(settings, |chunk: &[u8]| {
            out.extend_from_slice(chunk);
        });
        rewriter
            .write(cleaned.as_bytes())
            .and_then(|()| rewriter.end())
    };
    match (result, String::from_utf8(out)) {
        (Ok(()), Ok(promoted)) => promoted,
        _ => cleaned.to_owned(),
    }
}

fn promote_lazy_source(el: &mut Element) {
    let lazy = LAZY_SOURCES
        .iter()
        .find_map(|name| el.get_attribute(name).filter(|v| !v.trim().is_empty()));
    let src = el.get_attribute("src").unwrap_or_default();
    if let (true, Some(url)) = (src.trim().is_empty(), lazy) {
        // The name is a valid attribute name; the value was checked by `resolve_attribute`.
        let _ = el.set_attribute("src", &url);
    }
    for name in LAZY_SOURCES {
        el.remove_attribute(name);
    }
}

/// The visible text of an HTML fragment (tags dropped, `script`/`style` skipped, entities
/// decoded, white space folded), reading no further than a little over `max_chars` visible
/// characters.
/// The first image's alt text, when it has one: what an image-only post says in words.
pub fn first_image_alt(html: &str) -> Option<String> {
    let found: RefCell<Option<String>> = RefCell::new(None);
    let settings = Settings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        .append_element_content_handler(element!("img[alt]", |el| {
            if found.borrow().is_none()
                && let Some(alt) = el.get_attribute("alt")
            {
                let alt = fold_whitespace(&html_escape::decode_html_entities(&alt));
                if !alt.is_empty() {
                    *found.borrow_mut() = Some(alt);
                }
            }
            Ok(())
        }));
    {
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        // A parse error leaves what was found so far.
        if rewriter.write(html.as_bytes()).is_ok() {
            let _ = rewriter.end();
        }
    }
    found.into_inner()
}

pub fn visible_text(html: &str, max_chars: usize) -> String {
    // The handlers all append in document order, so they share these.
    let text = RefCell::new(String::new());
    let visible = Cell::new(0usize);
    let enough = || visible.get() > max_chars;
    let settings = Settings::new()
        .with_strict(false)
        .with_enable_esi_tags(false)
        // One `*` selector and a look-up: lol_html compiles its selectors for every rewriter,
        // and twenty of them cost more than reading a summary's worth of HTML.
        .append_element_content_handler(element!("*", |el| {
            if !enough() && BLOCKS.contains(&el.tag_name().as_str()) {
                text.borrow_mut().push(' ');
            }
            Ok(())
        }))
        .append_document_content_handler(doc_text!(|chunk| {
            // Script and style bodies are not text a reader sees.
            if !enough() && matches!(chunk.text_type(), TextType::Data | TextType::RCData) {
                let s = chunk.as_str();
                // Counted as a reader sees it: `&nbsp;` is a space, `&amp;` one character.
                let seen = html_escape::decode_html_entities(s);
                visible.set(visible.get() + seen.chars().filter(|c| !c.is_whitespace()).count());
                text.borrow_mut().push_str(s);
            }
            Ok(())
        }));
    {
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        let mut read_all = true;
        // Small pieces: a summary needs the first few hundred characters of a long post.
        for piece in html.as_bytes().chunks(1024) {
            // Stop reading once the summary has what it needs; a failure (the memory limit)
            // keeps what was collected.
            if enough() || rewriter.write(piece).is_err() {
                read_all = false;
                break;
            }
        }
        if read_all {
            // The last text of the document is held back until the end is known.
            let _ = rewriter.end();
        }
    }
    fold_whitespace(&html_escape::decode_html_entities(&text.into_inner()))
}

/// [`visible_text`] of HTML this module cleaned, read without a parser: html5ever's serialiser
/// writes every `<` of text as `&lt;` and quotes every attribute value with `"` (written as
/// `&quot;` inside one), and the allowlist keeps no comments, scripts, styles or other raw
/// text, so a tag is a `<` and the first `>` outside quotes after it. (A lol_html rewriter per
/// post cost 5% of a cold build to read a few hundred characters.)
fn serialized_text(html: &str, max_chars: usize) -> String {
    let mut text = String::new();
    let mut visible = 0usize;
    let mut rest = html;
    while visible <= max_chars && !rest.is_empty() {
        let (run, tag) = match rest.find('<') {
            Some(lt) => rest.split_at(lt),
            None => (rest, ""),
        };
        if !run.is_empty() {
            let seen = html_escape::decode_html_entities(run);
            visible += seen.chars().filter(|c| !c.is_whitespace()).count();
            text.push_str(run);
        }
        if tag.is_empty() {
            break;
        }
        let end = tag_end(tag);
        let name = tag[1..end]
            .split(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
            .next()
            .unwrap_or("");
        // Start tags only, as `visible_text`'s element handler sees them.
        if visible <= max_chars && !tag[1..].starts_with('/') && BLOCKS.contains(&name) {
            text.push(' ');
        }
        rest = &tag[end..];
    }
    fold_whitespace(&html_escape::decode_html_entities(&text))
}

/// Where a serialised tag (`tag` starts with its `<`) ends: after its first `>` outside a
/// quoted attribute value, or at the end of the text.
fn tag_end(tag: &str) -> usize {
    let mut quoted = false;
    for (at, byte) in tag.bytes().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b'>' if !quoted => return at + 1,
            _ => {}
        }
    }
    tag.len()
}

/// Resolves a URL against `base`; `None` for a scriptable URL, which must go.
fn absolute_url(value: &str, base: &Url) -> Option<String> {
    let trimmed = value.trim();
    if is_scriptable(trimmed) {
        return None;
    }
    Some(match base.join(trimmed) {
        Ok(url) => url.into(),
        // Unparseable (a template placeholder, say): keep the author's text.
        Err(_) => trimmed.to_owned(),
    })
}

/// `javascript:`, `vbscript:` and HTML `data:` URLs, however they are disguised with case,
/// white space or control characters (browsers ignore those inside a scheme).
fn is_scriptable(url: &str) -> bool {
    // Attribute values arrive as written, so `&#x09;` inside a scheme is still encoded.
    let decoded = html_escape::decode_html_entities(url);
    let scheme: String = decoded
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    scheme.starts_with("javascript:")
        || scheme.starts_with("vbscript:")
        || scheme.starts_with("data:text/html")
}

/// `a.jpg 1x, b.jpg 2x` with each URL made absolute.
fn absolute_srcset(value: &str, base: &Url) -> String {
    value
        .split(',')
        .filter_map(|candidate| {
            let candidate = candidate.trim();
            let (url, descriptor) = candidate
                .split_once(char::is_whitespace)
                .unwrap_or((candidate, ""));
            let url = absolute_url(url, base)?;
            Some(if descriptor.trim().is_empty() {
                url
            } else {
                format!("{url} {}", descriptor.trim())
            })
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `text` holds a character XML 1.0 forbids: a C0 control other than tab, newline
/// and return, or U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`). Every post's HTML passes here twice,
/// so it is checked in blocks with branch-free tests the compiler turns into SIMD; decoding
/// `char`s (or testing byte by byte with an early exit) was 4% of a cold build.
fn has_illegal_xml(text: &str) -> bool {
    const BLOCK: usize = 256;
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        // Blocks overlap by two bytes so a three-byte sequence is never cut.
        let block = &bytes[start..bytes.len().min(start + BLOCK + 2)];
        let control = block.iter().fold(false, |found, &b| {
            found | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r'))
        });
        let noncharacter = block.len() >= 3
            && block[..block.len() - 2]
                .iter()
                .zip(&block[1..block.len() - 1])
                .zip(&block[2..])
                .fold(false, |found, ((&a, &b), &c)| {
                    found | ((a == 0xEF) & (b == 0xBF) & (c >= 0xBE))
                });
        if control | noncharacter {
            return true;
        }
        start += BLOCK;
    }
    false
}

/// Removes characters that XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF); borrowed when
/// there are none, which is nearly always.
pub fn strip_illegal_xml(text: &str) -> Cow<'_, str> {
    if !has_illegal_xml(text) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::markup::cut;

    fn clean(html: &str) -> String {
        clean_for_feed(
            html,
            &Url::parse("https://example.org/2021/06/17/post/").unwrap(),
            100,
        )
        .html
    }

    #[test]
    fn text_of_html() {
        let html = "<div><p>Hello&nbsp;<b>wide</b>\n\tworld</p><script>x()</script><style>p{}</style><p>&lt;tag&gt; 你好</p></div>";
        assert_eq!(visible_text(html, 100), "Hello wide world <tag> 你好");
        assert_eq!(visible_text("<P>a</P><DIV>b</DIV><BR>d", 100), "a b d");
        let base = Url::parse("https://example.org/").unwrap();
        assert_eq!(
            clean_for_feed(html, &base, 100).text,
            "Hello wide world <tag> 你好"
        );
    }

    /// Cleaned HTML read without a parser gives what the parser gives, cut where a summary
    /// is cut, with every shape the serialiser writes: quoted `>` and `"` in attributes,
    /// entities, blocks, end tags, lazy images promoted, and text the allowlist unwrapped.
    #[test]
    fn cleaned_html_reads_as_the_parser_reads_it() {
        let base = Url::parse("https://example.org/a/").unwrap();
        let posts = [
            r#"<div><p title="a > b &quot;c&quot;">One&nbsp;<b>two</b> &amp; <i>three</i></p><p>四五六</p></div>"#,
            r#"<p>a<br>b<img alt="x>y" data-src="/i.png"></p><ul><li>c</li><li>d</li></ul><table><tr><td>e</td><td>f</td></tr></table>"#,
            "<p>&lt;tag&gt; &#60;x&#62; &#x4e2d; <textarea>raw <b></textarea> <title>t</title></p><!-- gone --><script>no()</script>",
            "plain text, no tags at all & an ampersand",
            "<h2>Head</h2>\n\n<pre>code\n  kept</pre><blockquote><p>quoted</p></blockquote><hr><section>s</section>",
        ];
        for post in posts {
            let cleaned = clean_for_feed(post, &base, usize::MAX).html;
            for limit in [0, 1, 3, 5, 8, 13, 100, usize::MAX] {
                assert_eq!(
                    cut(&serialized_text(&cleaned, limit), limit.min(10_000)),
                    cut(&visible_text(&cleaned, limit), limit.min(10_000)),
                    "{cleaned} at {limit}"
                );
            }
            assert_eq!(
                serialized_text(&cleaned, usize::MAX),
                visible_text(&cleaned, usize::MAX),
                "{cleaned}"
            );
        }
    }

    #[test]
    fn text_collection_stops_early_but_has_enough() {
        let html = "<p>abc def</p>".repeat(10_000);
        let text = visible_text(&html, 10);
        assert!(text.chars().count() > 10 && text.len() < 100, "{text}");
        let base = Url::parse("https://example.org/").unwrap();
        let cleaned = clean_for_feed(&html, &base, 10);
        assert_eq!(cleaned.html, html, "the whole document is still rewritten");
        assert!(cleaned.text.len() < 100);
    }

    #[test]
    fn relative_urls_become_absolute() {
        assert_eq!(
            clean(r#"<a href="../x">x</a><img src="/img/a.png" srcset="a.png 1x, /b.png 2x">"#),
            r#"<a href="https://example.org/2021/06/17/x">x</a><img src="https://example.org/img/a.png" srcset="https://example.org/2021/06/17/post/a.png 1x, https://example.org/b.png 2x">"#
        );
        assert_eq!(
            clean(r##"<a href="#fn1">1</a><a href="https://例子.org/路径">x</a>"##),
            r##"<a href="https://example.org/2021/06/17/post/#fn1">1</a><a href="https://xn--fsqu00a.org/%E8%B7%AF%E5%BE%84">x</a>"##
        );
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_go() {
        let out = clean(
            r#"<p onclick="x()" onload>hi<script>alert(1)</script></p><a href=" JaVa&#x09;Script:alert(1)">a</a><a href="java script:x">b</a><iframe src="javascript:1"></iframe>"#,
        );
        assert!(!out.contains("alert"), "{out}");
        assert!(!out.contains("onclick") && !out.contains("onload"), "{out}");
        assert!(!out.to_ascii_lowercase().contains("script:"), "{out}");
        assert!(out.contains("<p>hi</p>"), "{out}");
    }

    #[test]
    fn lazy_images_get_a_src() {
        // The lazy-loading attributes themselves are not on the allowlist: their work is done.
        assert_eq!(
            clean(r#"<img data-src="a.jpg">"#),
            r#"<img src="https://example.org/2021/06/17/post/a.jpg">"#
        );
        assert_eq!(
            clean(r#"<img src="data:image/gif;base64,R0" data-original="/b.jpg">"#),
            r#"<img src="https://example.org/b.jpg">"#
        );
        assert_eq!(
            clean(r#"<img src="c.jpg" data-src="d.jpg">"#),
            r#"<img src="https://example.org/2021/06/17/post/c.jpg">"#
        );
    }

    #[test]
    fn urls_outside_ammonias_own_checks_are_resolved_or_dropped() {
        assert_eq!(
            clean(r#"<img data-src="javascript:alert(1)"><img data-original="data:text/html,x">"#),
            "<img><img>"
        );
        assert_eq!(
            clean(
                r#"<img srcset="javascript:x 1x, b.png 2x"><blockquote cite="/q">q</blockquote>"#
            ),
            r#"<img srcset="https://example.org/2021/06/17/post/b.png 2x"><blockquote cite="https://example.org/q">q</blockquote>"#
        );
        // Another thread's base never leaks into a clean without one.
        assert_eq!(BASE.with(|slot| slot.borrow().clone()), None);
    }

    #[test]
    fn only_the_allowlist_survives_and_entities_are_normalised() {
        let out = clean(concat!(
            r#"<iframe srcdoc="<script>alert(1)</script>"></iframe>"#,
            r#"<meta http-equiv="refresh" content="0;url=https://evil.example/">"#,
            r#"<object data="x.swf"></object><embed src="x.swf"><form action="/steal"><input name="p"></form>"#,
            r#"<svg><a xlink:href="javascript:alert(2)">s</a></svg><math><mi>m</mi></math>"#,
            r#"<a href="data:text/html,<b>x</b>">d</a><img src="data:image/svg+xml,<svg onload=alert(3)>">"#,
            r#"<p style="position:fixed" class="x">17173&TalkingData <a href="?site_id=1&euid=2">q</a></p>"#,
        ));
        for banned in [
            "<iframe",
            "srcdoc",
            "<meta",
            "<object",
            "<embed",
            "<form",
            "<input",
            "<svg",
            "javascript:",
            "data:",
            "onload",
            "style=",
            "alert(",
        ] {
            assert!(!out.contains(banned), "{banned} in {out}");
        }
        assert!(out.contains("17173&amp;TalkingData"), "{out}");
        assert!(out.contains("site_id=1&amp;euid=2"), "{out}");
    }

    #[test]
    fn illegal_xml_found_byte_by_byte_as_char_by_char() {
        for at in 250..262 {
            let text = format!("{}\u{ffff}{}", "a".repeat(at), "b".repeat(300));
            assert!(has_illegal_xml(&text), "U+FFFF at byte {at}");
            assert!(!has_illegal_xml(&text.replace('\u{ffff}', "\u{fffd}")));
        }
        let long = "好".repeat(200);
        for text in [
            &format!("{long}\u{fffe}"),
            &format!("{long}a\u{ffff}{long}"),
            &format!("{long}\u{1f}"),
            &long,
            "a\tb\r\nc",
            "芯片\u{fffd}\u{fffd}",
            "x\u{1}",
            "\u{fffe}",
            "y\u{ffff}z",
            "\u{7f}é",
        ] {
            assert_eq!(
                has_illegal_xml(text),
                !text.chars().all(is_xml_char),
                "{text:?}"
            );
        }
    }

    #[test]
    fn illegal_xml_characters_are_removed_but_pre_whitespace_kept() {
        assert_eq!(
            clean("<pre>a\tb\n\u{1}c\u{ffff}</pre>"),
            "<pre>a\tb\nc</pre>"
        );
    }
}
