//! Cancelling a payment, in full or in part, and refunding a virtual-account payment (`POST /payments/cancel`).
//!
//! ```no_run
//! # async fn demo(client: &kr_payments::iamport::Client) -> Result<(), kr_payments::iamport::Error> {
//! use kr_payments::iamport::{AccountNumber, BankCode, HolderName, ImpUid, PhoneNumber, RefundAccount};
//!
//! // 3,000 won of a payment whose balance, in our own records, is 10,000 won.
//! let payment = client
//!     .partial_cancel(ImpUid::new("imp_123456789012"), 3_000, 10_000, "one item returned")
//!     .send()
//!     .await?;
//! assert_eq!(payment.cancellable_balance(), Some(7_000));
//!
//! // A virtual account has no card to refund to: the money goes to an account the customer names.
//! let account = RefundAccount::new(BankCode::new("88"), AccountNumber::new("56211105948400"), HolderName::new("홍길동"))
//!     .holder_phone(PhoneNumber::new("01012345678"));
//! client
//!     .refund_virtual_account(ImpUid::new("imp_210987654321"), account, "order cancelled")
//!     .checksum(25_000)
//!     .send()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # The `checksum` guard
//!
//! `checksum` is the balance that can still be cancelled *before* this cancel, as the merchant's records have it.
//! iamport compares it with its own and refuses the cancel when they differ. That catches the classic double
//! refund: a cancel that went through on iamport's side while the merchant's system failed to record it (a
//! timeout, a crash) and is then sent again. [`Client::partial_cancel`] always sends it. It also makes the request
//! safe to retry after a timeout: a replay of a cancel that was applied meets a changed balance and is refused, so
//! the crate's retries (see [`crate::transport`]) replay a cancel only when it carries a `checksum`.
//!
//! # Before anything is sent
//!
//! [`CancelRequest::send`] refuses, with [`crate::Error::InvalidRequest`] and without sending anything:
//! an empty payment id; an `amount` of zero or less (iamport reads 0 as "cancel everything": leave `amount` out
//! for a full cancel instead); a `checksum` of zero or less, or smaller than `amount`; negative `tax_free` or
//! `vat_amount`, or parts that add up to more than the amount; a blank `reason` or one over 256 characters; a
//! refund account with a field missing or malformed (see [`RefundAccount`]).
//!
//! Not checked, because the crate cannot know the payment's PG: some PGs refuse a cancel without a `reason`
//! (naverpay, for its review), several need `tax_free` on partial cancels of tax-free payments, and some need
//! `vat_amount` when the payment set VAT explicitly.
//!
//! # Deadlines and virtual accounts
//!
//! Given the payment ([`CancelRequest::payment`], or [`CancelRequest::paid`] with its method and payment time),
//! the cancel is also checked against [`crate::policy`] before sending. A mobile-phone payment from an earlier KST
//! month is refused (iamport's refund guide on PortOne's developer site, V1: a later month allows no full refund)
//! with [`crate::Error::InvalidRequest`] on the field [`policy::CANCEL_DEADLINE_FIELD`], unless
//! [`CancelRequest::ignore_cancel_deadline`] says your contract differs. A paid virtual account must name a refund
//! account, with `refund_tel` when the payment's PG is Smartro (`smartro` or `smartro_v2`; iamport's
//! `POST /payments/cancel` reference). Those two documents give iamport no soft deadline, so the warnings
//! [`CancelRequest::send_with_warnings`] returns can only say that a hard deadline was ignored.
//!
//! Not checked: iamport's spec adds that `smartro_v2` wants `refund_tel` on account-transfer refunds too, but a
//! transfer is refunded without a refund account, and this crate sends `refund_tel` only with one.

use super::Client;
use super::error::Error;
use super::payment::{ImpUid, MerchantUid, Payment, PaymentRef, PaymentStatus};
use super::raw::types::{CancelPaymentBody, CancelPaymentBodyExtra};
use crate::InvalidRequest;
use crate::account::{AccountNumber, BankCode, HolderName, PhoneNumber};
use crate::policy::{self, CancelWarning, Deadline};
use crate::transport::{Call, Replay, RetryPolicy, chars_beyond};
use chrono::{DateTime, Utc};
use futures::future::{Either, FutureExt as _};
use reqwest::Method;
use std::fmt;
use std::time::Duration;

/// Who asked for the cancel (`extra.requester`; used by naverpay): `customer` or `admin`.
pub use super::raw::types::CancelPaymentBodyExtraRequester as CancelRequester;

/// The longest `reason` iamport takes, in characters.
pub const MAX_REASON_CHARS: usize = 256;

/// The account a virtual-account payment is refunded to, built from one type per part so a swap does not compile:
/// `RefundAccount::new(BankCode, AccountNumber, HolderName)`, the same order as every provider's.
///
/// * the [`BankCode`] is the refund bank's code **in the payment's PG's own code list**: the same bank has
///   different codes at different PGs (e.g. `88` for Shinhan at KG Inicis), so it is taken as given, never mapped.
///   At most 4 letters or digits (`refund_bank`).
/// * the [`AccountNumber`] is digits only (no hyphens), at most 16 (`refund_account`).
/// * the [`HolderName`] is not blank (`refund_holder`).
/// * [`holder_phone`](Self::holder_phone) is the holder's phone number (`refund_tel`): Smartro (the older module)
///   needs it for every virtual-account refund; other PGs ignore or accept it. Digits and hyphens, at most 16
///   characters.
///
/// Prints with the holder, number and phone redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RefundAccount {
    bank_code: BankCode,
    number: AccountNumber,
    holder: HolderName,
    phone: Option<PhoneNumber>,
}

impl RefundAccount {
    /// An account by PG-specific bank code, number and holder. Checked when the cancel is sent.
    pub fn new(bank_code: BankCode, number: AccountNumber, holder: HolderName) -> Self {
        RefundAccount {
            bank_code,
            number,
            holder,
            phone: None,
        }
    }

    /// The holder's phone number (`refund_tel`); required by Smartro.
    pub fn holder_phone(mut self, phone: PhoneNumber) -> Self {
        self.phone = Some(phone);
        self
    }

    /// The PG-specific bank code.
    pub fn bank_code(&self) -> &BankCode {
        &self.bank_code
    }

    /// The account number.
    pub fn number(&self) -> &AccountNumber {
        &self.number
    }

    /// The holder's name.
    pub fn holder(&self) -> &HolderName {
        &self.holder
    }

    /// The holder's phone number, if given.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }
}

impl fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sensitive::by_name;
        f.debug_struct("RefundAccount")
            .field("holder", &by_name("refund_holder", &self.holder))
            .field("bank_code", &self.bank_code.as_str())
            .field("number", &by_name("refund_account", &self.number))
            .field("phone", &by_name("refund_tel", &self.phone))
            .finish()
    }
}

/// Which payment a cancel helper cancels: an id ([`ImpUid`], [`MerchantUid`] or a [`PaymentRef`]), or the
/// [`Payment`] as you read it. Given the payment, the cancel is checked against it before sending
/// ([`CancelRequest::payment`]), and [`Client::full_cancel`] sends its balance as `checksum`.
#[derive(Debug, Clone)]
pub enum CancelTarget<'a> {
    /// By id.
    Id(PaymentRef),
    /// The payment as read: its `imp_uid` (else its `merchant_uid`) is cancelled.
    Payment(&'a Payment),
}

impl From<PaymentRef> for CancelTarget<'_> {
    fn from(id: PaymentRef) -> Self {
        CancelTarget::Id(id)
    }
}
impl From<ImpUid> for CancelTarget<'_> {
    fn from(id: ImpUid) -> Self {
        CancelTarget::Id(id.into())
    }
}
impl From<&ImpUid> for CancelTarget<'_> {
    fn from(id: &ImpUid) -> Self {
        CancelTarget::Id(id.clone().into())
    }
}
impl From<MerchantUid> for CancelTarget<'_> {
    fn from(id: MerchantUid) -> Self {
        CancelTarget::Id(id.into())
    }
}
impl From<&MerchantUid> for CancelTarget<'_> {
    fn from(id: &MerchantUid) -> Self {
        CancelTarget::Id(id.clone().into())
    }
}
impl<'a> From<&'a Payment> for CancelTarget<'a> {
    fn from(payment: &'a Payment) -> Self {
        CancelTarget::Payment(payment)
    }
}

impl CancelTarget<'_> {
    fn id(&self) -> PaymentRef {
        match self {
            CancelTarget::Id(id) => id.clone(),
            CancelTarget::Payment(p) => match (&p.imp_uid, &p.merchant_uid) {
                (Some(imp_uid), _) => PaymentRef::ImpUid(ImpUid::new(imp_uid.clone())),
                (None, Some(merchant_uid)) => PaymentRef::MerchantUid(MerchantUid::new(merchant_uid.clone())),
                // Refused before sending, as an empty imp_uid.
                (None, None) => PaymentRef::ImpUid(ImpUid::new("")),
            },
        }
    }
}

/// A cancel of one payment: built by [`Client::cancel_payment`] and the helpers beside it, sent by
/// [`send`](Self::send). Without [`amount`](Self::amount) it cancels everything that is left.
#[must_use = "a cancel does nothing until `.send().await`"]
#[derive(Clone)]
pub struct CancelRequest<'a> {
    client: &'a Client,
    payment: PaymentRef,
    amount: Option<i64>,
    tax_free: Option<i64>,
    vat_amount: Option<i64>,
    checksum: Option<i64>,
    reason: Option<String>,
    refund_holder: Option<String>,
    refund_bank: Option<String>,
    refund_account: Option<String>,
    refund_tel: Option<String>,
    retain_promotion: Option<bool>,
    enable_webhook: Option<bool>,
    requester: Option<CancelRequester>,
    /// Set by [`Client::refund_virtual_account`]: the refund account is then mandatory.
    virtual_account: bool,
    timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    known: Option<KnownPayment>,
    ignore_cancel_deadline: bool,
    now: Option<DateTime<Utc>>,
}

/// What a [`CancelRequest`] knows about the payment it cancels, for the policy checks.
#[derive(Debug, Clone)]
struct KnownPayment {
    /// The payment's ids, when it came from [`CancelRequest::payment`].
    imp_uid: Option<String>,
    merchant_uid: Option<String>,
    deadline: Deadline,
    method: policy::PayMethod,
    /// A virtual account that has been paid into: its money can only go back to a bank account.
    deposited_virtual_account: bool,
    pg_provider: Option<String>,
    /// What was left to cancel when the caller read it.
    balance: Option<i64>,
}

impl fmt::Debug for CancelRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::sensitive::by_name;
        f.debug_struct("CancelRequest")
            .field("payment", &self.payment)
            .field("amount", &self.amount)
            .field("tax_free", &self.tax_free)
            .field("vat_amount", &self.vat_amount)
            .field("checksum", &self.checksum)
            .field("reason", &self.reason)
            .field("refund_holder", &by_name("refund_holder", &self.refund_holder))
            .field("refund_bank", &self.refund_bank)
            .field("refund_account", &by_name("refund_account", &self.refund_account))
            .field("refund_tel", &by_name("refund_tel", &self.refund_tel))
            .field("retain_promotion", &self.retain_promotion)
            .field("enable_webhook", &self.enable_webhook)
            .field("requester", &self.requester)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("known", &self.known)
            .field("ignore_cancel_deadline", &self.ignore_cancel_deadline)
            .field("now", &self.now)
            .finish()
    }
}

impl Client {
    /// Starts a cancel of `target` for `reason`: everything that is left unless [`CancelRequest::amount`] says
    /// otherwise. Add [`CancelRequest::checksum`] whenever your records know the balance. Given the payment as read,
    /// the cancel is checked against it ([`CancelRequest::payment`]); nothing else from it is sent.
    pub fn cancel_payment<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        reason: impl Into<String>,
    ) -> CancelRequest<'_> {
        let target = target.into();
        let request = CancelRequest {
            client: self,
            payment: target.id(),
            amount: None,
            tax_free: None,
            vat_amount: None,
            checksum: None,
            reason: Some(reason.into()),
            refund_holder: None,
            refund_bank: None,
            refund_account: None,
            refund_tel: None,
            retain_promotion: None,
            enable_webhook: None,
            requester: None,
            virtual_account: false,
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

    /// A full cancel of what is left of `target`, with a reason. Given the payment as read, its balance is sent as
    /// `checksum`, so iamport refuses instead of cancelling when the balance moved; given an id, add
    /// [`CancelRequest::checksum`] for the same guard (without it the cancel is sent once, never replayed after an
    /// unknown outcome).
    pub fn full_cancel<'t>(&self, target: impl Into<CancelTarget<'t>>, reason: impl Into<String>) -> CancelRequest<'_> {
        let target = target.into();
        let balance = match &target {
            CancelTarget::Payment(p) => p.cancellable_balance(),
            CancelTarget::Id(_) => None,
        };
        let request = self.cancel_payment(target, reason);
        match balance {
            Some(balance) => request.checksum(balance),
            None => request,
        }
    }

    /// A partial cancel of `amount` won, guarded by `expected_balance`: what can still be cancelled before this
    /// cancel, as your records have it (sent as `checksum`). iamport refuses the cancel if its balance differs.
    pub fn partial_cancel<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        amount: i64,
        expected_balance: i64,
        reason: impl Into<String>,
    ) -> CancelRequest<'_> {
        self.cancel_payment(target, reason).partial(amount, expected_balance)
    }

    /// A refund of a virtual-account payment to `account`: in full, unless [`CancelRequest::partial`] says
    /// otherwise (given the payment as read, its balance is sent as `checksum`, as [`Self::full_cancel`] does).
    /// iamport registers the refund with the PG, which pays it out the next business day; the store needs the PG's
    /// special contract for virtual-account refunds, and Smartro needs the holder's phone number
    /// ([`RefundAccount::holder_phone`]). These facts are data in [`policy::virtual_account_refund`]; add
    /// [`CancelRequest::payment`] (or pass the payment) to have the account and the Smartro phone number checked
    /// before sending.
    pub fn refund_virtual_account<'t>(
        &self,
        target: impl Into<CancelTarget<'t>>,
        account: RefundAccount,
        reason: impl Into<String>,
    ) -> CancelRequest<'_> {
        let mut request = self.full_cancel(target, reason).refund_account(account);
        request.virtual_account = true;
        request
    }
}

impl<'a> CancelRequest<'a> {
    /// The amount to cancel, in won; more than 0. Leave it out for a full cancel.
    pub fn amount(mut self, amount: i64) -> Self {
        self.amount = Some(amount);
        self
    }

    /// The tax-free part of the amount (`tax_free`).
    pub fn tax_free(mut self, tax_free: i64) -> Self {
        self.tax_free = Some(tax_free);
        self
    }

    /// The VAT part of the amount (`vat_amount`), for payments that set VAT explicitly.
    pub fn vat_amount(mut self, vat_amount: i64) -> Self {
        self.vat_amount = Some(vat_amount);
        self
    }

    /// The balance that can be cancelled before this cancel, as your records have it (`checksum`); iamport
    /// refuses the cancel if its own differs. See the [module docs](self).
    pub fn checksum(mut self, balance_before: i64) -> Self {
        self.checksum = Some(balance_before);
        self
    }

    /// `amount` and `checksum` together: a guarded partial cancel.
    pub fn partial(self, amount: i64, balance_before: i64) -> Self {
        self.amount(amount).checksum(balance_before)
    }

    /// Why the payment is cancelled (at most 256 characters).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The refund account holder (`refund_holder`); prefer [`refund_account`](Self::refund_account), which sets
    /// every part at once.
    pub fn refund_holder(mut self, holder: HolderName) -> Self {
        self.refund_holder = Some(holder.into_inner());
        self
    }

    /// The refund bank, as the payment's PG codes it (`refund_bank`); see [`RefundAccount`].
    pub fn refund_bank(mut self, bank_code: BankCode) -> Self {
        self.refund_bank = Some(bank_code.into_inner());
        self
    }

    /// The refund account number, digits only (`refund_account` on the wire).
    pub fn refund_account_number(mut self, number: AccountNumber) -> Self {
        self.refund_account = Some(number.into_inner());
        self
    }

    /// The refund account holder's phone number (`refund_tel`); required by Smartro.
    pub fn refund_tel(mut self, phone: PhoneNumber) -> Self {
        self.refund_tel = Some(phone.into_inner());
        self
    }

    /// Where the money goes: every refund account field at once (`refund_bank`, `refund_account`,
    /// `refund_holder`, `refund_tel`).
    pub fn refund_account(mut self, account: RefundAccount) -> Self {
        self.refund_holder = Some(account.holder.into_inner());
        self.refund_bank = Some(account.bank_code.into_inner());
        self.refund_account = Some(account.number.into_inner());
        self.refund_tel = account.phone.map(PhoneNumber::into_inner);
        self
    }

    /// The same as [`refund_account`](Self::refund_account).
    pub fn refund_to(self, account: RefundAccount) -> Self {
        self.refund_account(account)
    }

    /// Keep the payment's promotion even if what is left no longer qualifies for it (`retain_promotion`).
    pub fn retain_promotion(mut self, retain: bool) -> Self {
        self.retain_promotion = Some(retain);
        self
    }

    /// Ask iamport to send a `cancelled` webhook for this cancel (`enable_webhook`; only for payments that used
    /// webhooks).
    pub fn enable_webhook(mut self, enable: bool) -> Self {
        self.enable_webhook = Some(enable);
        self
    }

    /// Who asked for the cancel (`extra.requester`).
    pub fn requester(mut self, requester: CancelRequester) -> Self {
        self.requester = Some(requester);
        self
    }

    /// Total timeout of one attempt of this call, instead of the client's.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Retry policy of this call, instead of the client's. A cancel without `checksum` is never replayed after it
    /// may have reached iamport, whatever the policy says.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// The payment as you read it ([`Client::get_payment`]), so the cancel is checked against [`crate::policy`]
    /// before sending (see the [module docs](self#deadlines-and-virtual-accounts)): its cancel deadline, a refund
    /// account for a paid virtual account, `refund_tel` for Smartro. Its `imp_uid` or `merchant_uid` must be the
    /// one being cancelled. Nothing from it is sent.
    pub fn payment(mut self, payment: &Payment) -> Self {
        let method = payment.policy_method();
        self.known = Some(KnownPayment {
            imp_uid: payment.imp_uid.clone(),
            merchant_uid: payment.merchant_uid.clone(),
            deadline: payment.cancel_deadline(),
            method,
            deposited_virtual_account: method == policy::PayMethod::VirtualAccount
                && payment.status == Some(PaymentStatus::Paid),
            pg_provider: payment.pg_provider.clone(),
            balance: payment.cancellable_balance(),
        });
        self
    }

    /// The payment's method and payment time, from your own records (map a stored `pay_method` with
    /// [`policy_method`](super::payment::policy_method)), for the same checks as [`payment`](Self::payment)
    /// without reading the payment: the deadline, and a refund account for a virtual account (paid, since it has a
    /// payment time). The PG is not known this way, so Smartro's `refund_tel` is not checked.
    pub fn paid(mut self, method: policy::PayMethod, paid_at: DateTime<Utc>) -> Self {
        self.known = Some(KnownPayment {
            imp_uid: None,
            merchant_uid: None,
            deadline: policy::deadline(policy::Provider::Iamport, method, paid_at),
            method,
            deposited_virtual_account: method == policy::PayMethod::VirtualAccount,
            pg_provider: None,
            balance: None,
        });
        self
    }

    /// Sends the cancel even when the payment's hard cancel deadline has passed, for a store whose PG contract
    /// allows later cancels (a partial refund of an earlier month's phone payment, for one). The warnings of
    /// [`send_with_warnings`](Self::send_with_warnings) then include [`CancelWarning::HardDeadlineIgnored`].
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
        let (field, given, theirs) = match &self.payment {
            PaymentRef::ImpUid(id) => ("imp_uid", id.as_str(), known.imp_uid.as_deref()),
            PaymentRef::MerchantUid(id) => ("merchant_uid", id.as_str(), known.merchant_uid.as_deref()),
        };
        if let Some(theirs) = theirs
            && theirs != given
        {
            return Err(InvalidRequest::new(
                field,
                format!("differs from the {field} {theirs:?} of the payment given with .payment()"),
            ));
        }
        if known.method == policy::PayMethod::VirtualAccount {
            let rules = policy::virtual_account_refund(policy::Provider::Iamport);
            let has_account =
                self.refund_holder.is_some() && self.refund_bank.is_some() && self.refund_account.is_some();
            if known.deposited_virtual_account
                && !has_account
                && rules.refund_account == policy::RefundAccountRule::Required
            {
                return Err(InvalidRequest::new(
                    "refund_account",
                    "a paid virtual account can only be refunded to a bank account: give a refund_account",
                ));
            }
            let smartro = known
                .pg_provider
                .as_deref()
                .is_some_and(|pg| pg == "smartro" || pg == "smartro_v2");
            if smartro
                && has_account
                && self.refund_tel.is_none()
                && rules.holder_phone == policy::HolderPhoneRule::RequiredWhenPgIsSmartro
            {
                return Err(InvalidRequest::new(
                    "refund_tel",
                    "is required to refund a Smartro virtual account",
                ));
            }
        }
        let now = self.now.unwrap_or_else(Utc::now);
        policy::preflight(&known.deadline, now, self.ignore_cancel_deadline)
    }

    /// The body that [`send`](Self::send) would post, after the checks it makes.
    ///
    /// # Errors
    /// The [`InvalidRequest`] that `send` would return; see the [module docs](self).
    pub fn body(&self) -> Result<CancelPaymentBody, InvalidRequest> {
        let (imp_uid, merchant_uid) = match &self.payment {
            PaymentRef::ImpUid(id) => (Some(id.checked()?.to_string()), None),
            PaymentRef::MerchantUid(id) => (None, Some(id.checked()?.to_string())),
        };
        if let Some(amount) = self.amount
            && amount <= 0
        {
            let why = if amount == 0 {
                "must be more than 0 (iamport reads 0 as a full cancel: leave `amount` out for one)".to_string()
            } else {
                format!("must be more than 0, not {amount}")
            };
            return Err(InvalidRequest::new("amount", why));
        }
        if let Some(checksum) = self.checksum {
            if checksum <= 0 {
                return Err(InvalidRequest::new(
                    "checksum",
                    format!("a balance of {checksum} leaves nothing to cancel"),
                ));
            }
            if let Some(amount) = self.amount
                && amount > checksum
            {
                return Err(InvalidRequest::new(
                    "checksum",
                    format!("the balance {checksum} is smaller than the amount {amount}"),
                ));
            }
        }
        let ceiling = self.amount.or(self.checksum);
        for (field, part) in [("tax_free", self.tax_free), ("vat_amount", self.vat_amount)] {
            let Some(part) = part else { continue };
            if part < 0 {
                return Err(InvalidRequest::new(field, format!("must not be negative, not {part}")));
            }
            if let Some(ceiling) = ceiling
                && part > ceiling
            {
                return Err(InvalidRequest::new(
                    field,
                    format!("{part} is more than the {ceiling} being cancelled"),
                ));
            }
        }
        if let (Some(tax_free), Some(vat), Some(ceiling)) = (self.tax_free, self.vat_amount, ceiling)
            && tax_free.checked_add(vat).is_none_or(|sum| sum > ceiling)
        {
            return Err(InvalidRequest::new(
                "vat_amount",
                format!("tax_free {tax_free} plus vat_amount {vat} is more than the {ceiling} being cancelled"),
            ));
        }
        if let Some(reason) = &self.reason {
            if reason.trim().is_empty() {
                return Err(InvalidRequest::new("reason", "is blank"));
            }
            if let Some(chars) = chars_beyond(reason, MAX_REASON_CHARS) {
                return Err(InvalidRequest::new(
                    "reason",
                    format!("has {chars} characters, more than {MAX_REASON_CHARS}"),
                ));
            }
        }
        self.check_refund_account()?;
        self.check_policy()?;
        Ok(CancelPaymentBody {
            imp_uid,
            merchant_uid,
            amount: self.amount,
            tax_free: self.tax_free,
            vat_amount: self.vat_amount,
            checksum: self.checksum,
            reason: self.reason.clone(),
            refund_holder: self.refund_holder.clone(),
            refund_bank: self.refund_bank.clone(),
            refund_account: self.refund_account.clone(),
            refund_tel: self.refund_tel.clone(),
            retain_promotion: self.retain_promotion,
            enable_webhook: self.enable_webhook,
            extra: self.requester.clone().map(|requester| CancelPaymentBodyExtra {
                requester: Some(requester),
            }),
        })
    }

    fn check_refund_account(&self) -> Result<(), InvalidRequest> {
        let any = self.refund_holder.is_some() || self.refund_bank.is_some() || self.refund_account.is_some();
        if !any && !self.virtual_account {
            if self.refund_tel.is_some() {
                return Err(InvalidRequest::new(
                    "refund_tel",
                    "is only used with a refund account (refund_holder, refund_bank, refund_account)",
                ));
            }
            return Ok(());
        }
        let holder = self
            .refund_holder
            .as_deref()
            .ok_or_else(|| InvalidRequest::new("refund_holder", "is required with a refund account"))?;
        if holder.trim().is_empty() {
            return Err(InvalidRequest::new("refund_holder", "is blank"));
        }
        let bank = self
            .refund_bank
            .as_deref()
            .ok_or_else(|| InvalidRequest::new("refund_bank", "is required with a refund account"))?;
        if bank.is_empty() || bank.len() > 4 || !bank.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(InvalidRequest::new(
                "refund_bank",
                "must be the PG's bank code: 1 to 4 letters or digits",
            ));
        }
        let number = self
            .refund_account
            .as_deref()
            .ok_or_else(|| InvalidRequest::new("refund_account", "is required with a refund account"))?;
        if number.is_empty() || number.len() > 16 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidRequest::new(
                "refund_account",
                "must be 1 to 16 digits, without hyphens or spaces",
            ));
        }
        if let Some(tel) = &self.refund_tel
            && (tel.len() > 16
                || !tel.bytes().any(|b| b.is_ascii_digit())
                || !tel.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
        {
            return Err(InvalidRequest::new(
                "refund_tel",
                "must be a phone number of digits and hyphens, at most 16 characters",
            ));
        }
        Ok(())
    }

    /// Sends the cancel and returns the payment as it is after it.
    ///
    /// # Errors
    /// * [`crate::Error::InvalidRequest`]: refused before sending (see the [module docs](self)).
    /// * [`crate::Error::Api`]: iamport refused the cancel, usually as HTTP 200 with a non-zero `code` and a
    ///   message saying why (a `checksum` that does not match, an amount above the balance, an already cancelled
    ///   payment). [`crate::Error::delivery`] says whether that proves nothing was applied.
    /// * [`crate::Error::Transport`] after a timeout or a broken connection: whether the cancel was applied is
    ///   unknown (with `checksum`, the crate read the payment and could not tell). Fetch the payment
    ///   ([`Client::get_payment`]) before trying again.
    /// * [`crate::Error::Decode`]: iamport answered with success but a payment this crate cannot read (a fractional
    ///   amount, for one); the cancel was most likely applied.
    /// * [`crate::Error::Inconsistent`]: iamport answered with success, but the payment does not show this cancel
    ///   (another payment, no entry for it, amounts that do not add up).
    /// * [`crate::Error::Unverified`]: an attempt's outcome was unknown, and the payment shows a cancel that fits
    ///   this one that the crate cannot prove is this request's.
    ///
    /// The request is checked when `send` is called and the check's result is kept for the future; nothing is
    /// sent until the future is polled.
    pub fn send(self) -> impl Future<Output = Result<Payment, Error>> + Send + 'a {
        self.send_inner().map(|settled| settled.map(|settled| settled.payment))
    }

    /// Sends the cancel; also says which history entry is this cancel's and whether it was confirmed by reading
    /// the payment again.
    ///
    /// Checks and builds the request before returning the future, which then holds only the call and the
    /// expectation instead of the whole builder.
    fn send_inner(self) -> impl Future<Output = Result<super::reconcile::Settled, Error>> + Send + 'a {
        let body = match self.body() {
            Ok(body) => body,
            // A refusal as it is, not in a `Ready` of the whole result (which holds a payment).
            Err(invalid) => return Either::Left(async move { Err(invalid.into()) }),
        };
        let expect = super::reconcile::Expectation {
            imp_uid: body.imp_uid.clone(),
            merchant_uid: body.merchant_uid.clone(),
            amount: self.amount,
            guard: self.checksum,
            known_balance: self.known.as_ref().and_then(|k| k.balance),
            reason: self.reason,
        };
        let mut call = Call::new(
            "cancelPayment",
            Method::POST,
            "/payments/cancel",
            "/payments/cancel".into(),
        )
        .json(&body);
        call.replay = if self.checksum.is_some() {
            Replay::Safe
        } else {
            Replay::Unsafe("an iamport cancel without `checksum` could be applied twice")
        };
        call.timeout = self.timeout;
        call.retry = self.retry;
        // Boxed together: held by value, the call and the expectation would add 456 bytes to the future.
        Either::Right(super::reconcile::send_cancel(self.client, Box::new((call, expect))))
    }

    /// [`send`](Self::send), also returning what the policy check before sending noticed without refusing (see
    /// [`Cancelled::warnings`]) and which history entry is this cancel's. `send` makes the same checks and refuses
    /// the same cancels.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_with_warnings(mut self) -> impl Future<Output = Result<Cancelled, Error>> + Send + 'a {
        // One clock reading for the check that may refuse and for the warnings returned.
        self.now.get_or_insert_with(Utc::now);
        match self.body().and_then(|_| self.check_policy()) {
            Err(invalid) => Either::Left(std::future::ready(Err(invalid.into()))),
            Ok(warnings) => Either::Right(self.send_inner().map(move |settled| {
                let settled = settled?;
                Ok(Cancelled {
                    payment: settled.payment,
                    entry: settled.entry,
                    refunded: settled.refunded,
                    warnings,
                    reconciled: settled.reconciled,
                })
            })),
        }
    }
}

/// A cancel iamport accepted, from [`CancelRequest::send_with_warnings`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cancelled {
    /// The payment as it is after the cancel.
    pub payment: Payment,
    /// Index into the payment's `cancel_history` of this cancel's entry ([`Cancelled::entry`]).
    entry: Option<usize>,
    /// Won this cancel refunded.
    pub refunded: i64,
    /// What the policy check before sending noticed without refusing; see [`Cancelled::warnings`].
    pub warnings: Vec<CancelWarning>,
    /// Whether the cancel was confirmed by reading the payment again rather than from the cancel's own answer.
    ///
    /// That happens when an attempt of a cancel guarded by `checksum` had an unknown outcome (a timeout, a dropped
    /// connection, a 5xx, a redirect) and the call did not end in a success: the payment then showed the one cancel
    /// that took the balance from the `checksum` by the amount asked, with the reason sent, made during the call,
    /// and no other cancel of the payment ran in this process meanwhile. `payment` is then the payment as read.
    pub reconciled: bool,
}

impl Cancelled {
    /// This cancel's entry in the payment's `cancel_history`: recognized by the step it made in the balance (from
    /// the `checksum` by the amount asked) or, without a `checksum`, as the newest entry of the amount asked.
    /// `None` when iamport's answer did not list it (its balance then showed the cancel).
    pub fn entry(&self) -> Option<&super::CancelHistoryEntry> {
        self.payment.cancel_history.as_ref()?.get(self.entry?)
    }
}

impl Cancelled {
    /// What the policy check before sending noticed without refusing: a hard deadline ignored on request
    /// ([`CancelRequest::ignore_cancel_deadline`]), or a soft deadline that had passed (none of iamport's known
    /// rules is soft today). Empty when the cancel was not given the payment.
    pub fn warnings(&self) -> &[CancelWarning] {
        &self.warnings
    }
}
