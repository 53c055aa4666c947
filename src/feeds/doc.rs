//! One feed as its format writers see it: the posts it lists, the bytes of items written
//! beforehand, and what every format names alike (its address, description, generator).

use std::borrow::Cow;

use super::entry::Entry;
use super::plan::FeedSpec;
use super::stylesheet;
use crate::settings::permalink::encode_segment;
use crate::settings::{Format, Settings};

/// Written into every feed.
pub const GENERATOR: &str = concat!("tidings ", env!("CARGO_PKG_VERSION"));

/// One feed with everything its writers need.
pub struct FeedDoc<'a> {
    pub spec: &'a FeedSpec,
    pub entries: Vec<&'a Entry<'a>>,
    /// Each entry's bytes in the format being written, when they were written beforehand
    /// (for a post that several feeds list).
    pub written: Vec<Option<&'a [u8]>>,
    pub settings: &'a Settings,
}

impl FeedDoc<'_> {
    /// The public URL of this feed in `format`.
    pub fn self_url(&self, format: Format) -> String {
        feed_url(self.settings, self.spec, format)
    }

    /// Every item's bytes in the format being written: written once before for a post that
    /// several feeds list, written now by `render` (the format's own) for a post that only
    /// this one does.
    pub fn items(&self, render: fn(&Entry) -> Vec<u8>) -> Vec<Cow<'_, [u8]>> {
        self.entries
            .iter()
            .zip(&self.written)
            .map(|(entry, written)| match written {
                Some(bytes) => Cow::Borrowed(*bytes),
                None => Cow::Owned(render(entry)),
            })
            .collect()
    }

    /// `bytes` with the instruction naming the feeds' stylesheet, when there is one and the
    /// format is XML.
    pub fn link_stylesheet(&self, bytes: Vec<u8>, format: Format) -> Vec<u8> {
        if self.settings.feeds.stylesheet && format != Format::Json {
            stylesheet::link(bytes, self.spec.dir.len())
        } else {
            bytes
        }
    }

    /// The feed's description: the site's, or its title when the site has none.
    pub fn description(&self) -> String {
        let site = &self.settings.site;
        if site.description.trim().is_empty() {
            self.spec.title.clone()
        } else {
            site.description.clone()
        }
    }
}

/// The public URL of a feed file: `feeds.url` + its folder, each segment percent-encoded.
pub fn feed_url(settings: &Settings, spec: &FeedSpec, format: Format) -> String {
    let mut url = settings.feeds.url.to_string();
    for segment in &spec.dir {
        url.push_str(&encode_segment(segment));
        url.push('/');
    }
    url.push_str(format.file_name());
    url
}
