//! placeholder
use super::{FieldError, Generator, Setup, Source, Verdict};
use crate::settings::Settings;
use serde_json::{Map, Value};
#[derive(Debug)]
pub struct Jekyll;
impl Jekyll {
    pub fn load(_setup: &Setup) -> Result<Jekyll, String> {
        Ok(Jekyll)
    }
}
impl Generator for Jekyll {
    fn name(&self) -> &'static str {
        "jekyll"
    }
    fn interpret(
        &self,
        meta: Option<&Map<String, Value>>,
        src: &Source,
        settings: &Settings,
    ) -> Result<Verdict, FieldError> {
        super::generic::Generic.interpret(meta, src, settings)
    }
    fn fingerprint(&self) -> u64 {
        0
    }
}
