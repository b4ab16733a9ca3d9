//! An in-process fake of the PortOne V2, iamport (PortOne V1) and Toss APIs that gets
//! cancellation right.
//!
//! The sandbox is a real HTTP server on `127.0.0.1`. It serves each provider twice over one state:
//! at the root of the provider's own origin, with the provider's real paths (for a client whose base
//! URL must be an origin, such as the official PortOne SDKs, which build every URL as
//! `new URL("/payments/...", baseUrl)`), and below a prefix of one shared port:
//!
//! | provider   | own origin                        | prefixed base URL            | example path                      |
//! |------------|-----------------------------------|------------------------------|-----------------------------------|
//! | PortOne V2 | [`Sandbox::origin`]`(PortOneV2)`   | [`Sandbox::base_url_portone_v2`] (`{base}/portone-v2`) | `POST /payments/{id}/cancel` |
//! | iamport    | [`Sandbox::origin`]`(Iamport)`     | [`Sandbox::base_url_iamport`] (`{base}/iamport`)       | `POST /payments/cancel`      |
//! | Toss       | [`Sandbox::origin`]`(Toss)`        | [`Sandbox::base_url_toss`] (`{base}/toss`)             | `POST /v1/payments/{key}/cancel` |
//!
//! Ports are ephemeral unless chosen ([`SandboxBuilder::port`], [`SandboxBuilder::origin_port`]).
//! [`operations`] lists every operation of the three specs and whether the sandbox serves it; one it
//! does not serve answers 501 `SANDBOX_NOT_SUPPORTED`, and every error (404, 405, 413, 414, a path
//! that does not decode, a malformed body) comes in the provider's own error format.
//!
//! Payments are seeded from Rust with [`SeedPayment`]; cancels then evolve balances, statuses,
//! cancel histories and receipts the way each API documents, and every refusal is answered in the
//! provider's wire format (HTTP status, error `type` / `code`, envelope). The rules:
//!
//! - a balance guard that does not match the balance is refused (PortOne V2
//!   `currentCancellableAmount`, iamport `checksum`, Toss `refundableAmount`);
//! - an amount above the balance is refused, and so is any cancel once the balance is zero;
//! - a deposited virtual account needs a refund account; a Smartro one also the holder's phone
//!   (PortOne V2 and iamport);
//! - a virtual account nobody paid into cannot be partially cancelled (Toss closes it on a full
//!   cancel; PortOne V2 and iamport refuse the cancel, since they close accounts elsewhere);
//! - a mobile-phone payment can be cancelled only in the KST calendar month it was paid, judged by
//!   the sandbox clock ([`Sandbox::set_now`], [`Sandbox::advance`]);
//! - iamport tokens last 30 minutes, are reused while valid and extended by 5 minutes when asked for
//!   in their last minute; iamport failures are HTTP 200 with `code != 0`;
//! - an `Idempotency-Key` (PortOne V2, Toss) replays a finished request's answer and applies nothing,
//!   and a repeat while the first is still processing gets 409 (see the idempotency layer's rules on
//!   [`SandboxBuilder`] and in `Fault::Processing`); keys are scoped to credential, method and path;
//! - Toss processes only the first of several cancels of one payment within a second, when
//!   [`SandboxBuilder::toss_cancel_interval`] turns the rule on.
//!
//! PortOne V2 cancels deliver Standard-Webhooks-signed `Transaction.*` events to the URLs given to
//! [`Sandbox::register_webhook`]. [`Sandbox::faults`] injects delays, error statuses, dropped
//! connections and truncated bodies so a client's retry paths can be tested.
//!
//! # Credentials
//!
//! | provider   | default                                                          |
//! |------------|------------------------------------------------------------------|
//! | PortOne V2 | `Authorization: PortOne sandbox-secret`                          |
//! | iamport    | `imp_key` `sandbox-imp-key`, `imp_secret` `sandbox-imp-secret`   |
//! | Toss       | secret key `test_sk_sandbox`, sent as `Basic base64("test_sk_sandbox:")` |
//!
//! Each can be changed on [`SandboxBuilder`].
//!
//! # Seed files
//!
//! [`parse_seed_file`] (and the `kr-payments-sandbox` binary's `--seed FILE`) read JSON: either an
//! array of payments or an object `{"payments": [...]}`. Each payment:
//!
//! ```json
//! {
//!   "provider": "toss",            // "portone-v2" | "iamport" | "toss"; default "portone-v2"
//!   "method": "card",              // "card" | "virtual-account" | "mobile-phone"; default "card"
//!   "orderId": "order-1",          // required: merchant_uid / orderId (PortOne V2: the paymentId)
//!   "amount": 10000,               // required, integer won
//!   "taxFree": 0,                  // optional
//!   "vat": 909,                    // optional; default one eleventh of the taxable part
//!   "id": "my-payment-key",        // optional: the provider id (imp_uid / paymentKey / paymentId)
//!   "pg": "smartro",               // optional PG code in iamport spelling; default "tosspayments"
//!   "paidAt": "2025-01-31T10:00:00+09:00", // optional RFC 3339; default: the sandbox clock
//!   "orderName": "T-shirt",        // optional
//!   "customerName": "Hong Gildong", // optional, with "customerEmail" and "customerPhone"
//!   "deposited": false,            // optional, virtual accounts only; default true
//!   "asyncCancel": true            // optional, PortOne V2 only: cancels stay REQUESTED
//! }
//! ```
//! (The comments above are for the reader; the file itself is plain JSON.)
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), kr_payments::sandbox::SandboxError> {
//! use kr_payments::sandbox::{Provider, Sandbox, SeedPayment};
//! let sandbox = Sandbox::start().await?;
//! let key = sandbox.seed(SeedPayment::card("order-1", 10_000).provider(Provider::Toss));
//! // point a Toss client at sandbox.base_url_toss() and cancel `key`...
//! assert_eq!(sandbox.cancels_applied(&key), 0);
//! # Ok(()) }
//! ```

mod faults;
mod iamport;
mod idempotency;
mod ledger;
mod portone_v2;
mod surface;
mod toss;
mod webhooks;

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultRule, Faults};
pub use surface::{Operation, operations};
pub use webhooks::WebhookDelivery;

use ledger::{Ledger, MethodKind, PayState, PaymentRecord};

/// Default PortOne V2 API secret accepted by the sandbox.
pub const DEFAULT_PORTONE_SECRET: &str = "sandbox-secret";
/// Default PortOne V2 store id reported on payments and webhooks.
pub const DEFAULT_STORE_ID: &str = "store-sandbox";
/// Default iamport `imp_key`.
pub const DEFAULT_IMP_KEY: &str = "sandbox-imp-key";
/// Default iamport `imp_secret`.
pub const DEFAULT_IMP_SECRET: &str = "sandbox-imp-secret";
/// Default Toss secret key.
pub const DEFAULT_TOSS_SECRET_KEY: &str = "test_sk_sandbox";
/// Toss's window for consecutive cancels of one payment ([`SandboxBuilder::toss_cancel_interval`]).
pub const TOSS_CANCEL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The API a seeded payment belongs to (the crate's one [`crate::Provider`]). A payment is visible only through its
/// own provider's API.
pub use crate::Provider;

// The sandbox's own spellings of a provider: seed files and URL prefixes.
impl Provider {
    fn parse(s: &str) -> Option<Provider> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "portone-v2" | "portonev2" | "v2" => Some(Provider::PortOneV2),
            "iamport" | "portone-v1" | "v1" => Some(Provider::Iamport),
            "toss" | "tosspayments" => Some(Provider::Toss),
            _ => None,
        }
    }

    fn prefix(self) -> String {
        format!("/{}", self.as_str())
    }
}

/// Errors from starting the sandbox or reading a seed file.
#[non_exhaustive]
#[derive(Debug)]
pub enum SandboxError {
    /// The listening socket could not be bound.
    Bind(std::io::Error),
    /// A seed file was not valid; the text says where.
    SeedFile(String),
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Bind(e) => write!(f, "sandbox could not bind its socket: {e}"),
            SandboxError::SeedFile(msg) => write!(f, "invalid sandbox seed file: {msg}"),
        }
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SandboxError::Bind(e) => Some(e),
            SandboxError::SeedFile(_) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeedMethod {
    Card,
    VirtualAccount,
    MobilePhone,
}

/// A payment to put in the sandbox, built like `SeedPayment::card("order-1", 10_000).provider(..)`.
///
/// Unless told otherwise a seed belongs to PortOne V2, is paid at the sandbox clock's current time,
/// has no tax-free part, VAT of one eleventh of the taxable part, and the PG `tosspayments`.
#[derive(Debug, Clone)]
pub struct SeedPayment {
    provider: Provider,
    method: SeedMethod,
    order_id: String,
    amount: i64,
    tax_free: i64,
    vat: Option<i64>,
    id: Option<String>,
    pg: Option<String>,
    paid_at: Option<DateTime<Utc>>,
    order_name: Option<String>,
    customer: ledger::CustomerRecord,
    deposited: bool,
    async_cancel: bool,
}

impl SeedPayment {
    fn new(method: SeedMethod, order_id: impl Into<String>, amount: i64) -> Self {
        SeedPayment {
            provider: Provider::PortOneV2,
            method,
            order_id: order_id.into(),
            amount,
            tax_free: 0,
            vat: None,
            id: None,
            pg: None,
            paid_at: None,
            order_name: None,
            customer: ledger::CustomerRecord::default(),
            deposited: true,
            async_cancel: false,
        }
    }

    /// A paid card payment of `amount` won for the order `order_id`.
    pub fn card(order_id: impl Into<String>, amount: i64) -> Self {
        Self::new(SeedMethod::Card, order_id, amount)
    }

    /// A virtual-account payment; deposited (paid) unless [`SeedPayment::deposited`] says otherwise.
    pub fn virtual_account(order_id: impl Into<String>, amount: i64) -> Self {
        Self::new(SeedMethod::VirtualAccount, order_id, amount)
    }

    /// A paid mobile-phone (carrier billing) payment.
    pub fn mobile_phone(order_id: impl Into<String>, amount: i64) -> Self {
        Self::new(SeedMethod::MobilePhone, order_id, amount)
    }

    /// The API this seed is for.
    pub fn for_provider(&self) -> Provider {
        self.provider
    }

    /// The order id (merchant_uid / orderId) this seed was created with.
    pub fn order_id(&self) -> &str {
        &self.order_id
    }

    /// Which API serves the payment (default PortOne V2).
    pub fn provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// Tax-free part of the amount.
    pub fn tax_free(mut self, tax_free: i64) -> Self {
        self.tax_free = tax_free;
        self
    }

    /// VAT part of the amount (default: one eleventh of the taxable part, rounded).
    pub fn vat(mut self, vat: i64) -> Self {
        self.vat = Some(vat);
        self
    }

    /// When the payment was paid (default: the sandbox clock when seeded).
    pub fn paid_at(mut self, paid_at: DateTime<Utc>) -> Self {
        self.paid_at = Some(paid_at);
        self
    }

    /// PG code in iamport's spelling: `tosspayments`, `smartro`, `smartro_v2`, `kcp`, `html5_inicis`…
    /// PortOne V2 shows it upper-cased as the channel's `pgProvider`.
    pub fn pg(mut self, pg: impl Into<String>) -> Self {
        self.pg = Some(pg.into());
        self
    }

    /// Order name shown on the payment.
    pub fn order_name(mut self, name: impl Into<String>) -> Self {
        self.order_name = Some(name.into());
        self
    }

    /// The customer's name: PortOne V2 `customer.name`, iamport `buyer_name`, Toss `virtualAccount.customerName`
    /// (virtual accounts only; without a name Toss's shows `Sandbox Buyer`).
    pub fn customer_name(mut self, name: impl Into<String>) -> Self {
        self.customer.name = Some(name.into());
        self
    }

    /// The customer's email: PortOne V2 `customer.email`, iamport `buyer_email` (a Toss payment shows none).
    pub fn customer_email(mut self, email: impl Into<String>) -> Self {
        self.customer.email = Some(email.into());
        self
    }

    /// The customer's phone: PortOne V2 `customer.phoneNumber`, iamport `buyer_tel`, Toss
    /// `mobilePhone.customerMobilePhone` (mobile-phone payments only; without one Toss's shows `01000000000`).
    pub fn customer_phone(mut self, phone: impl Into<String>) -> Self {
        self.customer.phone = Some(phone.into());
        self
    }

    /// Provider id to use instead of a generated one (imp_uid, paymentKey; PortOne V2 uses the
    /// order id as the paymentId unless this is set).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// For virtual accounts: whether the customer has deposited (default true).
    pub fn deposited(mut self, deposited: bool) -> Self {
        self.deposited = deposited;
        self
    }

    /// PortOne V2 only: cancels of this payment stay `REQUESTED` (and send
    /// `Transaction.CancelPending`) until [`Sandbox::settle_pending_cancels`]. Other providers
    /// have no asynchronous cancels and ignore this flag.
    pub fn async_cancel(mut self, async_cancel: bool) -> Self {
        self.async_cancel = async_cancel;
        self
    }
}

/// One request the sandbox received, in arrival order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path below the provider prefix, e.g. `/payments/cancel`; the full path when no provider matched.
    pub path: String,
    /// Which API prefix the request went to.
    pub provider: Option<Provider>,
    /// Raw query string, if any.
    pub query: Option<String>,
}

/// One cancel the sandbox's ledger applied to a payment: what a test compares an SDK's report with.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedCancel {
    /// Amount cancelled, in won.
    pub amount: i64,
    /// Tax-free part of the amount.
    pub tax_free: i64,
    /// VAT part of the amount.
    pub vat: i64,
    /// The reason sent with the cancel.
    pub reason: String,
    /// When the cancel was received (sandbox clock).
    pub requested_at: DateTime<Utc>,
    /// When it completed; `None` while it is still pending (PortOne V2 asynchronous cancels).
    pub cancelled_at: Option<DateTime<Utc>>,
    /// PortOne V2 cancellation `id`; iamport `cancel_history[].cancellation_id`.
    pub cancellation_id: String,
    /// Toss `cancels[].transactionKey`.
    pub transaction_key: String,
    /// PortOne V2 `pgCancellationId`; iamport `cancel_history[].pg_tid`.
    pub pg_cancellation_id: String,
    /// What could still be cancelled right after this cancel (Toss `refundableAmount`).
    pub balance_after: i64,
}

/// A payment as the sandbox's ledger holds it, from [`Sandbox::payment`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerPayment {
    /// The API the payment belongs to.
    pub provider: Provider,
    /// paymentId (PortOne V2), imp_uid (iamport) or paymentKey (Toss).
    pub id: String,
    /// merchant_uid / orderId.
    pub order_id: String,
    /// Amount paid, in won.
    pub total: i64,
    /// What can still be cancelled (pending cancels already count against it).
    pub balance: i64,
    /// Every cancel applied, oldest first, pending ones included.
    pub cancels: Vec<AppliedCancel>,
}

fn applied_cancel(c: &ledger::CancelRecord) -> AppliedCancel {
    AppliedCancel {
        amount: c.amount,
        tax_free: c.tax_free,
        vat: c.vat,
        reason: c.reason.clone(),
        requested_at: c.requested_at,
        cancelled_at: c.cancelled_at,
        cancellation_id: c.id.clone(),
        transaction_key: c.transaction_key.clone(),
        pg_cancellation_id: c.pg_tid.clone(),
        balance_after: c.balance_after,
    }
}

/// Sandbox settings. Secrets never appear in `Debug`.
#[derive(Clone)]
pub(crate) struct Config {
    pub portone_secret: String,
    pub store_id: String,
    pub merchant_id: String,
    pub imp_key: String,
    pub imp_secret: String,
    pub toss_secret_key: String,
    /// Toss's one-cancel-per-second window; `None` turns the rule off.
    pub toss_cancel_interval: Option<chrono::TimeDelta>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("portone_secret", &"<redacted>")
            .field("store_id", &self.store_id)
            .field("merchant_id", &self.merchant_id)
            .field("imp_key", &self.imp_key)
            .field("imp_secret", &"<redacted>")
            .field("toss_secret_key", &"<redacted>")
            .field("toss_cancel_interval", &self.toss_cancel_interval)
            .finish()
    }
}

/// State shared by the server's handlers and the [`Sandbox`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    ledger: Mutex<Ledger>,
    clock: Mutex<Option<DateTime<Utc>>>,
    log: Mutex<Vec<RecordedRequest>>,
    pub token_requests: AtomicUsize,
    pub faults: Faults,
    pub idempotency: idempotency::IdempotencyStore,
    pub webhooks: webhooks::Hub,
}

/// Locks a mutex even if a panicking thread poisoned it: the sandbox's state stays usable for the
/// test that is reporting the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub fn now(&self) -> DateTime<Utc> {
        lock(&self.clock).unwrap_or_else(Utc::now)
    }

    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    pub fn record(&self, req: RecordedRequest) {
        lock(&self.log).push(req);
    }
}

/// Settings for a sandbox, from [`Sandbox::builder`].
pub struct SandboxBuilder {
    port: u16,
    origin_ports: [u16; 3],
    config: Config,
    now: Option<DateTime<Utc>>,
}

impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("port", &self.port)
            .field("origin_ports", &self.origin_ports)
            .field("config", &self.config)
            .field("now", &self.now)
            .finish()
    }
}

impl SandboxBuilder {
    /// Port to listen on (default 0: an ephemeral port chosen by the OS).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Port for `provider`'s own origin, where it is served at the root with its real paths (default
    /// 0: an ephemeral port). See [`Sandbox::origin`].
    pub fn origin_port(mut self, provider: Provider, port: u16) -> Self {
        if let Some(i) = PROVIDERS.iter().position(|p| *p == provider) {
            self.origin_ports[i] = port;
        }
        self
    }

    /// The PortOne V2 API secret to accept (default [`DEFAULT_PORTONE_SECRET`]).
    pub fn portone_secret(mut self, secret: impl Into<String>) -> Self {
        self.config.portone_secret = secret.into();
        self
    }

    /// The PortOne V2 store id (default [`DEFAULT_STORE_ID`]).
    pub fn store_id(mut self, store_id: impl Into<String>) -> Self {
        self.config.store_id = store_id.into();
        self
    }

    /// The iamport `imp_key` / `imp_secret` pair to accept.
    pub fn iamport_credentials(mut self, imp_key: impl Into<String>, imp_secret: impl Into<String>) -> Self {
        self.config.imp_key = imp_key.into();
        self.config.imp_secret = imp_secret.into();
        self
    }

    /// The Toss secret key to accept (default [`DEFAULT_TOSS_SECRET_KEY`]).
    pub fn toss_secret_key(mut self, key: impl Into<String>) -> Self {
        self.config.toss_secret_key = key.into();
        self
    }

    /// Turns on Toss's rule that of two or more cancels of one `paymentKey` within `window` (Toss: one
    /// second, [`TOSS_CANCEL_INTERVAL`]) only the first is processed; the others get 403
    /// `FORBIDDEN_CONSECUTIVE_REQUEST` and nothing is applied. The window is measured on the sandbox
    /// clock, so a test that freezes it moves past the window with [`Sandbox::advance`]; an
    /// idempotent replay is answered before the rule is consulted and does not count.
    ///
    /// Off (`None`) by default in the library, so tests that send cancels back to back keep their
    /// meaning; the `kr-payments-sandbox` binary turns it on, as the real API has it.
    pub fn toss_cancel_interval(mut self, window: Option<std::time::Duration>) -> Self {
        self.config.toss_cancel_interval =
            window.map(|w| chrono::TimeDelta::from_std(w).unwrap_or(chrono::TimeDelta::MAX));
        self
    }

    /// Starts with the sandbox clock frozen at `now` instead of following the system clock.
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// Binds `127.0.0.1:{port}` and starts serving on the current Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SandboxError::Bind`] when the port cannot be bound.
    pub async fn start(self) -> Result<Sandbox, SandboxError> {
        let bind = |port: u16| async move {
            tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(SandboxError::Bind)
        };
        let listener = bind(self.port).await?;
        let addr = listener.local_addr().map_err(SandboxError::Bind)?;
        let mut origins = Vec::new();
        for (provider, port) in PROVIDERS.into_iter().zip(self.origin_ports) {
            let l = bind(port).await?;
            let a = l.local_addr().map_err(SandboxError::Bind)?;
            origins.push((provider, l, a));
        }
        let (hub, worker) = webhooks::Hub::start();
        let shared = Arc::new(Shared {
            config: self.config,
            ledger: Mutex::new(Ledger::default()),
            clock: Mutex::new(self.now),
            log: Mutex::new(Vec::new()),
            token_requests: AtomicUsize::new(0),
            faults: Faults::default(),
            idempotency: idempotency::IdempotencyStore::default(),
            webhooks: hub,
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let serve = |app: Router, listener: tokio::net::TcpListener, provider: Option<Provider>| {
            let mut stop_rx = stop_rx.clone();
            tokio::spawn(async move {
                let make = app.into_make_service_with_connect_info::<faults::ConnControl>();
                let listener = faults::SandboxListener::new(listener, provider);
                let serve = axum::serve(listener, make).with_graceful_shutdown(async move {
                    let _ = stop_rx.changed().await;
                });
                // The only error axum::serve reports is from the listener, which retries by itself.
                let _ = serve.await;
            })
        };
        let mut servers = vec![serve(router(shared.clone()), listener, None)];
        let mut origin_addrs = Vec::new();
        for (provider, l, a) in origins {
            servers.push(serve(provider_router(shared.clone(), provider), l, Some(provider)));
            origin_addrs.push((provider, a));
        }
        Ok(Sandbox {
            addr,
            origins: origin_addrs,
            shared,
            stop: Some(stop_tx),
            servers,
            worker: Some(worker),
        })
    }
}

const PROVIDERS: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

/// The layers every listener has, around a provider's routes: the gate (log, faults, the apply in
/// its own task), the error-format guard, the idempotency store.
fn layered(routes: Router<Arc<Shared>>, shared: Arc<Shared>) -> Router {
    routes
        .fallback(surface::unknown_route)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), idempotency::layer))
        .layer(axum::middleware::from_fn(surface::format_guard))
        .layer(axum::middleware::from_fn_with_state(shared.clone(), faults::gate))
        .with_state(shared)
}

/// All three providers below their prefixes (`/portone-v2`, `/iamport`, `/toss`) on one port.
fn router(shared: Arc<Shared>) -> Router {
    let routes = Router::new()
        .nest(&Provider::PortOneV2.prefix(), portone_v2::router())
        .nest(&Provider::Iamport.prefix(), iamport::router())
        .nest(&Provider::Toss.prefix(), toss::router(shared.clone()));
    layered(routes, shared)
}

fn provider_routes(shared: &Arc<Shared>, provider: Provider) -> Router<Arc<Shared>> {
    match provider {
        Provider::PortOneV2 => portone_v2::router(),
        Provider::Iamport => iamport::router(),
        Provider::Toss => toss::router(shared.clone()),
    }
}

/// One provider at the root of its own origin, with its real paths.
fn provider_router(shared: Arc<Shared>, provider: Provider) -> Router {
    layered(provider_routes(&shared, provider), shared).layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            let path = req.uri().path().to_owned();
            req.extensions_mut().insert(faults::RouteInfo {
                provider: Some(provider),
                path,
            });
            next.run(req).await
        },
    ))
}

/// A running sandbox. Stops serving when dropped or on [`Sandbox::shutdown`].
pub struct Sandbox {
    addr: SocketAddr,
    origins: Vec<(Provider, SocketAddr)>,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    servers: Vec<JoinHandle<()>>,
    worker: Option<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Settings with every default: ephemeral port, default credentials, system clock.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            port: 0,
            origin_ports: [0; 3],
            config: Config {
                portone_secret: DEFAULT_PORTONE_SECRET.to_owned(),
                store_id: DEFAULT_STORE_ID.to_owned(),
                merchant_id: "merchant-sandbox".to_owned(),
                imp_key: DEFAULT_IMP_KEY.to_owned(),
                imp_secret: DEFAULT_IMP_SECRET.to_owned(),
                toss_secret_key: DEFAULT_TOSS_SECRET_KEY.to_owned(),
                toss_cancel_interval: None,
            },
            now: None,
        }
    }

    /// Starts a sandbox with every default on an ephemeral port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// [`SandboxError::Bind`] when no port can be bound.
    pub async fn start() -> Result<Sandbox, SandboxError> {
        Self::builder().start().await
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:{port}`: the root below which each provider has its prefix.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:{port}` of `provider`'s own origin: the provider's real paths at the root,
    /// for a client whose base URL must be an origin (the official PortOne SDKs build every URL as
    /// `new URL("/payments/...", baseUrl)`). The same state, faults and request log as the
    /// prefixed URLs.
    pub fn origin(&self, provider: Provider) -> String {
        let addr = self
            .origins
            .iter()
            .find(|(p, _)| *p == provider)
            .map_or(self.addr, |(_, a)| *a);
        format!("http://{addr}")
    }

    /// Base URL for a PortOne V2 client (`{base}/portone-v2`).
    pub fn base_url_portone_v2(&self) -> String {
        format!("{}{}", self.base_url(), Provider::PortOneV2.prefix())
    }

    /// Base URL for an iamport client (`{base}/iamport`).
    pub fn base_url_iamport(&self) -> String {
        format!("{}{}", self.base_url(), Provider::Iamport.prefix())
    }

    /// Base URL for a Toss client (`{base}/toss`).
    pub fn base_url_toss(&self) -> String {
        format!("{}{}", self.base_url(), Provider::Toss.prefix())
    }

    /// Adds a payment and returns its provider id: the paymentId (PortOne V2), imp_uid (iamport)
    /// or paymentKey (Toss). Seeding an id that exists replaces that payment.
    pub fn seed(&self, seed: SeedPayment) -> String {
        let now = self.shared.now();
        let mut ledger = self.shared.ledger();
        let id = match (&seed.id, seed.provider) {
            (Some(id), _) => id.clone(),
            (None, Provider::PortOneV2) => seed.order_id.clone(),
            (None, Provider::Iamport) => ledger.next_imp_uid(),
            (None, Provider::Toss) => format!("tsbx_{}", uuid::Uuid::new_v4().simple()),
        };
        let paid_at = seed.paid_at.unwrap_or(now);
        let method = match seed.method {
            SeedMethod::Card => MethodKind::Card,
            SeedMethod::VirtualAccount => MethodKind::VirtualAccount,
            SeedMethod::MobilePhone => MethodKind::MobilePhone,
        };
        let state = if method == MethodKind::VirtualAccount && !seed.deposited {
            PayState::AwaitingDeposit
        } else {
            PayState::Paid
        };
        let vat = seed
            .vat
            .unwrap_or_else(|| ledger::vat_of(seed.amount.saturating_sub(seed.tax_free)));
        let order_name = seed
            .order_name
            .clone()
            .unwrap_or_else(|| format!("Sandbox order {}", seed.order_id));
        let record = PaymentRecord {
            provider: seed.provider,
            id: id.clone(),
            order_id: seed.order_id,
            order_name,
            customer: seed.customer,
            method,
            pg: seed
                .pg
                .unwrap_or_else(|| "tosspayments".to_owned())
                .to_ascii_lowercase(),
            total: seed.amount,
            tax_free: seed.tax_free,
            vat,
            state,
            requested_at: paid_at,
            paid_at,
            status_changed_at: paid_at,
            transaction_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            pg_tx_id: format!("sandbox-tx-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            async_cancel: seed.async_cancel && seed.provider == Provider::PortOneV2,
            cancels: Vec::new(),
            seq: 0,
            closed_at: None,
            stopped_cancels: Vec::new(),
            billing_key: None,
        };
        ledger.insert(record);
        id
    }

    /// How many cancels were applied to the payment with this provider id (0 if unknown). A refused
    /// cancel or an idempotent replay does not count.
    pub fn cancels_applied(&self, id: &str) -> usize {
        self.shared.ledger().find_any(id).map_or(0, |p| p.cancels.len())
    }

    /// The cancels applied to the payment with this provider id, oldest first (empty if unknown).
    pub fn cancels(&self, id: &str) -> Vec<AppliedCancel> {
        self.shared
            .ledger()
            .find_any(id)
            .map(|p| p.cancels.iter().map(applied_cancel).collect())
            .unwrap_or_default()
    }

    /// The payment with this provider id as the ledger holds it: total, balance and every cancel.
    pub fn payment(&self, id: &str) -> Option<LedgerPayment> {
        self.shared.ledger().find_any(id).map(|p| LedgerPayment {
            provider: p.provider,
            id: p.id.clone(),
            order_id: p.order_id.clone(),
            total: p.total,
            balance: p.balance(),
            cancels: p.cancels.iter().map(applied_cancel).collect(),
        })
    }

    /// What can still be cancelled on the payment with this provider id.
    pub fn balance(&self, id: &str) -> Option<i64> {
        self.shared.ledger().find_any(id).map(PaymentRecord::balance)
    }

    /// Marks a seeded virtual account as deposited (paid now). Returns false if there is no such
    /// payment waiting for a deposit.
    pub fn deposit(&self, id: &str) -> bool {
        let now = self.shared.now();
        let mut ledger = self.shared.ledger();
        match ledger.find_any_mut(id) {
            Some(p) if p.state == PayState::AwaitingDeposit => {
                p.state = PayState::Paid;
                p.paid_at = now;
                p.status_changed_at = now;
                true
            }
            _ => false,
        }
    }

    /// Completes the `REQUESTED` cancels of an [`SeedPayment::async_cancel`] payment and delivers
    /// their `Transaction.PartialCancelled` / `Transaction.Cancelled` webhooks. Returns how many
    /// cancels were completed.
    pub fn settle_pending_cancels(&self, id: &str) -> usize {
        let now = self.shared.now();
        let settled = self.shared.ledger().settle_pending(id, now);
        let Some((payment, cancels)) = settled else {
            return 0;
        };
        for c in &cancels {
            webhooks::cancel_event(&self.shared, &payment, c);
        }
        cancels.len()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// How many times iamport's `POST /users/getToken` was called.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// The sandbox clock: the system clock until [`Sandbox::set_now`] or [`Sandbox::advance`]
    /// freezes it.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.now()
    }

    /// Freezes the sandbox clock at `now`. Token expiry, cancel times and the phone-payment month
    /// rule all read this clock.
    pub fn set_now(&self, now: DateTime<Utc>) {
        *lock(&self.shared.clock) = Some(now);
    }

    /// Moves the sandbox clock forward (freezing it first if it followed the system clock).
    pub fn advance(&self, by: std::time::Duration) {
        let delta = chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::MAX);
        let mut clock = lock(&self.shared.clock);
        let base = clock.unwrap_or_else(Utc::now);
        *clock = Some(base.checked_add_signed(delta).unwrap_or(DateTime::<Utc>::MAX_UTC));
    }

    /// The fault-injection switchboard for the next requests.
    pub fn faults(&self) -> Faults {
        self.shared.faults.clone()
    }

    /// Sends PortOne V2 cancel webhooks to `url`, signed with `secret` (the raw key bytes of the
    /// Standard Webhooks HMAC-SHA256).
    pub fn register_webhook(&self, url: impl Into<String>, secret: impl Into<Vec<u8>>) {
        self.shared.webhooks.register(url.into(), secret.into());
    }

    /// Sends Toss webhooks (`PAYMENT_STATUS_CHANGED`, `BILLING_DELETED`) to `url`, unsigned as Toss
    /// sends them.
    pub fn register_toss_webhook(&self, url: impl Into<String>) {
        self.shared.webhooks.register_toss(url.into());
    }

    /// Sends iamport's cancel notifications (for cancels sent with `enable_webhook: true`) to `url`.
    pub fn register_iamport_webhook(&self, url: impl Into<String>) {
        self.shared.webhooks.register_iamport(url.into());
    }

    /// Webhook deliveries attempted so far, in order, with the receiver's answer.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.webhooks.deliveries()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        for server in std::mem::take(&mut self.servers) {
            let _ = server.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        // Aborting rather than waiting keeps drop non-blocking; held connections close with it.
        for server in self.servers.drain(..) {
            server.abort();
        }
        if let Some(worker) = self.worker.take() {
            worker.abort();
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeedEntry {
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    method: Option<String>,
    order_id: String,
    amount: i64,
    #[serde(default)]
    tax_free: Option<i64>,
    #[serde(default)]
    vat: Option<i64>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    pg: Option<String>,
    #[serde(default)]
    paid_at: Option<DateTime<chrono::FixedOffset>>,
    #[serde(default)]
    order_name: Option<String>,
    #[serde(default)]
    customer_name: Option<String>,
    #[serde(default)]
    customer_email: Option<String>,
    #[serde(default)]
    customer_phone: Option<String>,
    #[serde(default)]
    deposited: Option<bool>,
    #[serde(default)]
    async_cancel: Option<bool>,
}

/// Reads a seed file (format in the [module docs](self)) into payments for [`Sandbox::seed`].
///
/// # Errors
///
/// [`SandboxError::SeedFile`] naming the entry and field that is wrong.
pub fn parse_seed_file(json: &str) -> Result<Vec<SeedPayment>, SandboxError> {
    let shape = "expected an array of payments or {\"payments\": [...]}";
    let file: serde_json::Value =
        serde_json::from_str(json).map_err(|e| SandboxError::SeedFile(format!("not JSON: {e}")))?;
    let list = match file {
        serde_json::Value::Array(v) => v,
        serde_json::Value::Object(mut m) => match m.remove("payments") {
            Some(serde_json::Value::Array(v)) => v,
            _ => return Err(SandboxError::SeedFile(shape.to_owned())),
        },
        _ => return Err(SandboxError::SeedFile(shape.to_owned())),
    };
    let entries = list
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value::<SeedEntry>(v).map_err(|e| SandboxError::SeedFile(format!("payment {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let provider = match e.provider.as_deref() {
                None => Provider::PortOneV2,
                Some(p) => Provider::parse(p).ok_or_else(|| {
                    SandboxError::SeedFile(format!(
                        "payment {i}: unknown provider {p:?} (use portone-v2, iamport or toss)"
                    ))
                })?,
            };
            let method = match e.method.as_deref().map(|m| m.to_ascii_lowercase().replace('_', "-")) {
                None => SeedMethod::Card,
                Some(m) => match m.as_str() {
                    "card" => SeedMethod::Card,
                    "virtual-account" | "vbank" => SeedMethod::VirtualAccount,
                    "mobile-phone" | "phone" | "mobile" => SeedMethod::MobilePhone,
                    other => {
                        return Err(SandboxError::SeedFile(format!(
                            "payment {i}: unknown method {other:?} (use card, virtual-account or mobile-phone)"
                        )));
                    }
                },
            };
            let mut seed = SeedPayment::new(method, e.order_id, e.amount).provider(provider);
            seed.tax_free = e.tax_free.unwrap_or(0);
            seed.vat = e.vat;
            seed.id = e.id;
            seed.pg = e.pg;
            seed.paid_at = e.paid_at.map(|t| t.with_timezone(&Utc));
            seed.order_name = e.order_name;
            seed.customer = ledger::CustomerRecord {
                name: e.customer_name,
                email: e.customer_email,
                phone: e.customer_phone,
            };
            seed.deposited = e.deposited.unwrap_or(true);
            seed.async_cancel = e.async_cancel.unwrap_or(false);
            Ok(seed)
        })
        .collect()
}

/// Decodes `application/x-www-form-urlencoded` text (also a URL query string) into pairs.
pub(crate) fn decode_form(text: &str) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    fn unescape(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let pair = bytes
                        .get(i + 1)
                        .copied()
                        .and_then(hex)
                        .zip(bytes.get(i + 2).copied().and_then(hex));
                    match pair {
                        Some((hi, lo)) => {
                            out.push(hi << 4 | lo);
                            i += 2;
                        }
                        // A stray percent sign is kept as text, as lenient decoders do.
                        None => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    text.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (unescape(k), unescape(v)),
            None => (unescape(kv), String::new()),
        })
        .collect()
}
