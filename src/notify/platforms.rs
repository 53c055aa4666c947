//! The chat platforms tidings speaks: this is the only list of them. Adding a platform is
//! a module of its own (its settings, payload, answers and limits, implementing
//! [`Platform`]) and a line here.

use super::platform::Platform;
use super::{dingtalk, discord, feishu, matrix, slack, teams, telegram, wecom};
use crate::settings::{ChatSetup, Settings, SettingsError};

/// Every platform, by its `type`.
pub static ALL: [&dyn Platform; 8] = [
    &slack::Slack,
    &discord::Discord,
    &teams::Teams,
    &telegram::Telegram,
    &dingtalk::DingTalk,
    &feishu::Feishu,
    &wecom::WeCom,
    &matrix::Matrix,
];

/// The platform a chat notifier's `type` names.
pub fn named(kind: &str) -> Option<&'static dyn Platform> {
    ALL.iter().copied().find(|p| p.name() == kind)
}

/// Every platform as the settings load it.
pub fn setups() -> Vec<&'static dyn ChatSetup> {
    ALL.iter().map(|p| *p as &dyn ChatSetup).collect()
}

/// Reads and validates a settings file, every chat platform known.
pub fn load_settings(path: &std::path::Path) -> Result<Settings, SettingsError> {
    Settings::from_file_with(path, &setups())
}
