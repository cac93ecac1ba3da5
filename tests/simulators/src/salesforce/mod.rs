//! Not implemented yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use serde_json::Value;

use crate::context::Ctx;
use crate::control::Backend;

struct Empty;

impl Backend for Empty {
    fn kinds(&self) -> Vec<&'static str> {
        Vec::new()
    }
    fn contact_kind(&self) -> &'static str {
        ""
    }
    fn company_kind(&self) -> &'static str {
        ""
    }
    fn snapshot(&self, _kind: &str) -> Option<Vec<Value>> {
        None
    }
    fn record(&self, _kind: &str, _id: &str) -> Option<Value> {
        None
    }
    fn seed(&self, _kind: &str, _record: Value) -> Result<Value, String> {
        Err("not implemented".into())
    }
    fn counts(&self) -> BTreeMap<String, usize> {
        BTreeMap::new()
    }
}

pub fn build(_ctx: Arc<Ctx>) -> (Router, Arc<dyn Backend>) {
    (Router::new(), Arc::new(Empty))
}
