//! The Toss Payment object, its lookups, and the listing of transactions ([`Client::transactions`]).
//!
//! [`Payment`] wraps the generated [`raw::types::Payment`](super::raw::types::Payment) (every field readable
//! through `Deref`) and adds what a refund needs: the balance, the cancelled total, whether a partial cancel is
//! possible, whether a refund account is needed. It decodes leniently, the way Toss's answers require: only the
//! payment's keys, status and amounts (and each cancel's amount and key) must be there, `null` is accepted wherever
//! a value is optional, and every enum keeps a value it does not know instead of failing
//! (`Status::Unrecognized("...")`). It is lossless: fields it does not model are kept in [`Payment::json`], the
//! answer as Toss sent it, and serializing the payment writes that answer back.
//!
//! # What counts as refunded
//! One rule, used by [`Payment::cancelled_total`], [`Cancelled::is_done`](super::Cancelled::is_done) and the
//! provider-neutral refund: [`Cancel::outcome`] classifies a cancel by its `cancelStatus`, and
//! [`Payment::cancel_outcome`] refuses to count one the payment around it contradicts (a `failure`, an `EXPIRED`
//! payment). A cancel whose state is not
//! known is neither counted nor taken as failed.
//!
//! # Korean enum values and their ASCII views
//! Toss sends some enum values as Korean labels (`"method": "카드"`). The generated enums name their variants
//! after those labels (`PaymentMethod::카드`), which is valid Rust but awkward to type and to read in a match. The
//! facade offers an ASCII view of each, built from the generated value:
//!
//! | view | wire labels |
//! | --- | --- |
//! | [`Method`] | `카드` Card, `가상계좌` VirtualAccount, `간편결제` EasyPay, `휴대폰` MobilePhone, `계좌이체` Transfer, `문화상품권` CultureGiftCertificate, `도서문화상품권` BookGiftCertificate, `게임문화상품권` GameGiftCertificate |
//! | [`CardType`] | `신용` Credit, `체크` Check, `기프트` Gift, `미확인` Unknown |
//! | [`CardOwnerType`] | `개인` Personal, `법인` Corporate, `미확인` Unknown |
//! | [`AccountType`] | `일반` Normal, `고정` Fixed |
//! | [`CashReceiptType`] | `소득공제` IncomeDeduction, `지출증빙` ExpenseProof |
//!
//! Each view has `Unrecognized(String)` for a label it does not list, `as_str()` for the label as sent, and
//! `From<&generated>`. Get them from [`Payment::method`], [`Payment::card_type`] and friends.
//!
//! Status values are ASCII on the wire, so [`Status`] and [`CancelStatus`] are the generated enums themselves.

use super::cancel::RefundReceiveAccount;
use super::raw::types as wire;
use super::{Client, PaymentKey, TossError, path_segment};
use crate::RawJson;
use crate::error::Error;
use crate::policy::{self, Conditions, Deadline, ProcessingTime};
use crate::refund;
use crate::transport::{Call, Lookup};
use chrono::{DateTime, Utc};
use std::fmt;

/// Where a payment is in its life cycle (`READY`, `IN_PROGRESS`, `WAITING_FOR_DEPOSIT`, `DONE`, `CANCELED`,
/// `PARTIAL_CANCELED`, `ABORTED`, `EXPIRED`, or `Unrecognized`).
pub use wire::PaymentStatus as Status;

/// The state of one cancel: `DONE` (money returned), `IN_PROGRESS` or `ABORTED` (asynchronous cancels), or
/// `Unrecognized`.
pub use wire::CancelStatus;

/// One cancel of a payment: an element of [`Payment::cancels`].
pub use wire::PaymentCancel as Cancel;

/// The virtual-account details of a payment, including the refund account a customer typed into the payment
/// widget (`refund_receive_account`, readable for 30 minutes only).
pub use wire::PaymentVirtualAccount as VirtualAccount;

/// The refund account the customer typed into the payment widget, as the payment reports it (`bankCode`, not
/// `bank`). [`Payment::widget_refund_account`] turns it into the cancel request's [`RefundReceiveAccount`].
pub use wire::VirtualAccountRefundReceiveAccount as WidgetRefundAccount;

/// Progress of a virtual-account refund (`NONE`, `PENDING`, `FAILED`, `PARTIAL_FAILED`, `COMPLETED`).
pub use wire::VirtualAccountRefundStatus as RefundStatus;

/// The card details of a card payment.
pub use wire::PaymentCard as Card;

/// Why a payment failed, for failed payments.
pub use wire::PaymentFailure as Failure;

/// `NORMAL`, `BILLING` or `BRANDPAY`.
pub use wire::PaymentType;

/// A Toss payment: the typed fields the crate reads, and the JSON exactly as Toss sent it.
///
/// Read any field of the generated type directly (`payment.total_amount`, `payment.cancels`, ...); the methods
/// add the refund arithmetic and the ASCII views. Nothing Toss sent is lost: [`json`](Self::json) holds the answer
/// byte for byte, fields no spec lists included, and serializing a `Payment` writes that text back, so a stored
/// payment is what Toss said (its `secret` too, so it can still verify a webhook or pay a refund).
///
/// `Debug` prints the typed fields only, never the JSON, and hides the payment's `secret` (the value a
/// `DEPOSIT_CALLBACK` webhook must repeat), its `metadata` and the customer's account and personal data (the table
/// in [`crate::sensitive`]).
#[derive(Clone)]
pub struct Payment {
    typed: Box<wire::Payment>,
    json: RawJson,
}

crate::lossless::view_impls!(Payment, wire::Payment);

impl wire::PaymentCancel {
    /// What this cancel did with the money, by itself: the crate's one rule, shared by
    /// [`Payment::cancelled_total`] and the provider-neutral refund ([`crate::refund::Refunds`]).
    ///
    /// | `cancelStatus` | outcome |
    /// |---|---|
    /// | `DONE`, or absent (answers older than the field) | [`Succeeded`](refund::RefundStatus::Succeeded): counted |
    /// | `IN_PROGRESS` | [`Requested`](refund::RefundStatus::Requested): not counted yet |
    /// | `ABORTED` | [`Failed`](refund::RefundStatus::Failed): not counted |
    /// | any other value | [`Unrecognized`](refund::RefundStatus::Unrecognized): neither counted nor taken as failed |
    ///
    /// [`Payment::cancel_outcome`] adds what the payment around the entry says.
    pub fn outcome(&self) -> refund::RefundStatus {
        match &self.cancel_status {
            None | Some(CancelStatus::Done) => refund::RefundStatus::Succeeded,
            Some(CancelStatus::InProgress) => refund::RefundStatus::Requested,
            Some(CancelStatus::Aborted) => refund::RefundStatus::Failed,
            Some(other) => refund::RefundStatus::Unrecognized(other.as_str().to_string()),
        }
    }
}

/// Statuses in which Toss can still return money.
fn is_cancellable_status(status: &Status) -> bool {
    matches!(
        status,
        Status::Done | Status::PartialCanceled | Status::WaitingForDeposit
    )
}

impl Payment {
    /// The generated type, e.g. to hand to the raw client.
    pub fn into_raw(self) -> wire::Payment {
        *self.typed
    }

    /// The payment as Toss sent it, byte for byte: every field, those no spec lists included. It holds the
    /// customer's personal data and the payment's `secret`: store it, do not log it.
    pub fn json(&self) -> &RawJson {
        &self.json
    }

    /// The typed fields and the JSON as sent.
    pub fn into_parts(self) -> (wire::Payment, RawJson) {
        (*self.typed, self.json)
    }

    /// Toss's key of the payment.
    pub fn payment_key(&self) -> &str {
        &self.typed.payment_key
    }

    /// The merchant's order id.
    pub fn order_id(&self) -> &str {
        &self.typed.order_id
    }

    /// The status.
    pub fn status(&self) -> &Status {
        &self.typed.status
    }

    /// How the customer paid, as an ASCII view; `None` when Toss sent `null` (e.g. a payment that never got that
    /// far).
    pub fn method(&self) -> Option<Method> {
        self.typed.method.as_ref().map(Method::from)
    }

    /// What can still be cancelled, in won (`balanceAmount`).
    pub fn balance(&self) -> i64 {
        self.typed.balance_amount
    }

    /// The amount first approved, in won (`totalAmount`); it does not shrink when cancels happen.
    pub fn total(&self) -> i64 {
        self.typed.total_amount
    }

    /// Every cancel so far, oldest first (empty when Toss sent `null`).
    pub fn cancels(&self) -> &[Cancel] {
        self.typed.cancels.as_deref().unwrap_or_default()
    }

    /// The newest cancel: after a successful cancel call, the one that call made.
    pub fn latest_cancel(&self) -> Option<&Cancel> {
        self.cancels().last()
    }

    /// The sum of the cancels that returned money, in won: the entries [`cancel_outcome`](Self::cancel_outcome)
    /// counts as [`Succeeded`](refund::RefundStatus::Succeeded). Cancels still `IN_PROGRESS`, `ABORTED` ones, unrecognized
    /// states and entries the payment contradicts are left out.
    pub fn cancelled_total(&self) -> i64 {
        self.cancels()
            .iter()
            .map(|c| self.refunded_by(c))
            .fold(0i64, i64::saturating_add)
    }

    /// What `cancel`, one of this payment's cancels, did with the money: [`Cancel::outcome`], except that a cancel
    /// that says it is done is not taken as done when the payment around it contradicts that: the payment reports
    /// a `failure`, or it is in a state that never held money to return (`READY`, `IN_PROGRESS`, `ABORTED`,
    /// `EXPIRED`). Such an entry is [`Unknown`](refund::RefundStatus::Unknown): neither counted nor taken as failed.
    /// A payment status this crate does not know contradicts nothing.
    pub fn cancel_outcome(&self, cancel: &Cancel) -> refund::RefundStatus {
        let outcome = cancel.outcome();
        let consistent = self.typed.failure.is_none()
            && !matches!(
                self.typed.status,
                Status::Ready | Status::InProgress | Status::Aborted | Status::Expired
            );
        match outcome {
            refund::RefundStatus::Succeeded if !consistent => refund::RefundStatus::Unknown,
            other => other,
        }
    }

    /// Won that `cancel` returned: its amount when [`cancel_outcome`](Self::cancel_outcome) counts it, else 0.
    pub fn refunded_by(&self, cancel: &Cancel) -> i64 {
        if self.cancel_outcome(cancel) == refund::RefundStatus::Succeeded {
            cancel.cancel_amount
        } else {
            0
        }
    }

    /// What the latest cancel did, as a cancel's answer reports the cancel it made:
    /// [`cancel_outcome`](Self::cancel_outcome) of the newest entry, and [`Unknown`](refund::RefundStatus::Unknown) when
    /// there is none (`cancels` null or empty: a 200 that does not show a cancel is not a refund).
    pub fn latest_cancel_outcome(&self) -> refund::RefundStatus {
        self.latest_cancel()
            .map_or(refund::RefundStatus::Unknown, |c| self.cancel_outcome(c))
    }

    /// Whether this is a virtual-account payment: the method says so, or the `virtualAccount` object is there
    /// (which also covers answers whose method label this crate does not know).
    pub fn is_virtual_account(&self) -> bool {
        self.method() == Some(Method::VirtualAccount) || self.typed.virtual_account.is_some()
    }

    /// A virtual account whose customer has not paid yet: it can only be cancelled in full, which closes the
    /// account, and no refund account is needed.
    pub fn is_awaiting_deposit(&self) -> bool {
        self.is_virtual_account() && self.typed.status == Status::WaitingForDeposit
    }

    /// A virtual account that has been paid into: Toss can only refund it to a bank account, so a cancel must
    /// carry a [`RefundReceiveAccount`].
    pub fn needs_refund_account(&self) -> bool {
        self.is_virtual_account() && matches!(self.typed.status, Status::Done | Status::PartialCanceled)
    }

    /// Whether anything can be cancelled now: the status is `DONE`, `PARTIAL_CANCELED` or `WAITING_FOR_DEPOSIT`,
    /// and the balance is above zero.
    pub fn can_cancel(&self) -> bool {
        is_cancellable_status(&self.typed.status) && self.balance() > 0
    }

    /// Whether a cancel of less than the balance is possible: [`Self::can_cancel`], Toss did not say
    /// `isPartialCancelable: false`, and it is not a virtual account still waiting for its deposit (whose amount
    /// cannot change).
    pub fn can_cancel_partially(&self) -> bool {
        self.can_cancel() && self.typed.is_partial_cancelable != Some(false) && !self.is_awaiting_deposit()
    }

    /// The refund account the customer typed into the payment widget, ready for
    /// [`CancelPayment::refund_receive_account`](super::CancelPayment::refund_receive_account). `None` when Toss
    /// no longer shows it or when a part is missing.
    ///
    /// Toss shows this account for 30 minutes only, counted from when the payment window opened (Toss's cancel
    /// guide, <https://docs.tosspayments.com/guides/v2/cancel-payment>, Case 2;
    /// [`policy::VirtualAccountRefund::widget_refund_account_readable_for`]); after that the payment reads
    /// `null` there. So take it from the payment in the answer to your confirm call (wrap the generated payment
    /// with `Payment::from`), and store the returned value with the order: [`RefundReceiveAccount`] is an owned
    /// value that serializes (`bank`, `accountNumber`, `holderName`, as the cancel request names them) and reads
    /// back with serde. A later refund then passes the stored account to
    /// [`Client::refund_virtual_account`](super::Client::refund_virtual_account). It is the customer's bank
    /// account: store it as the personal data it is.
    pub fn widget_refund_account(&self) -> Option<RefundReceiveAccount> {
        let account = self.typed.virtual_account.as_ref()?.refund_receive_account.as_ref()?;
        Some(RefundReceiveAccount::new(
            crate::account::BankCode::new(account.bank_code.clone()?),
            crate::account::AccountNumber::new(account.account_number.clone()?),
            crate::account::HolderName::new(account.holder_name.clone()?),
        ))
    }

    /// When the payment was approved (`approvedAt`), the time its cancel deadline counts from; `None` when Toss
    /// sent none (a payment not approved yet).
    pub fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.typed.approved_at
    }

    /// The pay method in the terms of [`crate::policy`]; see [`Method::policy_method`] for the mapping. `Unknown`
    /// when Toss sent no method.
    pub fn policy_method(&self) -> policy::PayMethod {
        self.method()
            .map_or(policy::PayMethod::Unknown, |method| method.policy_method())
    }

    /// Until when this payment can be cancelled, per [`policy::deadline`] for Toss (Toss's cancel guide,
    /// <https://docs.tosspayments.com/guides/v2/cancel-payment>, section 결제 취소 기한), counted from
    /// [`approved_at`](Self::approved_at). Without an approval time the rule is still given, but no instant.
    pub fn cancel_deadline(&self) -> Deadline {
        policy::deadline_if_paid(policy::Provider::Toss, self.policy_method(), self.approved_at())
    }

    /// How long a cancel of this payment takes to reach the customer, per [`policy::processing`] for Toss. Say in
    /// `conditions` what the payment alone does not: whether a card payment has been purchased (매입), whether the
    /// cancel is partial, whether Toss flagged a virtual-account payment as suspicious.
    pub fn expected_refund_time(&self, conditions: &Conditions) -> ProcessingTime {
        policy::processing(policy::Provider::Toss, self.policy_method(), conditions)
    }

    /// The card's type (credit, check, gift) as an ASCII view, for card payments.
    pub fn card_type(&self) -> Option<CardType> {
        self.typed.card.as_ref()?.card_type.as_ref().map(CardType::from)
    }

    /// Whether the card is a personal or a corporate one, as an ASCII view, for card payments.
    pub fn card_owner_type(&self) -> Option<CardOwnerType> {
        self.typed.card.as_ref()?.owner_type.as_ref().map(CardOwnerType::from)
    }

    /// Whether the virtual account is a one-off or a fixed one, as an ASCII view.
    pub fn account_type(&self) -> Option<AccountType> {
        self.typed
            .virtual_account
            .as_ref()?
            .account_type
            .as_ref()
            .map(AccountType::from)
    }

    /// The kind of cash receipt issued with the payment, as an ASCII view.
    pub fn cash_receipt_type(&self) -> Option<CashReceiptType> {
        self.typed
            .cash_receipt
            .as_ref()?
            .type_
            .as_ref()
            .map(CashReceiptType::from)
    }
}

impl Client {
    /// Looks a payment up by its `paymentKey` (`GET /v1/payments/{paymentKey}`). The key is percent-encoded, so
    /// any text is safe to pass. The same shape as the other providers' lookups: `client.get_payment(&key).await`.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for an empty key (nothing is sent); [`Error::Api`] with
    /// [`ErrorCode::NotFoundPayment`](super::ErrorCode::NotFoundPayment) and the like from Toss; transport and
    /// decode errors as for any call.
    ///
    /// Await it directly, or set a per-call [`timeout`](Lookup::timeout) or [`retry`](Lookup::retry) first.
    pub fn get_payment<'a>(&'a self, payment_key: &'a PaymentKey) -> Lookup<'a, Result<Payment, Error<TossError>>> {
        Lookup::new(move |options| {
            Box::pin(async move {
                let segment = payment_key.segment()?;
                let mut call = Call::new(
                    "getPayment",
                    reqwest::Method::GET,
                    "/v1/payments/{paymentKey}",
                    format!("/v1/payments/{segment}"),
                );
                options.apply(&mut call);
                self.execute_view(call, options.test_code.as_deref()).await
            })
        })
    }

    /// Looks a payment up by the merchant's `orderId` (`GET /v1/payments/orders/{orderId}`).
    ///
    /// # Errors
    /// As [`Self::get_payment`].
    pub fn get_payment_by_order_id<'a>(&'a self, order_id: &'a str) -> Lookup<'a, Result<Payment, Error<TossError>>> {
        Lookup::new(move |options| {
            Box::pin(async move {
                let segment = path_segment("orderId", order_id)?;
                let mut call = Call::new(
                    "getPaymentByOrderId",
                    reqwest::Method::GET,
                    "/v1/payments/orders/{orderId}",
                    format!("/v1/payments/orders/{segment}"),
                );
                options.apply(&mut call);
                self.execute_view(call, options.test_code.as_deref()).await
            })
        })
    }
}

/// Declares an ASCII view of a generated enum whose wire values are Korean labels.
macro_rules! ascii_view {
    (
        $(#[$meta:meta])*
        $name:ident from $wire:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $label:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A label this version of the crate does not list, kept as sent.
            Unrecognized(String),
        }

        impl $name {
            /// The label as it travels on the wire (Korean for every listed variant).
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $label, )*
                    $name::Unrecognized(label) => label,
                }
            }

            /// Whether the label is one this crate does not list.
            pub fn is_unrecognized(&self) -> bool {
                matches!(self, $name::Unrecognized(_))
            }
        }

        impl From<&str> for $name {
            fn from(label: &str) -> Self {
                match label {
                    $( $label => $name::$variant, )*
                    other => $name::Unrecognized(other.to_owned()),
                }
            }
        }

        impl From<&wire::$wire> for $name {
            fn from(value: &wire::$wire) -> Self {
                $name::from(value.as_str())
            }
        }

        impl From<wire::$wire> for $name {
            fn from(value: wire::$wire) -> Self {
                $name::from(&value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

ascii_view! {
    /// How the customer paid: an ASCII view of the generated
    /// [`PaymentMethod`](super::raw::types::PaymentMethod), whose variants are the Korean labels Toss sends.
    Method from PaymentMethod {
        /// `카드`: a card, including card-based easy pays.
        Card = "카드",
        /// `가상계좌`: a virtual account the customer pays into.
        VirtualAccount = "가상계좌",
        /// `간편결제`: an easy-pay service.
        EasyPay = "간편결제",
        /// `휴대폰`: billed to a mobile phone.
        MobilePhone = "휴대폰",
        /// `계좌이체`: a bank transfer.
        Transfer = "계좌이체",
        /// `문화상품권`: a culture gift certificate.
        CultureGiftCertificate = "문화상품권",
        /// `도서문화상품권`: a book gift certificate.
        BookGiftCertificate = "도서문화상품권",
        /// `게임문화상품권`: a game gift certificate.
        GameGiftCertificate = "게임문화상품권",
    }
}

impl Method {
    /// The one mapping from Toss's method onto [`policy::PayMethod`]:
    ///
    /// | Toss | policy |
    /// |---|---|
    /// | `카드` | [`Card`](policy::PayMethod::Card) |
    /// | `계좌이체` | [`AccountTransfer`](policy::PayMethod::AccountTransfer) |
    /// | `가상계좌` | [`VirtualAccount`](policy::PayMethod::VirtualAccount) |
    /// | `휴대폰` | [`MobilePhone`](policy::PayMethod::MobilePhone) |
    /// | `간편결제` | [`EasyPay`](policy::PayMethod::EasyPay) |
    /// | `문화상품권`, `도서문화상품권`, `게임문화상품권` | [`GiftCertificate`](policy::PayMethod::GiftCertificate) |
    /// | any other label | [`Unknown`](policy::PayMethod::Unknown) |
    ///
    /// Toss's cancel guide (<https://docs.tosspayments.com/guides/v2/cancel-payment>) has a row for PayPal (해외 간편결제),
    /// but Toss's spec lists no method label for it and marks the `foreignEasyPay` object as unconfirmed, so a PayPal
    /// payment is not recognized from the payment: it answers `Unknown`. Where you know a payment was made with PayPal,
    /// ask [`policy::deadline`] with [`PayMethod::PayPal`](policy::PayMethod::PayPal) directly.
    pub fn policy_method(&self) -> policy::PayMethod {
        use policy::PayMethod as M;
        match self {
            Method::Card => M::Card,
            Method::Transfer => M::AccountTransfer,
            Method::VirtualAccount => M::VirtualAccount,
            Method::MobilePhone => M::MobilePhone,
            Method::EasyPay => M::EasyPay,
            Method::CultureGiftCertificate | Method::BookGiftCertificate | Method::GameGiftCertificate => {
                M::GiftCertificate
            }
            Method::Unrecognized(_) => M::Unknown,
        }
    }
}

ascii_view! {
    /// The kind of card: an ASCII view of the generated [`CardType`](super::raw::types::CardType).
    CardType from CardType {
        /// `신용`: a credit card.
        Credit = "신용",
        /// `체크`: a check (debit) card.
        Check = "체크",
        /// `기프트`: a gift card.
        Gift = "기프트",
        /// `미확인`: Toss could not tell.
        Unknown = "미확인",
    }
}

ascii_view! {
    /// Who owns the card: an ASCII view of the generated [`CardOwnerType`](super::raw::types::CardOwnerType).
    CardOwnerType from CardOwnerType {
        /// `개인`: a person.
        Personal = "개인",
        /// `법인`: a company.
        Corporate = "법인",
        /// `미확인`: Toss could not tell.
        Unknown = "미확인",
    }
}

ascii_view! {
    /// The kind of virtual account: an ASCII view of the generated
    /// [`VirtualAccountType`](super::raw::types::VirtualAccountType).
    AccountType from VirtualAccountType {
        /// `일반`: opened for this payment only.
        Normal = "일반",
        /// `고정`: a fixed account reused for the same customer.
        Fixed = "고정",
    }
}

ascii_view! {
    /// The kind of cash receipt: an ASCII view of the generated
    /// [`CashReceiptType`](super::raw::types::CashReceiptType).
    CashReceiptType from CashReceiptType {
        /// `소득공제`: for an individual's income deduction.
        IncomeDeduction = "소득공제",
        /// `지출증빙`: proof of a business expense.
        ExpenseProof = "지출증빙",
    }
}

/// One transaction of [`Client::transactions`] (`GET /v1/transactions`): an approval or a cancel of a payment,
/// with the typed fields the crate reads (the generated `Transaction`, through `Deref`) and the JSON exactly as
/// Toss sent it, fields no spec lists included.
///
/// Serializing writes that JSON back. `Debug` prints the typed fields only (`customerKey` hidden, as
/// [`crate::sensitive`] says), never the JSON.
#[derive(Clone)]
pub struct Transaction {
    typed: Box<wire::Transaction>,
    json: RawJson,
}

impl Transaction {
    /// The transaction as Toss sent it, byte for byte.
    pub fn json(&self) -> &RawJson {
        &self.json
    }

    /// Toss's key of this transaction (`transactionKey`): the cursor a listing resumes after.
    pub fn transaction_key(&self) -> &str {
        &self.typed.transaction_key
    }

    /// The payment it belongs to (`paymentKey`).
    pub fn payment_key(&self) -> &str {
        &self.typed.payment_key
    }

    /// The amount of this transaction (`amount`): won when its `currency` is `KRW`.
    pub fn amount(&self) -> i64 {
        self.typed.amount
    }

    /// The generated type.
    pub fn into_raw(self) -> wire::Transaction {
        *self.typed
    }

    /// The typed fields and the JSON as sent.
    pub fn into_parts(self) -> (wire::Transaction, RawJson) {
        (*self.typed, self.json)
    }
}

crate::lossless::view_impls!(Transaction, wire::Transaction);

/// The largest page `GET /v1/transactions` serves (`limit`).
pub const MAX_TRANSACTIONS_PAGE: u32 = 5_000;

/// What [`Client::transactions`] lists: the transactions of a time range, by named setters.
///
/// The range is required and given as one inclusive range of instants, `start..=end`, so the two ends cannot be
/// swapped unnoticed (a start after the end is refused before sending). Toss reads its dates as Korean local
/// time to the second (`yyyy-MM-ddTHH:mm:ss`): the crate converts each instant to KST and drops fractions of a
/// second.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use kr_payments::toss::TransactionQuery;
/// let start = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
/// let end = Utc.with_ymd_and_hms(2024, 6, 30, 23, 59, 59).unwrap();
/// let query = TransactionQuery::new(start..=end).limit(500);
/// # let _ = query;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionQuery {
    /// The first instant of the range (`startDate`).
    pub start: DateTime<Utc>,
    /// The last instant of the range, included (`endDate`).
    pub end: DateTime<Utc>,
    /// Transactions per request (`limit`), 1 to [`MAX_TRANSACTIONS_PAGE`]. Default: Toss's (100).
    pub limit: Option<u32>,
    /// Resume after this transaction (`startingAfter`, a `transactionKey`). Default: from the start.
    pub starting_after: Option<String>,
}

impl TransactionQuery {
    /// The transactions from `range.start()` to `range.end()`, both included.
    pub fn new(range: std::ops::RangeInclusive<DateTime<Utc>>) -> Self {
        let (start, end) = range.into_inner();
        TransactionQuery {
            start,
            end,
            limit: None,
            starting_after: None,
        }
    }

    /// Transactions per request, 1 to [`MAX_TRANSACTIONS_PAGE`].
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Resume after the transaction with this `transactionKey` (the last one a listing gave).
    pub fn starting_after(mut self, transaction_key: impl Into<String>) -> Self {
        self.starting_after = Some(transaction_key.into());
        self
    }

    fn check(&self) -> Result<(), crate::InvalidRequest> {
        if let Some(limit) = self.limit
            && !(1..=MAX_TRANSACTIONS_PAGE).contains(&limit)
        {
            return Err(crate::InvalidRequest::new(
                "limit",
                format!("is {limit}; it must be between 1 and {MAX_TRANSACTIONS_PAGE}"),
            ));
        }
        if self.start > self.end {
            return Err(crate::InvalidRequest::new("startDate", "is after `endDate`"));
        }
        if self.starting_after.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(crate::InvalidRequest::new("startingAfter", "is empty"));
        }
        Ok(())
    }
}

/// Toss's local date-time: KST, to the second.
fn kst(field: &'static str, t: DateTime<Utc>) -> Result<String, crate::InvalidRequest> {
    // UTC+9 all year (Korea has no daylight saving time).
    let local = t
        .naive_utc()
        .checked_add_signed(chrono::TimeDelta::hours(9))
        .ok_or_else(|| crate::InvalidRequest::new(field, "is out of range"))?;
    Ok(local.format("%Y-%m-%dT%H:%M:%S").to_string())
}

impl Client {
    /// Lists the approvals and cancels of a time range (`GET /v1/transactions`), following Toss's cursor; call
    /// [`stream`](ListTransactions::stream) on the result. The same shape as the other providers' listings
    /// (PortOne V2 [`payments_by_cursor`](crate::portone_v2::Client::payments_by_cursor), iamport
    /// [`payments_by_status`](crate::iamport::Client::payments_by_status)): a builder that owns a clone of the
    /// client, and a boxed `'static` stream.
    pub fn transactions(&self, query: TransactionQuery) -> ListTransactions {
        ListTransactions {
            client: self.clone(),
            query,
            options: crate::transport::CallOptions::default(),
        }
    }
}

/// A listing of Toss transactions, built by [`Client::transactions`]. [`stream`](Self::stream) walks every page;
/// [`page`](Self::page) fetches one.
#[derive(Debug, Clone)]
#[must_use = "nothing is read until `stream()` or `page()`"]
pub struct ListTransactions {
    client: Client,
    query: TransactionQuery,
    options: crate::transport::CallOptions,
}

impl ListTransactions {
    /// Total timeout of each page request, instead of the client's.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Retry policy of each page request, instead of the client's (reads are always safe to retry).
    pub fn retry(mut self, policy: crate::transport::RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    /// Fetches the page after the transaction `starting_after` (from the range's start when `None`), in Toss's
    /// order.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a limit outside 1 to [`MAX_TRANSACTIONS_PAGE`], a start after the end or an
    /// empty cursor (nothing sent); otherwise as [`Client::get_payment`].
    pub async fn page(&self, starting_after: Option<&str>) -> Result<Vec<Transaction>, Error<TossError>> {
        self.query.check()?;
        if starting_after.is_some_and(|k| k.trim().is_empty()) {
            return Err(crate::InvalidRequest::new("startingAfter", "is empty").into());
        }
        let mut call = Call::new(
            "listTransactions",
            reqwest::Method::GET,
            "/v1/transactions",
            "/v1/transactions".to_owned(),
        );
        self.options.apply(&mut call);
        call.query.push(("startDate", kst("startDate", self.query.start)?));
        call.query.push(("endDate", kst("endDate", self.query.end)?));
        if let Some(after) = starting_after {
            call.query.push(("startingAfter", after.to_owned()));
        }
        if let Some(limit) = self.query.limit {
            call.query.push(("limit", limit.to_string()));
        }
        self.client.execute(call, self.options.test_code.as_deref()).await
    }

    /// Every transaction of the range, one request per page as the stream is polled, each request sending the
    /// `transactionKey` of the last transaction received as `startingAfter`.
    ///
    /// The stream ends at an empty page, or at a page shorter than the [`limit`](TransactionQuery::limit) you
    /// set. An error ends it after being yielded; to resume, list again with
    /// [`starting_after`](TransactionQuery::starting_after) set to the last key you saw. It is boxed, `Send`,
    /// `Unpin` and `'static`, as the other providers' listings are.
    pub fn stream(self) -> futures::stream::BoxStream<'static, Result<Transaction, Error<TossError>>> {
        use futures::stream::{self, StreamExt};
        if let Err(e) = self.query.check() {
            return stream::once(async move { Err(e.into()) }).boxed();
        }
        let first = self.query.starting_after.clone();
        stream::unfold((self, Some(first)), |(list, state)| async move {
            let cursor = state?;
            match list.page(cursor.as_deref()).await {
                Err(e) => Some((stream::iter(vec![Err(e)]), (list, None))),
                Ok(items) if items.is_empty() => None,
                Ok(items) => {
                    let last = items.last().map(|t| t.transaction_key().to_owned());
                    let short = list
                        .query
                        .limit
                        .is_some_and(|limit| items.len() < usize::try_from(limit).unwrap_or(usize::MAX));
                    let next = if short {
                        None
                    } else if last.is_some() && last == cursor {
                        // The same cursor again would ask for the same page forever.
                        tracing::warn!("listTransactions returned the cursor it was given; stopping");
                        None
                    } else {
                        Some(last)
                    };
                    Some((
                        stream::iter(items.into_iter().map(Ok).collect::<Vec<_>>()),
                        (list, next),
                    ))
                }
            }
        })
        .flatten()
        .boxed()
    }
}
