//! Cancelling Toss payments: in full, in part, and refunding virtual accounts.
//!
//! ```no_run
//! # async fn demo(client: kr_payments::toss::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use kr_payments::toss::{AccountNumber, BankCode, HolderName, PaymentKey, RefundAccount};
//!
//! let payment = client.get_payment(&PaymentKey::new("tgen_20240101abcd")).await?;
//!
//! // The three cases of Toss's cancel guide, each checked against the payment before anything is sent:
//! let full = client.full_cancel(&payment, "customer changed their mind");
//! let part = client.partial_cancel(&payment, 1_000, payment.balance(), "one item returned");
//! let refund = client.refund_virtual_account(
//!     &payment,
//!     RefundAccount::new(BankCode::new("20"), AccountNumber::new("1002345678901"), HolderName::new("김토스")),
//!     "customer changed their mind",
//! );
//! # let _ = (full, refund);
//!
//! // Prepare once, send as often as needed: every send carries the same Idempotency-Key, so a resend after a
//! // timeout returns the first outcome instead of refunding twice.
//! let cancel = part.prepare()?;
//! let done = match cancel.send().await {
//!     Ok(done) => done,
//!     Err(e) if e.is_timeout() || e.is_retryable() => cancel.send().await?,
//!     Err(e) => return Err(format!("{e} (Idempotency-Key {})", cancel.key()).into()),
//! };
//! println!("refunded, balance {} (key {})", done.payment.balance(), done.idempotency_key);
//! # Ok(()) }
//! ```
//!
//! # The idempotency key
//! Toss remembers a request's answer under its `Idempotency-Key` for 15 days (per secret key, URL and method)
//! and answers a repeat with the first answer instead of acting again. Each [`CancelPayment`] gets one key: yours
//! ([`CancelPayment::idempotency_key`]) or a fresh UUID v4, chosen when the cancel is started. Automatic retries
//! and every [`PreparedCancel::send`] reuse it; [`CancelPayment::key`], [`PreparedCancel::key`] and [`Cancelled`]
//! hand it back, so a caller that must resend later (another process, after a restart) can store it and pass it
//! again. Use a new key only for a new logical cancel, and only after re-reading the payment.
//!
//! Because of the key, a Toss cancel is safe to replay, and the client's [`RetryPolicy`] retries it after a
//! timeout, a dropped connection, 429 or 5xx like a read.
//!
//! # Checks before sending
//! [`CancelPayment::prepare`] refuses, with [`Error::InvalidRequest`] and nothing sent: an empty or over-long
//! (200 characters) reason, an empty or over-long (200) payment key, an amount or `refundableAmount` of zero or
//! less, a tax-free amount below zero or above the amount, an amount above `refundableAmount`, a refund account
//! whose number is not 1 to 20 digits or whose holder is empty or over 60 characters, a currency that is not three
//! capital letters, an idempotency key that is empty, over 300 characters or not printable ASCII, and a
//! [test code](CancelPayment::test_code) with a key that is not a test key.
//!
//! With [`CancelPayment::payment`] (the payment as you read it earlier) it also refuses: a payment key that is not
//! that payment's; a payment that cannot be cancelled (`READY`, `IN_PROGRESS`, `CANCELED`, `ABORTED`, `EXPIRED`,
//! or nothing left); an amount above its balance; a partial cancel Toss said it does not allow; a partial cancel
//! of a virtual account still `WAITING_FOR_DEPOSIT` (the amount to deposit cannot change); a cancel of a paid
//! virtual account without a refund account; and a `refundableAmount` that differs from its balance.
//!
//! # Deadlines
//! With [`CancelPayment::payment`], [`CancelPayment::prepare`] also checks the payment's cancel deadline from
//! [`crate::policy`] (Toss's cancel guide, <https://docs.tosspayments.com/guides/v2/cancel-payment>, section 결제 취소 기한),
//! counted from its `approvedAt`. Past a hard deadline (a mobile-phone payment from an earlier KST month; an account
//! transfer or PayPal payment older than 180 days) the cancel is refused with [`Error::InvalidRequest`] on the field
//! [`policy::CANCEL_DEADLINE_FIELD`], unless [`CancelPayment::ignore_cancel_deadline`] says your contract differs. Past
//! a soft deadline (a card payment older than a year, a virtual account past the usual 365 days) it goes ahead, and
//! [`Cancelled::warnings`] says so. The deadline is checked once, in `prepare`: resending a prepared cancel repeats the
//! same logical cancel and is not refused later.
//!
//! # Virtual accounts
//! Toss needs no special contract for virtual-account refunds, and the original payment's fees are not returned
//! ([`policy::virtual_account_refund`]). A paid virtual account can only be refunded to a bank account; the one a
//! customer typed into the payment widget is readable from the payment for 30 minutes only, so keep it from the
//! confirm answer ([`Payment::widget_refund_account`], whose [`RefundAccount`] serializes for storage).

use super::payment::{Payment, Status};
use super::raw::types as wire;
use super::{Client, PaymentKey, TossError};
use crate::account::{AccountNumber, BankCode, HolderName};
use crate::error::{Error, InvalidRequest};
use crate::policy::{self, CancelWarning};
use crate::transport::{Call, Replay, RetryPolicy, chars_beyond, path_with_segment};
use chrono::{DateTime, Utc};
use futures::future::Either;
use reqwest::header::{HeaderName, HeaderValue};
use std::fmt;
use std::time::Duration;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const TEST_CODE: HeaderName = HeaderName::from_static("tosspayments-test-code");
const MAX_REASON_CHARS: usize = 200;
const MAX_PAYMENT_KEY_CHARS: usize = 200;
const MAX_ACCOUNT_NUMBER_DIGITS: usize = 20;
const MAX_HOLDER_NAME_CHARS: usize = 60;
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 300;

/// Where Toss sends the money back when a paid virtual-account payment is cancelled (`refundReceiveAccount`), built
/// from one type per part so a swap does not compile: `RefundAccount::new(BankCode, AccountNumber, HolderName)`, the
/// same order as every provider's.
///
/// `Debug` hides the account number and the holder's name. Serde reads and writes the fields under the cancel
/// request's names (`bank`, `accountNumber`, `holderName`), so an account taken from the confirm answer
/// ([`Payment::widget_refund_account`]) can be stored with the order and read back for a refund.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundAccount {
    /// Toss's code of the bank or securities company (e.g. `20`; Toss's bank-code table lists them).
    pub bank: BankCode,
    /// The account number, digits only (no hyphens), at most 20.
    pub account_number: AccountNumber,
    /// The account holder's name, at most 60 characters.
    pub holder_name: HolderName,
}

/// The name Toss's API gives a [`RefundAccount`].
pub type RefundReceiveAccount = RefundAccount;

impl RefundAccount {
    /// A refund account from its bank code, number and holder.
    pub fn new(bank: BankCode, account_number: AccountNumber, holder_name: HolderName) -> Self {
        RefundAccount {
            bank,
            account_number,
            holder_name,
        }
    }

    fn validate(&self) -> Result<(), InvalidRequest> {
        if self.bank.as_str().trim().is_empty() {
            return Err(InvalidRequest::new("refundReceiveAccount.bank", "is empty"));
        }
        let number = self.account_number.expose();
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidRequest::new(
                "refundReceiveAccount.accountNumber",
                "must be digits only (no hyphens or spaces)",
            ));
        }
        if number.len() > MAX_ACCOUNT_NUMBER_DIGITS {
            return Err(InvalidRequest::new(
                "refundReceiveAccount.accountNumber",
                format!("has {} digits; at most {MAX_ACCOUNT_NUMBER_DIGITS}", number.len()),
            ));
        }
        let holder = self.holder_name.expose();
        if holder.trim().is_empty() {
            return Err(InvalidRequest::new("refundReceiveAccount.holderName", "is empty"));
        }
        let chars = holder.chars().count();
        if chars > MAX_HOLDER_NAME_CHARS {
            return Err(InvalidRequest::new(
                "refundReceiveAccount.holderName",
                format!("has {chars} characters; at most {MAX_HOLDER_NAME_CHARS}"),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sensitive::by_name;
        f.debug_struct("RefundReceiveAccount")
            .field("bank", &self.bank.as_str())
            .field("account_number", &by_name("accountNumber", &self.account_number))
            .field("holder_name", &by_name("holderName", &self.holder_name))
            .finish()
    }
}

impl From<RefundAccount> for wire::RefundReceiveAccount {
    fn from(a: RefundAccount) -> Self {
        wire::RefundReceiveAccount {
            bank: a.bank.into_inner(),
            account_number: a.account_number.into_inner(),
            holder_name: a.holder_name.into_inner(),
        }
    }
}

/// Which payment a cancel helper cancels: its [`PaymentKey`], or the [`Payment`] as you read it. Given the payment,
/// the cancel is checked against it before sending ([`CancelPayment::payment`]), and [`Client::full_cancel`] sends
/// its balance as `refundableAmount`.
#[derive(Debug, Clone)]
pub enum CancelTarget<'a> {
    /// By Toss's payment key.
    Id(PaymentKey),
    /// The payment as read: its `paymentKey` is cancelled.
    Payment(&'a Payment),
}

impl From<PaymentKey> for CancelTarget<'_> {
    fn from(id: PaymentKey) -> Self {
        CancelTarget::Id(id)
    }
}
impl From<&PaymentKey> for CancelTarget<'_> {
    fn from(id: &PaymentKey) -> Self {
        CancelTarget::Id(id.clone())
    }
}
impl<'a> From<&'a Payment> for CancelTarget<'a> {
    fn from(payment: &'a Payment) -> Self {
        CancelTarget::Payment(payment)
    }
}

impl Client {
    /// Starts a cancel of `target` (`POST /v1/payments/{paymentKey}/cancel`) for `reason`: the whole remaining
    /// balance unless [`CancelPayment::amount`] says otherwise. Given the payment as read, the cancel is checked
    /// against it ([`CancelPayment::payment`]); nothing else from it is sent. Nothing is sent until
    /// [`CancelPayment::send`] or [`PreparedCancel::send`].
    pub fn cancel_payment<'t>(&self, target: impl Into<CancelTarget<'t>>, reason: impl Into<String>) -> CancelPayment {
        let target = target.into();
        let payment_key = match &target {
            CancelTarget::Id(key) => key.as_str().to_string(),
            CancelTarget::Payment(p) => p.payment_key().to_string(),
        };
        let request = CancelPayment {
            client: self.clone(),
            payment_key,
            reason: reason.into(),
            amount: None,
            tax_free_amount: None,
            currency: None,
            refund_receive_account: None,
            refundable_amount: None,
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            payment: None,
            timeout: None,
            retry: None,
            ignore_cancel_deadline: false,
            now: None,
            test_code: None,
        };
        match target {
            CancelTarget::Payment(payment) => request.payment(payment),
            CancelTarget::Id(_) => request,
        }
    }

    /// Cancels everything left of `target`. Given the payment as read, the cancel is checked against it before
    /// sending and its balance is sent as `refundableAmount`, so Toss refuses (`NOT_MATCHES_REFUNDABLE_AMOUNT`) if
    /// someone else cancelled in between; given a key, add [`CancelPayment::refundable_amount`] for the same guard.
    /// Either way the `Idempotency-Key` keeps a resend from cancelling twice.
    ///
    /// For a virtual account that has been paid into, add [`CancelPayment::refund_account`] or use
    /// [`Self::refund_virtual_account`]; before the deposit, this closes the account.
    pub fn full_cancel<'t>(&self, target: impl Into<CancelTarget<'t>>, reason: impl Into<String>) -> CancelPayment {
        let target = target.into();
        let balance = match &target {
            CancelTarget::Payment(p) => Some(p.balance()),
            CancelTarget::Id(_) => None,
        };
        let request = self.cancel_payment(target, reason);
        match balance {
            Some(balance) => request.refundable_amount(balance),
            None => request,
        }
    }

    /// Cancels `amount` won out of a balance you state as `expected_balance` (what is left before this cancel),
    /// sent as `refundableAmount`, so a stale read cannot refund more than intended. Given the payment as read, the
    /// cancel is also checked against it (the balance must be `expected_balance`, a partial cancel must be
    /// possible).
    pub fn partial_cancel<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        amount: i64,
        expected_balance: i64,
        reason: impl Into<String>,
    ) -> CancelPayment {
        self.cancel_payment(target, reason)
            .amount(amount)
            .refundable_amount(expected_balance)
    }

    /// Refunds a paid virtual-account payment to `account`: everything left, or [`CancelPayment::amount`] won.
    /// Checked and guarded like [`Self::full_cancel`].
    pub fn refund_virtual_account<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        account: RefundAccount,
        reason: impl Into<String>,
    ) -> CancelPayment {
        self.full_cancel(target, reason).refund_account(account)
    }
}

/// A cancel being put together. Set what you need, then [`send`](Self::send) it, or [`prepare`](Self::prepare)
/// it to send it (again) later with the same idempotency key.
#[derive(Debug, Clone)]
#[must_use = "a cancel does nothing until it is sent"]
pub struct CancelPayment {
    client: Client,
    payment_key: String,
    reason: String,
    amount: Option<i64>,
    tax_free_amount: Option<i64>,
    currency: Option<String>,
    refund_receive_account: Option<RefundAccount>,
    refundable_amount: Option<i64>,
    idempotency_key: String,
    payment: Option<Known>,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    ignore_cancel_deadline: bool,
    now: Option<DateTime<Utc>>,
    test_code: Option<String>,
}

impl CancelPayment {
    /// Sends `TossPayments-Test-Code: <code>` with this cancel, so Toss's test environment answers with that error
    /// (e.g. `ALREADY_REFUNDING_PAYMENT`) instead of cancelling; it replaces the client's code, if any, for this
    /// cancel only. [`Self::prepare`] refuses it, nothing sent, unless the client has a test key (see the
    /// [Toss module docs](super#test-codes)).
    pub fn test_code(mut self, code: impl Into<String>) -> Self {
        self.test_code = Some(code.into());
        self
    }

    /// Cancels only this many won (`cancelAmount`). Without it, Toss cancels the whole remaining balance.
    pub fn amount(mut self, won: i64) -> Self {
        self.amount = Some(won);
        self
    }

    /// The tax-free part of the cancelled amount, in won (`taxFreeAmount`; Toss assumes 0).
    pub fn tax_free_amount(mut self, won: i64) -> Self {
        self.tax_free_amount = Some(won);
        self
    }

    /// The currency of the amounts (`currency`), e.g. `KRW`. Toss needs it only for partial cancels of foreign
    /// easy-pay payments; amounts here are whole units, so those are out of reach of this facade anyway.
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// Where to send the money of a paid virtual-account payment (`refundReceiveAccount`). Not needed, and not
    /// used, before the customer has paid in.
    pub fn refund_account(mut self, account: RefundAccount) -> Self {
        self.refund_receive_account = Some(account);
        self
    }

    /// The same as [`refund_account`](Self::refund_account), under Toss's name for it.
    pub fn refund_receive_account(self, account: RefundAccount) -> Self {
        self.refund_account(account)
    }

    /// The balance you expect the payment to have before this cancel (`refundableAmount`). Toss refuses the cancel
    /// with `NOT_MATCHES_REFUNDABLE_AMOUNT` when it differs, which stops a second refund issued from a stale read.
    pub fn refundable_amount(mut self, won: i64) -> Self {
        self.refundable_amount = Some(won);
        self
    }

    /// Your own `Idempotency-Key` (at most 300 printable ASCII characters), e.g. one stored from an earlier
    /// attempt, instead of the UUID v4 generated when the cancel was started.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = key.into();
        self
    }

    /// The `Idempotency-Key` every attempt of this cancel carries. Keep it with the refund: sending the same
    /// cancel again with it (within Toss's 15 days) returns this cancel's outcome rather than cancelling again.
    pub fn key(&self) -> &str {
        &self.idempotency_key
    }

    /// The payment as you read it earlier, so the cancel can be checked against it before anything is sent (see
    /// the [module docs](self#checks-before-sending)). It is not sent; to have Toss check the balance too, add
    /// [`Self::refundable_amount`] (the `cancel_*` helpers on [`Client`] do both).
    pub fn payment(mut self, payment: &Payment) -> Self {
        self.payment = Some(Known::read(payment, &self.payment_key));
        self
    }

    /// A total timeout for each attempt of this cancel, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A retry policy for this cancel, instead of the client's.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Prepares the cancel even when the payment's hard cancel deadline has passed, for a store whose contract
    /// with Toss allows later cancels. The result then carries [`CancelWarning::HardDeadlineIgnored`] (see the
    /// [module docs](self#deadlines)).
    pub fn ignore_cancel_deadline(mut self) -> Self {
        self.ignore_cancel_deadline = true;
        self
    }

    /// The time the deadline is checked against, instead of the system clock in [`Self::prepare`]: for tests, or
    /// to decide as of a moment you record.
    pub fn now(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The deadline check against the payment given with [`Self::payment`]; the warnings of a cancel that may go
    /// ahead.
    fn check_policy(&self) -> Result<Vec<CancelWarning>, InvalidRequest> {
        let Some(payment) = &self.payment else {
            return Ok(Vec::new());
        };
        let now = self.now.unwrap_or_else(Utc::now);
        policy::preflight(&payment.deadline, now, self.ignore_cancel_deadline)
    }

    /// Checks the cancel, fixes its body, and returns it ready to send as often as needed with the same
    /// idempotency key ([`Self::key`]).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for any check in the [module docs](self#checks-before-sending), or a hard cancel
    /// deadline that has passed ([module docs](self#deadlines)). Nothing is sent; [`Self::key`] is the key that
    /// would have been used.
    pub fn prepare(self) -> Result<PreparedCancel, Error<TossError>> {
        let key = self.idempotency_key.clone();
        let (path, header) = self.check(&key)?;
        let warnings = self.check_policy()?;
        let test_code = self.client.test_code_for(self.test_code.as_deref())?;
        Ok(PreparedCancel {
            expect: super::reconcile::Expectation {
                payment_key: self.payment_key.clone(),
                amount: self.amount,
                guard: self.refundable_amount,
                known: self.payment.as_ref().map(|p| (p.balance, p.cancels)),
                reason: self.reason.clone(),
            },
            client: self.client,
            payment_key: self.payment_key,
            path,
            body: wire::CancelPaymentRequest {
                cancel_reason: self.reason,
                cancel_amount: self.amount,
                tax_free_amount: self.tax_free_amount,
                currency: self.currency,
                refund_receive_account: self.refund_receive_account.map(Into::into),
                refundable_amount: self.refundable_amount,
            },
            idempotency_key: key,
            header,
            timeout: self.timeout,
            retry: self.retry,
            warnings,
            test_code,
        })
    }

    /// Prepares and sends the cancel once (with automatic retries per the retry policy). Read [`Self::key`] first
    /// to keep the key for a later resend.
    ///
    /// # Errors
    /// As [`Self::prepare`] and [`PreparedCancel::send`].
    ///
    /// The request is checked when `send` is called and the check's result is kept for the future; nothing is
    /// sent until the future is polled.
    pub fn send(self) -> impl Future<Output = Result<Cancelled, Error<TossError>>> + Send + 'static {
        // The future holds the prepared cancel, boxed, not the builder as well; and a refusal as it is, not in a
        // `Ready` of the whole result (a `Cancelled` holds a 1.5 KB payment).
        match self.prepare() {
            Err(refused) => Either::Left(async move { Err(refused) }),
            Ok(prepared) => {
                let prepared = Box::new(prepared);
                Either::Right(async move { prepared.send().await })
            }
        }
    }

    /// Every check that needs no network; returns the encoded path and the key's header value.
    fn check(&self, key: &str) -> Result<(String, HeaderValue), InvalidRequest> {
        let header = check_idempotency_key(key)?;
        let path = path_with_segment("/v1/payments/", "paymentKey", &self.payment_key, "/cancel")?;
        if let Some(key_chars) = chars_beyond(&self.payment_key, MAX_PAYMENT_KEY_CHARS) {
            return Err(InvalidRequest::new(
                "paymentKey",
                format!("has {key_chars} characters; at most {MAX_PAYMENT_KEY_CHARS}"),
            ));
        }
        if self.reason.trim().is_empty() {
            return Err(InvalidRequest::new("cancelReason", "is empty; Toss requires a reason"));
        }
        if let Some(reason_chars) = chars_beyond(&self.reason, MAX_REASON_CHARS) {
            return Err(InvalidRequest::new(
                "cancelReason",
                format!("has {reason_chars} characters; at most {MAX_REASON_CHARS}"),
            ));
        }
        if let Some(amount) = self.amount
            && amount <= 0
        {
            return Err(InvalidRequest::new(
                "cancelAmount",
                format!("is {amount}; leave it out to cancel everything, or give a positive amount"),
            ));
        }
        if let Some(tax_free) = self.tax_free_amount {
            if tax_free < 0 {
                return Err(InvalidRequest::new(
                    "taxFreeAmount",
                    format!("is {tax_free}; below zero"),
                ));
            }
            if let Some(amount) = self.amount
                && tax_free > amount
            {
                return Err(InvalidRequest::new(
                    "taxFreeAmount",
                    format!("{tax_free} is above the cancel amount {amount}"),
                ));
            }
        }
        if let Some(currency) = &self.currency
            && !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(InvalidRequest::new(
                "currency",
                "must be a three-letter ISO 4217 code such as KRW",
            ));
        }
        if let Some(account) = &self.refund_receive_account {
            account.validate()?;
        }
        // Against the payment first: "the payment is CANCELED" says more than "refundableAmount is 0".
        if let Some(payment) = &self.payment {
            self.check_against(payment)?;
        }
        if let Some(refundable) = self.refundable_amount {
            if refundable <= 0 {
                return Err(InvalidRequest::new(
                    "refundableAmount",
                    format!("is {refundable}; nothing would be left to cancel"),
                ));
            }
            if let Some(amount) = self.amount
                && amount > refundable
            {
                return Err(InvalidRequest::new(
                    "cancelAmount",
                    format!("{amount} is above the refundable amount {refundable}"),
                ));
            }
        }
        Ok((path, header))
    }

    /// The checks that need the payment as the caller last read it.
    fn check_against(&self, payment: &Known) -> Result<(), InvalidRequest> {
        if !payment.same_key {
            return Err(InvalidRequest::new(
                "paymentKey",
                "differs from the paymentKey of the payment given with .payment()",
            ));
        }
        let status = &payment.status;
        // An unrecognized status is not refused: Toss decides, rather than this crate guessing.
        if matches!(
            status,
            Status::Ready | Status::InProgress | Status::Canceled | Status::Aborted | Status::Expired
        ) {
            return Err(InvalidRequest::new(
                "paymentKey",
                format!(
                    "the payment is {status}; only DONE, PARTIAL_CANCELED and WAITING_FOR_DEPOSIT can be cancelled"
                ),
            ));
        }
        let balance = payment.balance;
        if balance <= 0 {
            return Err(InvalidRequest::new(
                "cancelAmount",
                format!("nothing left to cancel: the payment's balance is {balance}"),
            ));
        }
        if let Some(refundable) = self.refundable_amount
            && refundable != balance
        {
            return Err(InvalidRequest::new(
                "refundableAmount",
                format!("{refundable} differs from the balance {balance} of the payment given"),
            ));
        }
        let partial = match self.amount {
            Some(amount) if amount > balance => {
                return Err(InvalidRequest::new(
                    "cancelAmount",
                    format!("{amount} is above the payment's balance {balance}"),
                ));
            }
            Some(amount) => amount < balance,
            None => false,
        };
        if partial && payment.awaiting_deposit {
            return Err(InvalidRequest::new(
                "cancelAmount",
                "a virtual account still waiting for its deposit can only be cancelled in full",
            ));
        }
        if partial && payment.partial_cancelable == Some(false) {
            return Err(InvalidRequest::new(
                "cancelAmount",
                "Toss reports that this payment cannot be cancelled in part",
            ));
        }
        if payment.needs_refund_account && self.refund_receive_account.is_none() {
            return Err(InvalidRequest::new(
                "refundReceiveAccount",
                "the virtual account has been paid into; Toss can only refund it to a bank account",
            ));
        }
        Ok(())
    }
}

/// What the checks before sending need of the payment given with [`CancelPayment::payment`], read from it then:
/// the builder keeps these few values, not a copy of the payment.
#[derive(Debug, Clone)]
struct Known {
    /// Whether its `paymentKey` is the one the builder cancels.
    same_key: bool,
    status: Status,
    balance: i64,
    /// How many cancels it lists (the answer's new entries are the ones after them).
    cancels: usize,
    awaiting_deposit: bool,
    partial_cancelable: Option<bool>,
    needs_refund_account: bool,
    deadline: policy::Deadline,
}

impl Known {
    fn read(payment: &Payment, payment_key: &str) -> Self {
        Known {
            same_key: payment.payment_key() == payment_key,
            status: payment.status().clone(),
            balance: payment.balance(),
            cancels: payment.cancels().len(),
            awaiting_deposit: payment.is_awaiting_deposit(),
            partial_cancelable: payment.is_partial_cancelable,
            needs_refund_account: payment.needs_refund_account(),
            deadline: payment.cancel_deadline(),
        }
    }
}

fn check_idempotency_key(key: &str) -> Result<HeaderValue, InvalidRequest> {
    const FIELD: &str = "Idempotency-Key";
    if key.is_empty() {
        return Err(InvalidRequest::new(FIELD, "is empty"));
    }
    if key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
        return Err(InvalidRequest::new(
            FIELD,
            format!("has {} characters; at most {MAX_IDEMPOTENCY_KEY_CHARS}", key.len()),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidRequest::new(FIELD, "must be printable ASCII without spaces"));
    }
    HeaderValue::from_str(key).map_err(|_| InvalidRequest::new(FIELD, "cannot travel in an HTTP header"))
}

/// A checked cancel with its idempotency key fixed. [`send`](Self::send) it as many times as needed: every
/// attempt carries the same key and body, so Toss refunds at most once.
///
/// `Debug` hides the refund account's number and holder.
#[derive(Clone)]
pub struct PreparedCancel {
    client: Client,
    expect: super::reconcile::Expectation,
    payment_key: String,
    path: String,
    body: wire::CancelPaymentRequest,
    idempotency_key: String,
    header: HeaderValue,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    warnings: Vec<CancelWarning>,
    /// `TossPayments-Test-Code`, checked against the key in `prepare`.
    test_code: Option<HeaderValue>,
}

impl fmt::Debug for PreparedCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = &self.body;
        f.debug_struct("PreparedCancel")
            .field("payment_key", &self.payment_key)
            .field("idempotency_key", &self.idempotency_key)
            .field("cancel_reason", &body.cancel_reason)
            .field("cancel_amount", &body.cancel_amount)
            .field("tax_free_amount", &body.tax_free_amount)
            .field("currency", &body.currency)
            .field("refundable_amount", &body.refundable_amount)
            .field(
                "refund_receive_account",
                &body.refund_receive_account.as_ref().map(|a| RefundAccount {
                    bank: BankCode::new(a.bank.clone()),
                    account_number: AccountNumber::new(String::new()),
                    holder_name: HolderName::new(String::new()),
                }),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("warnings", &self.warnings)
            .field("test_code", &self.test_code)
            .field("client", &self.client)
            .finish()
    }
}

impl PreparedCancel {
    /// The `Idempotency-Key` every send of this cancel carries.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The payment being cancelled.
    pub fn payment_key(&self) -> &str {
        &self.payment_key
    }

    /// The request body, exactly as it is sent.
    pub fn body(&self) -> &wire::CancelPaymentRequest {
        &self.body
    }

    /// What the deadline check in [`CancelPayment::prepare`] noticed without refusing; every [`Cancelled`] this
    /// cancel returns carries them too.
    pub fn warnings(&self) -> &[CancelWarning] {
        &self.warnings
    }

    /// The `Idempotency-Key` every send of this cancel carries (the same as [`Self::idempotency_key`]).
    pub fn key(&self) -> &str {
        &self.idempotency_key
    }

    /// Sends the cancel. Safe to call again after any failure: the same key and body go out, and Toss answers a
    /// cancel it already made with that first result.
    ///
    /// # Errors
    /// [`Error::Api`] with Toss's [`ErrorCode`](super::ErrorCode) and HTTP status ([`Error::is_retryable`] reads the code);
    /// [`Error::Transport`] when no answer came (after a timeout the refund may have happened: send again, or read
    /// the payment); [`Error::Decode`] for an answer that is not a Payment; [`Error::Inconsistent`] and
    /// [`Error::Unverified`] as the other providers'. The key to resend with is [`Self::key`].
    pub async fn send(&self) -> Result<Cancelled, Error<TossError>> {
        let settled = super::reconcile::send_cancel(&self.client, self.call(), &self.expect).await?;
        Ok(Cancelled {
            payment: settled.payment,
            idempotency_key: self.idempotency_key.clone(),
            warnings: self.warnings.clone(),
            reconciled: settled.after_unknown,
        })
    }

    /// The call every send of this cancel makes. Built outside [`Self::send`]'s future and boxed: a call built in
    /// place would keep its 336 bytes in the future for as long as the cancel runs.
    fn call(&self) -> Box<Call> {
        let mut call = Call::new(
            "cancelPayment",
            reqwest::Method::POST,
            "/v1/payments/{paymentKey}/cancel",
            self.path.clone(),
        )
        .json(&self.body);
        call.headers.insert(IDEMPOTENCY_KEY, self.header.clone());
        if let Some(code) = &self.test_code {
            call.headers.insert(TEST_CODE, code.clone());
        }
        // The key makes a replay return the first answer, so retries cannot refund twice.
        call.replay = Replay::Safe;
        call.pending = Some(super::reconcile::is_pending);
        call.retry_unauthorized = true;
        call.timeout = self.timeout;
        call.retry = self.retry.clone();
        Box::new(call)
    }
}

/// A cancel Toss accepted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cancelled {
    /// The payment after the cancel: its new balance, status, and the new entry last in `cancels`.
    pub payment: Payment,
    /// The `Idempotency-Key` the cancel was sent with.
    pub idempotency_key: String,
    /// What the deadline check before sending noticed without refusing; see [`Cancelled::warnings`].
    pub warnings: Vec<CancelWarning>,
    /// Whether an earlier attempt of this cancel had an unknown outcome (a timeout, a dropped connection, a 5xx,
    /// a redirect), so this answer is Toss's answer to the same request sent again with the same
    /// `Idempotency-Key`. Either way the payment shows this request's cancel; only the way the crate learned it
    /// differs.
    pub reconciled: bool,
}

impl Cancelled {
    /// What the deadline check in [`CancelPayment::prepare`] noticed without refusing: a soft deadline that had
    /// passed, or a hard one ignored on request ([`CancelPayment::ignore_cancel_deadline`]). Empty when the cancel
    /// was not given the payment.
    pub fn warnings(&self) -> &[CancelWarning] {
        &self.warnings
    }

    /// The cancel entry this call made (the last one of the payment's cancels).
    pub fn cancel(&self) -> Option<&super::Cancel> {
        self.payment.latest_cancel()
    }

    /// Whether the money is on its way back now: the payment's newest cancel counts as refunded by the crate's one
    /// rule ([`Payment::latest_cancel_outcome`]: `cancelStatus` `DONE`, or absent as in older answers, in a payment
    /// that is `CANCELED` or `PARTIAL_CANCELED` and reports no failure), rather than an asynchronous cancel still
    /// `IN_PROGRESS`, an aborted one, or an answer that shows no cancel.
    pub fn is_done(&self) -> bool {
        self.payment.latest_cancel_outcome() == crate::refund::RefundStatus::Succeeded
    }
}
