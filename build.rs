//! Names the commit a binary was built from, for `tidings --version`: `git describe` when
//! the source is a clone, "source" when it is not (a tarball, a vendored copy).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .unwrap_or_else(|| "source".to_owned());
    println!("cargo:rustc-env=TIDINGS_COMMIT={commit}");
    // Built again when the checked-out commit moves.
    for path in [".git/HEAD", ".git/refs/heads", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
