//! Telling receivers about new posts: one module per way of telling ([`webhook`], [`email`]
//! over [`smtp`], [`websub`], the chat platforms [`platforms`] lists), the message model
//! they share ([`item`]), and how a receiver's answer decides between done, try again later
//! and give up ([`outcome`]).
//!
//! Notifiers do not decide *when* (the runner and the scheduler do) and do not remember
//! anything (the store does). Each takes a message that is already in the outbox, sends it
//! once, and says how that went.

#[cfg(test)]
mod answers_fuzz;
pub mod chat;
pub mod dingtalk;
pub mod discord;
pub mod dkim;
pub mod email;
pub mod feishu;
pub mod http;
pub mod item;
pub mod matrix;
pub mod outcome;
pub mod platform;
pub mod platforms;
pub mod ratelimit;
pub mod slack;
pub mod smtp;
pub mod smtp_pool;
pub mod teams;
pub mod telegram;
pub mod webhook;
pub mod websub;
pub mod wecom;

pub use item::{PostItem, message_id};
pub use outcome::{
    MAX_WAIT, MIN_WAIT, ORDERED_CAP, Outcome, READER_CAP, after, backoff, classify,
    parse_retry_after, retry_wait, wait_json_millis, wait_json_secs, wait_millis, wait_secs,
};
