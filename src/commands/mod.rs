//! One module per command: each wires settings, content, clock, store and transports
//! together and decides the exit status.
//!
//! Exit status: 0 when everything was read (and, for `run --once`, everything due was
//! delivered or is scheduled for retry), 1 when some posts had problems or deliveries failed
//! for good (every good post is still published), 2 when nothing could be done (bad settings,
//! unreadable content folder, unwritable feeds folder, a state file in use).

mod build;
mod common;
mod init;
mod preview;
pub mod readers;
mod retry;
mod run;
mod send;
mod state;
mod status;
mod unsubscribe;

pub use build::{build, check};
pub use common::{Context, Status};
pub use init::init;
pub use preview::preview;
pub use retry::retry;
pub use run::{run, serve};
pub use send::send;
pub use state::state_copy;
pub use status::status;
pub use unsubscribe::{unsubscribe, unsubscribe_token};
