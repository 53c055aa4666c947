//! Permalink patterns as the generators write them, parsed once at load: Hexo's tokens
//! (`:year/:month/:day/:title/`), Hugo's (`:section/:slug/`, `:contentbasename`) and
//! Jekyll's (`:categories`, `:output_ext`, and the named styles `pretty`, `date`,
//! `ordinal`, `none`).
//!
//! A pattern is checked when the settings are read, so an unknown token is a settings error
//! naming `site.permalink`, not a broken link discovered in a reader weeks later.

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in one URL path segment: everything that would end the segment, start
/// a query or fragment, or is not allowed in a URL, plus `%` itself so a name like
/// `0.9%=1%` is encoded exactly once.
pub const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'/');

/// Percent-encodes one path segment (non-ASCII as UTF-8).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Year,
    Month,
    Day,
    IMonth,
    IDay,
    Hour,
    Minute,
    Second,
    Title,
    Name,
    Category,
    Id,
    YDay,
    Slug,
    Section,
    BaseName,
    Categories,
    OutputExt,
}

const TOKENS: [(&str, Token); 19] = [
    ("year", Token::Year),
    ("month", Token::Month),
    ("day", Token::Day),
    ("i_month", Token::IMonth),
    ("i_day", Token::IDay),
    ("hour", Token::Hour),
    ("minute", Token::Minute),
    ("second", Token::Second),
    ("title", Token::Title),
    ("name", Token::Name),
    ("category", Token::Category),
    ("id", Token::Id),
    ("y_day", Token::YDay),
    ("slug", Token::Slug),
    ("section", Token::Section),
    ("contentbasename", Token::BaseName),
    ("filename", Token::BaseName),
    ("categories", Token::Categories),
    ("output_ext", Token::OutputExt),
];

/// Jekyll's named permalink styles.
const STYLES: [(&str, &str); 4] = [
    ("date", "/:categories/:year/:month/:day/:title:output_ext"),
    ("pretty", "/:categories/:year/:month/:day/:title/"),
    ("ordinal", "/:categories/:year/:y_day/:title:output_ext"),
    ("none", "/:categories/:title:output_ext"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Token(Token),
}

/// A parsed permalink pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permalink {
    parts: Vec<Part>,
}

/// What a post contributes to its permalink.
pub struct PermalinkValues<'a> {
    /// Publication date in the site's time zone.
    pub date: DateTime<Tz>,
    /// Hexo's `:title`: the path below the content folder without extension (may hold `/`).
    pub title: &'a str,
    /// The file name without extension or Jekyll date prefix.
    pub name: &'a str,
    /// Segments of the post's first category chain (already renamed), or empty.
    pub category: &'a [String],
    pub id: &'a str,
    /// Hugo's `:section`: the first folder below the content folder, or empty.
    pub section: &'a str,
    /// Hugo's `:contentbasename`: the file name without extension (a bundle's folder name
    /// for `index.md`), whatever `slug` says.
    pub base_name: &'a str,
    /// Jekyll's `:categories`: every category the post names, in order, or empty.
    pub categories: &'a [String],
}

impl Permalink {
    /// Parses a pattern; tokens are `:` followed by a name from the Hexo list.
    pub fn parse(pattern: &str) -> Result<Permalink, String> {
        let pattern = STYLES
            .iter()
            .find(|(name, _)| *name == pattern.trim())
            .map_or(pattern, |(_, expanded)| expanded);
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = pattern.trim_start_matches('/');
        while let Some(colon) = rest.find(':') {
            literal.push_str(&rest[..colon]);
            let after = &rest[colon + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..name_len];
            let token = TOKENS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| {
                    let known: Vec<String> = TOKENS.iter().map(|(n, _)| format!(":{n}")).collect();
                    format!(
                        "unknown token `:{name}` in `{pattern}`; known tokens are {}",
                        known.join(" ")
                    )
                })?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(Part::Token(token));
            rest = &after[name_len..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        if parts.is_empty() {
            return Err("must not be empty; the default is `:year/:month/:day/:title/`".into());
        }
        Ok(Permalink { parts })
    }

    /// The post's path below the site URL, percent-encoded exactly once. A token with
    /// nothing to give (no categories, no section) leaves no empty folder: `//` becomes `/`.
    pub fn render(&self, v: &PermalinkValues) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Token(token) => push_token(&mut out, *token, v),
            }
        }
        while out.contains("//") {
            out = out.replace("//", "/");
        }
        match out.strip_prefix('/') {
            Some(_) => out.trim_start_matches('/').to_owned(),
            None => out,
        }
    }
}

fn push_token(out: &mut String, token: Token, v: &PermalinkValues) {
    use std::fmt::Write;
    let d = &v.date;
    // Written straight into the path: a scan renders one permalink per post.
    let _ = match token {
        Token::Year => write!(out, "{:04}", d.year()),
        Token::Month => write!(out, "{:02}", d.month()),
        Token::Day => write!(out, "{:02}", d.day()),
        Token::IMonth => write!(out, "{}", d.month()),
        Token::IDay => write!(out, "{}", d.day()),
        Token::Hour => write!(out, "{:02}", d.hour()),
        Token::Minute => write!(out, "{:02}", d.minute()),
        Token::Second => write!(out, "{:02}", d.second()),
        Token::YDay => write!(out, "{:03}", d.ordinal()),
        Token::Title => return push_path(out, v.title.split('/')),
        Token::Category if v.category.is_empty() => return out.push_str("uncategorized"),
        Token::Category => return push_path(out, v.category.iter().map(String::as_str)),
        // Jekyll writes categories in lower case in links.
        Token::Categories => {
            let lower: Vec<String> = v.categories.iter().map(|c| c.to_lowercase()).collect();
            return push_path(out, lower.iter().map(String::as_str));
        }
        Token::Name | Token::Slug => return push_segment(out, v.name),
        Token::Id => return push_segment(out, v.id),
        Token::Section => return push_segment(out, v.section),
        Token::BaseName => return push_segment(out, v.base_name),
        Token::OutputExt => return out.push_str(".html"),
    };
}

fn push_path<'a>(out: &mut String, segments: impl Iterator<Item = &'a str>) {
    for (i, segment) in segments.enumerate() {
        if i > 0 {
            out.push('/');
        }
        push_segment(out, segment);
    }
}

/// [`encode_segment`] without a string of its own.
fn push_segment(out: &mut String, segment: &str) {
    out.extend(utf8_percent_encode(segment, SEGMENT));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn values<'a>(title: &'a str, category: &'a [String]) -> PermalinkValues<'a> {
        PermalinkValues {
            date: chrono_tz::Asia::Shanghai
                .with_ymd_and_hms(2021, 6, 7, 8, 9, 10)
                .unwrap(),
            title,
            name: "post",
            category,
            id: "42",
            section: "posts",
            base_name: "2021-06-07-post",
            categories: category,
        }
    }

    #[test]
    fn default_pattern_encodes_cjk_once() {
        let p = Permalink::parse(":year/:month/:day/:title/").unwrap();
        let cats = [];
        let url = p.render(&values("新媒体/a b%", &cats));
        assert_eq!(url, "2021/06/07/%E6%96%B0%E5%AA%92%E4%BD%93/a%20b%25/");
    }

    #[test]
    fn every_token_renders() {
        let p = Permalink::parse("/:i_month-:i_day/:hour:minute:second/:category/:name-:id.html")
            .unwrap();
        let cats = ["A".to_string(), "B/C".to_string()];
        assert_eq!(
            p.render(&values("x", &cats)),
            "6-7/080910/A/B%2FC/post-42.html"
        );
        assert_eq!(
            p.render(&values("x", &[])),
            "6-7/080910/uncategorized/post-42.html"
        );
    }

    #[test]
    fn unknown_token_is_an_error() {
        let err = Permalink::parse(":year/:nope/").unwrap_err();
        assert!(err.contains(":nope"), "{err}");
    }

    #[test]
    fn hugo_and_jekyll_patterns() {
        let cats = ["Web".to_string(), "Rust".to_string()];
        let hugo = Permalink::parse("/:section/:slug/").unwrap();
        assert_eq!(hugo.render(&values("x", &cats)), "posts/post/");
        let bundle = Permalink::parse(":contentbasename/").unwrap();
        assert_eq!(bundle.render(&values("x", &cats)), "2021-06-07-post/");
        let pretty = Permalink::parse("pretty").unwrap();
        assert_eq!(pretty.render(&values("x", &cats)), "web/rust/2021/06/07/x/");
        assert_eq!(pretty.render(&values("x", &[])), "2021/06/07/x/");
        let date = Permalink::parse("date").unwrap();
        assert_eq!(date.render(&values("x", &[])), "2021/06/07/x.html");
        let ordinal = Permalink::parse("ordinal").unwrap();
        assert_eq!(ordinal.render(&values("x", &[])), "2021/158/x.html");
    }
}
