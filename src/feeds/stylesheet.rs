//! The stylesheet that turns a feed into a page when a person opens it in a browser.
//!
//! A visitor who clicks "RSS" should see what a feed is and how to subscribe, not raw XML.
//! RSS and Atom files name `feed.xsl` in an `<?xml-stylesheet?>` instruction (by a relative
//! path, so it loads from wherever the feeds are served); feed readers ignore it and the
//! feeds stay valid. The stylesheet is XSLT 1.0 (what browsers run), its words come from the
//! site's catalog, and the copy button's script is `feed.js` beside it, so the page works
//! under a policy that allows only the site's own scripts (`tidings serve`'s).

use crate::settings::Settings;

/// File names in the feeds folder.
pub const XSL: &str = "feed.xsl";
pub const SCRIPT: &str = "feed.js";

/// The look of a feed's page, shared by the stylesheet and the page `tidings serve` renders.
pub const STYLE: &str = include_str!("../../templates/feed.css");

/// The copy button's script (the front page's own).
pub const SCRIPT_SOURCE: &str = include_str!("../../templates/assets/copy.js");

/// The stylesheet in the site's language.
pub fn render(settings: &Settings) -> Result<String, String> {
    let mut env = crate::templates::environment();
    settings.words.register(&mut env);
    // The `.xml` name switches on escaping: catalog words may hold `&` or `<`.
    env.add_template("feed.css", STYLE)
        .and_then(|()| env.add_template("feed.xml", include_str!("../../templates/feed.xsl")))
        .and_then(|()| env.get_template("feed.xml"))
        .and_then(|template| {
            template.render(minijinja::context! {
                site => minijinja::context! { language => settings.site.language.as_deref() },
            })
        })
        .map_err(|e| format!("feed stylesheet: {e}"))
}

/// `bytes` (an RSS or Atom document) with the instruction that names the stylesheet, for a
/// feed `depth` folders below the feeds folder.
pub fn link(bytes: Vec<u8>, depth: usize) -> Vec<u8> {
    let instruction = format!(
        "<?xml-stylesheet type=\"text/xsl\" href=\"{}{XSL}\"?>\n",
        "../".repeat(depth)
    );
    // After the XML declaration, which must come first.
    let at = if bytes.starts_with(b"<?xml ") {
        bytes
            .windows(2)
            .position(|w| w == b"?>")
            .map_or(0, |end| end + 2)
    } else {
        0
    };
    let mut out = Vec::with_capacity(bytes.len() + instruction.len() + 1);
    out.extend_from_slice(&bytes[..at]);
    if at > 0 {
        out.push(b'\n');
    }
    out.extend_from_slice(instruction.as_bytes());
    let rest = &bytes[at..];
    out.extend_from_slice(rest.strip_prefix(b"\n").unwrap_or(rest));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instruction_follows_the_declaration() {
        let linked = link(b"<?xml version=\"1.0\"?>\n<rss/>".to_vec(), 2);
        assert_eq!(
            String::from_utf8(linked).unwrap(),
            "<?xml version=\"1.0\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"../../feed.xsl\"?>\n<rss/>"
        );
        let bare = link(b"<feed/>".to_vec(), 0);
        assert_eq!(
            String::from_utf8(bare).unwrap(),
            "<?xml-stylesheet type=\"text/xsl\" href=\"feed.xsl\"?>\n<feed/>"
        );
    }
}
