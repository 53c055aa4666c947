//! Reading a generator's own configuration files (TOML, YAML or JSON by extension) and
//! fingerprinting what was read.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Reads a configuration file as JSON values: TOML, YAML or JSON by its extension.
/// `Ok(None)` when there is no such file.
pub fn read_config(path: &Path) -> Result<Option<Value>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
    };
    parse_config(path, &text).map(Some)
}

/// Parses configuration text by the file's extension.
pub fn parse_config(path: &Path, text: &str) -> Result<Value, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let value = match ext {
        "toml" => toml::from_str::<Value>(text).map_err(|e| e.to_string()),
        "yaml" | "yml" => serde_norway::from_str::<Value>(text).map_err(|e| e.to_string()),
        "json" => serde_json::from_str::<Value>(text).map_err(|e| e.to_string()),
        _ => Err("not a TOML, YAML or JSON file".into()),
    };
    let value = value.map_err(|e| format!("`{}` cannot be read: {e}", path.display()))?;
    // An empty YAML file is null: no settings, not an error.
    Ok(if value.is_null() {
        Value::Object(Map::new())
    } else {
        value
    })
}

/// A hash of configuration files' text (what a generator read), for [`Generator::fingerprint`].
pub fn hash_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for text in texts {
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.digest()
}

/// The first of `names` in `dir` that exists.
pub fn first_existing(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| dir.join(n)).find(|p| p.is_file())
}
