//! placeholder
use super::{FieldError, Generator, Setup, Source, Verdict};
use crate::settings::Settings;
use serde_json::{Map, Value};
#[derive(Debug)]
pub struct Zola;
impl Zola {
    pub fn load(_setup: &Setup) -> Result<Zola, String> {
        Ok(Zola)
    }
}
impl Generator for Zola {
    fn name(&self) -> &'static str {
        "zola"
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
