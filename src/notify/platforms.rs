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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::notify::chat;
    use crate::notify::item::PostItem;
    use crate::notify::platform::{Frame, Rendered, webhook_endpoint};
    use crate::settings::raw::RawNotifier;
    use crate::settings::{Endpoint, NotifierKind};

    /// A platform of the test's own. A real one is this (in a file of its own) plus its line
    /// in [`ALL`]: nothing else in tidings names a platform.
    struct Shout;

    impl ChatSetup for Shout {
        fn name(&self) -> &'static str {
            "shout"
        }
        fn keys(&self) -> &'static [&'static str] {
            &["url"]
        }
        fn endpoint(&self, raw: &RawNotifier) -> Result<Endpoint, (String, String)> {
            webhook_endpoint(raw, self.name())
        }
        fn default_template(&self) -> &'static str {
            "{{ post.title }} <{{ post.url }}>"
        }
    }

    impl Platform for Shout {
        fn escape(&self, text: &str) -> String {
            text.to_uppercase()
        }
        fn max_posts(&self) -> usize {
            2
        }
        fn fits(&self, _frame: &Frame, posts: &[Rendered]) -> bool {
            posts.iter().map(|p| p.text.len()).sum::<usize>() < 200
        }
        fn payload(&self, _frame: &Frame, posts: &[Rendered]) -> serde_json::Value {
            serde_json::json!({ "lines": posts.iter().map(|p| &p.text).collect::<Vec<_>>() })
        }
        fn rate(&self) -> (f64, f64) {
            (1.0, 1.0)
        }
    }

    fn item(n: usize) -> PostItem {
        PostItem {
            id: format!("urn:uuid:{n}"),
            post_id: format!("p{n}"),
            title: format!("post {n}"),
            url: format!("https://example.org/p{n}/"),
            summary: String::new(),
            categories: Vec::new(),
            tags: Vec::new(),
            image: None,
            published: "2026-01-01T00:00:00Z".into(),
            updated: "2026-01-01T00:00:00Z".into(),
            published_utc: String::new(),
            date: String::new(),
            author: None,
        }
    }

    #[test]
    fn a_new_platform_is_one_module_and_a_registry_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("posts")).unwrap();
        let text = "[site]\ntitle = \"T\"\nurl = \"https://example.org/\"\n[content]\ndir = \"posts\"\n\
                    [notifiers.room]\ntype = \"shout\"\nurl = \"https://chat.example/hook\"\n";
        let path = Path::new("settings.toml");
        let settings = Settings::parse_with(text, path, dir.path(), &[&Shout]).unwrap();
        let NotifierKind::Chat(room) = &settings.notifiers[0].kind else {
            panic!("a chat notifier: {:?}", settings.notifiers[0].kind);
        };
        assert_eq!((room.kind, room.host().as_str()), ("shout", "chat.example"));
        let posts: Vec<PostItem> = (1..=3).map(item).collect();
        let messages = chat::messages_with(&Shout, &settings, room, false, &posts, 10).unwrap();
        let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(
            bodies,
            [
                r#"{"lines":["POST 1 <https://example.org/p1/>","POST 2 <https://example.org/p2/>"]}"#,
                r#"{"lines":["POST 3 <https://example.org/p3/>"]}"#,
            ],
            "its escaping, limits and payload, through the shared renderer"
        );
        // Keys it does not read are refused, as for every platform.
        let extra = format!("{text}chat_id = \"1\"\n");
        let err = Settings::parse_with(&extra, path, dir.path(), &[&Shout]).unwrap_err();
        assert!(err.to_string().contains("chat_id"), "{err}");
        // The registry lists only the real platforms.
        let err = load_settings_text(text, dir.path()).unwrap_err();
        assert!(err.to_string().contains("shout"), "{err}");
    }

    fn load_settings_text(text: &str, base: &Path) -> Result<Settings, SettingsError> {
        Settings::parse_with(text, Path::new("settings.toml"), base, &setups())
    }
}
