//! The people an email notifier writes to, as the operator's list says *now*.
//!
//! A subscriber CSV is the operator's to edit at any time: a reader removed from it must
//! get no further mail, a reader added must get the next digest, without a restart. So the
//! list is not copied into the settings once; [`SubscriberList`] re-reads the file whenever
//! its identity (size, modification time, inode) changed, at every composition and before
//! every send. A file that has become unreadable keeps the last good reading (said once in
//! the log), as a mail server keeps its last good configuration.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lettre::message::Mailbox;

/// One person an email notifier writes to.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub mailbox: Mailbox,
    /// The subscriber's own filters, which narrow the notifier's.
    pub categories: Vec<Vec<String>>,
    pub tags: Vec<String>,
}

impl Recipient {
    pub fn address(&self) -> String {
        self.mailbox.email.to_string()
    }

    /// Whether this person wants a post the notifier already wants.
    pub fn wants(&self, categories: &[String], tags: &[String]) -> bool {
        if self.categories.is_empty() && self.tags.is_empty() {
            return true;
        }
        let in_category = self.categories.iter().any(|wanted| {
            categories.iter().any(|path| {
                path.split('/')
                    .collect::<Vec<_>>()
                    .starts_with(&wanted.iter().map(String::as_str).collect::<Vec<_>>())
            })
        });
        in_category || self.tags.iter().any(|t| tags.contains(t))
    }
}

/// The longest display name a subscriber may have (a mail header holds it).
const MAX_NAME_CHARS: usize = 200;

/// The largest subscriber file read: far beyond a million readers' rows.
pub const MAX_LIST_BYTES: u64 = 512 << 20;

/// Why a display name cannot go in a `To` header, if it cannot: a line break or other
/// control character would end the header (lettre refuses it at send time), and a huge
/// name is no name.
pub fn unusable_name(name: Option<&str>) -> Option<String> {
    let name = name?;
    if name.chars().any(char::is_control) {
        return Some("the name holds a line break or another control character".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "the name is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    None
}

/// One reading of a subscriber file.
#[derive(Debug, Default)]
pub struct Listing {
    pub recipients: Vec<Recipient>,
    /// Rows skipped, each `file:line: what is wrong`.
    pub skipped: Vec<String>,
    /// Every address, in lower case.
    pub addresses: HashSet<String>,
}

/// Reads `email,name,categories,tags` rows (`;` between several categories or tags). A row
/// whose address or name is unusable is skipped and reported as `file:line: what is wrong`,
/// so one bad row never keeps mail from everyone else; a file that cannot be read at all is
/// an error.
///
/// Rows end at a line feed (a CR before it is dropped). A carriage return anywhere else is
/// a broken row: read as a row end, as CSV readers do by default, it would turn the rest of
/// its line into a row of its own, an address nobody listed.
pub fn read_subscribers(path: &Path) -> Result<Listing, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?
        .len();
    if size > MAX_LIST_BYTES {
        return Err(format!(
            "`{shown}` is {size} bytes; a subscriber list may hold at most {MAX_LIST_BYTES}"
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_path(path)
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("`{shown}`: {e}"))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let email_col = column("email").ok_or_else(|| {
        format!("`{shown}` has no `email` column (columns: email,name,categories,tags)")
    })?;
    let (name_col, cat_col, tag_col) = (column("name"), column("categories"), column("tags"));
    let mut listing = Listing::default();
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                listing.skipped.push(format!("{shown}:{line}: {e}"));
                continue;
            }
        };
        let line = row.position().map_or(0, csv::Position::line);
        let last = row.len().saturating_sub(1);
        let fields: Vec<&str> = row
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if i == last {
                    f.strip_suffix('\r').unwrap_or(f)
                } else {
                    f
                }
            })
            .collect();
        if fields.iter().any(|f| f.contains('\r')) {
            listing.skipped.push(format!(
                "{shown}:{line}: the row holds a carriage return that ends no line; row skipped"
            ));
            continue;
        }
        let field = |col: Option<usize>| col.and_then(|c| fields.get(c)).map_or("", |f| f.trim());
        let address = field(Some(email_col));
        if address.is_empty() {
            continue;
        }
        let name = field(name_col);
        let Ok(parsed) = address.parse::<lettre::Address>() else {
            listing.skipped.push(format!(
                "{shown}:{line}: `{address}` is not an email address; row skipped"
            ));
            continue;
        };
        if let Some(problem) = unusable_name(Some(name)) {
            listing
                .skipped
                .push(format!("{shown}:{line}: {address}: {problem}; row skipped"));
            continue;
        }
        // Built, not parsed: a name like `Bob, Jr.` needs no quoting in the CSV.
        let mailbox = Mailbox::new(Some(name.to_owned()).filter(|n| !n.is_empty()), parsed);
        let list = |text: &str| -> Vec<String> {
            text.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        listing.addresses.insert(address.to_lowercase());
        listing.recipients.push(Recipient {
            mailbox,
            categories: list(field(cat_col))
                .iter()
                .map(|c| c.split('/').map(|s| s.trim().to_owned()).collect())
                .collect(),
            tags: list(field(tag_col)),
        });
    }
    Ok(listing)
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

fn identity(path: &Path) -> std::io::Result<Identity> {
    let meta = std::fs::metadata(path)?;
    Ok(Identity {
        len: meta.len(),
        modified: meta.modified().ok(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

/// A subscriber file, read again whenever it changed.
#[derive(Debug)]
pub struct SubscriberList {
    path: PathBuf,
    /// The identity of the file when it was last looked at, and its last good reading.
    current: Mutex<(Option<Identity>, Arc<Listing>)>,
}

impl SubscriberList {
    /// Reads the file once; an unreadable file is an error (a settings error at start).
    pub fn open(path: &Path) -> Result<SubscriberList, String> {
        let seen = identity(path).ok();
        let listing = read_subscribers(path)?;
        Ok(SubscriberList {
            path: path.to_owned(),
            current: Mutex::new((seen, Arc::new(listing))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The list as the file says now (read again if it changed since last asked); the last
    /// good reading when the file cannot be read.
    pub fn current(&self) -> Arc<Listing> {
        let mut current = crate::sync::lock(&self.current);
        let now = identity(&self.path).ok();
        if now.is_some() && now == current.0 {
            return current.1.clone();
        }
        if now.is_none() && current.0.is_none() {
            return current.1.clone(); // still gone: said once already
        }
        current.0 = now;
        match read_subscribers(&self.path) {
            Ok(listing) => {
                tracing::info!(
                    file = %self.path.display(),
                    readers = listing.recipients.len(),
                    "subscriber list read again"
                );
                for problem in &listing.skipped {
                    tracing::warn!("{problem}");
                }
                current.1 = Arc::new(listing);
            }
            Err(e) => tracing::error!(
                "{e}; the last good reading of the list ({} readers) stays in use until the file is fixed",
                current.1.recipients.len()
            ),
        }
        current.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(listing: &Listing) -> Vec<String> {
        listing.recipients.iter().map(Recipient::address).collect()
    }

    #[test]
    fn subscribers_csv_with_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscribers.csv");
        std::fs::write(&path, "email,name,categories,tags\nada@example.org,Ada Lovelace,新媒体/趣头条;Tech,\n\"bob@example.org\",\"Bob, Jr.\",,rust;feeds\n").unwrap();
        let listing = read_subscribers(&path).unwrap();
        assert!(listing.skipped.is_empty(), "{:?}", listing.skipped);
        let list = &listing.recipients;
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].categories,
            vec![
                vec!["新媒体".to_string(), "趣头条".to_string()],
                vec!["Tech".to_string()]
            ]
        );
        assert_eq!(list[1].tags, ["rust", "feeds"]);
        assert_eq!(list[1].mailbox.name.as_deref(), Some("Bob, Jr."));
        std::fs::write(
            &path,
            "email,name\nok@example.org,A\nnot-an-address,B\nr1@example.net,\"Line\nBreak\"\nlast@example.org,\"Tab\there\"\nfine@example.org,Fine\n",
        )
        .unwrap();
        let listing = read_subscribers(&path).unwrap();
        assert_eq!(addresses(&listing), ["ok@example.org", "fine@example.org"]);
        let skipped = &listing.skipped;
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        assert!(
            skipped[0].ends_with(
                "subscribers.csv:3: `not-an-address` is not an email address; row skipped"
            ),
            "{skipped:?}"
        );
        assert!(
            skipped[1].contains("subscribers.csv:4: r1@example.net: the name holds a line break"),
            "{skipped:?}"
        );
    }

    /// A lone CR is a broken row, never a row end: the address after it was never listed.
    /// CRLF files read as usual.
    #[test]
    fn a_lone_carriage_return_breaks_its_row_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(
            &path,
            "email,name,categories,tags\r\nada@example.org,Ada,,\r\ncr\rname@example.net,CR,,\r\nbob@example.org,Bob\r\nx@example.org\r,y\nend@example.org,End,,\n",
        )
        .unwrap();
        let listing = read_subscribers(&path).unwrap();
        assert_eq!(
            addresses(&listing),
            ["ada@example.org", "bob@example.org", "end@example.org"]
        );
        assert_eq!(listing.skipped.len(), 2, "{:?}", listing.skipped);
        assert!(
            listing.skipped[0].ends_with(
                "s.csv:3: the row holds a carriage return that ends no line; row skipped"
            )
        );
        assert!(listing.skipped[1].contains("s.csv:5:"));
        assert!(!listing.addresses.contains("name@example.net"));
        assert_eq!(listing.recipients[1].mailbox.name.as_deref(), Some("Bob"));
    }

    #[test]
    fn the_list_is_read_again_when_the_file_changes_and_kept_when_it_breaks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "email\na@example.org\nb@example.org\n").unwrap();
        let list = SubscriberList::open(&path).unwrap();
        assert_eq!(
            addresses(&list.current()),
            ["a@example.org", "b@example.org"]
        );
        // Replaced by a new file (a new inode, whatever the clock's resolution).
        let new = dir.path().join("new.csv");
        std::fs::write(&new, "email\nc@example.org\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(addresses(&list.current()), ["c@example.org"]);
        // Gone: the last good reading stays.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(addresses(&list.current()), ["c@example.org"]);
        std::fs::write(&new, "email\nd@example.org\n").unwrap();
        std::fs::rename(&new, &path).unwrap();
        assert_eq!(addresses(&list.current()), ["d@example.org"]);
    }

    #[test]
    fn subscriber_filters_narrow() {
        let r = Recipient {
            mailbox: "a@example.org".parse().unwrap(),
            categories: vec![vec!["A".into()]],
            tags: vec!["t".into()],
        };
        assert!(r.wants(&["A/B".into()], &[]));
        assert!(r.wants(&["Z".into()], &["t".into()]));
        assert!(!r.wants(&["AB".into()], &[]));
    }
}
