//! A Maildir the mail server delivers the return path's mail to (Postfix, Exim, Dovecot's
//! LDA all can): each pass reads what arrived in `new/` and then moves it to `cur/` marked
//! seen (`:2,S`), as a mail reader does. Nothing is deleted: the mailbox is the operator's.

use std::path::{Path, PathBuf};

/// Messages read in one pass; the rest wait for the next.
pub const MAX_PER_PASS: usize = 1000;

/// One message waiting in `new/`.
pub struct Waiting {
    pub path: PathBuf,
    pub name: String,
}

/// The messages in `new/`, oldest name first (Maildir names start with the time of
/// delivery), at most [`MAX_PER_PASS`]. A Maildir not there yet has none.
pub fn waiting(maildir: &Path) -> std::io::Result<Vec<Waiting>> {
    let new = maildir.join("new");
    let entries = match std::fs::read_dir(&new) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut waiting: Vec<Waiting> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            (!name.starts_with('.')).then(|| Waiting {
                path: e.path(),
                name,
            })
        })
        .collect();
    waiting.sort_by(|a, b| a.name.cmp(&b.name));
    waiting.truncate(MAX_PER_PASS);
    Ok(waiting)
}

/// Reads a message, unless it is larger than `limit` bytes (then `None`).
pub fn read(message: &Waiting, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let size = std::fs::metadata(&message.path)?.len();
    if size > limit as u64 {
        return Ok(None);
    }
    std::fs::read(&message.path).map(Some)
}

/// Moves a read message to `cur/`, marked seen.
pub fn mark_seen(maildir: &Path, message: &Waiting) -> std::io::Result<()> {
    let cur = maildir.join("cur");
    std::fs::create_dir_all(&cur)?;
    let name = match message.name.split_once(":2,") {
        Some((base, flags)) if flags.contains('S') => format!("{base}:2,{flags}"),
        Some((base, flags)) => format!("{base}:2,{flags}S"),
        None => format!("{}:2,S", message.name),
    };
    std::fs::rename(&message.path, cur.join(name))
}
