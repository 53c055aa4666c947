//! `[content]`: where the posts are, what is left out, how large a post may be and how a
//! list of categories reads.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::raw::RawContent;

/// `[content]`, validated.
#[derive(Debug, Clone)]
pub struct Content {
    /// Absolute or relative to the working directory (already resolved against the
    /// settings file's folder).
    pub dir: PathBuf,
    pub exclude: GlobSet,
    pub max_file_bytes: u64,
    /// Whether `categories: [A, B]` is one chain (Hexo) or two categories.
    pub flat_categories: bool,
}

/// The posts' folder, resolved against `base`; it must exist.
pub fn dir(raw: &RawContent, base: &Path) -> Result<PathBuf, (String, String)> {
    let dir = base.join(&raw.dir);
    if !dir.is_dir() {
        return Err((
            "content.dir".into(),
            format!(
                "`{}` is not a folder; point it at the folder that holds your posts (relative to the settings file)",
                dir.display()
            ),
        ));
    }
    Ok(dir)
}

/// Whether `categories: [A, B]` names two categories (`flat`) or one chain.
pub fn flat_categories(raw: &RawContent) -> Result<bool, (String, String)> {
    match raw.categories.as_str() {
        "chain" => Ok(false),
        "flat" => Ok(true),
        other => Err((
            "content.categories".into(),
            format!(
                "`{other}` is not `chain` (Hexo: `[A, B]` is B inside A) or `flat` (Hugo, Jekyll, Zola: two categories)"
            ),
        )),
    }
}

/// `[content]`, checked. Folders tidings or the generator write to (`inner`: the feeds, the
/// generator's output) may sit inside the content folder (a Jekyll site's root is both):
/// they are never read as posts.
pub fn content(
    raw: &RawContent,
    dir: PathBuf,
    flat_categories: bool,
    inner: &[Option<&PathBuf>],
) -> Result<Content, (String, String)> {
    let invalid = |key: &str, message: String| (format!("content.{key}"), message);
    build_globs(&raw.exclude).map_err(|m| invalid("exclude", m))?;
    if raw.max_file_mib == 0 {
        return Err(invalid("max_file_mib", "must be at least 1".into()));
    }
    let mut patterns = raw.exclude.clone();
    for folder in inner.iter().flatten() {
        if let Ok(rel) = normalized(folder).strip_prefix(normalized(&dir)) {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.is_empty() {
                patterns.push(format!("{rel}/**"));
                patterns.push(rel);
            }
        }
    }
    let exclude = build_globs(&patterns).map_err(|m| invalid("exclude", m))?;
    Ok(Content {
        dir,
        exclude,
        max_file_bytes: raw.max_file_mib.saturating_mul(1024 * 1024),
        flat_categories,
    })
}

/// A path with its `.` parts dropped, for comparing folders written differently.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| format!("bad glob `{pattern}`: {e}"))?;
        set.add(glob);
    }
    set.build().map_err(|e| e.to_string())
}
