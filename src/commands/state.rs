//! `tidings state copy --to URL`: the state the settings name, copied whole into an empty
//! PostgreSQL database (or SQLite file), so a site moves to several nodes without
//! announcing anything again.

use super::common::{Context, Status, load};
use crate::store::copy::{CopyError, copy};
use crate::store::{Location, Store};

/// `tidings state copy --to URL`.
pub fn state_copy(ctx: &Context, to: &str) -> Status {
    let Some(settings) = load(ctx) else {
        return Status::Failed;
    };
    let target = match target(to) {
        Ok(target) => target,
        Err(e) => {
            crate::errln!("error: --to: {e}");
            return Status::Failed;
        }
    };
    if target == settings.state.location {
        crate::errln!("error: --to names the state the settings already use");
        return Status::Failed;
    }
    if settings.state_missing() {
        crate::errln!(
            "error: there is no state to copy yet (`{}` does not exist)",
            settings.state.location.shown()
        );
        return Status::Failed;
    }
    let result = (|| -> Result<_, CopyError> {
        let mut from = Store::open_for(&settings.state)?;
        // No daemon may send from the source while it is copied (a message sent after
        // the copy would be sent again from the copy).
        let _lock = from.lock()?;
        let mut into = Store::connect(&target, &settings.state.node)?;
        copy(&mut from, &mut into)
    })();
    match result {
        Ok(copied) => {
            if !ctx.quiet {
                let rows: Vec<String> = copied
                    .tables
                    .iter()
                    .map(|(table, n)| format!("{n} {table}"))
                    .collect();
                crate::outln!(
                    "copied {} into {}; set `state.url` to it and start the nodes",
                    rows.join(", "),
                    target.shown()
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

/// `--to`: a PostgreSQL URL (`${VAR}` read from the environment) or a file path.
fn target(to: &str) -> Result<Location, String> {
    let to = crate::settings::env::interpolate(to)?;
    if to.starts_with("postgres://") || to.starts_with("postgresql://") {
        crate::store::db::pg_config(&to).map_err(|e| e.0)?;
        Ok(Location::Postgres(to))
    } else {
        Ok(Location::File(to.into()))
    }
}
