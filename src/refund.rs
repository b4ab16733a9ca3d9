//! One refund request and one outcome for all three providers.
//!
//! A [`Refund`] says what the merchant means — give everything back, give back this much of the balance I believe
//! is left, or refund a virtual-account payment to this bank account — and each provider's client maps it onto its
//! own wire fields and balance guard:
//!
//! | | PortOne V2 | iamport | Toss |
//! |---|---|---|---|
//! | amount | `amount` | `amount` | `cancelAmount` |
//! | expected balance (guard) | `currentCancellableAmount` | `checksum` | `refundableAmount` + `Idempotency-Key` |
//! | tax-free part | `taxFreeAmount` | `tax_free` | `taxFreeAmount` |
//! | refund account | `refundAccount` | `refund_bank` / `refund_account` / `refund_holder` / `refund_tel` | `refundReceiveAccount` |
//!
//! Every client implements [`Refunds`], so code written against it moves from iamport to PortOne V2, or runs Toss
//! beside PortOne, by changing the constructor alone:
//!
//! ```no_run
//! use kr_payments::refund::{Refund, Refunds};
//!
//! async fn give_back<C: Refunds>(client: &C, payment: &str) -> Result<(), Box<dyn std::error::Error>> {
//!     let outcome = client.refund(payment, &Refund::partial(3_000, 10_000, "한 개 반품")).await?;
//!     println!("{:?}: {} won refunded, {:?} left", outcome.status, outcome.refunded_amount, outcome.remaining_balance);
//!     Ok(())
//! }
//! ```

use crate::RawJson;
use crate::account::{AccountNumber, BankCode, HolderName, PhoneNumber};
use crate::error::{ApiErrorBody, Error};
use futures::future::BoxFuture;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// Which provider produced an outcome or an error (the crate's one [`crate::Provider`]).
pub use crate::Provider;

/// How much to give back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefundAmount {
    /// Everything that is still cancellable. With `expected_balance` (set by [`Refund::expected_balance`]), only if
    /// the provider's balance is that: the guard is sent (PortOne V2 `currentCancellableAmount`, iamport
    /// `checksum`, Toss `refundableAmount`), so a refund that already happened, or a balance that moved, is refused
    /// instead of refunding again. Without it, PortOne V2 and Toss still cannot refund twice (their idempotency key),
    /// but an iamport full refund is then unguarded: sent once, never replayed after an unknown outcome.
    Full {
        /// The cancellable balance before this refund, as the merchant's records have it, when stated.
        expected_balance: Option<i64>,
    },
    /// `amount` won out of a balance the merchant believes to be `expected_balance` won. The provider refuses the
    /// refund if the balance differs, so a stale screen can never refund the wrong amount, and a retry after a
    /// timeout can never refund twice.
    Partial {
        /// Won to refund now.
        amount: i64,
        /// Cancellable balance before this refund, as the merchant's records have it.
        expected_balance: i64,
    },
}

/// The bank account a virtual-account payment is refunded to, built from one type per part so a swap does not
/// compile: `RefundAccount::new(BankCode, AccountNumber, HolderName)`, the same order as every provider's account.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundAccount {
    /// The provider's bank code: a PortOne V2 `Bank` value (e.g. `KOOKMIN`), iamport's PG-specific code, Toss's
    /// bank code. The same bank has different codes at different providers (and, for iamport, different PGs).
    pub bank: BankCode,
    /// Account number, digits only.
    pub number: AccountNumber,
    /// Account holder's name.
    pub holder_name: HolderName,
    /// Holder's phone number, digits only (Smartro virtual accounts need it).
    pub holder_phone: Option<PhoneNumber>,
}

impl RefundAccount {
    /// An account without a phone number.
    pub fn new(bank: BankCode, number: AccountNumber, holder_name: HolderName) -> Self {
        RefundAccount {
            bank,
            number,
            holder_name,
            holder_phone: None,
        }
    }

    /// Adds the holder's phone number.
    pub fn holder_phone(mut self, phone: PhoneNumber) -> Self {
        self.holder_phone = Some(phone);
        self
    }
}

impl fmt::Debug for RefundAccount {
    // Account numbers, names and phone numbers identify a person: printed as crate::sensitive's table says.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sensitive::by_name;
        f.debug_struct("RefundAccount")
            .field("bank", &self.bank.as_str())
            .field("number", &by_name("number", &self.number))
            .field("holder_name", &by_name("holderName", &self.holder_name))
            .field("holder_phone", &by_name("holderPhoneNumber", &self.holder_phone))
            .finish()
    }
}

/// A provider-neutral refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refund {
    /// How much.
    pub amount: RefundAmount,
    /// Why (shown to the buyer by some PGs; required by all three APIs).
    pub reason: String,
    /// Tax-free part of the refunded amount, if the payment had one.
    pub tax_free_amount: Option<i64>,
    /// Where a virtual-account payment's money goes.
    pub account: Option<RefundAccount>,
    /// The `Idempotency-Key` (PortOne V2 and Toss; iamport has none). Leave it empty for a new refund (one is
    /// generated); derive it from your own refund's id, or set it to the key of an earlier attempt whose outcome is
    /// unknown, and the provider answers that attempt's result instead of refunding again. PortOne V2 takes 16 to
    /// 256 letters, digits, `-` and `_`, and keeps a key for 3 hours; Toss up to 300 printable characters, for 15 days.
    pub idempotency_key: Option<String>,
}

impl Refund {
    /// Refund everything still cancellable. Add [`expected_balance`](Self::expected_balance) to guard it.
    pub fn full(reason: impl Into<String>) -> Self {
        Refund {
            amount: RefundAmount::Full { expected_balance: None },
            reason: reason.into(),
            tax_free_amount: None,
            account: None,
            idempotency_key: None,
        }
    }

    /// Refund `amount` out of a balance the merchant believes is `expected_balance` (the guard is always sent).
    pub fn partial(amount: i64, expected_balance: i64, reason: impl Into<String>) -> Self {
        Refund {
            amount: RefundAmount::Partial {
                amount,
                expected_balance,
            },
            reason: reason.into(),
            tax_free_amount: None,
            account: None,
            idempotency_key: None,
        }
    }

    /// The balance the merchant believes is left before this refund: sent as the provider's balance guard, so the
    /// provider refuses the refund if its balance differs (for a partial refund, the same as
    /// [`Refund::partial`]'s `expected_balance`).
    pub fn expected_balance(mut self, balance: i64) -> Self {
        self.amount = match self.amount {
            RefundAmount::Full { .. } => RefundAmount::Full {
                expected_balance: Some(balance),
            },
            RefundAmount::Partial { amount, .. } => RefundAmount::Partial {
                amount,
                expected_balance: balance,
            },
        };
        self
    }

    /// The guard this refund carries: the stated balance before it, if any.
    pub fn guard(&self) -> Option<i64> {
        match self.amount {
            RefundAmount::Full { expected_balance } => expected_balance,
            RefundAmount::Partial { expected_balance, .. } => Some(expected_balance),
        }
    }

    /// The amount of a partial refund; `None` for a full one.
    pub fn partial_amount(&self) -> Option<i64> {
        match self.amount {
            RefundAmount::Full { .. } => None,
            RefundAmount::Partial { amount, .. } => Some(amount),
        }
    }

    /// Sends the money to `account` (virtual-account payments).
    pub fn to_account(mut self, account: RefundAccount) -> Self {
        self.account = Some(account);
        self
    }

    /// The idempotency key to send (PortOne V2 and Toss; iamport has none): see [`Refund::idempotency_key`]
    /// the field.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Declares the tax-free part of the refund.
    pub fn tax_free(mut self, amount: i64) -> Self {
        self.tax_free_amount = Some(amount);
        self
    }
}

/// Where a refund stands after the call. Serializes as `succeeded`, `requested`, `failed`, `unknown`, or
/// `{"unrecognized": "<the provider's word>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundStatus {
    /// The money is on its way back.
    Succeeded,
    /// Accepted but not finished: the result arrives later (webhook or polling).
    Requested,
    /// The provider answered, and the refund did not happen.
    Failed,
    /// A state this version does not know, as the provider named it. Nothing is counted as refunded, and nothing
    /// is taken as failed: read the payment (the provider's answer is in [`RefundOutcome::raw`]).
    Unrecognized(String),
    /// The provider answered with success, but its answer does not show a refund by this call: no cancel entry
    /// (Toss `cancels` null or empty, an iamport history without one), an entry without an amount, or one the
    /// payment around it contradicts (a `failure`, an `EXPIRED` payment). Whether money moved is not known:
    /// nothing is counted as refunded and nothing is taken as failed; read the payment before acting.
    Unknown,
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefundStatus::Succeeded => f.write_str("succeeded"),
            RefundStatus::Requested => f.write_str("requested"),
            RefundStatus::Failed => f.write_str("failed"),
            RefundStatus::Unknown => f.write_str("unknown"),
            RefundStatus::Unrecognized(s) => write!(f, "unrecognized ({s})"),
        }
    }
}

/// What a refund did.
///
/// Build one with [`RefundOutcome::new`] and its setters for a fake gateway in your own tests.
///
/// `Serialize` writes every field but [`raw`](Self::raw): the provider's answer holds the buyer's personal data
/// (names, phone numbers, account numbers), and an outcome is the kind of record that ends up in logs, queues and
/// audit tables. Keep the answer yourself with [`RawJson::expose`] where you must, as the personal data it is.
/// Warnings are written as their text. `Display` is one line without personal data: provider, status, amounts.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RefundOutcome {
    /// Who answered.
    pub provider: Provider,
    /// Where the refund stands.
    pub status: RefundStatus,
    /// Won refunded by this call: the cancel's amount when [`status`](Self::status) is
    /// [`Succeeded`](RefundStatus::Succeeded), 0 otherwise (a cancel only requested, failed, unrecognized or not
    /// shown has returned nothing yet). The payment views count by the same rule (`cancelled_total()`).
    pub refunded_amount: i64,
    /// Cancellable balance left after this call, when the provider's answer tells it (or the guard implies it).
    pub remaining_balance: Option<i64>,
    /// The provider's id for this cancellation, when it gives one.
    pub cancellation_id: Option<String>,
    /// The idempotency key the call used (PortOne V2, Toss), for a safe retry.
    pub idempotency_key: Option<String>,
    /// The provider's own answer, as sent (or, when [`reconciled`](Self::reconciled), the payment as read): the
    /// cancellation (PortOne V2) or the payment (iamport, Toss). Printed redacted; [`RawJson::expose`] gives it
    /// whole. Never serialized with the outcome (see [`RefundOutcome`]).
    #[serde(skip)]
    pub raw: RawJson,
    /// How the crate knows this refund happened as reported.
    pub evidence: Evidence,
    /// Whether an attempt's outcome was unknown and the outcome was learned another way than from the first
    /// answer ([`Evidence::IdempotentReplay`] or [`Evidence::PaymentHistory`]). The refund happened exactly once;
    /// see [`crate::transport`] for when this applies.
    pub reconciled: bool,
    /// What the policy check before sending noticed without refusing (a soft cancel deadline already past, a hard
    /// one ignored on request). Empty when the provider's cancel was not given the payment.
    #[serde(serialize_with = "warnings_as_text")]
    pub warnings: Vec<crate::policy::CancelWarning>,
}

fn warnings_as_text<S: serde::Serializer>(
    warnings: &[crate::policy::CancelWarning],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(warnings.iter().map(ToString::to_string))
}

impl RefundOutcome {
    /// An outcome of `provider` with `status` that returned `refunded_amount` won, as the provider's own answer
    /// said it ([`Evidence::Answer`]); everything else empty. For fakes: the crate's clients fill every field.
    pub fn new(provider: Provider, status: RefundStatus, refunded_amount: i64) -> Self {
        RefundOutcome {
            provider,
            status,
            refunded_amount,
            remaining_balance: None,
            cancellation_id: None,
            idempotency_key: None,
            raw: RawJson::default(),
            evidence: Evidence::Answer,
            reconciled: false,
            warnings: Vec::new(),
        }
    }

    /// Sets [`remaining_balance`](Self::remaining_balance).
    pub fn with_remaining_balance(mut self, balance: i64) -> Self {
        self.remaining_balance = Some(balance);
        self
    }

    /// Sets [`cancellation_id`](Self::cancellation_id).
    pub fn with_cancellation_id(mut self, id: impl Into<String>) -> Self {
        self.cancellation_id = Some(id.into());
        self
    }

    /// Sets [`idempotency_key`](Self::idempotency_key).
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets [`raw`](Self::raw).
    pub fn with_raw(mut self, raw: RawJson) -> Self {
        self.raw = raw;
        self
    }

    /// Sets [`evidence`](Self::evidence), and [`reconciled`](Self::reconciled) to match it.
    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence = evidence;
        self.reconciled = evidence != Evidence::Answer;
        self
    }

    /// Whether the money is on its way back ([`RefundStatus::Succeeded`]).
    pub fn is_succeeded(&self) -> bool {
        self.status == RefundStatus::Succeeded
    }
}

impl fmt::Display for RefundOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} refund {}: {} won refunded",
            self.provider, self.status, self.refunded_amount
        )?;
        if let Some(left) = self.remaining_balance {
            write!(f, ", {left} won left")?;
        }
        if self.reconciled {
            write!(f, " ({})", self.evidence)?;
        }
        Ok(())
    }
}

/// What proves that a [`RefundOutcome`] is this request's. Serializes as `answer`, `idempotent_replay` or
/// `payment_history`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Evidence {
    /// The provider's answer to this request, checked against it (the payment it names, the amount, the balance).
    Answer,
    /// An attempt's outcome was unknown; the provider's answer to the same request sent again with the same
    /// idempotency key (PortOne V2, Toss), which is the first request's outcome when that one was applied.
    IdempotentReplay,
    /// An attempt's outcome was unknown; read from the payment (iamport): the one cancel that took the balance from
    /// the stated balance by the amount asked, with the reason sent, made during the call, while no other cancel of
    /// the payment ran in this process.
    PaymentHistory,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Evidence::Answer => "the provider's answer",
            Evidence::IdempotentReplay => "the provider's answer to the same idempotency key",
            Evidence::PaymentHistory => "the payment's cancel history",
        })
    }
}

/// A provider-neutral view of a provider's error body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProviderError {
    /// Who answered.
    pub provider: Provider,
    /// The provider's code (`CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN`, iamport's numeric code, Toss's code).
    pub code: String,
    /// The provider's message.
    pub message: Option<String>,
}

impl ApiErrorBody for ProviderError {
    fn code(&self) -> &str {
        &self.code
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.provider, crate::raw_json::bounded(&self.code, 100))?;
        if let Some(m) = &self.message {
            write!(f, ": {}", crate::raw_json::bounded(m, 300))?;
        }
        Ok(())
    }
}

impl ProviderError {
    /// A provider's error with its code and message, e.g. for a fake gateway in your tests.
    pub fn new(provider: Provider, code: impl Into<String>, message: Option<String>) -> Self {
        ProviderError {
            provider,
            code: code.into(),
            message,
        }
    }

    pub(crate) fn from_body<E: ApiErrorBody>(provider: Provider, e: &E) -> Self {
        ProviderError {
            provider,
            code: e.code().to_string(),
            message: e.message().map(str::to_string),
        }
    }
}

/// The error of a provider-neutral refund, with the idempotency key the attempt used (Toss), so the caller can
/// retry it safely after a timeout.
#[derive(Debug)]
#[non_exhaustive]
pub struct RefundError {
    /// What went wrong.
    pub error: Error<ProviderError>,
    /// The `Idempotency-Key` sent (Toss only).
    pub idempotency_key: Option<String>,
}

impl RefundError {
    /// An error without an idempotency key (see [`Self::with_idempotency_key`]), e.g. for a fake gateway.
    pub fn new(error: Error<ProviderError>) -> Self {
        RefundError {
            error,
            idempotency_key: None,
        }
    }

    /// The same error, naming the `Idempotency-Key` the attempt used.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Whether nothing was sent (so nothing can have been refunded).
    pub fn nothing_sent(&self) -> bool {
        self.error.nothing_sent()
    }
    /// The provider's error, if it answered with one.
    pub fn api(&self) -> Option<&ProviderError> {
        self.error.api()
    }
}

impl From<Error<ProviderError>> for RefundError {
    fn from(error: Error<ProviderError>) -> Self {
        RefundError {
            error,
            idempotency_key: None,
        }
    }
}

impl fmt::Display for RefundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RefundError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// Refunds through any provider's client.
///
/// Object-safe: a service holds a `Box<dyn Refunds>` or `Arc<dyn Refunds>` and is given the provider's client in
/// production and a fake in its tests (build the fake's answers with [`RefundOutcome::new`],
/// [`ProviderError::new`] and [`RefundError::new`]).
///
/// ```
/// use kr_payments::refund::{Refund, RefundOutcome, RefundStatus, Refunds, RefundError};
/// use kr_payments::Provider;
/// use futures::future::BoxFuture;
///
/// struct AlwaysRefunds;
/// impl Refunds for AlwaysRefunds {
///     fn provider(&self) -> Provider {
///         Provider::Toss
///     }
///     fn refund<'a>(&'a self, _id: &'a str, refund: &'a Refund) -> BoxFuture<'a, Result<RefundOutcome, RefundError>> {
///         let amount = refund.partial_amount().unwrap_or(0);
///         Box::pin(async move { Ok(RefundOutcome::new(Provider::Toss, RefundStatus::Succeeded, amount)) })
///     }
/// }
///
/// let gateway: Box<dyn Refunds + Send + Sync> = Box::new(AlwaysRefunds);
/// let outcome = futures::executor::block_on(gateway.refund("tgen_1", &Refund::partial(1_000, 5_000, "returned")))?;
/// assert_eq!(outcome.refunded_amount, 1_000);
/// # Ok::<(), RefundError>(())
/// ```
pub trait Refunds {
    /// Which provider this client refunds through.
    fn provider(&self) -> Provider;

    /// Refunds (part of) the payment `payment_id` — PortOne V2 `paymentId`, iamport `imp_uid`, Toss `paymentKey`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] when the refund is refused before sending (nothing sent); otherwise the provider's
    /// answer as a [`ProviderError`], or a transport or decode failure.
    fn refund<'a>(
        &'a self,
        payment_id: &'a str,
        refund: &'a Refund,
    ) -> BoxFuture<'a, Result<RefundOutcome, RefundError>>;
}

/// A reference, a box or an `Arc` of a client refunds through it.
macro_rules! forward_refunds {
    ($($wrapper:ty),+) => {$(
        impl<T: Refunds + ?Sized> Refunds for $wrapper {
            fn provider(&self) -> Provider {
                (**self).provider()
            }
            fn refund<'a>(
                &'a self,
                payment_id: &'a str,
                refund: &'a Refund,
            ) -> BoxFuture<'a, Result<RefundOutcome, RefundError>> {
                (**self).refund(payment_id, refund)
            }
        }
    )+};
}

forward_refunds!(&T, Box<T>, Arc<T>);

fn provider_error<E: ApiErrorBody>(provider: Provider) -> impl FnOnce(E) -> ProviderError {
    move |e| ProviderError::from_body(provider, &e)
}

fn evidence(after_unknown: bool, by_key: bool) -> Evidence {
    match (after_unknown, by_key) {
        (false, _) => Evidence::Answer,
        (true, true) => Evidence::IdempotentReplay,
        (true, false) => Evidence::PaymentHistory,
    }
}

#[cfg(feature = "toss")]
impl Refunds for crate::toss::Client {
    fn provider(&self) -> Provider {
        Provider::Toss
    }
    fn refund<'a>(
        &'a self,
        payment_key: &'a str,
        refund: &'a Refund,
    ) -> BoxFuture<'a, Result<RefundOutcome, RefundError>> {
        Box::pin(toss_refund(self, payment_key, refund))
    }
}

#[cfg(feature = "toss")]
async fn toss_refund(
    client: &crate::toss::Client,
    payment_key: &str,
    refund: &Refund,
) -> Result<RefundOutcome, RefundError> {
    {
        let mut req = client.cancel_payment(crate::toss::PaymentKey::new(payment_key), refund.reason.clone());
        if let Some(amount) = refund.partial_amount() {
            req = req.amount(amount);
        }
        if let Some(balance) = refund.guard() {
            req = req.refundable_amount(balance);
        }
        if let Some(t) = refund.tax_free_amount {
            req = req.tax_free_amount(t);
        }
        if let Some(a) = &refund.account {
            req = req.refund_account(crate::toss::RefundAccount::new(
                a.bank.clone(),
                a.number.clone(),
                a.holder_name.clone(),
            ));
        }
        if let Some(k) = &refund.idempotency_key {
            req = req.idempotency_key(k.clone());
        }
        let key = req.key().to_string();
        let toss_error = |e: Error<crate::toss::TossError>| RefundError {
            idempotency_key: Some(key.clone()),
            error: e.map_api(provider_error(Provider::Toss)),
        };
        let prepared = req.prepare().map_err(toss_error)?;
        let done = prepared.send().await.map_err(toss_error)?;
        // The facade checked that the last entry is this cancel's and fits the request; the payment view's rule
        // decides what it did (crate::toss::Payment::cancel_outcome).
        let Some(cancel) = done.cancel() else {
            return Err(RefundError {
                idempotency_key: Some(done.idempotency_key.clone()),
                error: Error::Inconsistent(crate::error::InconsistentAnswer {
                    operation: "cancelPayment",
                    status: 200,
                    reason: "the answer has no cancel entry".into(),
                    answer: done.payment.json().clone(),
                }),
            });
        };
        let status = done.payment.cancel_outcome(cancel);
        Ok(RefundOutcome {
            provider: Provider::Toss,
            refunded_amount: done.payment.refunded_by(cancel),
            status,
            remaining_balance: Some(done.payment.balance()),
            cancellation_id: Some(cancel.transaction_key.clone()),
            idempotency_key: Some(done.idempotency_key.clone()),
            raw: done.payment.json().clone(),
            evidence: evidence(done.reconciled, true),
            reconciled: done.reconciled,
            warnings: done.warnings.clone(),
        })
    }
}

#[cfg(feature = "iamport")]
impl Refunds for crate::iamport::Client {
    fn provider(&self) -> Provider {
        Provider::Iamport
    }
    fn refund<'a>(&'a self, imp_uid: &'a str, refund: &'a Refund) -> BoxFuture<'a, Result<RefundOutcome, RefundError>> {
        Box::pin(iamport_refund(self, imp_uid, refund))
    }
}

#[cfg(feature = "iamport")]
async fn iamport_refund(
    client: &crate::iamport::Client,
    imp_uid: &str,
    refund: &Refund,
) -> Result<RefundOutcome, RefundError> {
    {
        let mut req = client.cancel_payment(crate::iamport::ImpUid::new(imp_uid), refund.reason.clone());
        if let Some(amount) = refund.partial_amount() {
            req = req.amount(amount);
        }
        if let Some(balance) = refund.guard() {
            req = req.checksum(balance);
        }
        if let Some(t) = refund.tax_free_amount {
            req = req.tax_free(t);
        }
        if let Some(a) = &refund.account {
            let mut account =
                crate::iamport::RefundAccount::new(a.bank.clone(), a.number.clone(), a.holder_name.clone());
            if let Some(phone) = &a.holder_phone {
                account = account.holder_phone(phone.clone());
            }
            req = req.refund_account(account);
        }
        let done = req
            .send_with_warnings()
            .await
            .map_err(|e| RefundError::from(e.map_api(provider_error(Provider::Iamport))))?;
        // The facade found this cancel's entry (the step it made in the balance) and checked its amount; the
        // payment view's rule decides what it did (crate::iamport::Payment::cancel_outcome). An answer without the
        // entry showed the cancel in its balance only.
        let entry = done.entry();
        let (status, refunded_amount) = match entry {
            Some(entry) => (done.payment.cancel_outcome(entry), done.payment.refunded_by(entry)),
            None => (RefundStatus::Succeeded, done.refunded),
        };
        Ok(RefundOutcome {
            provider: Provider::Iamport,
            status,
            refunded_amount,
            remaining_balance: done.payment.cancellable_balance(),
            cancellation_id: entry.and_then(|c| c.cancellation_id.clone()),
            idempotency_key: None,
            raw: done.payment.json().clone(),
            evidence: evidence(done.reconciled, false),
            reconciled: done.reconciled,
            warnings: done.warnings,
        })
    }
}

#[cfg(feature = "portone-v2")]
impl Refunds for crate::portone_v2::Client {
    fn provider(&self) -> Provider {
        Provider::PortOneV2
    }
    fn refund<'a>(
        &'a self,
        payment_id: &'a str,
        refund: &'a Refund,
    ) -> BoxFuture<'a, Result<RefundOutcome, RefundError>> {
        Box::pin(portone_v2_refund(self, payment_id, refund))
    }
}

#[cfg(feature = "portone-v2")]
async fn portone_v2_refund(
    client: &crate::portone_v2::Client,
    payment_id: &str,
    refund: &Refund,
) -> Result<RefundOutcome, RefundError> {
    {
        use crate::portone_v2::Bank;
        let mut req = client.cancel_payment(crate::portone_v2::PaymentId::new(payment_id), refund.reason.clone());
        if let Some(amount) = refund.partial_amount() {
            req = req.amount(amount);
        }
        if let Some(balance) = refund.guard() {
            req = req.current_cancellable_amount(balance);
        }
        if let Some(t) = refund.tax_free_amount {
            req = req.tax_free_amount(t);
        }
        if let Some(k) = &refund.idempotency_key {
            req = req.idempotency_key(k.clone());
        }
        if let Some(a) = &refund.account {
            // `Bank` is open: a code this version does not list is sent as given.
            let bank = a
                .bank
                .as_str()
                .parse::<Bank>()
                .unwrap_or_else(|_| Bank::Unrecognized(a.bank.as_str().to_string()));
            let mut account = crate::portone_v2::RefundAccount::new(bank, a.number.clone(), a.holder_name.clone());
            if let Some(phone) = &a.holder_phone {
                account = account.holder_phone(phone.clone());
            }
            req = req.refund_account(account);
        }
        let key = req.key().to_string();
        let (outcome, raw) = req.send_keeping_raw().await.map_err(|e| RefundError {
            error: e.map_api(provider_error(Provider::PortOneV2)),
            idempotency_key: Some(key.clone()),
        })?;
        // The payment view's rule decides what the cancellation did (crate::portone_v2::payment::cancel_outcome).
        let status = crate::portone_v2::payment::cancel_outcome(&outcome);
        let cancellation = outcome.cancellation();
        let refunded_amount = crate::portone_v2::payment::refunded_by(&outcome);
        // PortOne answers with the cancellation only; the balance after it follows from the guard the merchant
        // stated (a full cancel leaves nothing), and only once the cancel is done.
        let remaining_balance = match (&status, refund.guard(), &refund.amount) {
            (RefundStatus::Succeeded, _, RefundAmount::Full { .. }) => Some(0),
            (RefundStatus::Succeeded, Some(before), _) => before.checked_sub(refunded_amount),
            _ => None,
        };
        Ok(RefundOutcome {
            provider: Provider::PortOneV2,
            status,
            refunded_amount,
            remaining_balance,
            cancellation_id: cancellation.map(|c| c.id.clone()),
            idempotency_key: Some(key),
            evidence: evidence(outcome.is_reconciled(), true),
            reconciled: outcome.is_reconciled(),
            warnings: outcome.warnings().to_vec(),
            raw,
        })
    }
}
