//! The one name of each provider, shared by refunds, the cancel policy and the sandbox.

use std::fmt;

/// A payment gateway this crate talks to.
///
/// Serializes (and prints) as `portone-v2`, `iamport` or `toss`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Provider {
    /// PortOne V2 (`api.portone.io`).
    #[serde(rename = "portone-v2")]
    PortOneV2,
    /// iamport, also called PortOne V1 (`api.iamport.kr`).
    #[serde(rename = "iamport")]
    Iamport,
    /// Toss (토스페이먼츠), its core API v1 at `api.tosspayments.com`.
    #[serde(rename = "toss")]
    Toss,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

    /// `portone-v2`, `iamport` or `toss`: the spelling of feature names, sandbox URL prefixes and serde.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::PortOneV2 => "portone-v2",
            Provider::Iamport => "iamport",
            Provider::Toss => "toss",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
