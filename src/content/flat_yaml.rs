//! The common shape of YAML front matter, read without a YAML parser.
//!
//! Nearly every post's front matter is a flat list of `key: value` lines, some keys holding a
//! `- item` list: what Hexo, Jekyll and the RSSHub-to-Hexo generators write. libyaml (under
//! `serde_norway`) spends about half a microsecond per token on it, which was a quarter of a
//! cold scan of 100,000 posts. This module reads exactly that shape and nothing else: any
//! line, character or scalar it is not certain about makes it answer `None`, and the caller
//! parses the front matter with `serde_norway` as before. What it does return is what
//! `serde_norway` gives for the same text (the tests compare the two on crafted edge cases
//! and on every post of the test corpora), so no post reads differently for taking this path.

use serde_json::{Map, Number, Value};

/// The front matter as a map, or `None` when it is not plainly flat.
pub fn parse(front: &str) -> Option<Map<String, Value>> {
    if !front.chars().all(is_plain_char) || has_lone_return(front) {
        return None;
    }
    let mut map = Map::new();
    let mut lines = front
        .split_terminator('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .peekable();
    while let Some(line) = lines.next() {
        let (key, rest) = key_of(line)?;
        let value = if rest.is_empty() {
            // A key alone on its line holds the list below it, or nothing.
            let mut items = Vec::new();
            let mut indent = None;
            while let Some(item) = lines.peek().and_then(|next| list_item(next, &mut indent)) {
                items.push(scalar(item?)?);
                lines.next();
            }
            if items.is_empty() {
                Value::Null
            } else {
                Value::Array(items)
            }
        } else {
            scalar(rest)?
        };
        if map.insert(key.to_owned(), value).is_some() {
            return None; // A repeated key: let the parser decide.
        }
    }
    (!map.is_empty()).then_some(map)
}

/// Characters that mean nothing special to YAML anywhere in a flat document: no tabs, no
/// control characters, none of the line breaks YAML 1.1 adds (NEL, LS, PS), no byte order
/// mark, nothing outside YAML's printable set. `\r` passes for CRLF files; a lone one is
/// caught by the line checks.
fn is_plain_char(c: char) -> bool {
    match c {
        '\n' | '\r' => true,
        ' '..='~' => true,
        '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' => {
            c != '\u{feff}' && c != '\u{2028}' && c != '\u{2029}'
        }
        '\u{10000}'.. => true,
        _ => false,
    }
}

/// A `\r` not followed by `\n` breaks a line for YAML, and not for `split`.
fn has_lone_return(front: &str) -> bool {
    front
        .match_indices('\r')
        .any(|(at, _)| front.as_bytes().get(at + 1) != Some(&b'\n'))
}

/// `key: rest` at the start of a line: a key of letters, digits, `_` and `-` starting with a
/// letter or `_`, never a word YAML reads as null or a boolean; `rest` trimmed of spaces.
fn key_of(line: &str) -> Option<(&str, &str)> {
    let end = line.find(':')?;
    let (key, after) = (&line[..end], &line[end + 1..]);
    let mut chars = key.chars();
    let first = chars.next()?;
    let well_formed = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !well_formed || special_word(key).is_some() {
        return None;
    }
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some((key, after.trim_matches(' ')))
}

/// `- item` in a list under a key: every item at the same indentation. `None` when the line
/// is not a list item (the list is over); `Some(None)` when it is one this module does not
/// read (a nested list, an empty item, a changed indentation).
fn list_item<'l>(line: &'l str, indent: &mut Option<usize>) -> Option<Option<&'l str>> {
    let trimmed = line.trim_start_matches(' ');
    if !trimmed.starts_with('-') {
        return None;
    }
    let depth = line.len() - trimmed.len();
    if *indent.get_or_insert(depth) != depth {
        return Some(None);
    }
    let item = trimmed
        .strip_prefix("- ")
        .map(|item| item.trim_matches(' '));
    Some(item.filter(|item| !item.is_empty()))
}

/// One scalar on one line: quoted, or plain and resolved as `serde_norway` resolves it.
fn scalar(text: &str) -> Option<Value> {
    if let Some(inner) = text.strip_prefix('\'') {
        return single_quoted(inner).map(Value::String);
    }
    if let Some(inner) = text.strip_prefix('"') {
        // Escapes and embedded quotes are the parser's to read.
        let inner = inner.strip_suffix('"')?;
        return (!inner.contains(['"', '\\'])).then(|| Value::String(inner.to_owned()));
    }
    plain(text)
}

/// `'…'` with `''` for a quote, closed on the same line.
fn single_quoted(inner: &str) -> Option<String> {
    let inner = inner.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(at) = rest.find('\'') {
        out.push_str(&rest[..at]);
        rest = rest[at..].strip_prefix("''")?;
        out.push('\'');
    }
    out.push_str(rest);
    Some(out)
}

/// A plain scalar: text that starts with no indicator and holds no `: ` or ` #`, read as
/// null, a boolean, an integer or text exactly as `serde_norway` reads it. A scalar that
/// might be some other number (a float, hex, a leading zero, `.inf`) is left to the parser.
fn plain(text: &str) -> Option<Value> {
    let first = text.chars().next()?;
    if "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
    {
        return None;
    }
    if let Some(special) = special_word(text) {
        return Some(special);
    }
    if first.is_ascii_digit() || first == '.' || first == '+' {
        if text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0')) {
            return text
                .parse::<u64>()
                .ok()
                .map(|n| Value::Number(Number::from(n)));
        }
        // Numbers of every form YAML or Rust reads are made of ASCII letters, digits and
        // `+-._`; anything else (a space or a colon in a date, a CJK title) makes it text.
        if text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
        {
            return None;
        }
    }
    Some(Value::String(text.to_owned()))
}

/// The words YAML's core schema reads as null or a boolean.
fn special_word(text: &str) -> Option<Value> {
    match text {
        "~" | "null" | "Null" | "NULL" => Some(Value::Null),
        "true" | "True" | "TRUE" => Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => Some(Value::Bool(false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast reading, checked against `serde_norway` whenever it answers.
    pub(crate) fn agrees(front: &str) -> bool {
        let Some(fast) = parse(front) else {
            return false;
        };
        let slow: Value = serde_norway::from_str(front).unwrap_or_else(|e| {
            panic!("flat reading accepted what the parser refuses ({e}):\n{front}")
        });
        assert_eq!(
            Value::Object(fast),
            slow,
            "differs from serde_norway:\n{front}"
        );
        true
    }

    #[test]
    fn the_generators_shape_is_read_as_the_parser_reads_it() {
        let front = "title: '加强基层党建，打通为民服务脉络 _ 我为群众办实事'\ncategories: \n - 新媒体\n - 趣头条\nheadimg: 'https://x.example/?http://y/a.jpeg'\nauthor: 趣头条\ncomments: false\ndate: Thu, 17 Jun 2021 11:05:02 GMT\n";
        assert!(agrees(front));
        let hexo = "title: 100个高质量Java开发者博客\nid: 625\ndate: 2024-10-31 22:01:44\npermalink: /archives/x/\ncategories:\n- java\ntags:\n- a\n- 'b'\n";
        assert!(agrees(hexo));
        assert!(agrees("title: a\r\ndate: 2021-06-17 10:00:00 +0800\r\n"));
    }

    #[test]
    fn scalars_agree_or_are_left_to_the_parser() {
        let values = [
            "a",
            "it's",
            "'it''s'",
            "''",
            "\"q\"",
            "\"a\\tb\"",
            "\"a'b\"",
            "'a",
            "x'",
            "0",
            "007",
            "625",
            "18446744073709551615",
            "18446744073709551616",
            "-5",
            "+5",
            "1.5",
            "1e3",
            ".inf",
            ".5",
            "0x1F",
            "0o7",
            "1_000",
            "2024-10-31",
            "2024-10-31 22:01:44",
            "10:00",
            "12:30:00",
            "~",
            "null",
            "NULL",
            "Null",
            "nul",
            "true",
            "True",
            "TRUE",
            "tRue",
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "&a",
            "*a",
            "!tag x",
            "|",
            ">",
            "%x",
            "@x",
            "`x`",
            "[a, b]",
            "{a: b}",
            "a, b",
            "a [b]",
            "a: b",
            "a :b",
            "a:b",
            "a:",
            "a #b",
            "a#b",
            "https://x.example/#/a",
            "- x",
            "-x",
            "?x",
            ": x",
            "a  b",
            "ü",
            "中文：标点",
            "\"\"",
            "'a' # c",
            "'a' b",
            "\"a\" b",
            "x\u{85}y",
            "x\u{2028}y",
            "x\u{feff}y",
            "x\u{7f}",
            "x\u{1}",
        ];
        let mut read = 0;
        for value in values {
            read += usize::from(agrees(&format!("k: {value}\n")));
            read += usize::from(agrees(&format!("k:\n- {value}\n- b\n")));
        }
        assert!(
            read > 60,
            "{read} of {} read without the parser",
            values.len() * 2
        );
    }

    /// Every YAML front matter of the bundled example and, with `TIDINGS_CORPUS`, of the real
    /// archives: where the flat reading answers, it answers as the parser does.
    #[test]
    fn real_front_matter_reads_the_same() {
        let mut roots = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")];
        match std::env::var_os("TIDINGS_CORPUS") {
            Some(corpus) => roots.push(corpus.into()),
            None => eprintln!("TIDINGS_CORPUS not set: only the bundled example is compared"),
        }
        let (mut seen, mut read) = (0, 0);
        for root in roots {
            for file in walkdir::WalkDir::new(root).into_iter().flatten() {
                let Ok(text) = std::fs::read_to_string(file.path()) else {
                    continue;
                };
                let Ok(Some(split)) = crate::content::frontmatter::split(&text) else {
                    continue;
                };
                if split.syntax == crate::content::frontmatter::Syntax::Yaml
                    && serde_norway::from_str::<Value>(split.front).is_ok()
                {
                    seen += 1;
                    read += usize::from(agrees(split.front));
                }
            }
        }
        eprintln!("{read} of {seen} YAML front matters read without the parser");
        assert!(read > 0);
    }

    #[test]
    fn shapes_outside_the_flat_one_are_left_to_the_parser() {
        for front in [
            "",
            "\n",
            "title: a\n\ndate: b\n",
            "# comment\ntitle: a\n",
            "title: a\n  continued\n",
            "excerpt: a\n  b\n",
            "k:\n  nested: map\n",
            "k:\n  - a\n - b\n",
            "k:\n- - a\n",
            "k:\n-\n",
            "k:\n- a\nb: c\n- d\n",
            "title: a\ntitle: b\n",
            "\ttitle: a\n",
            "title:\ta\n",
            "null: a\n",
            "true: a\n",
            "1: a\n",
            "a b: c\n",
            "'k': v\n",
            "k: v\r\rx: y\n",
            "---\nk: v\n",
            "k: v\n...\n",
            "%YAML 1.2\nk: v\n",
            "k: &anchor v\nj: *anchor\n",
            "k: |\n  text\n",
            "k: >\n  text\n",
            "? k\n: v\n",
        ] {
            if parse(front).is_some() {
                // Accepted: then it must be exactly what the parser says.
                assert!(agrees(front), "{front:?}");
            }
        }
        assert!(parse("title: a\n  continued\n").is_none());
        assert!(parse("k:\n  nested: map\n").is_none());
        assert!(parse("title: a\ntitle: b\n").is_none());
        assert!(parse("k: &anchor v\nj: *anchor\n").is_none());
    }
}
