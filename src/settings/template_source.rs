//! Templates an operator may override: the file beside the settings when it exists, the
//! compiled-in default otherwise, checked to compile while the settings are read.

use std::path::Path;

/// A template's source: `templates/<file>` beside the settings file when it exists, else
/// the compiled-in `default`; checked to compile, so a broken template is a settings error.
pub fn template_source(base: &Path, file: &str, default: Option<&str>) -> Result<String, String> {
    let path = base.join("templates").join(file);
    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(_) => default
            .map(str::to_owned)
            .ok_or_else(|| format!("`{}` does not exist", path.display()))?,
    };
    minijinja::Environment::new()
        .template_from_str(&source)
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok(source)
}
