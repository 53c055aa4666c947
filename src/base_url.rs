//! A site's base URL, as settings and generators read one: absolute, `http` or `https`,
//! and ending in `/`, so that a relative link joined to it stays below it.

use url::Url;

/// An absolute http(s) URL, normalised to end with `/` so that joins stay below it.
pub fn parse(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        format!("`{text}` is not an absolute URL ({e}); write it like `https://example.org/`")
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!("`{text}` must start with `https://` or `http://`"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{text}` must not have a `?query` or `#fragment`"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}
