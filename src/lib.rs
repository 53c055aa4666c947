//! tidings: a feed and notification publisher for content sites.
//!
//! The data flows one way: `content` reads posts into the `model`, `feeds` publishes them.
//! `settings` is validated once at the start; `clock` is the only reader of the time.
//! The `scanner` records what is new in the `store`; the `compose`r turns it into outbox
//! messages; `deliver` drains the outbox in one lane per notifier through the integrations
//! in `notify`; the `daemon` runs them side by side. `serve` is the web front door beside
//! it, which changes nothing but through the store. `commands` holds one module per command.

pub mod base_url;
pub mod bounces;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod compose;
pub mod content;
pub mod daemon;
pub mod deliver;
pub mod feeds;
pub mod generators;
pub mod hex;
pub mod i18n;
pub mod model;
pub mod notify;
pub mod output;
pub mod overview;
pub mod progress;
pub mod readers;
pub mod scanner;
pub mod schedule;
pub mod serve;
pub mod settings;
pub mod settled;
pub mod store;
pub mod sync;
pub mod systemd;
pub mod templates;
pub mod tokens;
