//! One vocabulary for the payment views of the three providers: what a refund screen reads, under the same names,
//! so code that decides a refund can take any provider's payment (`&impl PaymentView` or `&dyn PaymentView`).
//!
//! | [`PaymentView`] | PortOne V2 | iamport | Toss |
//! |---|---|---|---|
//! | [`payment_id`](PaymentView::payment_id) (what cancels and lookups take) | `id` | `imp_uid` | `paymentKey` |
//! | [`order_id`](PaymentView::order_id) (the merchant's order) | `id` | `merchant_uid` | `orderId` |
//! | [`total_amount`](PaymentView::total_amount) | `amount.total` | `amount` | `totalAmount` |
//! | [`cancelled_total`](PaymentView::cancelled_total) | the crate's rule over `cancellations` | the crate's rule over `cancel_history` | the crate's rule over `cancels` |
//! | [`balance`](PaymentView::balance) (the guard a partial refund sends) | `amount.paid − amount.cancelled` | `amount − cancel_amount` | `balanceAmount` |
//! | [`paid_at`](PaymentView::paid_at) | `paidAt` | `paid_at` | `approvedAt` |
//! | [`policy_method`](PaymentView::policy_method) (the pay method) | from `method` and the PG | from `pay_method` and the PG | from `method` |
//! | [`order_name`](PaymentView::order_name) | `orderName` | `name` | `orderName` |
//! | [`currency`](PaymentView::currency) | `currency` | `currency` | `currency` |
//! | [`customer`](PaymentView::customer) name | `customer.name` | `buyer_name` | `virtualAccount.customerName` |
//! | [`customer`](PaymentView::customer) email | `customer.email` | `buyer_email` | none (a Toss payment carries no email) |
//! | [`customer`](PaymentView::customer) phone | `customer.phoneNumber` | `buyer_tel` | `mobilePhone.customerMobilePhone` |
//!
//! Each provider's own names stay on its `Payment` too; this trait only adds the shared ones. A value the answer
//! did not carry is `None`: the crate never fills one in.
//!
//! # The pay method
//! [`policy_method`](PaymentView::policy_method) is the shared method: one ASCII enum, [`policy::PayMethod`], the
//! same for the three providers and the one [`crate::policy`] answers for, so there is no second `method()` here.
//! It says what a refund depends on (card, transfer, virtual account, mobile phone, gift certificate, easy pay and
//! the wallets whose rules differ); where an answer does not say enough for that, it is
//! [`Unknown`](policy::PayMethod::Unknown). The provider's own method, with every detail it sent, stays on its
//! `Payment` (PortOne V2 `PaymentExt::method`, iamport `pay_method`, Toss `Payment::method`).
//!
//! # Currency and amounts
//! The amounts are read as the integers the provider sent and are never converted. They are won when
//! [`currency`](PaymentView::currency) is `KRW` (as every payment the sandbox makes is); for a payment in another
//! currency they are that currency's integers as the provider counts them, and an amount with a fractional part
//! does not decode at all (an error, never a rounded number). Check the currency before treating an amount as won.

use crate::Provider;
use crate::policy;
use crate::sensitive::{Masked, Shown};
use chrono::{DateTime, Utc};
use std::fmt;

/// Who paid, as the payment reports it: borrowed from the payment, each part `None` when the answer did not carry
/// it (see the [module docs](self) for where each provider keeps them).
///
/// It is the customer's personal data: `Debug` prints every present value as `"<redacted>"` (and a missing one as
/// `None`), as everywhere in the crate ([`crate::sensitive`]). Read the fields to use them.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Customer<'a> {
    /// The customer's name.
    pub name: Option<&'a str>,
    /// The customer's email address.
    pub email: Option<&'a str>,
    /// The customer's phone number, as the provider sent it.
    pub phone: Option<&'a str>,
}

impl<'a> Customer<'a> {
    /// A customer with nothing known, to fill in with the setters (for a [`PaymentView`] of your own, say).
    pub fn new() -> Self {
        Customer::default()
    }

    /// With the customer's name.
    pub fn with_name(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// With the customer's email address.
    pub fn with_email(mut self, email: &'a str) -> Self {
        self.email = Some(email);
        self
    }

    /// With the customer's phone number.
    pub fn with_phone(mut self, phone: &'a str) -> Self {
        self.phone = Some(phone);
        self
    }

    /// Whether the payment said nothing about its customer.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.phone.is_none()
    }
}

impl fmt::Debug for Customer<'_> {
    /// Whether each part is there, never its value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("name", &Masked(&self.name, Shown::Redacted))
            .field("email", &Masked(&self.email, Shown::Redacted))
            .field("phone", &Masked(&self.phone, Shown::Redacted))
            .finish()
    }
}

/// A payment as any provider reports it, in one vocabulary; see the [module docs](self) for what each name reads.
pub trait PaymentView {
    /// The provider that answered.
    fn provider(&self) -> Provider;
    /// The id cancels and lookups take: PortOne V2 `id`, iamport `imp_uid`, Toss `paymentKey`.
    fn payment_id(&self) -> Option<&str>;
    /// The merchant's order id: PortOne V2 `id` (the merchant chooses it), iamport `merchant_uid`, Toss `orderId`.
    fn order_id(&self) -> Option<&str>;
    /// What the payment was for in all, in won.
    fn total_amount(&self) -> Option<i64>;
    /// What has been refunded, in won, by the crate's one rule for what counts as refunded (the same rule as
    /// [`crate::refund::RefundOutcome`]); `None` when the answer does not say.
    fn cancelled_total(&self) -> Option<i64>;
    /// What is left to refund, in won: the balance a guarded partial refund states.
    fn balance(&self) -> Option<i64>;
    /// When the payment was paid (approved), if it was.
    fn paid_at(&self) -> Option<DateTime<Utc>>;
    /// The pay method, one enum for the three providers: the terms of [`crate::policy`] (see
    /// [the pay method](self#the-pay-method)).
    fn policy_method(&self) -> policy::PayMethod;
    /// What the order was for, as the merchant named it when the payment started.
    fn order_name(&self) -> Option<&str>;
    /// The currency as the provider sent it, an ISO 4217 code such as `"KRW"`. The amounts are won only when it
    /// is `KRW` (see [currency and amounts](self#currency-and-amounts)).
    fn currency(&self) -> Option<&str>;
    /// Who paid: name, email and phone, as far as the answer carries them. Its `Debug` hides them.
    fn customer(&self) -> Customer<'_>;
}

#[cfg(feature = "portone-v2")]
impl PaymentView for crate::portone_v2::Payment {
    fn provider(&self) -> Provider {
        Provider::PortOneV2
    }
    fn payment_id(&self) -> Option<&str> {
        crate::portone_v2::PaymentExt::id(self)
    }
    fn order_id(&self) -> Option<&str> {
        crate::portone_v2::PaymentExt::id(self)
    }
    fn total_amount(&self) -> Option<i64> {
        crate::portone_v2::PaymentExt::amount(self).map(|a| a.total)
    }
    fn cancelled_total(&self) -> Option<i64> {
        Some(crate::portone_v2::PaymentExt::cancelled_total(self))
    }
    fn balance(&self) -> Option<i64> {
        crate::portone_v2::PaymentExt::cancellable_amount(self)
    }
    fn paid_at(&self) -> Option<DateTime<Utc>> {
        crate::portone_v2::PaymentExt::paid_at(self)
    }
    fn policy_method(&self) -> policy::PayMethod {
        crate::portone_v2::PaymentExt::policy_method(self)
    }
    fn order_name(&self) -> Option<&str> {
        crate::portone_v2::PaymentExt::order_name(self)
    }
    fn currency(&self) -> Option<&str> {
        crate::portone_v2::PaymentExt::currency(self)
    }
    fn customer(&self) -> Customer<'_> {
        crate::portone_v2::PaymentExt::customer(self)
    }
}

#[cfg(feature = "iamport")]
impl PaymentView for crate::iamport::Payment {
    fn provider(&self) -> Provider {
        Provider::Iamport
    }
    fn payment_id(&self) -> Option<&str> {
        self.imp_uid.as_deref()
    }
    fn order_id(&self) -> Option<&str> {
        self.merchant_uid.as_deref()
    }
    fn total_amount(&self) -> Option<i64> {
        self.amount
    }
    fn cancelled_total(&self) -> Option<i64> {
        // The iamport payment's own methods are on the generated type it wraps.
        (**self).cancelled_total()
    }
    fn balance(&self) -> Option<i64> {
        self.cancellable_balance()
    }
    fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.paid_at_utc()
    }
    fn policy_method(&self) -> policy::PayMethod {
        (**self).policy_method()
    }
    fn order_name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }
    fn customer(&self) -> Customer<'_> {
        Customer {
            name: self.buyer_name.as_deref(),
            email: self.buyer_email.as_deref(),
            phone: self.buyer_tel.as_deref(),
        }
    }
}

#[cfg(feature = "toss")]
impl PaymentView for crate::toss::Payment {
    fn provider(&self) -> Provider {
        Provider::Toss
    }
    fn payment_id(&self) -> Option<&str> {
        Some(self.payment_key())
    }
    fn order_id(&self) -> Option<&str> {
        Some(crate::toss::Payment::order_id(self))
    }
    fn total_amount(&self) -> Option<i64> {
        Some(self.total())
    }
    fn cancelled_total(&self) -> Option<i64> {
        Some(crate::toss::Payment::cancelled_total(self))
    }
    fn balance(&self) -> Option<i64> {
        Some(crate::toss::Payment::balance(self))
    }
    fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.approved_at()
    }
    fn policy_method(&self) -> policy::PayMethod {
        crate::toss::Payment::policy_method(self)
    }
    fn order_name(&self) -> Option<&str> {
        self.order_name.as_deref()
    }
    fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }
    fn customer(&self) -> Customer<'_> {
        let payment: &crate::toss::raw::types::Payment = self;
        Customer {
            name: payment
                .virtual_account
                .as_ref()
                .and_then(|v| v.customer_name.as_deref()),
            email: None,
            phone: payment
                .mobile_phone
                .as_ref()
                .and_then(|m| m.customer_mobile_phone.as_deref()),
        }
    }
}
