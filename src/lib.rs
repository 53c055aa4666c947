//! tidings: a feed and notification publisher for content sites.
//!
//! The data flows one way: `content` reads posts into the `model`, `feeds` publishes them.
//! `settings` is validated once at the start; `clock` is the only reader of the time.
//! `run` records what is new in the `store` and has `notify` deliver it; `serve` is the web
//! front door beside it, which changes nothing but through the store.

pub mod app;
pub mod cli;
pub mod clock;
pub mod content;
pub mod feeds;
pub mod model;
pub mod notify;
pub mod progress;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod settings;
pub mod store;
pub mod tokens;
