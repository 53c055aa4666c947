//! Each item is written once per format, however many feeds list it.
//!
//! A post is listed by the site feed, its categories' feeds and its tags' feeds: 6,820 items
//! in the 341 feeds of a 10,000-post site are 4,800 posts, and writing an item (escaping its
//! HTML for Atom and JSON) was most of a feed's cost. The `rss`, `atom_syndication` and
//! `serde_json` writers only write whole documents, so an item's bytes are cut from a document
//! that holds it alone, and a feed is its document written without items, with the items'
//! bytes put back where the writer puts them. The writers indent by depth and an item sits at
//! the same depth in both documents, so a feed comes out byte for byte as the writer would
//! write it whole (the format modules' tests check that against the writers).

use std::borrow::Cow;

/// `doc` cut down to what lies from its first `open` to the end of its last `close`. Used on
/// a writer's one-item document, where the first `open` and the last `close` are the item's
/// own (an item's text is escaped, and its CDATA can only follow its opening tag).
pub fn cut(doc: &[u8], open: &[u8], close: &[u8]) -> Vec<u8> {
    let start = find(doc, open).unwrap_or(doc.len());
    let end = rfind(doc, close)
        .map_or(start, |at| at + close.len())
        .max(start);
    // A copy of the exact size: items kept for several feeds must not hold the writer's
    // spare capacity (that doubled a build's peak memory).
    doc[start..end].to_vec()
}

/// How items are put back into a document written without them.
pub struct Place<'a> {
    /// The items go just before the last occurrence of this in the document.
    pub before: &'a [u8],
    /// Written before the first item, between two items and after the last one, when there
    /// is any item.
    pub lead: &'a [u8],
    pub separator: &'a [u8],
    pub trail: &'a [u8],
}

/// `skeleton` (a document written without items) with `items` put back at `place`, in one
/// allocation of the final size.
pub fn splice(skeleton: &[u8], place: &Place, items: &[Cow<[u8]>]) -> Vec<u8> {
    if items.is_empty() {
        return skeleton.to_vec();
    }
    let at = rfind(skeleton, place.before).unwrap_or(skeleton.len());
    let size = skeleton.len()
        + place.lead.len()
        + place.trail.len()
        + items
            .iter()
            .map(|item| item.len() + place.separator.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&skeleton[..at]);
    out.extend_from_slice(place.lead);
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(place.separator);
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(place.trail);
    out.extend_from_slice(&skeleton[at..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_the_first_opening_to_the_last_closing() {
        let doc = b"<r><x></x><i>a</i><i>b</i></r>";
        assert_eq!(cut(doc, b"<i>", b"</i>"), b"<i>a</i><i>b</i>");
        assert_eq!(cut(b"<r></r>", b"<i>", b"</i>"), b"");
    }

    #[test]
    fn splice_puts_items_before_the_last_marker() {
        let place = Place {
            before: b"]}",
            lead: b"\n",
            separator: b",",
            trail: b"\n",
        };
        let items = [Cow::Borrowed(&b"1"[..]), Cow::Borrowed(&b"2"[..])];
        assert_eq!(splice(b"{[]}", &place, &items), b"{[\n1,2\n]}");
        assert_eq!(splice(b"{[]}", &place, &[]), b"{[]}");
    }
}
