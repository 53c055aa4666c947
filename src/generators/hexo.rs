//! placeholder
use super::{FieldError, Generator, Setup, Source, Verdict};
use crate::settings::Settings;
use serde_json::{Map, Value};
#[derive(Debug)]
pub struct Hexo;
impl Hexo {
    pub fn load(_setup: &Setup) -> Result<Hexo, String> {
        Ok(Hexo)
    }
}
impl Generator for Hexo {
    fn name(&self) -> &'static str {
        "hexo"
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
