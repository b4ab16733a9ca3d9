//! Toss (`api.tosspayments.com`), core API v1.

pub mod raw;

use crate::transport;
use std::fmt;

/// What the generated client carries for its hooks.
#[derive(Clone, Default)]
pub struct RawInner {}

impl fmt::Debug for RawInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawInner { .. }")
    }
}

impl progenitor_client::ClientHooks<RawInner> for raw::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        transport::strip_generated_headers(request.headers_mut());
        Ok(())
    }
}
