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
//! | [`policy_method`](PaymentView::policy_method) | from `method` and the PG | from `pay_method` and the PG | from `method` |
//!
//! Each provider's own names stay on its `Payment` too; this trait only adds the shared ones. A value the answer
//! did not carry is `None`: the crate never fills one in.

use crate::Provider;
use crate::policy;
use chrono::{DateTime, Utc};

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
    /// The pay method in the terms of [`crate::policy`].
    fn policy_method(&self) -> policy::PayMethod;
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
}
