//! Turning post bodies into HTML and plain text.
//!
//! Markdown goes through pulldown-cmark (tables, footnotes, strikethrough, task lists); HTML
//! bodies pass through as written. Template syntax (`{{ … }}`, `{% … %}`, Hugo shortcodes)
//! is left untouched: it is the site generator's business, and guessing at it would lose text.

use std::borrow::Cow;

use pulldown_cmark::{Options, Parser, html};

use crate::model::BodyFormat;

/// Renders a body to HTML (an HTML body is its own).
pub fn to_html(body: &str, format: BodyFormat) -> Cow<'_, str> {
    match format {
        BodyFormat::Html => Cow::Borrowed(body),
        BodyFormat::Markdown => Cow::Owned(markdown_to_html(body)),
    }
}

/// CommonMark plus the GitHub extensions bloggers use.
pub fn markdown_to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 4);
    html::push_html(&mut out, Parser::new_ext(markdown, options));
    out
}

/// The part of a body before Hexo's excerpt marker (`<!-- more -->`), if it has one.
pub fn before_more(body: &str) -> Option<&str> {
    let mut from = 0;
    while let Some(start) = body[from..].find("<!--") {
        let start = from + start;
        let inner = &body[start + 4..];
        let end = inner.find("-->")?;
        if inner[..end].trim().eq_ignore_ascii_case("more") {
            return Some(&body[..start]);
        }
        from = start + 4 + end + 3;
    }
    None
}

/// Collapses every run of white space to one space and trims the ends.
pub fn fold_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// At most `max_chars` characters of `text`, cut at a word boundary when one is near (so
/// Latin text does not end mid-word, while CJK text, which has no spaces, is cut exactly),
/// with `…` when anything was cut.
pub fn cut(text: &str, max_chars: usize) -> String {
    let Some((cut_at, _)) = text.char_indices().nth(max_chars) else {
        return text.to_owned();
    };
    let head = &text[..cut_at];
    let window_start = head
        .char_indices()
        .nth(max_chars.saturating_sub(max_chars / 5 + 1))
        .map_or(0, |(i, _)| i);
    let head = match head[window_start..].rfind(' ') {
        Some(space) => &head[..window_start + space],
        None => head,
    };
    format!("{}…", head.trim_end())
}

/// Element names that are stripped from titles. Anything else that looks like a tag
/// (`Vec<T>`, `<dyn Trait>`) is text the author meant to show.
const TITLE_TAGS: &[&str] = &[
    "a", "abbr", "b", "big", "br", "cite", "code", "del", "em", "font", "i", "img", "ins", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
    "var", "wbr",
];

/// A title as plain text: inline HTML tags removed, entities decoded, white space folded.
pub fn plain_title(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut rest = title;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        let name_start = usize::from(after.starts_with('/'));
        let name: String = after[name_start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closes = after.find('>');
        match closes {
            Some(end) if TITLE_TAGS.contains(&name.as_str()) && !after[..end].contains('<') => {
                rest = &after[end + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    fold_whitespace(&html_escape::decode_html_entities(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_extensions_are_on() {
        let html = markdown_to_html("| a |\n|---|\n| b |\n\n~~x~~ [^1]\n\n[^1]: note\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<del>x</del>"), "{html}");
        assert!(html.contains("footnote"), "{html}");
    }

    #[test]
    fn more_marker_variants() {
        assert_eq!(before_more("a\n<!-- more -->\nb"), Some("a\n"));
        assert_eq!(before_more("a<!--more-->b"), Some("a"));
        assert_eq!(
            before_more("<!-- x -->a<!--  MORE -->b"),
            Some("<!-- x -->a")
        );
        assert_eq!(before_more("a <!-- not more --> b"), None);
    }

    #[test]
    fn cutting_on_characters_and_words() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("新媒体趣头条分类", 3), "新媒体…");
        assert_eq!(cut("the quick brown fox jumps", 12), "the quick…");
    }

    #[test]
    fn titles_lose_tags_but_keep_generics() {
        assert_eq!(
            plain_title("A <b>bold</b> &amp; brave   move"),
            "A bold & brave move"
        );
        assert_eq!(
            plain_title("Vec<T> and Box<dyn Error>"),
            "Vec<T> and Box<dyn Error>"
        );
        assert_eq!(plain_title("a < b > c"), "a < b > c");
        assert_eq!(plain_title("+_&~_%！'^……"), "+_&~_%！'^……");
    }
}
