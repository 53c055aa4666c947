//! What packagers and operators rely on: the systemd unit in `dist/` passes systemd's own
//! check, completions and the manual page come from the CLI definition, and `--version`
//! names the commit. (The container recipe, `dist/Dockerfile`, needs a registry to pull its
//! base images from, which the test machine has not: README "Install" says how to check it.)

mod common;

use std::path::Path;
use std::process::Command;

fn tidings(args: &[&str]) -> common::Run {
    common::Run(
        Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(args)
            .output()
            .unwrap(),
    )
}

#[test]
fn the_service_unit_passes_systemds_check() {
    let has_analyze = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_analyze {
        common::unavailable("systemd-analyze is not installed (Debian package systemd)");
        return;
    }
    let unit =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/tidings.service"))
            .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("DynamicUser=yes"));
    // The unit names the installed binary; checked here against the one just built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tidings.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/tidings", env!("CARGO_BIN_EXE_tidings")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_and_manual_come_from_the_cli() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tidings(&["completions", shell]).expect(0).stdout();
        for command in ["build", "run", "serve", "status", "preview"] {
            assert!(out.contains(command), "{shell}: {command} missing");
        }
    }
    let man = tidings(&["man"]).expect(0).stdout();
    assert!(
        man.starts_with(".ie") || man.contains(".TH tidings 1"),
        "{man}"
    );
    assert!(
        man.contains("serve") && man.contains("\\-\\-config"),
        "{man}"
    );
    let bad = tidings(&["completions", "tcsh"]).expect(2);
    assert!(bad.stderr().contains("tcsh"), "{}", bad.stderr());
}

#[test]
fn the_version_names_the_commit() {
    let out = tidings(&["--version"]).expect(0).stdout();
    let (version, commit) = out
        .trim()
        .strip_prefix("tidings ")
        .and_then(|v| v.split_once(" ("))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let commit = commit.trim_end_matches(')');
    assert!(
        commit == "source" || commit.len() >= 12,
        "a commit, or `source` outside a clone: {out}"
    );
}
