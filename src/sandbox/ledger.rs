//! Provider-neutral state: payments, their cancels, and the cancellation rules shared by every API.
//!
//! The wire files translate requests into [`CancelRequest`] and translate [`Refusal`]s back into each
//! provider's own error shape. Rules live here once, so the three APIs cannot drift apart on what a
//! balance is or when a cancel is allowed; only the order in which a provider reports problems and the
//! words it uses differ.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, FixedOffset, Offset, Utc};

use super::Provider;

/// Korea Standard Time: the phone-payment month rule counts calendar months in KST.
pub(crate) fn kst() -> FixedOffset {
    // 9 hours is always in range; the fallback only keeps the code free of unwrap.
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `t` in KST. Times within 9 hours of the latest representable one are clamped first: chrono
/// panics on a local time past its range, and the sandbox clock can be set that far.
pub(crate) fn in_kst(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    let latest = DateTime::<Utc>::MAX_UTC - chrono::TimeDelta::hours(9);
    t.min(latest).with_timezone(&kst())
}

/// How the customer paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Card,
    VirtualAccount,
    MobilePhone,
}

/// Where a payment stands before cancels are taken into account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayState {
    /// Money received.
    Paid,
    /// A virtual account was issued and nothing was deposited yet.
    AwaitingDeposit,
}

/// A cancel that the ledger accepted.
#[derive(Debug, Clone)]
pub(crate) struct CancelRecord {
    pub id: String,
    pub amount: i64,
    pub tax_free: i64,
    pub vat: i64,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// `None` while the cancel is still pending (PortOne V2 asynchronous cancels).
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The PG's id for this cancel (iamport `pg_tid`, PortOne `pgCancellationId`).
    pub pg_tid: String,
    /// Toss `transactionKey` of the cancel transaction.
    pub transaction_key: String,
    /// Toss `receiptKey`.
    pub receipt_key: String,
    pub receipt_url: String,
    /// Balance left after this cancel (Toss `refundableAmount`).
    pub balance_after: i64,
}

impl CancelRecord {
    pub fn is_pending(&self) -> bool {
        self.cancelled_at.is_none()
    }
}

/// Refund destination sent with a cancel.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefundAccount {
    pub bank: String,
    pub number: String,
    pub holder: String,
    pub phone: Option<String>,
}

impl RefundAccount {
    /// Bank, number and holder are all needed to send money back.
    pub fn is_complete(&self) -> bool {
        [&self.bank, &self.number, &self.holder]
            .iter()
            .all(|s| !s.trim().is_empty())
    }
}

/// Who paid, as a seed gave it; each provider shows what its payments carry of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CustomerRecord {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One seeded payment and everything that happened to it.
#[derive(Debug, Clone)]
pub(crate) struct PaymentRecord {
    pub provider: Provider,
    /// paymentId (PortOne V2), imp_uid (iamport) or paymentKey (Toss).
    pub id: String,
    /// merchant_uid (iamport) or orderId (Toss); equal to `id` for PortOne V2.
    pub order_id: String,
    pub order_name: String,
    pub customer: CustomerRecord,
    pub method: MethodKind,
    /// PG code in iamport's lower-case spelling (`tosspayments`, `smartro`, `html5_inicis`…).
    pub pg: String,
    pub total: i64,
    pub tax_free: i64,
    pub vat: i64,
    pub state: PayState,
    pub requested_at: DateTime<Utc>,
    pub paid_at: DateTime<Utc>,
    pub status_changed_at: DateTime<Utc>,
    pub transaction_id: String,
    pub pg_tx_id: String,
    pub async_cancel: bool,
    pub cancels: Vec<CancelRecord>,
    /// Order of insertion, so listings are stable.
    pub seq: u64,
    /// When an unpaid virtual account was closed (PortOne V2 closeVirtualAccount, iamport
    /// `DELETE /vbanks`); nothing can be cancelled after that.
    pub closed_at: Option<DateTime<Utc>>,
    /// Asynchronous cancels stopped before they completed (PortOne V2 stopPaymentCancellation);
    /// they no longer count against the balance.
    pub stopped_cancels: Vec<(CancelRecord, DateTime<Utc>)>,
    /// The billing key the payment was charged with, if any.
    pub billing_key: Option<String>,
}

impl PaymentRecord {
    /// A card payment paid at `now`, as a confirm or a billing-key charge creates it.
    #[allow(clippy::too_many_arguments)]
    pub fn paid_card(
        provider: Provider,
        id: String,
        order_id: String,
        order_name: String,
        total: i64,
        tax_free: i64,
        vat: i64,
        now: DateTime<Utc>,
    ) -> PaymentRecord {
        PaymentRecord {
            provider,
            id,
            order_id,
            order_name,
            customer: CustomerRecord::default(),
            method: MethodKind::Card,
            pg: "tosspayments".to_owned(),
            total,
            tax_free,
            vat,
            state: PayState::Paid,
            requested_at: now,
            paid_at: now,
            status_changed_at: now,
            transaction_id: uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
            pg_tx_id: format!("sandbox-tx-{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
            async_cancel: false,
            cancels: Vec::new(),
            seq: 0,
            closed_at: None,
            stopped_cancels: Vec::new(),
            billing_key: None,
        }
    }

    /// Sum of every cancel the ledger holds, pending ones included: a pending cancel has already
    /// claimed its share of the balance.
    pub fn cancelled_including_pending(&self) -> i64 {
        saturating_sum(self.cancels.iter().map(|c| c.amount))
    }

    /// Sum of the cancels that completed.
    pub fn cancelled(&self) -> i64 {
        saturating_sum(self.cancels.iter().filter(|c| !c.is_pending()).map(|c| c.amount))
    }

    /// Tax-free part of the completed cancels.
    pub fn cancelled_tax_free(&self) -> i64 {
        saturating_sum(self.cancels.iter().filter(|c| !c.is_pending()).map(|c| c.tax_free))
    }

    /// What can still be cancelled: nothing once an unpaid virtual account was closed.
    pub fn balance(&self) -> i64 {
        if self.closed_at.is_some() {
            return 0;
        }
        self.total.saturating_sub(self.cancelled_including_pending())
    }

    /// Tax-free money that can still be cancelled.
    pub fn tax_free_balance(&self) -> i64 {
        self.tax_free
            .saturating_sub(saturating_sum(self.cancels.iter().map(|c| c.tax_free)))
    }

    /// VAT that can still be cancelled.
    pub fn vat_balance(&self) -> i64 {
        self.vat
            .saturating_sub(saturating_sum(self.cancels.iter().map(|c| c.vat)))
    }

    /// True once completed cancels cover the whole amount.
    pub fn is_fully_cancelled(&self) -> bool {
        !self.cancels.is_empty() && self.cancelled() >= self.total
    }

    /// True when some (but not all) of the amount was cancelled.
    pub fn is_partially_cancelled(&self) -> bool {
        let c = self.cancelled();
        c > 0 && c < self.total
    }

    /// Completion time of the most recent completed cancel.
    pub fn last_cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.cancels.iter().filter_map(|c| c.cancelled_at).max()
    }
}

/// A cancel request after each wire format was decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct CancelRequest {
    /// `None` (or 0 where the provider says so, mapped by the wire file) cancels the whole balance.
    pub amount: Option<i64>,
    pub tax_free: Option<i64>,
    pub vat: Option<i64>,
    /// The balance the caller believes is left (currentCancellableAmount / checksum / refundableAmount).
    pub expected_balance: Option<i64>,
    pub reason: String,
    pub refund_account: Option<RefundAccount>,
}

/// Why a cancel was refused. Each wire file maps these to its provider's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotFound,
    AlreadyCancelled,
    /// A virtual account that was never paid into.
    NotPaid,
    PartialCancelOfUnpaidVirtualAccount,
    PhoneMonthPassed {
        paid_month: (i32, u32),
        now_month: (i32, u32),
    },
    BalanceMismatch {
        expected: i64,
        actual: i64,
    },
    NonPositiveAmount,
    ExceedsBalance {
        requested: i64,
        balance: i64,
    },
    /// A negative tax-free or VAT part.
    NegativePart,
    /// Tax-free plus VAT parts exceed the amount cancelled.
    PartsExceedAmount {
        parts: i64,
        amount: i64,
    },
    TaxFreeExceedsBalance {
        tax_free: i64,
        balance: i64,
    },
    TaxableExceedsBalance {
        taxable: i64,
        balance: i64,
    },
    RefundAccountRequired,
    HolderPhoneRequired,
}

/// How a provider treats a cancel of a virtual account nobody paid into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnpaidVirtualAccount {
    /// Toss: a full cancel closes the account; a partial one is refused.
    FullCancelOnly,
    /// PortOne V2 and iamport: cancel does not apply; those APIs close the account elsewhere.
    Refuse,
}

/// Per-provider knobs for [`Ledger::cancel`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct CancelPolicy {
    pub unpaid_virtual_account: UnpaidVirtualAccount,
    /// PG codes whose virtual-account refunds need the holder's phone number (Smartro).
    pub phone_required_for: &'static [&'static str],
}

/// Result of an accepted cancel.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub cancel: CancelRecord,
    pub payment: PaymentRecord,
}

/// iamport access token.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub expires_at: DateTime<Utc>,
}

/// All mutable sandbox state, guarded by one mutex in the shared state.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    payments: HashMap<(Provider, String), PaymentRecord>,
    next_seq: u64,
    next_imp: u64,
    pub tokens: Vec<Token>,
    /// When the last Toss cancel of each paymentKey was let through (the one-per-second rule).
    pub last_toss_cancel: HashMap<String, DateTime<Utc>>,
    /// PortOne V2 pre-registrations by paymentId: (totalAmount, taxFreeAmount).
    pub pre_registered: HashMap<String, (Option<i64>, Option<i64>)>,
    /// iamport `POST /payments/prepare` amounts by merchant_uid.
    pub prepared: HashMap<String, (i64, Option<String>)>,
    /// Issued billing keys of PortOne V2 and Toss.
    pub billing_keys: HashMap<(Provider, String), BillingKeyRecord>,
}

/// A billing key the sandbox issued.
#[derive(Debug, Clone)]
pub(crate) struct BillingKeyRecord {
    /// Toss `customerKey`.
    pub customer_key: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Why a pending cancel could not be stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopRefusal {
    PaymentNotFound,
    CancellationNotFound,
    NotPending,
}

impl Ledger {
    pub fn insert(&mut self, mut record: PaymentRecord) {
        record.seq = self.next_seq;
        self.next_seq += 1;
        self.payments.insert((record.provider, record.id.clone()), record);
    }

    /// A fresh imp_uid in iamport's `imp_` + 12 digits shape; deterministic so test output is stable.
    pub fn next_imp_uid(&mut self) -> String {
        self.next_imp += 1;
        format!("imp_{:012}", 100_000_000_000 + self.next_imp)
    }

    pub fn get(&self, provider: Provider, id: &str) -> Option<&PaymentRecord> {
        self.payments.get(&(provider, id.to_owned()))
    }

    pub fn get_mut(&mut self, provider: Provider, id: &str) -> Option<&mut PaymentRecord> {
        self.payments.get_mut(&(provider, id.to_owned()))
    }

    /// Any provider's payment with this id (ids are unique across providers in practice).
    pub fn find_any(&self, id: &str) -> Option<&PaymentRecord> {
        self.payments.values().filter(|p| p.id == id).min_by_key(|p| p.seq)
    }

    pub fn find_any_mut(&mut self, id: &str) -> Option<&mut PaymentRecord> {
        let key = self.find_any(id).map(|p| (p.provider, p.id.clone()))?;
        self.payments.get_mut(&key)
    }

    /// The most recent payment of `provider` for this order id.
    pub fn by_order(&self, provider: Provider, order_id: &str) -> Option<&PaymentRecord> {
        self.payments
            .values()
            .filter(|p| p.provider == provider && p.order_id == order_id)
            .max_by_key(|p| p.seq)
    }

    /// Every payment of `provider`, oldest first.
    pub fn list(&self, provider: Provider) -> Vec<&PaymentRecord> {
        let mut v: Vec<&PaymentRecord> = self.payments.values().filter(|p| p.provider == provider).collect();
        v.sort_by_key(|p| p.seq);
        v
    }

    /// Checks every rule and, when all pass, records the cancel.
    ///
    /// `pending` leaves the cancel REQUESTED (PortOne V2 asynchronous cancels): it claims its share of
    /// the balance at once but does not count as cancelled until settled.
    pub fn cancel(
        &mut self,
        provider: Provider,
        id: &str,
        req: &CancelRequest,
        policy: CancelPolicy,
        now: DateTime<Utc>,
    ) -> Result<Applied, Refusal> {
        let p = self.get_mut(provider, id).ok_or(Refusal::NotFound)?;
        let balance = p.balance();
        if balance <= 0 || p.closed_at.is_some() {
            return Err(Refusal::AlreadyCancelled);
        }
        let is_partial = matches!(req.amount, Some(a) if a != balance);
        if p.state == PayState::AwaitingDeposit {
            match policy.unpaid_virtual_account {
                UnpaidVirtualAccount::Refuse => return Err(Refusal::NotPaid),
                UnpaidVirtualAccount::FullCancelOnly if is_partial => {
                    return Err(Refusal::PartialCancelOfUnpaidVirtualAccount);
                }
                UnpaidVirtualAccount::FullCancelOnly => {}
            }
        }
        if p.method == MethodKind::MobilePhone {
            let paid = in_kst(p.paid_at);
            let current = in_kst(now);
            let paid_month = (paid.year(), paid.month());
            let now_month = (current.year(), current.month());
            if paid_month != now_month {
                return Err(Refusal::PhoneMonthPassed { paid_month, now_month });
            }
        }
        if let Some(expected) = req.expected_balance
            && expected != balance
        {
            return Err(Refusal::BalanceMismatch {
                expected,
                actual: balance,
            });
        }
        let amount = req.amount.unwrap_or(balance);
        if amount <= 0 {
            return Err(Refusal::NonPositiveAmount);
        }
        if amount > balance {
            return Err(Refusal::ExceedsBalance {
                requested: amount,
                balance,
            });
        }
        let full = amount == balance;
        let tax_free_balance = p.tax_free_balance();
        // A full cancel with no tax-free part given takes what is left of each part; a partial one
        // counts as taxable, which is what every provider documents for an omitted tax-free amount.
        let tax_free = match req.tax_free {
            Some(t) => t,
            None if full => tax_free_balance,
            None => 0,
        };
        let vat_given = req.vat.unwrap_or(0);
        if tax_free < 0 || vat_given < 0 {
            return Err(Refusal::NegativePart);
        }
        // Both parts come from the request: their sum is checked, since i64::MAX + i64::MAX is a
        // request like any other.
        let parts = tax_free.checked_add(vat_given);
        if parts.is_none_or(|sum| sum > amount) {
            return Err(Refusal::PartsExceedAmount {
                parts: parts.unwrap_or(i64::MAX),
                amount,
            });
        }
        if tax_free > tax_free_balance {
            return Err(Refusal::TaxFreeExceedsBalance {
                tax_free,
                balance: tax_free_balance,
            });
        }
        let taxable = amount.saturating_sub(tax_free);
        let taxable_balance = balance.saturating_sub(tax_free_balance);
        if taxable > taxable_balance {
            return Err(Refusal::TaxableExceedsBalance {
                taxable,
                balance: taxable_balance,
            });
        }
        if p.state == PayState::Paid && p.method == MethodKind::VirtualAccount {
            let Some(account) = req.refund_account.as_ref().filter(|a| a.is_complete()) else {
                return Err(Refusal::RefundAccountRequired);
            };
            let phone_missing = account.phone.as_deref().is_none_or(|s| s.trim().is_empty());
            if phone_missing && policy.phone_required_for.contains(&p.pg.as_str()) {
                return Err(Refusal::HolderPhoneRequired);
            }
        }
        let vat = match req.vat {
            Some(v) => v,
            None if full => p.vat_balance(),
            None => vat_of(taxable),
        };
        let pending = p.async_cancel;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let key = suffix.to_uppercase();
        let record = CancelRecord {
            id: uuid::Uuid::new_v4().to_string(),
            amount,
            tax_free,
            vat,
            reason: req.reason.clone(),
            requested_at: now,
            cancelled_at: if pending { None } else { Some(now) },
            pg_tid: format!("sandbox-cancel-{}", &suffix[..16]),
            transaction_key: key.clone(),
            receipt_key: format!("rcpt{}", &suffix[..20]),
            receipt_url: format!("https://sandbox.invalid/receipts/{}", &suffix[..16]),
            balance_after: balance.saturating_sub(amount),
        };
        p.cancels.push(record.clone());
        if !pending {
            p.status_changed_at = now;
        }
        Ok(Applied {
            cancel: record,
            payment: p.clone(),
        })
    }

    /// Stops a pending cancel: it leaves the cancels (and the balance) and is kept as stopped.
    pub fn stop_pending(
        &mut self,
        provider: Provider,
        payment_id: &str,
        cancellation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<PaymentRecord, StopRefusal> {
        let p = self.get_mut(provider, payment_id).ok_or(StopRefusal::PaymentNotFound)?;
        if p.stopped_cancels.iter().any(|(c, _)| c.id == cancellation_id) {
            return Err(StopRefusal::NotPending);
        }
        let idx = p
            .cancels
            .iter()
            .position(|c| c.id == cancellation_id)
            .ok_or(StopRefusal::CancellationNotFound)?;
        if !p.cancels[idx].is_pending() {
            return Err(StopRefusal::NotPending);
        }
        let stopped = p.cancels.remove(idx);
        p.stopped_cancels.push((stopped, now));
        p.status_changed_at = now;
        Ok(p.clone())
    }

    /// Completes every pending cancel of a payment; returns the payment and the cancels settled.
    pub fn settle_pending(&mut self, id: &str, now: DateTime<Utc>) -> Option<(PaymentRecord, Vec<CancelRecord>)> {
        let p = self.find_any_mut(id)?;
        let mut settled = Vec::new();
        for c in p.cancels.iter_mut().filter(|c| c.is_pending()) {
            c.cancelled_at = Some(now);
            settled.push(c.clone());
        }
        if !settled.is_empty() {
            p.status_changed_at = now;
        }
        Some((p.clone(), settled))
    }
}

/// VAT included in a taxable amount: one eleventh, rounded half up, as Korean PGs compute it.
pub(crate) fn vat_of(taxable: i64) -> i64 {
    // In i128: a seeded amount near i64::MAX must not overflow the multiplication.
    let vat = (i128::from(taxable) * 10 + 55) / 110;
    i64::try_from(vat).unwrap_or(if vat < 0 { i64::MIN } else { i64::MAX })
}

/// A sum of money values that saturates instead of overflowing.
fn saturating_sum(values: impl Iterator<Item = i64>) -> i64 {
    values.fold(0i64, i64::saturating_add)
}

/// `t + d`, or the latest representable time when that would overflow.
pub(crate) fn later(t: DateTime<Utc>, d: chrono::TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Calendar month in KST, for messages.
pub(crate) fn month_label((year, month): (i32, u32)) -> String {
    format!("{year:04}-{month:02}")
}
