//! Counts what a resolve costs: requests sent per API operation (retries included, so the
//! count matches what the server sees) and operations started.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Per operation: (operations started, requests sent); and the endpoints requested.
#[derive(Debug, Default, Clone)]
pub(crate) struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, (u32, u32)>>>,
    endpoints: Arc<Mutex<BTreeSet<String>>>,
}

impl CallCounter {
    fn bump(&self, cfg: &ConfigBag, operations: u32, requests: u32) {
        let name = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        if let Ok(mut counts) = self.counts.lock() {
            let entry = counts.entry(name).or_default();
            entry.0 += operations;
            entry.1 += requests;
        }
    }

    /// Every `scheme://authority` a request was sent to.
    pub(crate) fn endpoints(&self) -> Vec<String> {
        self.endpoints
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `(operation, operations, requests)` in name order.
    pub(crate) fn snapshot(&self) -> Vec<(String, u32, u32)> {
        self.counts
            .lock()
            .map(|counts| {
                counts
                    .iter()
                    .map(|(k, (o, r))| (k.clone(), *o, *r))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "fetch-env call counter"
    }

    // Not `read_before_execution`: the operation's name is recorded only after that hook.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, 1, 0);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, 0, 1);
        if let Ok(uri) = context.request().uri().parse::<http::Uri>()
            && let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority())
            && let Ok(mut endpoints) = self.endpoints.lock()
        {
            endpoints.insert(format!("{scheme}://{}", authority.as_str()));
        }
        Ok(())
    }
}
