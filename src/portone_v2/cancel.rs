//! Cancelling PortOne V2 payments: full, partial and virtual-account refunds.
//!
//! One request type, [`CancelPayment`], covers every case; three helpers on [`Client`] start it for the usual ones:
//!
//! | Case | Start with | What is sent besides `reason` |
//! |---|---|---|
//! | everything that is left | [`Client::full_cancel`] | nothing: PortOne cancels the whole balance |
//! | part of it | [`Client::partial_cancel`] | `amount` and `currentCancellableAmount` |
//! | a virtual-account payment | [`Client::refund_virtual_account`] | `refundAccount` |
//!
//! [`CancelPayment::send`] checks the request before sending it (see [`CancelPayment::validate`]) and returns a
//! [`CancelOutcome`]. An HTTP 200 does **not** mean the money went back: the outcome may be
//! [`Requested`](CancelOutcome::Requested) (the PG finishes later; a `Transaction.Cancelled` or
//! `Transaction.PartialCancelled` webhook follows) or [`Failed`](CancelOutcome::Failed), so match it.
//!
//! # The balance guard
//!
//! `currentCancellableAmount` is the balance you believe is left *before* this cancel. PortOne cancels only if it
//! matches its own, and answers `CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN` otherwise. That makes a guarded cancel safe
//! to send twice: if the first attempt went through, the balance moved and the second is refused. The crate's
//! retries rely on it: a cancel is retried after a timeout or a 5xx only when the guard is set
//! ([`crate::transport`]); an unguarded one is sent once. [`Client::partial_cancel`] always sets it; set it on full
//! cancels too with [`CancelPayment::current_cancellable_amount`] (the balance comes from
//! [`PaymentExt::cancellable_amount`]).
//!
//! # Deadlines and virtual accounts
//!
//! Given the payment ([`CancelPayment::payment`], or [`CancelPayment::paid`] with its method and payment time),
//! the cancel is also checked against [`crate::policy`] before sending: past a hard deadline (a mobile-phone
//! payment from an earlier KST month, a NaverPay payment past 1095 days, ...) it is refused with
//! [`Error::InvalidRequest`] on the field [`policy::CANCEL_DEADLINE_FIELD`], unless
//! [`CancelPayment::ignore_cancel_deadline`] says your contract differs; past a soft deadline (a card payment older
//! than the issuer's usual year) it is sent, and [`CancelOutcome::warnings`] says so. A paid virtual account must
//! name a [`RefundAccount`], with the holder's phone number when the PG is Smartro.

use super::error::CancelPaymentError;
use super::payment::{Payment, PaymentExt, PaymentStatus};
use super::raw::types::{
    Bank, CancelPaymentBody, CancelPaymentBodyRefundAccount, CancelRequester, PaymentCancellation, PgProvider,
    PromotionDiscountRetainOption, Trigger,
};
use super::reconcile::{Expectation, Settled};
use super::{Client, PaymentId};
use crate::account::{AccountNumber, HolderName, PhoneNumber};
use crate::error::{Error, InvalidRequest};
use crate::policy::{self, CancelWarning, Deadline};
use crate::transport::{Replay, RetryPolicy, check_id, path_with_segment};
use chrono::{DateTime, Utc};
use futures::future::{Either, FutureExt as _};
use reqwest::header::{HeaderName, HeaderValue};
use std::fmt;
use std::time::Duration;

/// Which payment a cancel helper cancels: its [`PaymentId`], or the [`Payment`] as you read it. Given the payment,
/// the cancel is checked against it before sending ([`CancelPayment::payment`]), and [`Client::full_cancel`] sends its
/// balance as `currentCancellableAmount`.
#[derive(Debug, Clone)]
pub enum CancelTarget<'a> {
    /// By the merchant's payment id.
    Id(PaymentId),
    /// The payment as read: its `id` is cancelled.
    Payment(&'a Payment),
}

impl From<PaymentId> for CancelTarget<'_> {
    fn from(id: PaymentId) -> Self {
        CancelTarget::Id(id)
    }
}
impl From<&PaymentId> for CancelTarget<'_> {
    fn from(id: &PaymentId) -> Self {
        CancelTarget::Id(id.clone())
    }
}
impl<'a> From<&'a Payment> for CancelTarget<'a> {
    fn from(payment: &'a Payment) -> Self {
        CancelTarget::Payment(payment)
    }
}

impl Client {
    /// Starts a cancel of `target` for `reason`.
    ///
    /// With no other setting this cancels the whole balance, unguarded. Prefer the helpers, which say what they
    /// do: [`full_cancel`](Self::full_cancel), [`partial_cancel`](Self::partial_cancel),
    /// [`refund_virtual_account`](Self::refund_virtual_account). Given the payment as read, the cancel is checked
    /// against it ([`CancelPayment::payment`]); nothing else from it is sent.
    pub fn cancel_payment<'t>(&self, target: impl Into<CancelTarget<'t>>, reason: impl Into<String>) -> CancelPayment {
        let target = target.into();
        let payment_id = match &target {
            CancelTarget::Id(id) => id.as_str().to_string(),
            CancelTarget::Payment(p) => p.id().unwrap_or_default().to_string(),
        };
        let request = CancelPayment {
            client: self.clone(),
            payment_id,
            reason: reason.into(),
            amount: None,
            tax_free_amount: None,
            vat_amount: None,
            requester: None,
            promotion_discount_retain_option: None,
            current_cancellable_amount: None,
            refund_account: None,
            refund_email: None,
            skip_webhook: None,
            store_id: None,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            timeout: None,
            retry: None,
            known: None,
            ignore_cancel_deadline: false,
            now: None,
        };
        match target {
            CancelTarget::Payment(payment) => request.payment(payment),
            CancelTarget::Id(_) => request,
        }
    }

    /// Starts a cancel of everything left on the payment.
    ///
    /// Given the payment as read, its balance is sent as `currentCancellableAmount`, so PortOne refuses instead of
    /// cancelling when the balance moved. Given an id, add [`CancelPayment::current_cancellable_amount`] for the
    /// same guard; without it only `reason` (and the store id) is sent, and the `Idempotency-Key` alone keeps a
    /// retry from cancelling twice.
    pub fn full_cancel<'t>(&self, target: impl Into<CancelTarget<'t>>, reason: impl Into<String>) -> CancelPayment {
        let target = target.into();
        let balance = match &target {
            CancelTarget::Payment(p) => p.cancellable_amount(),
            CancelTarget::Id(_) => None,
        };
        let request = self.cancel_payment(target, reason);
        match balance {
            Some(balance) => request.current_cancellable_amount(balance),
            None => request,
        }
    }

    /// Starts a cancel of `amount` won out of a balance you state as `expected_balance` (what is left before this
    /// cancel, e.g. from [`PaymentExt::cancellable_amount`]), sent as `currentCancellableAmount`.
    ///
    /// Both are always sent, so PortOne refuses (`CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN`) instead of cancelling
    /// when the balance is not what you think, and a retry cannot refund twice. Refused before sending: an amount
    /// that is not positive, or larger than the stated balance.
    pub fn partial_cancel<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        amount: i64,
        expected_balance: i64,
        reason: impl Into<String>,
    ) -> CancelPayment {
        self.cancel_payment(target, reason)
            .amount(amount)
            .current_cancellable_amount(expected_balance)
    }

    /// Starts a refund of a virtual-account payment into `account`: everything left (guarded by the payment's
    /// balance when given the payment, as [`Self::full_cancel`]), or add [`CancelPayment::amount`] and
    /// [`CancelPayment::current_cancellable_amount`] for a partial refund.
    ///
    /// A virtual account only receives money, so the refund needs an account to send it to. What the provider
    /// enforces later, not this crate:
    ///
    /// * the store needs the PG's special contract for virtual-account refunds; Toss is the exception and needs
    ///   none (it keeps the original transaction's fee);
    /// * Smartro virtual accounts also need [`RefundAccount::holder_phone`];
    /// * each refund costs a 300 won transfer fee on top of the payment fee, charged to the store (so refunding
    ///   10,000 won costs the store 10,300), the original payment's fees are not returned, and the refund takes one
    ///   to two business days to arrive; there is no cancel deadline.
    ///
    /// These facts are data in [`policy::virtual_account_refund`] (PortOne's guide to cancels, "결제취소(환불) 연동하기", on
    /// its developer site). Pass the payment (or add
    /// [`CancelPayment::payment`]) to have the account, and the Smartro phone number, checked before sending.
    pub fn refund_virtual_account<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        account: RefundAccount,
        reason: impl Into<String>,
    ) -> CancelPayment {
        self.full_cancel(target, reason).refund_account(account)
    }
}

/// A cancel request (`POST /payments/{paymentId}/cancel`). Start one with [`Client::cancel_payment`] or a helper,
/// set what you need, then [`send`](Self::send) it. Fields you do not set are left out of the JSON.
///
/// `Debug` hides the refund account and the refund email.
#[derive(Clone)]
#[must_use = "nothing is cancelled until `send` is awaited"]
pub struct CancelPayment {
    client: Client,
    payment_id: String,
    reason: String,
    amount: Option<i64>,
    tax_free_amount: Option<i64>,
    vat_amount: Option<i64>,
    requester: Option<CancelRequester>,
    promotion_discount_retain_option: Option<PromotionDiscountRetainOption>,
    current_cancellable_amount: Option<i64>,
    refund_account: Option<RefundAccount>,
    refund_email: Option<String>,
    skip_webhook: Option<bool>,
    store_id: Option<String>,
    idempotency_key: String,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    known: Option<KnownPayment>,
    ignore_cancel_deadline: bool,
    now: Option<DateTime<Utc>>,
}

impl fmt::Debug for CancelPayment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelPayment")
            .field("client", &self.client)
            .field("payment_id", &self.payment_id)
            .field("reason", &self.reason)
            .field("amount", &self.amount)
            .field("tax_free_amount", &self.tax_free_amount)
            .field("vat_amount", &self.vat_amount)
            .field("requester", &self.requester)
            .field(
                "promotion_discount_retain_option",
                &self.promotion_discount_retain_option,
            )
            .field("current_cancellable_amount", &self.current_cancellable_amount)
            .field("refund_account", &self.refund_account)
            .field(
                "refund_email",
                &crate::sensitive::by_name("refundEmail", &self.refund_email),
            )
            .field("skip_webhook", &self.skip_webhook)
            .field("store_id", &self.store_id)
            .field("idempotency_key", &self.idempotency_key)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("known", &self.known)
            .field("ignore_cancel_deadline", &self.ignore_cancel_deadline)
            .field("now", &self.now)
            .finish()
    }
}

pub(super) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The shortest and longest `Idempotency-Key` PortOne takes, in characters.
pub const IDEMPOTENCY_KEY_CHARS: std::ops::RangeInclusive<usize> = 16..=256;

/// What a [`CancelPayment`] knows about the payment it cancels, for the policy checks.
#[derive(Debug, Clone)]
struct KnownPayment {
    /// The payment's own id, when it came from [`CancelPayment::payment`].
    id: Option<String>,
    deadline: Deadline,
    method: policy::PayMethod,
    /// A virtual account that has been paid into: its money can only go back to a bank account.
    deposited_virtual_account: bool,
    smartro: bool,
    /// What was left to cancel when the caller read it.
    balance: Option<i64>,
}

impl CancelPayment {
    /// The amount to cancel, in won (`amount`). Without it the whole balance is cancelled.
    pub fn amount(mut self, amount: i64) -> Self {
        self.amount = Some(amount);
        self
    }

    /// The tax-free part of the amount (`taxFreeAmount`). Without it PortOne treats the whole amount as taxable.
    pub fn tax_free_amount(mut self, amount: i64) -> Self {
        self.tax_free_amount = Some(amount);
        self
    }

    /// The VAT part of the amount (`vatAmount`). Without it PortOne computes it.
    pub fn vat_amount(mut self, amount: i64) -> Self {
        self.vat_amount = Some(amount);
        self
    }

    /// Who asked for the cancel (`requester`).
    pub fn requester(mut self, requester: CancelRequester) -> Self {
        self.requester = Some(requester);
        self
    }

    /// For a partial cancel of a payment with a PortOne promotion: keep the original discount rate (`RETAIN`,
    /// which adjusts the cancelled amount) or re-apply the promotion to what remains (`RELEASE`, PortOne's default).
    pub fn promotion_discount_retain_option(mut self, option: PromotionDiscountRetainOption) -> Self {
        self.promotion_discount_retain_option = Some(option);
        self
    }

    /// The balance you believe is left before this cancel (`currentCancellableAmount`). PortOne cancels only if it
    /// matches; it also makes the cancel safe to retry (see the [module docs](self)).
    pub fn current_cancellable_amount(mut self, balance: i64) -> Self {
        self.current_cancellable_amount = Some(balance);
        self
    }

    /// Where to send the money (`refundAccount`): needed for virtual-account payments and for some mobile-phone
    /// payments refunded after the month they were made in.
    pub fn refund_account(mut self, account: RefundAccount) -> Self {
        self.refund_account = Some(account);
        self
    }

    /// The customer's email for the refund (`refundEmail`); PortOne uses it for Triple-A payments only.
    pub fn refund_email(mut self, email: impl Into<String>) -> Self {
        self.refund_email = Some(email.into());
        self
    }

    /// When `true`, PortOne sends no webhook for a successful cancel (`skipWebhook`).
    pub fn skip_webhook(mut self, skip: bool) -> Self {
        self.skip_webhook = Some(skip);
        self
    }

    /// The store the payment belongs to (`storeId`). Default: the client's store id, if it has one; otherwise the
    /// store of the API secret.
    pub fn store_id(mut self, store_id: impl Into<String>) -> Self {
        self.store_id = Some(store_id.into());
        self
    }

    /// The `Idempotency-Key` to send, instead of the one generated when the cancel was started (a UUID v4): 16 to
    /// 256 letters, digits, `-` and `_`. Derive it from your own refund's id, and the same
    /// refund sent again (by another worker, after a restart) is answered with the first one's result instead of
    /// being applied twice. PortOne keeps a key for 3 hours.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = key.into();
        self
    }

    /// The `Idempotency-Key` every attempt of this cancel carries. Keep it with the refund: sending the same cancel
    /// again with it (within 3 hours) returns this cancel's outcome rather than cancelling again.
    pub fn key(&self) -> &str {
        &self.idempotency_key
    }

    /// The deadline of this call — every attempt, every wait between them and the read that settles an unknown
    /// outcome — instead of the client's. Keep it generous: a cancel that times out on our side may still
    /// complete at the PG.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of this call, instead of the client's. It only applies where a replay is harmless: with the
    /// balance guard set, or when nothing was sent.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The payment as you read it ([`Client::get_payment`]), so the cancel is checked against
    /// [`crate::policy`] before sending (see the [module docs](self#deadlines-and-virtual-accounts)): its cancel
    /// deadline, a refund account for a paid virtual account, the holder's phone number for Smartro. Its id must
    /// be the one being cancelled. Nothing from it is sent.
    pub fn payment(mut self, payment: &Payment) -> Self {
        let method = payment.policy_method();
        let paid_into = matches!(payment.status(), PaymentStatus::Paid | PaymentStatus::PartialCancelled);
        self.known = Some(KnownPayment {
            id: payment.id().map(str::to_string),
            deadline: payment.cancel_deadline(),
            method,
            deposited_virtual_account: method == policy::PayMethod::VirtualAccount && paid_into,
            smartro: matches!(payment.pg_provider(), Some(PgProvider::Smartro | PgProvider::SmartroV2)),
            balance: payment.cancellable_amount(),
        });
        self
    }

    /// The payment's method and payment time, from your own records, for the same checks as
    /// [`payment`](Self::payment) without reading the payment: the deadline, and a refund account for a virtual
    /// account (paid, since it has a payment time). The PG is not known this way, so Smartro's phone number is not
    /// checked.
    pub fn paid(mut self, method: policy::PayMethod, paid_at: DateTime<Utc>) -> Self {
        self.known = Some(KnownPayment {
            id: None,
            deadline: policy::deadline(policy::Provider::PortOneV2, method, paid_at),
            method,
            deposited_virtual_account: method == policy::PayMethod::VirtualAccount,
            smartro: false,
            balance: None,
        });
        self
    }

    /// Sends the cancel even when the payment's hard cancel deadline has passed, for a store whose PG contract
    /// allows later cancels (or, for a mobile-phone payment from an earlier month, a PG that refunds it to the
    /// [`refund_account`](Self::refund_account) instead). The outcome then carries
    /// [`CancelWarning::HardDeadlineIgnored`].
    pub fn ignore_cancel_deadline(mut self) -> Self {
        self.ignore_cancel_deadline = true;
        self
    }

    /// The time the deadline is checked against, instead of the system clock when the cancel is sent: for tests,
    /// or to decide as of a moment you record.
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The policy checks against what [`payment`](Self::payment) or [`paid`](Self::paid) told; the warnings of a
    /// cancel that may go ahead.
    fn check_policy(&self) -> Result<Vec<CancelWarning>, InvalidRequest> {
        let Some(known) = &self.known else {
            return Ok(Vec::new());
        };
        if let Some(id) = &known.id
            && *id != self.payment_id
        {
            return Err(InvalidRequest::new(
                "paymentId",
                format!("differs from the id {id:?} of the payment given with .payment()"),
            ));
        }
        if known.method == policy::PayMethod::VirtualAccount {
            let rules = policy::virtual_account_refund(policy::Provider::PortOneV2);
            match &self.refund_account {
                None if known.deposited_virtual_account
                    && rules.refund_account == policy::RefundAccountRule::Required =>
                {
                    return Err(InvalidRequest::new(
                        "refundAccount",
                        "a paid virtual account can only be refunded to a bank account: set refund_account",
                    ));
                }
                Some(account)
                    if known.smartro
                        && account.holder_phone.is_none()
                        && rules.holder_phone == policy::HolderPhoneRule::RequiredWhenPgIsSmartro =>
                {
                    return Err(InvalidRequest::new(
                        "refundAccount.holderPhoneNumber",
                        "is required to refund a Smartro virtual account",
                    ));
                }
                _ => {}
            }
        }
        let now = self.now.unwrap_or_else(Utc::now);
        policy::preflight(&known.deadline, now, self.ignore_cancel_deadline)
    }

    fn effective_store_id(&self) -> Option<&str> {
        self.store_id.as_deref().or(self.client.store_id())
    }

    /// Checks the request the way [`send`](Self::send) does, without sending it.
    ///
    /// Refused: an empty payment id, reason, store id or refund email; an `amount` that is not positive; a negative
    /// tax-free or VAT amount; tax-free plus VAT above the amount (or, for a full cancel with the balance guard,
    /// above the balance); a stated balance that is not positive (nothing would be left to cancel); an amount above
    /// the stated balance; a refund account without a number or holder name, or whose phone number is not made of
    /// digits only (write `01012345678`, not `010-1234-5678`). With [`payment`](Self::payment) or
    /// [`paid`](Self::paid), also: a payment whose id is not the one cancelled, a paid virtual account without a
    /// refund account, a Smartro virtual account without the holder's phone number, and a hard cancel deadline
    /// that has passed (see the [module docs](self#deadlines-and-virtual-accounts)).
    ///
    /// # Errors
    /// The first rule broken, with the field in PortOne's wire terms.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        check_id("paymentId", &self.payment_id)?;
        check_idempotency_key(&self.idempotency_key)?;
        if self.reason.trim().is_empty() {
            return Err(InvalidRequest::new(
                "reason",
                "is empty; PortOne requires a cancel reason",
            ));
        }
        if let Some(amount) = self.amount
            && amount <= 0
        {
            return Err(InvalidRequest::new(
                "amount",
                format!("is {amount}; a cancel amount must be positive (leave it out to cancel everything)"),
            ));
        }
        for (field, value) in [("taxFreeAmount", self.tax_free_amount), ("vatAmount", self.vat_amount)] {
            if let Some(v) = value
                && v < 0
            {
                return Err(InvalidRequest::new(field, format!("is {v}; it cannot be negative")));
            }
        }
        if let Some(balance) = self.current_cancellable_amount {
            if balance < 0 {
                return Err(InvalidRequest::new(
                    "currentCancellableAmount",
                    format!("is {balance}; a balance cannot be negative"),
                ));
            }
            if balance == 0 {
                return Err(InvalidRequest::new(
                    "currentCancellableAmount",
                    "is 0: nothing is left to cancel",
                ));
            }
            if let Some(amount) = self.amount
                && amount > balance
            {
                return Err(InvalidRequest::new(
                    "amount",
                    format!("{amount} is more than the stated balance of {balance}"),
                ));
            }
        }
        if self.tax_free_amount.is_some() || self.vat_amount.is_some() {
            // Without an amount the cancel covers the whole balance, so the stated balance is the ceiling.
            let ceiling = self.amount.or(self.current_cancellable_amount);
            if let Some(ceiling) = ceiling {
                let parts = self
                    .tax_free_amount
                    .unwrap_or(0)
                    .checked_add(self.vat_amount.unwrap_or(0));
                if parts.is_none_or(|p| p > ceiling) {
                    return Err(InvalidRequest::new(
                        "taxFreeAmount+vatAmount",
                        format!(
                            "tax-free {} plus VAT {} is more than the {ceiling} won being cancelled",
                            self.tax_free_amount.unwrap_or(0),
                            self.vat_amount.unwrap_or(0)
                        ),
                    ));
                }
            }
        }
        if let Some(account) = &self.refund_account {
            account.validate()?;
        }
        if let Some(email) = &self.refund_email
            && email.trim().is_empty()
        {
            return Err(InvalidRequest::new("refundEmail", "is empty"));
        }
        if let Some(store) = self.effective_store_id()
            && store.trim().is_empty()
        {
            return Err(InvalidRequest::new("storeId", "is empty"));
        }
        self.check_policy()?;
        Ok(())
    }

    fn body(&self) -> CancelPaymentBody {
        CancelPaymentBody {
            amount: self.amount,
            current_cancellable_amount: self.current_cancellable_amount,
            promotion_discount_retain_option: self.promotion_discount_retain_option.clone(),
            reason: self.reason.clone(),
            refund_account: self.refund_account.as_ref().map(RefundAccount::to_wire),
            refund_email: self.refund_email.clone(),
            requester: self.requester.clone(),
            skip_webhook: self.skip_webhook,
            store_id: self.effective_store_id().map(str::to_string),
            tax_free_amount: self.tax_free_amount,
            vat_amount: self.vat_amount,
        }
    }

    /// Sends the cancel.
    ///
    /// # Errors
    /// * [`Error::InvalidRequest`] when [`validate`](Self::validate) refuses; nothing is sent.
    /// * [`Error::Api`] with a [`CancelPaymentError`] and the HTTP status when PortOne refuses;
    ///   [`Error::delivery`] says whether that proves nothing was applied (a 5xx or 429 does not).
    /// * [`Error::Transport`] when no usable response arrived. After a timeout the cancel may have gone through:
    ///   send it again with the same [`key`](Self::key), or read the payment.
    /// * [`Error::Decode`] when the answer does not match the spec; the raw body is kept.
    /// * [`Error::Inconsistent`] when PortOne answered with success but a cancellation that does not fit the
    ///   request (another amount, a negative one, more than the balance).
    /// * [`Error::Unverified`] when an attempt's outcome was unknown and the payment shows a cancel that fits this
    ///   one which the crate cannot prove is this request's.
    ///
    /// The request is checked when `send` is called and the check's result is kept for the future; nothing is
    /// sent until the future is polled.
    pub fn send(self) -> impl Future<Output = Result<CancelOutcome, Error<CancelPaymentError>>> + Send + 'static {
        self.send_settled().map(|settled| settled.map(|(outcome, _)| outcome))
    }

    fn call(&self) -> Result<crate::transport::Call, InvalidRequest> {
        self.validate()?;
        let path = path_with_segment("/payments/", "paymentId", &self.payment_id, "/cancel")?;
        let mut call = self
            .client
            .call(
                "cancelPayment",
                reqwest::Method::POST,
                "/payments/{paymentId}/cancel",
                path,
            )
            .json(&self.body());
        // An RFC 8941 string: the key in double quotes (it holds neither quotes nor backslashes).
        let header = HeaderValue::from_str(&format!("\"{}\"", self.idempotency_key))
            .map_err(|_| InvalidRequest::new("Idempotency-Key", "cannot travel in an HTTP header"))?;
        call.headers.insert(IDEMPOTENCY_KEY, header);
        // PortOne answers a repeat of a keyed request with the first one's answer: a replay cannot refund twice.
        call.replay = Replay::Safe;
        call.pending = Some(super::reconcile::is_pending);
        call.retry_unauthorized = true;
        call.timeout = self.timeout;
        call.retry = self.retry.clone();
        Ok(call)
    }

    fn expectation(&self) -> Expectation {
        Expectation {
            amount: self.amount,
            guard: self.current_cancellable_amount,
            known_balance: self.known.as_ref().and_then(|k| k.balance),
            reason: self.reason.clone(),
            amount_may_be_adjusted: matches!(
                self.promotion_discount_retain_option,
                Some(PromotionDiscountRetainOption::Retain)
            ),
            store_id: self.effective_store_id().map(str::to_string),
        }
    }

    /// Like [`Self::send`], also returning the `cancellation` object exactly as PortOne sent it (for the
    /// provider-neutral outcome).
    pub(crate) async fn send_keeping_raw(self) -> Result<(CancelOutcome, crate::RawJson), Error<CancelPaymentError>> {
        let (outcome, body) = self.send_settled().await?;
        Ok((outcome, super::reconcile::raw_cancellation(&body)))
    }

    /// Sends the cancel; the outcome and the answer's body.
    ///
    /// Checks and builds the request before returning the future, which then holds only what sending needs (the
    /// call, the expectation, the warnings) instead of the whole builder: every cancel's future is smaller by that.
    fn send_settled(
        mut self,
    ) -> impl Future<Output = Result<(CancelOutcome, bytes::Bytes), Error<CancelPaymentError>>> + Send + 'static {
        // One clock reading for the check that may refuse and for the warnings the outcome carries.
        self.now.get_or_insert_with(Utc::now);
        let prepared = self
            .call()
            .and_then(|call| Ok((call, self.check_policy()?)))
            .map(|(call, warnings)| (call, warnings, self.expectation()));
        match prepared {
            Err(invalid) => Either::Left(std::future::ready(Err(invalid.into()))),
            Ok((call, warnings, expect)) => Either::Right(
                super::reconcile::send_cancel(self.client, Box::new(call), self.payment_id, expect).map(
                    move |settled| {
                        let Settled {
                            outcome,
                            body,
                            after_unknown,
                        } = settled?;
                        Ok((outcome.with_warnings(warnings).reconciled(after_unknown), body))
                    },
                ),
            ),
        }
    }
}

/// Checks a caller's `Idempotency-Key` the way PortOne takes it.
fn check_idempotency_key(key: &str) -> Result<(), InvalidRequest> {
    const FIELD: &str = "Idempotency-Key";
    // Counting characters walks the key; an ASCII key (every valid one) has as many as it has bytes.
    let chars = if key.is_ascii() { key.len() } else { key.chars().count() };
    if !IDEMPOTENCY_KEY_CHARS.contains(&chars) {
        return Err(InvalidRequest::new(
            FIELD,
            format!(
                "has {chars} characters; PortOne takes {} to {}",
                IDEMPOTENCY_KEY_CHARS.start(),
                IDEMPOTENCY_KEY_CHARS.end()
            ),
        ));
    }
    // PortOne's reference lists these characters; anything else could be refused (or read differently) after the
    // refund was sent, so it is refused here, before.
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(InvalidRequest::new(
            FIELD,
            "may contain only letters, digits, `-` and `_` (e.g. your refund id with other characters replaced)",
        ));
    }
    Ok(())
}

/// The account a refund is sent to (`refundAccount`), built from one type per part so a swap does not compile:
/// `RefundAccount::new(Bank, AccountNumber, HolderName)`, the same order as every provider's.
///
/// Written by hand rather than re-exporting the generated body type so that its `Debug` never prints the account
/// number, the holder's name or phone number into a log, and so it can check itself before anything is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct RefundAccount {
    /// The bank (`bank`).
    pub bank: Bank,
    /// The account number (`number`). Must not be empty.
    pub number: AccountNumber,
    /// The account holder's name (`holderName`). Must not be empty.
    pub holder_name: HolderName,
    /// The holder's phone number, digits only (`holderPhoneNumber`). PortOne needs it for Smartro virtual
    /// accounts.
    pub holder_phone: Option<PhoneNumber>,
}

impl RefundAccount {
    /// An account without a phone number.
    pub fn new(bank: Bank, number: AccountNumber, holder_name: HolderName) -> Self {
        RefundAccount {
            bank,
            number,
            holder_name,
            holder_phone: None,
        }
    }

    /// Adds the holder's phone number, digits only (e.g. `01012345678`).
    pub fn holder_phone(mut self, phone: PhoneNumber) -> Self {
        self.holder_phone = Some(phone);
        self
    }

    /// Checks the account the way [`CancelPayment::send`] does.
    ///
    /// # Errors
    /// An empty number or holder name, or a phone number that is empty or holds anything but ASCII digits.
    /// Hyphens are refused rather than stripped: PortOne does not document that it accepts them, and a refund
    /// should not depend on a guess.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        if self.number.expose().trim().is_empty() {
            return Err(InvalidRequest::new("refundAccount.number", "is empty"));
        }
        if self.holder_name.expose().trim().is_empty() {
            return Err(InvalidRequest::new("refundAccount.holderName", "is empty"));
        }
        if let Some(phone) = &self.holder_phone
            && (phone.expose().is_empty() || !phone.expose().bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(InvalidRequest::new(
                "refundAccount.holderPhoneNumber",
                "must be digits only, e.g. 01012345678",
            ));
        }
        Ok(())
    }

    fn to_wire(&self) -> CancelPaymentBodyRefundAccount {
        CancelPaymentBodyRefundAccount {
            bank: self.bank.clone(),
            holder_name: self.holder_name.expose().to_string(),
            holder_phone_number: self.holder_phone.as_ref().map(|p| p.expose().to_string()),
            number: self.number.expose().to_string(),
        }
    }
}

impl fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sensitive::by_name;
        // The number's last four digits (when it is long enough to keep the rest hidden) tell accounts apart.
        f.debug_struct("RefundAccount")
            .field("bank", &self.bank)
            .field("number", &by_name("number", &self.number))
            .field("holder_name", &by_name("holderName", &self.holder_name))
            .field("holder_phone", &by_name("holderPhoneNumber", &self.holder_phone))
            .finish()
    }
}

/// What PortOne did with a cancel. HTTP 200 can carry any of these: only [`Succeeded`](Self::Succeeded) means the
/// money went back.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[must_use = "a cancel can come back failed or only requested: match the outcome"]
pub enum CancelOutcome {
    /// The cancel is done (`SUCCEEDED`); [`Cancellation::receipt_url`] may hold the PG's receipt.
    Succeeded(Cancellation),
    /// The cancel was accepted but completes later (`REQUESTED`): wait for the `Transaction.Cancelled` or
    /// `Transaction.PartialCancelled` webhook, or read the payment again.
    Requested(Cancellation),
    /// The cancel was attempted and failed (`FAILED`); nothing was refunded by it.
    Failed(Cancellation),
    /// A status this crate does not know; the raw JSON is kept. Treat it as unknown, not as a success.
    Unrecognized(UnrecognizedCancellation),
}

impl CancelOutcome {
    /// The status as sent (`SUCCEEDED`, `REQUESTED`, `FAILED` or an unknown one).
    pub fn status(&self) -> &str {
        match self {
            CancelOutcome::Succeeded(_) => "SUCCEEDED",
            CancelOutcome::Requested(_) => "REQUESTED",
            CancelOutcome::Failed(_) => "FAILED",
            CancelOutcome::Unrecognized(u) => u.status(),
        }
    }

    /// The cancellation's details: always there for the known statuses, and for an unknown status when its JSON
    /// still has the fields every cancellation has.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        match self {
            CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) | CancelOutcome::Failed(c) => Some(c),
            CancelOutcome::Unrecognized(u) => u.cancellation(),
        }
    }

    /// The cancellation id (`id`), the one webhooks name as `cancellationId`.
    pub fn id(&self) -> Option<&str> {
        self.cancellation().map(|c| c.id.as_str())
    }

    /// Whether the money went back.
    pub fn is_succeeded(&self) -> bool {
        matches!(self, CancelOutcome::Succeeded(_))
    }

    /// The PG's receipt for a succeeded cancel, when PortOne sent one.
    pub fn receipt_url(&self) -> Option<&str> {
        match self {
            CancelOutcome::Succeeded(c) => c.receipt_url.as_deref(),
            _ => None,
        }
    }

    /// What the policy check before sending noticed without refusing: a soft cancel deadline that had passed, or
    /// a hard one ignored on request ([`CancelPayment::ignore_cancel_deadline`]). Empty when the cancel was not
    /// given the payment, and for cancellations read from a payment.
    pub fn warnings(&self) -> &[CancelWarning] {
        match self {
            CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) | CancelOutcome::Failed(c) => &c.warnings,
            CancelOutcome::Unrecognized(u) => &u.warnings,
        }
    }

    fn with_warnings(mut self, warnings: Vec<CancelWarning>) -> Self {
        match &mut self {
            CancelOutcome::Succeeded(c) | CancelOutcome::Requested(c) | CancelOutcome::Failed(c) => {
                c.warnings = warnings
            }
            CancelOutcome::Unrecognized(u) => u.warnings = warnings,
        }
        self
    }
}

impl From<PaymentCancellation> for CancelOutcome {
    fn from(raw: PaymentCancellation) -> Self {
        match raw {
            PaymentCancellation::Succeeded {
                cancelled_at,
                easy_pay_discount_amount,
                id,
                pg_cancellation_id,
                reason,
                receipt_url,
                requested_at,
                tax_free_amount,
                total_amount,
                trigger,
                vat_amount,
            } => CancelOutcome::Succeeded(Cancellation {
                id,
                pg_cancellation_id,
                total_amount,
                tax_free_amount,
                vat_amount,
                easy_pay_discount_amount,
                reason,
                requested_at,
                cancelled_at,
                receipt_url,
                trigger,
                warnings: Vec::new(),
                reconciled: false,
            }),
            PaymentCancellation::Requested {
                cancelled_at,
                easy_pay_discount_amount,
                id,
                pg_cancellation_id,
                reason,
                requested_at,
                tax_free_amount,
                total_amount,
                trigger,
                vat_amount,
            } => CancelOutcome::Requested(Cancellation {
                id,
                pg_cancellation_id,
                total_amount,
                tax_free_amount,
                vat_amount,
                easy_pay_discount_amount,
                reason,
                requested_at,
                cancelled_at,
                receipt_url: None,
                trigger,
                warnings: Vec::new(),
                reconciled: false,
            }),
            PaymentCancellation::Failed {
                cancelled_at,
                easy_pay_discount_amount,
                id,
                pg_cancellation_id,
                reason,
                requested_at,
                tax_free_amount,
                total_amount,
                trigger,
                vat_amount,
            } => CancelOutcome::Failed(Cancellation {
                id,
                pg_cancellation_id,
                total_amount,
                tax_free_amount,
                vat_amount,
                easy_pay_discount_amount,
                reason,
                requested_at,
                cancelled_at,
                receipt_url: None,
                trigger,
                warnings: Vec::new(),
                reconciled: false,
            }),
            // No wildcard arm on purpose: a status added to the spec must break this match at the next regen.
            PaymentCancellation::Unrecognized(raw) => CancelOutcome::Unrecognized(UnrecognizedCancellation::new(raw.0)),
        }
    }
}

/// One cancellation of a payment.
///
/// Written by hand because the generated `PaymentCancellation` repeats these fields in one struct-like variant per
/// status, so no single type could be handed back for all of them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Cancellation {
    /// The cancellation id (`id`), named `cancellationId` in webhooks.
    pub id: String,
    /// The PG's own id for the cancellation (`pgCancellationId`), when it gave one.
    pub pg_cancellation_id: Option<String>,
    /// Total amount cancelled, in won (`totalAmount`).
    pub total_amount: i64,
    /// Tax-free part of it (`taxFreeAmount`).
    pub tax_free_amount: i64,
    /// VAT part of it (`vatAmount`).
    pub vat_amount: i64,
    /// Easy-pay discount taken back with the cancel (`easyPayDiscountAmount`), if any.
    pub easy_pay_discount_amount: Option<i64>,
    /// The reason given (`reason`).
    pub reason: String,
    /// When the cancel was asked for (`requestedAt`).
    pub requested_at: DateTime<Utc>,
    /// When it was done (`cancelledAt`), if it was.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The PG's receipt (`receiptUrl`); only succeeded cancellations carry one.
    pub receipt_url: Option<String>,
    /// What started the cancel (`trigger`), e.g. the console or the API.
    pub trigger: Option<Trigger>,
    /// Set on the outcome of [`CancelPayment::send`]; see [`CancelOutcome::warnings`].
    warnings: Vec<CancelWarning>,
    /// Set when the cancellation was confirmed by reading the payment again; see [`Cancellation::is_reconciled`].
    pub(super) reconciled: bool,
}

/// A cancellation whose status this crate does not know. `Debug` prints its raw JSON with personal data hidden.
#[derive(Clone, PartialEq)]
pub struct UnrecognizedCancellation {
    status: String,
    raw: serde_json::Value,
    common: Option<Cancellation>,
    warnings: Vec<CancelWarning>,
}

impl fmt::Debug for UnrecognizedCancellation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnrecognizedCancellation")
            .field("status", &self.status)
            .field("raw", &crate::sensitive::Json(&self.raw))
            .field("common", &self.common)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// The fields every known status shares: read from an unknown status on a best-effort basis, and used to point a
/// decode error at the field that does not fit.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CommonFields {
    id: String,
    pg_cancellation_id: Option<String>,
    total_amount: i64,
    tax_free_amount: i64,
    vat_amount: i64,
    easy_pay_discount_amount: Option<i64>,
    reason: String,
    requested_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
    receipt_url: Option<String>,
    trigger: Option<Trigger>,
}

impl UnrecognizedCancellation {
    fn new(raw: serde_json::Value) -> Self {
        let status = raw
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let common = serde_json::from_value::<CommonFields>(raw.clone())
            .ok()
            .map(|c| Cancellation {
                id: c.id,
                pg_cancellation_id: c.pg_cancellation_id,
                total_amount: c.total_amount,
                tax_free_amount: c.tax_free_amount,
                vat_amount: c.vat_amount,
                easy_pay_discount_amount: c.easy_pay_discount_amount,
                reason: c.reason,
                requested_at: c.requested_at,
                cancelled_at: c.cancelled_at,
                receipt_url: c.receipt_url,
                trigger: c.trigger,
                warnings: Vec::new(),
                reconciled: false,
            });
        UnrecognizedCancellation {
            status,
            raw,
            common,
            warnings: Vec::new(),
        }
    }

    /// The status as sent.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The whole JSON object as sent.
    pub fn raw(&self) -> &serde_json::Value {
        &self.raw
    }

    /// The fields every cancellation has, when this one still has them all.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        self.common.as_ref()
    }
}
