//! `tidings readers list|export|import|remove|erase`: the email readers in the operator's
//! hands. `list` shows every reader of every email notifier (from its subscriber list or
//! `to`, and from sign-ups) with what the state knows of them; `export` and `import` carry
//! what the state keeps (sign-ups, unsubscribes) as CSV or JSON, so a list round-trips
//! (export, erase, import) with nothing lost or invented; `remove` takes a sign-up off;
//! `erase` deletes every trace of an address, as a reader may ask.

use std::collections::BTreeMap;
use std::path::Path;

use super::common::{Context, Status, load};
use crate::settings::{NotifierKind, Settings};
use crate::store::Store;
use crate::store::reader_records::ReaderRecord;

/// The columns of an export, in order.
const COLUMNS: [&str; 7] = [
    "notifier",
    "address",
    "state",
    "mailbox",
    "categories",
    "at",
    "reason",
];

/// A reader as `list` shows them.
#[derive(Debug, serde::Serialize)]
struct Listed {
    notifier: String,
    address: String,
    /// `listed` (subscriber list or `to`), `signed_up`, or both.
    sources: Vec<&'static str>,
    unsubscribed: bool,
    /// Why tidings took the address off (`bounced: …`, `complained: …`), if it did.
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
    categories: Vec<String>,
}

/// `tidings readers list [--notifier NAME] [--json]`.
pub fn list(ctx: &Context, notifier: Option<&str>, json: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let records = match Store::open_for(&settings.state).and_then(|s| s.reader_records()) {
        Ok(records) => records,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    let listed = listing(&settings, &records, notifier);
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&listed).expect("plain values serialize")
        );
        return Status::Clean;
    }
    for reader in &listed {
        let mut line = format!(
            "{}  {}  {}",
            reader.notifier,
            reader.address,
            reader.sources.join("+")
        );
        if !reader.reason.is_empty() {
            line.push_str(&format!("  {}", reader.reason));
        } else if reader.unsubscribed {
            line.push_str("  unsubscribed");
        }
        if !reader.categories.is_empty() {
            line.push_str(&format!("  [{}]", reader.categories.join(", ")));
        }
        crate::outln!("{line}");
    }
    crate::outln!("{} readers", listed.len());
    Status::Clean
}

/// Every reader of every email notifier (or of `only`), by notifier and address.
fn listing(settings: &Settings, records: &[ReaderRecord], only: Option<&str>) -> Vec<Listed> {
    let mut out: BTreeMap<(String, String), Listed> = BTreeMap::new();
    let entry = |out: &mut BTreeMap<(String, String), Listed>, notifier: &str, address: &str| {
        out.entry((notifier.to_owned(), address.to_owned()))
            .or_insert_with(|| Listed {
                notifier: notifier.to_owned(),
                address: address.to_owned(),
                sources: Vec::new(),
                unsubscribed: false,
                reason: String::new(),
                categories: Vec::new(),
            })
            .sources
            .len()
    };
    for notifier in &settings.notifiers {
        let NotifierKind::Email(target) = &notifier.kind else {
            continue;
        };
        if only.is_some_and(|o| o != notifier.name) {
            continue;
        }
        for reader in target.readers().iter() {
            let address = reader.address().to_lowercase();
            entry(&mut out, &notifier.name, &address);
            if let Some(l) = out.get_mut(&(notifier.name.clone(), address))
                && !l.sources.contains(&"listed")
            {
                l.sources.push("listed");
            }
        }
        for record in records.iter().filter(|r| r.notifier == notifier.name) {
            if record.state == "signed_up" {
                entry(&mut out, &notifier.name, &record.address);
                if let Some(l) = out.get_mut(&(notifier.name.clone(), record.address.clone())) {
                    l.sources.push("signed_up");
                    l.categories = record.categories.clone();
                }
            }
        }
    }
    for listed in out.values_mut() {
        let mut unsubscribes = records.iter().filter(|r| {
            r.state == "unsubscribed"
                && r.address == listed.address
                && (r.notifier == "*" || r.notifier == listed.notifier)
        });
        if let Some(first) = unsubscribes.next() {
            listed.unsubscribed = true;
            listed.reason = std::iter::once(first)
                .chain(unsubscribes)
                .map(|r| r.reason.clone())
                .find(|r| !r.is_empty())
                .unwrap_or_default();
        }
    }
    out.into_values().collect()
}

/// `tidings readers export [--format csv|json]`: what the state keeps, to stdout.
pub fn export(ctx: &Context, json: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let records = match Store::open_for(&settings.state).and_then(|s| s.reader_records()) {
        Ok(records) => records,
        Err(e) => {
            crate::errln!("error: {e}");
            return Status::Failed;
        }
    };
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&records).expect("plain values serialize")
        );
        return Status::Clean;
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    let written = writer.write_record(COLUMNS).and_then(|()| {
        records.iter().try_for_each(|r| {
            writer.write_record([
                r.notifier.as_str(),
                &r.address,
                &r.state,
                &r.mailbox,
                &r.categories.join("|"),
                &r.at,
                &r.reason,
            ])
        })
    });
    match written
        .map_err(|e| e.to_string())
        .and_then(|()| writer.into_inner().map_err(|e| e.to_string()))
    {
        Ok(bytes) => {
            crate::out!("{}", String::from_utf8_lossy(&bytes));
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

/// `tidings readers import FILE`: records from an export (CSV, or JSON when the file
/// starts with `[`), checked whole before one is stored.
pub fn import(ctx: &Context, file: &Path) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let records = match read_records(file) {
        Ok(records) => records,
        Err(e) => {
            crate::errln!("error: {}: {e}", file.display());
            return Status::Failed;
        }
    };
    let known: Vec<&str> = settings
        .notifiers
        .iter()
        .filter(|n| matches!(n.kind, NotifierKind::Email(_)))
        .map(|n| n.name.as_str())
        .collect();
    for (i, record) in records.iter().enumerate() {
        let problem = if record.address.parse::<lettre::Address>().is_err() {
            Some(format!("`{}` is not an email address", record.address))
        } else if record.notifier != "*" && !known.contains(&record.notifier.as_str()) {
            Some(format!(
                "`{}` is not an email notifier in the settings",
                record.notifier
            ))
        } else if !["signed_up", "unsubscribed"].contains(&record.state.as_str()) {
            Some(format!(
                "state `{}` is not `signed_up` or `unsubscribed`",
                record.state
            ))
        } else if record.state == "signed_up" && record.notifier == "*" {
            Some("a sign-up names its notifier".into())
        } else if chrono::DateTime::parse_from_rfc3339(&record.at).is_err() {
            Some(format!("`{}` is not an RFC 3339 time", record.at))
        } else {
            None
        };
        if let Some(problem) = problem {
            crate::errln!(
                "error: {}: record {}: {problem}; nothing imported",
                file.display(),
                i + 1
            );
            return Status::Failed;
        }
    }
    let stored = Store::open_for(&settings.state)
        .and_then(|mut store| store.import_reader_records(&records));
    match stored {
        Ok(()) => {
            crate::outln!("{} records imported", records.len());
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

fn read_records(file: &Path) -> Result<Vec<ReaderRecord>, String> {
    /// An export is small beside this; a bigger file is not one.
    const MAX: u64 = 512 * 1024 * 1024;
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if size > MAX {
        return Err(format!("{size} bytes is larger than an export can be"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).map_err(|e| e.to_string());
    }
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| e.to_string())?.clone();
    // An export from before bounces has no `reason` column.
    let names = headers.iter().collect::<Vec<_>>();
    if names != COLUMNS && names != COLUMNS[..6] {
        return Err(format!(
            "the header is not `{}` (what `tidings readers export` writes)",
            COLUMNS.join(",")
        ));
    }
    reader
        .records()
        .map(|row| {
            let row = row.map_err(|e| e.to_string())?;
            let field = |i: usize| row.get(i).unwrap_or("").to_owned();
            Ok(ReaderRecord {
                notifier: field(0),
                address: field(1),
                state: field(2),
                mailbox: field(3),
                categories: field(4)
                    .split('|')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
                at: field(5),
                reason: field(6),
            })
        })
        .collect()
}

/// `tidings readers remove ADDRESS [--notifier NAME]`.
pub fn remove(ctx: &Context, address: &str, notifier: Option<&str>) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    match Store::open_for(&settings.state).and_then(|s| s.remove_signup(address, notifier)) {
        Ok(0) => {
            crate::outln!("{address} has no sign-up to remove");
            Status::Clean
        }
        Ok(n) => {
            crate::outln!("{address}: {n} sign-up(s) removed (they may sign up again)");
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}

/// `tidings readers erase ADDRESS [--keep-suppression]`: every trace (its suppressions
/// kept under its hash when asked), and a warning for each subscriber list that still names
/// the address and would mail it again (the operator's file: tidings does not edit it).
pub fn erase(ctx: &Context, address: &str, keep_suppression: bool) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let lower = address.trim().to_lowercase();
    let erased = Store::open_for(&settings.state).and_then(|mut store| {
        let erased = store.erase_reader(&lower, keep_suppression)?;
        // The lists that would mail the address again: those naming it, but for a
        // notifier a kept suppression covers.
        let mut mailed_again = Vec::new();
        for notifier in &settings.notifiers {
            if let NotifierKind::Email(target) = &notifier.kind
                && target.readers().contains(&lower)
                && !store.is_unsubscribed(&notifier.name, &lower)?
            {
                mailed_again.push(notifier.name.clone());
            }
        }
        Ok((erased, mailed_again))
    });
    match erased {
        Ok((erased, mailed_again)) => {
            crate::outln!(
                "{lower} erased: {} sign-up(s), {} unsubscribe(s), {} message(s)",
                erased.signups,
                erased.unsubscribes,
                erased.messages
            );
            if erased.kept > 0 {
                crate::outln!(
                    "{} suppression(s) kept under the address's SHA-256: lists that name it do not mail it",
                    erased.kept
                );
            }
            for notifier in mailed_again {
                crate::errln!(
                    "warning: notifier `{notifier}`'s list still names {lower}: remove it there, \
                     or it is mailed again (or erase with --keep-suppression after it unsubscribes)"
                );
            }
            Status::Clean
        }
        Err(e) => {
            crate::errln!("error: {e}");
            Status::Failed
        }
    }
}
