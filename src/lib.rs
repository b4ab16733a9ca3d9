//! kr-payments: a Rust SDK for Korean payment gateways — PortOne V2, iamport (PortOne V1) and Toss —
//! built to get money back to customers correctly.
//!
//! * `portone_v2`, `iamport`, `toss`: one module per provider, each with the same shape: a `Client` and its
//!   builder, cancel builders with balance guards, typed errors, open status enums, webhooks, and `raw`, the
//!   client generated from the provider's normalized spec (`openapi/`), as an explicit escape hatch.
//! * [`policy`]: cancel deadlines and refund processing times per pay method, from the providers' guides.
//! * [`refund`]: one refund request and outcome for every provider.
//! * [`transport`]: timeouts, retries that never double-refund, tracing.
//! * [`sensitive`]: the one table of fields that never reach `Debug`, `Display` or a log.
//! * [`error`]: the error type every call returns.
//!
//! Features: `portone-v2`, `iamport`, `toss` (all on by default; each builds alone), `rustls` (default) or
//! `native-tls`, and `sandbox` (an embedded fake of all three APIs for tests and demos). PortOne V2's partner
//! settlement API (`/platform/...`) and B2B tax invoice API (`/b2b/...`) are generated only with
//! `portone-v2-platform` and `portone-v2-b2b`: they are two thirds of its operations and none of a refund, and
//! leaving them out halves the time PortOne V2 adds to a build (`BENCHMARKS.md`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Errors carry the provider's full answer (status, typed body, raw bytes) so nothing about a failed refund is lost;
// they are rare next to the network round trip, and boxing them would make matching on them clumsier.
#![allow(clippy::result_large_err)]

pub mod account;
pub mod error;
#[cfg(any(feature = "portone-v2", feature = "iamport", feature = "toss"))]
mod ids;
#[cfg(any(feature = "portone-v2", feature = "iamport", feature = "toss"))]
mod lossless;
#[cfg(any(feature = "portone-v2", feature = "iamport", feature = "toss"))]
mod open_enum;
pub mod payment_view;
pub mod policy;
mod provider;
#[cfg(any(feature = "portone-v2", feature = "iamport", feature = "toss"))]
mod raw_call;
pub mod raw_json;
pub mod refund;
pub mod sensitive;
pub mod transport;

#[cfg(feature = "iamport")]
pub mod iamport;
#[cfg(feature = "portone-v2")]
pub mod portone_v2;
#[cfg(feature = "sandbox")]
pub mod sandbox;
#[cfg(feature = "toss")]
pub mod toss;

pub use error::{ApiError, ApiErrorBody, Delivery, Error, InvalidRequest};
/// The `http` crate the webhook verifiers take headers from (`http::HeaderMap`), re-exported so a merchant's code
/// names the same version without adding it by hand.
pub use http;
pub use payment_view::PaymentView;
pub use provider::Provider;
pub use raw_json::RawJson;

/// The README's code blocks, compiled and run as doctests so that what it shows stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
