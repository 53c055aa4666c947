//! Finding and parsing front matter: YAML between `---` lines, TOML between `+++` lines.
//!
//! Real archives are untidy: a BOM, blank lines before the opening `---` (every post an
//! RSSHub-to-Hexo generator writes), CRLF line endings, trailing spaces after a delimiter.
//! All of those are accepted. Errors carry the line in the file, not in the block.

use serde_json::{Map, Value};

/// The front matter's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Toml,
}

/// A file cut into front matter and body.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    pub syntax: Syntax,
    /// The text between the delimiters.
    pub front: &'a str,
    /// 1-based line number of the first line of `front` in the file.
    pub front_line: usize,
    pub body: &'a str,
}

/// Why a file's front matter could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontMatterError {
    pub line: Option<usize>,
    pub message: String,
}

/// Cuts a file into front matter and body. `Ok(None)` means the file has no front matter.
pub fn split(text: &str) -> Result<Option<Split<'_>>, FrontMatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut offset = 0;
    let mut line_no = 0;
    // Skip blank lines up to the opening delimiter.
    let (syntax, delimiter) = loop {
        let Some((line, next)) = next_line(text, offset) else {
            return Ok(None);
        };
        line_no += 1;
        offset = next;
        match line.trim_end() {
            "" => continue,
            "---" => break (Syntax::Yaml, "---"),
            "+++" => break (Syntax::Toml, "+++"),
            _ => return Ok(None),
        }
    };
    let opened_on = line_no;
    let front_start = offset;
    loop {
        let Some((line, next)) = next_line(text, offset) else {
            return Err(FrontMatterError {
                line: Some(opened_on),
                message: format!(
                    "front matter opened with `{delimiter}` on line {opened_on} is never closed; add a `{delimiter}` line after it"
                ),
            });
        };
        let trimmed = line.trim_end();
        if trimmed == delimiter || (syntax == Syntax::Yaml && trimmed == "...") {
            return Ok(Some(Split {
                syntax,
                front: &text[front_start..offset],
                front_line: opened_on + 1,
                body: &text[next..],
            }));
        }
        offset = next;
    }
}

/// The line starting at `offset` (without its `\n`) and where the next one starts.
fn next_line(text: &str, offset: usize) -> Option<(&str, usize)> {
    if offset >= text.len() {
        return None;
    }
    let rest = &text[offset..];
    Some(match rest.find('\n') {
        Some(end) => (&rest[..end], offset + end + 1),
        None => (rest, text.len()),
    })
}

/// Front matter larger than this is refused before parsing: real front matter is a few
/// KiB, even with a long `description`.
pub const MAX_BYTES: usize = 256 * 1024;

/// Brackets and braces nested deeper than this are refused before parsing. A YAML parser
/// takes quadratic time on deep flow nesting (100,000 `[` took a minute) before its own
/// recursion limit answers; no real front matter nests past a handful.
pub const MAX_NESTING: usize = 64;

/// Parses front matter into a map of keys to values (empty front matter gives an empty map).
/// Its size and nesting are checked first, so no input shape can make parsing slow.
pub fn parse(split: &Split) -> Result<Map<String, Value>, FrontMatterError> {
    check_budget(split)?;
    let value = match split.syntax {
        Syntax::Yaml => parse_yaml(split.front, split.front_line)?,
        Syntax::Toml => parse_toml(split.front, split.front_line)?,
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(FrontMatterError {
            line: Some(split.front_line),
            message: "front matter is not a set of `key: value` pairs".into(),
        }),
    }
}

/// Refuses front matter over [`MAX_BYTES`] or nested past [`MAX_NESTING`], in one pass over
/// its bytes. Quotes are not followed: a bracket inside a string counts too, which errs only
/// towards refusing front matter with 64 unclosed brackets in its strings.
fn check_budget(split: &Split) -> Result<(), FrontMatterError> {
    if split.front.len() > MAX_BYTES {
        return Err(FrontMatterError {
            line: Some(split.front_line),
            message: format!(
                "front matter is {} KiB, over the {} KiB limit; move long text into the body",
                split.front.len() / 1024,
                MAX_BYTES / 1024
            ),
        });
    }
    let mut depth = 0usize;
    let mut line = split.front_line;
    for byte in split.front.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(FrontMatterError {
                        line: Some(line),
                        message: format!(
                            "front matter nests brackets more than {MAX_NESTING} deep; no post needs that, so it was not parsed"
                        ),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
    }
    Ok(())
}

fn parse_yaml(text: &str, first_line: usize) -> Result<Value, FrontMatterError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    if let Some(map) = super::flat_yaml::parse(text) {
        return Ok(Value::Object(map));
    }
    serde_norway::from_str(text).map_err(|e| {
        let line = e
            .location()
            .map(|l| first_line + l.line().saturating_sub(1));
        let mut message = format!(
            "invalid YAML front matter: {}",
            shift_lines(&e.to_string(), first_line - 1)
        );
        if text.contains('\t') {
            message.push_str(" (YAML does not allow TAB characters for indentation; use spaces)");
        }
        FrontMatterError { line, message }
    })
}

fn parse_toml(text: &str, first_line: usize) -> Result<Value, FrontMatterError> {
    toml::from_str::<Value>(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| first_line + text[..span.start.min(text.len())].matches('\n').count());
        FrontMatterError {
            line,
            message: format!("invalid TOML front matter: {}", e.message()),
        }
    })
}

/// Rewrites the parser's "line N" (counted in the front matter) as lines of the file.
fn shift_lines(message: &str, by: usize) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        match tail[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

/// The 1-based file line of the first line in `split.front` that sets `key`, for messages
/// about a value that parsed but makes no sense (an impossible date, say).
pub fn line_of_key(split: &Split, key: &str) -> Option<usize> {
    split
        .front
        .lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with([':', '=']))
        })
        .map(|i| split.front_line + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_bom_and_crlf_before_front_matter() {
        let text = "\u{feff}\r\n  \r\n--- \r\ntitle: a\r\n---\r\nbody";
        let s = split(text).unwrap().unwrap();
        assert_eq!(s.syntax, Syntax::Yaml);
        assert_eq!(s.front, "title: a\r\n");
        assert_eq!(s.front_line, 4);
        assert_eq!(s.body, "body");
        assert_eq!(parse(&s).unwrap()["title"], "a");
    }

    #[test]
    fn toml_front_matter_and_datetimes() {
        let text = "+++\ntitle = \"x\"\ndate = 2020-10-22T08:00:00+00:00\n+++\n";
        let s = split(text).unwrap().unwrap();
        let map = parse(&s).unwrap();
        assert_eq!(map["title"], "x");
        assert!(map["date"].to_string().contains("2020-10-22T08:00:00"));
    }

    #[test]
    fn no_front_matter_and_unclosed_front_matter() {
        assert_eq!(split("# Heading\n").unwrap(), None);
        assert_eq!(split("").unwrap(), None);
        let err = split("\n---\ntitle: a\n").unwrap_err();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn yaml_error_line_is_the_file_line() {
        let text = "\n---\ntitle: a\ntags:\n- x\n\t- y\n---\n";
        let s = split(text).unwrap().unwrap();
        let err = parse(&s).unwrap_err();
        assert_eq!(err.line, Some(6), "{err:?}");
        assert!(err.message.contains("TAB"), "{}", err.message);
        assert!(
            err.message.contains("at line 6 column 1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn toml_error_line_is_the_file_line() {
        let text = "+++\ntitle = \"x\"\ndate = \n+++\n";
        let s = split(text).unwrap().unwrap();
        assert_eq!(parse(&s).unwrap_err().line, Some(3));
    }

    #[test]
    fn deep_or_huge_front_matter_is_refused_before_parsing() {
        let deep = format!("---\ntitle: a\nx: {}\n---\n", "[".repeat(100_000));
        let err = parse(&split(&deep).unwrap().unwrap()).unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("64 deep"), "{}", err.message);
        let braces = format!("+++\nx = {}\n+++\n", "{a = ".repeat(1_000));
        assert!(parse(&split(&braces).unwrap().unwrap()).is_err());
        let fine = format!("---\nx: {}1{}\n---\n", "[".repeat(64), "]".repeat(64));
        assert!(parse(&split(&fine).unwrap().unwrap()).is_ok());
        let huge = format!("---\ndescription: {}\n---\n", "x".repeat(MAX_BYTES));
        let err = parse(&split(&huge).unwrap().unwrap()).unwrap_err();
        assert!(err.message.contains("256 KiB limit"), "{}", err.message);
    }

    #[test]
    fn finds_the_line_of_a_key() {
        let s = split("---\ntitle: a\ndate: 2021-02-30\n---\n")
            .unwrap()
            .unwrap();
        assert_eq!(line_of_key(&s, "date"), Some(3));
        assert_eq!(line_of_key(&s, "dat"), None);
    }
}
