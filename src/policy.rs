//! Refund policy as data: how long after a payment it can still be cancelled, how long the money
//! takes to come back, and what a virtual-account refund needs, per provider and pay method.
//!
//! Every rule here is taken from one of four public documents of the providers, listed
//! [below](#which-document-speaks-for-which-provider), and each one names its document and section. Where no
//! document says anything for a provider and method, the answer is `Unknown`: a refund path must never act on
//! a guess.
//!
//! # Readings of the documents
//!
//! The documents state rules in prose; turning them into instants needs a few readings, fixed here:
//!
//! - **Korean time.** Every day and month boundary is taken in Korean Standard Time, UTC+9 with no
//!   daylight saving ([`KST`]). A payment made at 2026-11-30 23:30 KST (14:30 UTC) belongs to
//!   November; one made at 2026-12-01 00:10 KST (still 2026-11-30 15:10 UTC) belongs to December.
//! - **"Within N days"** (the documents' `N일 이내`, `결제일로부터 N일 이내`): the KST calendar date of the
//!   payment is day 0 and a cancel is in time until the end of day N (23:59:59 KST on the date N days
//!   after the payment date). Counting from the payment date rather than from the payment instant
//!   is the reading that refuses least: a deadline computed too early would block a refund the
//!   gateway would still accept, whereas one computed a little late only lets the gateway have the
//!   final say.
//! - **"Within N years"** (`1년 이내`, `5년 이내`, `통상 1년`): the same rule with the same calendar
//!   date N years later; a payment on 29 February runs to 28 February (the month's last day).
//! - **"Same month"** (`결제월과 취소월이 동일한 경우에만`, `결제가 발생한 당월에만`): a cancel is in time
//!   until the last instant of the KST calendar month of the payment.
//! - **Hard and soft.** A limit the document states as a rule is [`Hardness::Hard`]: the gateway is
//!   expected to refuse later cancels. A limit the document describes as typical or as depending on
//!   someone else (the card issuer, the merchant's settings) is [`Hardness::Soft`]: warn, never
//!   refuse.
//!
//! # Which document speaks for which provider
//!
//! - PortOne V2: **PortOne's V2 cancel guide**, 결제취소(환불) 연동하기
//!   (<https://developers.portone.io/opi/ko/integration/cancel/v2/readme>), section 결제 취소 정책.
//! - Toss (토스페이먼츠): **Toss's cancel guide**, 결제 취소하기
//!   (<https://docs.tosspayments.com/guides/v2/cancel-payment>), section 결제 취소 기한 (its table and the
//!   questions under it), Case 1 and Case 2.
//! - iamport (PortOne V1): **iamport's cancel reference**, the `POST /payments/cancel` reference (결제취소 API,
//!   <https://developers.portone.io/docs/ko/api/payment-api/cancel-payment-api?v=v1>), and **iamport's refund
//!   guide**, Payment cancellation (refund) (<https://developers.portone.io/docs/en/auth/guide-2/readme?v=v1>).
//!   PortOne's V2 cancel guide is not applied to iamport: it targets V2 only and has a separate V1 variant
//!   (<https://developers.portone.io/opi/ko/integration/cancel/v1/basic>) that this crate does not read, so its
//!   rules cannot be assumed to hold for V1 channels. iamport answers come only from its cancel reference and
//!   refund guide, and are `Unknown` elsewhere.
//! - PortOne's V2 cancel guide also speaks about Toss (토스페이먼츠) in its role as a PG: it is the one PG whose
//!   virtual-account refunds need no special contract, and such refunds do not return the original
//!   fees. A merchant using Toss (토스페이먼츠) directly deals with that same PG, so those two facts are
//!   applied to [`Provider::Toss`] as well (see [`virtual_account_refund`]).
//!
//! # In the facades
//!
//! Each provider's payment type answers `cancel_deadline()` and `expected_refund_time()` from its
//! own method and payment-time fields, and each cancel builder that is given the payment checks the
//! deadline before sending: past a hard deadline the cancel is refused with an
//! [`InvalidRequest`] whose field is [`CANCEL_DEADLINE_FIELD`] (unless the
//! builder's `ignore_cancel_deadline()` says the merchant's contract differs), and past a soft one
//! it is sent and the outcome carries a [`CancelWarning`].

use std::fmt;

use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, TimeDelta, Utc};

use crate::error::InvalidRequest;

/// Korean Standard Time, UTC+9. Korea has no daylight saving, so one fixed offset is exact.
pub const KST: FixedOffset = match FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    // Evaluated at compile time: a wrong constant fails the build, never a running program.
    None => panic!("UTC+9 is a valid fixed offset"),
};

/// The gateway whose cancel policy is asked about (the crate's one [`crate::Provider`]).
pub use crate::Provider;

/// A pay method, named independently of any one provider's wire value.
///
/// The list covers every method the documents name; map a provider's own value onto it, and use
/// [`PayMethod::Unknown`] for anything else, which makes every policy answer `Unknown`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayMethod {
    /// Credit or check card (카드, 신용카드).
    Card,
    /// Real-time account transfer (계좌이체, 실시간계좌이체).
    AccountTransfer,
    /// Virtual account: the buyer pays by depositing into an issued account (가상계좌).
    VirtualAccount,
    /// Mobile-phone micropayment billed by the carrier (휴대폰, 휴대폰 소액결제).
    MobilePhone,
    /// Gift certificate (Toss `giftCertificate`).
    GiftCertificate,
    /// An easy-pay wallet not listed separately here (Toss `easyPay`, e.g. TossPay).
    EasyPay,
    /// KakaoPay paid from a card (카카오페이 카드).
    KakaoPayCard,
    /// KakaoPay paid from KakaoPay money (카카오페이 머니).
    KakaoPayMoney,
    /// NaverPay (네이버페이).
    NaverPay,
    /// PayPal (페이팔; Toss lists it as an overseas easy pay).
    PayPal,
    /// A method this module does not know; every answer for it is `Unknown`.
    Unknown,
}

/// A length of time as the documents state it: in days, or in calendar years.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// N calendar days after the KST payment date.
    Days(u32),
    /// The same KST calendar date N years later (clamped to the month's last day).
    Years(u32),
}

impl Period {
    /// The last KST date still inside the period that starts on `paid_on`, if representable.
    fn last_date(self, paid_on: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Days(days) => paid_on.checked_add_days(Days::new(u64::from(days))),
            Period::Years(years) => paid_on.checked_add_months(Months::new(years.checked_mul(12)?)),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Days(1) => f.write_str("1 day"),
            Period::Days(n) => write!(f, "{n} days"),
            Period::Years(1) => f.write_str("1 year"),
            Period::Years(n) => write!(f, "{n} years"),
        }
    }
}

/// Whether passing a deadline means the gateway refuses the cancel, or only that it may.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hardness {
    /// The document states the limit as a rule: expect the gateway to refuse a later cancel.
    Hard,
    /// The document gives a typical limit that depends on a third party: warn, but still try.
    Soft,
}

/// A cancel deadline rule, independent of any particular payment.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineRule {
    /// Cancel within `period` of the KST payment date; see the module docs for the counting.
    Within {
        /// How long after the payment date a cancel is accepted.
        period: Period,
        /// True when the document states the limit as a rule rather than a typical value.
        hard: bool,
    },
    /// Cancel only within the KST calendar month in which the payment was made. Always hard.
    SameCalendarMonthKst,
    /// The document states there is no deadline.
    NoLimit,
    /// The card issuer decides; `typical` is what the document gives as usual. Always soft.
    IssuerDependent {
        /// The usual limit according to the document.
        typical: Period,
    },
    /// The merchant's own settings decide; `typical` is what the document gives as usual. Always soft.
    MerchantSetting {
        /// The usual limit according to the document.
        typical: Period,
    },
    /// No document states a deadline for this provider and method.
    Unknown,
}

impl DeadlineRule {
    /// Hard or soft, or `None` for [`DeadlineRule::NoLimit`] and [`DeadlineRule::Unknown`].
    pub fn hardness(&self) -> Option<Hardness> {
        match self {
            DeadlineRule::Within { hard: true, .. } | DeadlineRule::SameCalendarMonthKst => Some(Hardness::Hard),
            DeadlineRule::Within { hard: false, .. }
            | DeadlineRule::IssuerDependent { .. }
            | DeadlineRule::MerchantSetting { .. } => Some(Hardness::Soft),
            DeadlineRule::NoLimit | DeadlineRule::Unknown => None,
        }
    }

    /// The last instant a cancel is in time for a payment made at `paid_at`.
    ///
    /// `None` when the rule has no end ([`DeadlineRule::NoLimit`]), is unknown, or the end falls
    /// outside the range `chrono` can represent.
    pub fn last_allowed(&self, paid_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let paid_on = paid_at.with_timezone(&KST).date_naive();
        let last_day = match self {
            DeadlineRule::Within { period, .. }
            | DeadlineRule::IssuerDependent { typical: period }
            | DeadlineRule::MerchantSetting { typical: period } => period.last_date(paid_on)?,
            DeadlineRule::SameCalendarMonthKst => last_day_of_month(paid_on)?,
            DeadlineRule::NoLimit | DeadlineRule::Unknown => return None,
        };
        end_of_kst_day(last_day)
    }
}

impl fmt::Display for DeadlineRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineRule::Within { period, .. } => write!(f, "within {period} of payment"),
            DeadlineRule::SameCalendarMonthKst => f.write_str("same month as payment"),
            DeadlineRule::NoLimit => f.write_str("no limit"),
            DeadlineRule::IssuerDependent { typical } => {
                write!(f, "typically {typical}; depends on the card issuer")
            }
            DeadlineRule::MerchantSetting { typical } => {
                write!(f, "typically {typical}; depends on the merchant's settings")
            }
            DeadlineRule::Unknown => f.write_str("unknown"),
        }
    }
}

fn last_day_of_month(date: NaiveDate) -> Option<NaiveDate> {
    let (year, month) = if date.month() == 12 {
        (date.year().checked_add(1)?, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)?.pred_opt()
}

/// The last representable instant of a KST calendar day. The deadline is inclusive, so a cancel at
/// 23:59:59.999 KST on that day is still in time and one at 00:00:00 KST the next day is not.
fn end_of_kst_day(day: NaiveDate) -> Option<DateTime<Utc>> {
    let next_midnight = day.succ_opt()?.and_time(NaiveTime::MIN);
    let next_midnight = next_midnight.and_local_timezone(KST).single()?;
    next_midnight
        .with_timezone(&Utc)
        .checked_sub_signed(TimeDelta::nanoseconds(1))
}

/// A deadline rule applied to one payment.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deadline {
    /// The rule that produced this deadline.
    pub rule: DeadlineRule,
    /// The last instant a cancel is in time, when the rule gives one.
    pub last_allowed: Option<DateTime<Utc>>,
    /// Whether passing `last_allowed` means refusal (hard) or only a risk of it (soft).
    pub hardness: Option<Hardness>,
    /// The document adds that the seller must consent to the cancel (PortOne's V2 cancel guide, 결제 취소 정책 › 페이팔); it
    /// does not say how that consent is given.
    pub seller_consent_required: bool,
    /// The payment time the deadline counts from; `None` when the payment does not say when it was
    /// paid (then `last_allowed` is `None` too, and [`Deadline::check`] answers `Unknown` for any
    /// bounded rule).
    pub paid_at: Option<DateTime<Utc>>,
}

impl Deadline {
    /// Where `now` stands against this deadline.
    ///
    /// [`DeadlineRule::NoLimit`] is always [`DeadlineCheck::Open`]; an unknown rule, or a deadline
    /// that cannot be represented, is [`DeadlineCheck::Unknown`].
    pub fn check(&self, now: DateTime<Utc>) -> DeadlineCheck {
        if self.rule == DeadlineRule::NoLimit {
            return DeadlineCheck::Open;
        }
        let (Some(last_allowed), Some(hardness)) = (self.last_allowed, self.hardness) else {
            return DeadlineCheck::Unknown;
        };
        if now <= last_allowed {
            return DeadlineCheck::Open;
        }
        let overdue = now.signed_duration_since(last_allowed);
        match hardness {
            Hardness::Hard => DeadlineCheck::PastHard { last_allowed, overdue },
            Hardness::Soft => DeadlineCheck::PastSoft { last_allowed, overdue },
        }
    }

    /// True when passing the deadline means the gateway is expected to refuse.
    pub fn is_hard(&self) -> bool {
        self.hardness == Some(Hardness::Hard)
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.rule, self.last_allowed) {
            (DeadlineRule::NoLimit, _) => f.write_str("no cancel deadline")?,
            (DeadlineRule::Unknown, _) => f.write_str("cancel deadline unknown")?,
            (rule, None) if self.paid_at.is_none() => {
                write!(f, "cancel deadline unknown: payment time not known ({rule})")?
            }
            (rule, None) => write!(f, "cancel deadline out of range ({rule})")?,
            (rule, Some(last)) => {
                let last = last.with_timezone(&KST).format("%Y-%m-%d %H:%M:%S");
                match self.hardness {
                    Some(Hardness::Soft) => write!(f, "cancel by {last} KST if possible ({rule})")?,
                    _ => write!(f, "cancel by {last} KST ({rule})")?,
                }
            }
        }
        if self.seller_consent_required {
            f.write_str("; seller consent required")?;
        }
        Ok(())
    }
}

/// The result of [`Deadline::check`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineCheck {
    /// The cancel is in time (or there is no limit).
    Open,
    /// A soft deadline has passed: the cancel may still succeed, so warn and try.
    PastSoft {
        /// The deadline that has passed.
        last_allowed: DateTime<Utc>,
        /// How long ago it passed.
        overdue: TimeDelta,
    },
    /// A hard deadline has passed: the gateway is expected to refuse the cancel.
    PastHard {
        /// The deadline that has passed.
        last_allowed: DateTime<Utc>,
        /// How long ago it passed.
        overdue: TimeDelta,
    },
    /// No document gives a deadline for this provider and method.
    Unknown,
}

/// The cancel deadline rule for a provider and pay method.
///
/// Sources, one per answer that is not `Unknown` (the documents and their addresses are listed in the
/// [module docs](self#which-document-speaks-for-which-provider)):
///
/// | provider | method | rule | document › section |
/// |---|---|---|---|
/// | PortOne V2 | virtual account | no limit | PortOne's V2 cancel guide, 결제 취소 정책 › 가상계좌 환불 |
/// | PortOne V2 | mobile phone | same KST month | PortOne's V2 cancel guide, 결제 취소 정책 › 휴대폰 소액결제 |
/// | PortOne V2 | card | typically 1 year, issuer decides (soft) | PortOne's V2 cancel guide, 결제 취소 정책 › 카드 |
/// | PortOne V2 | KakaoPay card | 1 year (hard) | PortOne's V2 cancel guide, 결제 취소 정책 › 카카오페이 |
/// | PortOne V2 | KakaoPay money | 5 years (hard) | PortOne's V2 cancel guide, 결제 취소 정책 › 카카오페이 |
/// | PortOne V2 | NaverPay | 1095 days from the payment date (hard) | PortOne's V2 cancel guide, 결제 취소 정책 › 네이버페이 |
/// | PortOne V2 | PayPal | 180 days (hard), seller consent | PortOne's V2 cancel guide, 결제 취소 정책 › 페이팔 |
/// | Toss | card | no stated limit, but issuers may not keep data past 1 year (soft) | Toss's cancel guide, 결제 취소 기한, row 카드 |
/// | Toss | account transfer | 180 days (hard) | Toss's cancel guide, 결제 취소 기한, row 계좌이체 |
/// | Toss | virtual account | usually 365 days, merchant settings decide (soft) | Toss's cancel guide, 결제 취소 기한, row 가상계좌 |
/// | Toss | mobile phone | same KST month (carrier policy) | Toss's cancel guide, 결제 취소 기한, row 휴대폰 |
/// | Toss | PayPal | 180 days (hard) | Toss's cancel guide, 결제 취소 기한, row 해외 간편결제(PayPal) |
/// | iamport | mobile phone | same KST month | iamport's refund guide, STEP 03 › Note - Refunding mobile micropayments |
///
/// iamport's refund guide's note says a cancel in a later month is not allowed as a full refund and gives the
/// example of a 31 January payment that cannot be refunded on 1 February; it is encoded as the
/// same hard month rule as the other providers.
pub fn deadline_rule(provider: Provider, method: PayMethod) -> DeadlineRule {
    use DeadlineRule as R;
    use PayMethod as M;
    use Provider as P;
    let hard = |period| R::Within { period, hard: true };
    match (provider, method) {
        (P::PortOneV2, M::VirtualAccount) => R::NoLimit,
        (P::PortOneV2, M::MobilePhone) => R::SameCalendarMonthKst,
        (P::PortOneV2, M::Card) => R::IssuerDependent {
            typical: Period::Years(1),
        },
        (P::PortOneV2, M::KakaoPayCard) => hard(Period::Years(1)),
        (P::PortOneV2, M::KakaoPayMoney) => hard(Period::Years(5)),
        (P::PortOneV2, M::NaverPay) => hard(Period::Days(1095)),
        (P::PortOneV2, M::PayPal) => hard(Period::Days(180)),
        // "No deadline, but past 1 year the issuer may no longer hold the data": a soft year.
        (P::Toss, M::Card) => R::IssuerDependent {
            typical: Period::Years(1),
        },
        (P::Toss, M::AccountTransfer) => hard(Period::Days(180)),
        (P::Toss, M::VirtualAccount) => R::MerchantSetting {
            typical: Period::Days(365),
        },
        (P::Toss, M::MobilePhone) => R::SameCalendarMonthKst,
        (P::Toss, M::PayPal) => hard(Period::Days(180)),
        (P::Iamport, M::MobilePhone) => R::SameCalendarMonthKst,
        _ => R::Unknown,
    }
}

/// The cancel deadline for a payment made at `paid_at` with this provider and method.
///
/// See [`deadline_rule`] for the sources and the module docs for how days, years and months are
/// counted.
pub fn deadline(provider: Provider, method: PayMethod, paid_at: DateTime<Utc>) -> Deadline {
    deadline_if_paid(provider, method, Some(paid_at))
}

/// [`deadline`] for a payment whose payment time may be missing (not yet paid, or a field the
/// provider left out): the rule is still reported, the instant is not invented.
pub(crate) fn deadline_if_paid(provider: Provider, method: PayMethod, paid_at: Option<DateTime<Utc>>) -> Deadline {
    let rule = deadline_rule(provider, method);
    Deadline {
        rule,
        last_allowed: paid_at.and_then(|paid_at| rule.last_allowed(paid_at)),
        hardness: rule.hardness(),
        // PortOne's V2 cancel guide, 결제 취소 정책 › 페이팔: the only rule that carries this condition.
        seller_consent_required: matches!((provider, method), (Provider::PortOneV2, PayMethod::PayPal)),
        paid_at,
    }
}

/// The [`InvalidRequest::field`] of a cancel refused because a hard cancel deadline has passed, the
/// same for every provider, so a caller can tell this refusal from a malformed request.
pub const CANCEL_DEADLINE_FIELD: &str = "cancel_deadline";

/// Something a cancel builder noticed about the policy but did not refuse: carried on the cancel's
/// outcome (each facade's `warnings()`), for the merchant to show or log.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelWarning {
    /// A soft deadline (issuer- or merchant-dependent) had passed when the cancel was checked. The
    /// gateway may still accept it; if it refuses, this is the likely reason.
    SoftDeadlinePassed {
        /// The deadline that had passed.
        deadline: Deadline,
        /// How long before the check it passed.
        overdue: TimeDelta,
    },
    /// A hard deadline had passed and the cancel was sent anyway because the builder was told to
    /// ignore it (`ignore_cancel_deadline()`).
    HardDeadlineIgnored {
        /// The deadline that had passed.
        deadline: Deadline,
        /// How long before the check it passed.
        overdue: TimeDelta,
    },
}

impl CancelWarning {
    /// The deadline the warning is about.
    pub fn deadline(&self) -> &Deadline {
        match self {
            CancelWarning::SoftDeadlinePassed { deadline, .. }
            | CancelWarning::HardDeadlineIgnored { deadline, .. } => deadline,
        }
    }

    /// How long before the check the deadline passed.
    pub fn overdue(&self) -> TimeDelta {
        match self {
            CancelWarning::SoftDeadlinePassed { overdue, .. } | CancelWarning::HardDeadlineIgnored { overdue, .. } => {
                *overdue
            }
        }
    }
}

impl fmt::Display for CancelWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelWarning::SoftDeadlinePassed { deadline, overdue } => write!(
                f,
                "soft cancel deadline passed {} ago, so the gateway may refuse: {deadline}",
                Overdue(*overdue)
            ),
            CancelWarning::HardDeadlineIgnored { deadline, overdue } => write!(
                f,
                "hard cancel deadline passed {} ago and was ignored on request: {deadline}",
                Overdue(*overdue)
            ),
        }
    }
}

/// A coarse, human-sized rendering of how late a cancel is.
struct Overdue(TimeDelta);

impl fmt::Display for Overdue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: i64| if n == 1 { "" } else { "s" };
        let (days, hours, minutes) = (self.0.num_days(), self.0.num_hours(), self.0.num_minutes());
        if days > 0 {
            write!(f, "{days} day{}", plural(days))
        } else if hours > 0 {
            write!(f, "{hours} hour{}", plural(hours))
        } else if minutes > 0 {
            write!(f, "{minutes} minute{}", plural(minutes))
        } else {
            f.write_str("less than a minute")
        }
    }
}

/// The deadline check every cancel builder makes before sending, when it knows the payment.
///
/// Past a hard deadline: refused, unless `ignore_hard` (the merchant's contract differs), in which
/// case the cancel goes ahead with [`CancelWarning::HardDeadlineIgnored`]. Past a soft deadline: a
/// [`CancelWarning::SoftDeadlinePassed`]. In time, no limit or unknown: nothing, since an unknown
/// deadline is no reason to refuse a refund.
// Only the provider facades call it; a build without any of them has no cancel builder.
#[cfg_attr(
    not(any(feature = "portone-v2", feature = "iamport", feature = "toss")),
    allow(dead_code)
)]
pub(crate) fn preflight(
    deadline: &Deadline,
    now: DateTime<Utc>,
    ignore_hard: bool,
) -> Result<Vec<CancelWarning>, InvalidRequest> {
    match deadline.check(now) {
        DeadlineCheck::PastHard { overdue, .. } if ignore_hard => Ok(vec![CancelWarning::HardDeadlineIgnored {
            deadline: *deadline,
            overdue,
        }]),
        DeadlineCheck::PastHard { overdue, .. } => Err(InvalidRequest::new(
            CANCEL_DEADLINE_FIELD,
            format!(
                "the hard cancel deadline passed {} ago ({deadline}), so the gateway is expected to refuse; \
                 if your contract with the PG allows later cancels, call ignore_cancel_deadline() on the cancel",
                Overdue(overdue)
            ),
        )),
        DeadlineCheck::PastSoft { overdue, .. } => Ok(vec![CancelWarning::SoftDeadlinePassed {
            deadline: *deadline,
            overdue,
        }]),
        DeadlineCheck::Open | DeadlineCheck::Unknown => Ok(Vec::new()),
    }
}

/// What is known about the payment being cancelled, where the documents make processing time depend
/// on it. Conditions a document does not mention for a provider and method are ignored.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Conditions {
    /// Whether the card payment has already been purchased by the acquirer (매입). `None` when not
    /// known, which yields the widest range the document allows.
    pub card_captured: Option<bool>,
    /// Whether this is a partial cancel.
    pub partial: bool,
    /// Whether the gateway flagged the virtual-account payment as a suspected fraudulent
    /// transaction (의심거래).
    pub suspected_fraud: bool,
}

impl Conditions {
    /// No conditions known: a full cancel, capture state unknown, not flagged.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether the card payment has been purchased by the acquirer (매입).
    pub fn card_captured(mut self, captured: bool) -> Self {
        self.card_captured = Some(captured);
        self
    }

    /// Sets whether this is a partial cancel.
    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Sets whether the virtual-account payment was flagged as suspected fraud.
    pub fn suspected_fraud(mut self, flagged: bool) -> Self {
        self.suspected_fraud = flagged;
        self
    }
}

/// How long a cancel takes to be processed, as a document states it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessingTime {
    /// Processed at once (the documents' `즉시`, `실시간`, or refunded right after the cancel).
    Immediate,
    /// Cancelled on the same day (`당일`).
    SameDay,
    /// A number of business days (영업일).
    BusinessDays {
        /// The least number of business days, when the document gives one; `None` when the document gives
        /// only an upper bound.
        min_business_days: Option<u32>,
        /// The most business days the document allows for.
        max_business_days: u32,
        /// Some refunds may take up to this many days, depending on the card company behind the
        /// payment. The document counts these in plain days, not business days.
        card_issuer_max_days: Option<u32>,
    },
    /// No document states a processing time for this provider and method.
    Unknown,
}

impl ProcessingTime {
    /// The least business days it takes: 0 for immediate or same-day processing, `None` when the
    /// documents give no lower bound or nothing at all.
    pub fn min_business_days(&self) -> Option<u32> {
        match self {
            ProcessingTime::Immediate | ProcessingTime::SameDay => Some(0),
            ProcessingTime::BusinessDays { min_business_days, .. } => *min_business_days,
            ProcessingTime::Unknown => None,
        }
    }

    /// The most business days it takes: 0 for immediate or same-day processing, `None` when
    /// unknown. A card-issuer delay counted in plain days is not included; see
    /// [`ProcessingTime::BusinessDays::card_issuer_max_days`].
    pub fn max_business_days(&self) -> Option<u32> {
        match self {
            ProcessingTime::Immediate | ProcessingTime::SameDay => Some(0),
            ProcessingTime::BusinessDays { max_business_days, .. } => Some(*max_business_days),
            ProcessingTime::Unknown => None,
        }
    }
}

impl fmt::Display for ProcessingTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessingTime::Immediate => f.write_str("refunded immediately"),
            ProcessingTime::SameDay => f.write_str("cancelled the same day"),
            ProcessingTime::BusinessDays {
                min_business_days,
                max_business_days: max,
                card_issuer_max_days,
            } => {
                let unit = if *max == 1 { "business day" } else { "business days" };
                match min_business_days {
                    Some(min) if min == max => write!(f, "refund takes {max} {unit}")?,
                    Some(min) => write!(f, "refund takes {min}-{max} {unit}")?,
                    None => write!(f, "refund takes up to {max} {unit}")?,
                }
                if let Some(days) = card_issuer_max_days {
                    write!(f, " (some up to {days} days, depending on the card issuer)")?;
                }
                Ok(())
            }
            ProcessingTime::Unknown => f.write_str("refund processing time unknown"),
        }
    }
}

/// How long a cancel takes to be processed for this provider, method and conditions.
///
/// Sources, one per answer that is not `Unknown` (the documents and their addresses are listed in the
/// [module docs](self#which-document-speaks-for-which-provider)):
///
/// | provider | method | conditions | time | document › section |
/// |---|---|---|---|---|
/// | PortOne V2 | virtual account | any | 1–2 business days | PortOne's V2 cancel guide, 결제 취소 정책 › 가상계좌 환불 |
/// | Toss | card | not yet purchased (매입), full cancel | immediate | Toss's cancel guide, 결제 취소 기한, row 카드 |
/// | Toss | card | purchased, or partial cancel | 3–4 business days | Toss's cancel guide, 결제 취소 기한, row 카드; question 부분 취소도 가능한가요? |
/// | Toss | card | purchase state unknown, full cancel | up to 4 business days | the two rows above combined |
/// | Toss | account transfer | any | immediate | Toss's cancel guide, 결제 취소 기한, row 계좌이체 |
/// | Toss | virtual account | not flagged | 2 business days | Toss's cancel guide, 결제 취소 기한, row 가상계좌; Case 1 |
/// | Toss | virtual account | suspected fraud | up to 9 business days | Toss's cancel guide, 결제 취소 기한, row 가상계좌 |
/// | Toss | mobile phone | any | same day | Toss's cancel guide, 결제 취소 기한, row 휴대폰 |
/// | Toss | PayPal | any | up to 5 business days; some up to 30 days by card issuer | Toss's cancel guide, 결제 취소 기한, row 해외 간편결제(PayPal) |
/// | iamport | card, account transfer, mobile phone | any | immediate | iamport's cancel reference, 결제취소 API (endpoint description) |
/// | iamport | virtual account | any | next business day | iamport's cancel reference, 결제취소 API (endpoint description) |
///
/// For iamport the cancel reference says the cancel itself is processed at once; it says nothing about when
/// the money reaches the buyer's card statement. PortOne's V2 cancel guide gives a processing time only for
/// virtual accounts, so every other PortOne V2 method is `Unknown`. Toss's cancel guide writes the virtual-account
/// time as `영입일`, read here as a typo for 영업일 (business day); Case 1 agrees with two days.
pub fn processing(provider: Provider, method: PayMethod, conditions: &Conditions) -> ProcessingTime {
    use PayMethod as M;
    use ProcessingTime as T;
    use Provider as P;
    let days = |min, max| T::BusinessDays {
        min_business_days: min,
        max_business_days: max,
        card_issuer_max_days: None,
    };
    match (provider, method) {
        (P::PortOneV2, M::VirtualAccount) => days(Some(1), 2),
        (P::Toss, M::Card) => match (conditions.partial, conditions.card_captured) {
            (true, _) | (false, Some(true)) => days(Some(3), 4),
            (false, Some(false)) => T::Immediate,
            // Either immediate or 3–4 days; only the upper bound is certain.
            (false, None) => days(None, 4),
        },
        (P::Toss, M::AccountTransfer) => T::Immediate,
        (P::Toss, M::VirtualAccount) if conditions.suspected_fraud => days(None, 9),
        (P::Toss, M::VirtualAccount) => days(Some(2), 2),
        (P::Toss, M::MobilePhone) => T::SameDay,
        (P::Toss, M::PayPal) => T::BusinessDays {
            min_business_days: None,
            max_business_days: 5,
            card_issuer_max_days: Some(30),
        },
        (P::Iamport, M::Card | M::AccountTransfer | M::MobilePhone) => T::Immediate,
        (P::Iamport, M::VirtualAccount) => days(Some(1), 1),
        _ => T::Unknown,
    }
}

/// Whether a virtual-account refund must name the account to refund to.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefundAccountRule {
    /// A refund account (bank, number, holder name) must be sent with the cancel.
    Required,
    /// Required only once the buyer has deposited; before that the cancel is an ordinary one.
    RequiredOnceDeposited,
    /// No document says.
    Unknown,
}

/// Whether the refund account's holder phone number must be sent.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HolderPhoneRule {
    /// Required when the underlying PG is Smartro (스마트로), optional otherwise.
    RequiredWhenPgIsSmartro,
    /// No document says.
    Unknown,
}

/// Whether the merchant needs the PG's virtual-account refund special contract (가상계좌 특약).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialContract {
    /// Needed whatever the PG.
    Required,
    /// Needed for every PG except Toss (토스페이먼츠).
    RequiredExceptTossPayments,
    /// Not needed.
    NotRequired,
    /// No document says.
    Unknown,
}

/// What a virtual-account refund needs and costs with one provider.
///
/// Deadlines and processing times for virtual accounts come from [`deadline`] and [`processing`]
/// with [`PayMethod::VirtualAccount`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtualAccountRefund {
    /// The provider these facts are about.
    pub provider: Provider,
    /// Whether the cancel must carry a refund account.
    pub refund_account: RefundAccountRule,
    /// Whether the refund account's holder phone number must be sent.
    pub holder_phone: HolderPhoneRule,
    /// Fee per refund in won, charged on top of the payment's own fees, when a document states one.
    pub fee_per_refund_won: Option<i64>,
    /// Whether the fees of the original payment come back on refund; `None` when no document says.
    pub payment_fees_refunded: Option<bool>,
    /// Whether a PG special contract is needed before virtual-account refunds work.
    pub special_contract: SpecialContract,
    /// Whether a partial cancel is possible before the buyer has deposited; `None` when no document
    /// says.
    pub partial_cancel_before_deposit: Option<bool>,
    /// How long the refund account a buyer typed into the payment widget stays readable from the
    /// payment (counted from when the payment window opened); afterwards it reads as null, so it
    /// must be stored at approval. `None` when no document describes such a widget.
    pub widget_refund_account_readable_for: Option<TimeDelta>,
}

impl VirtualAccountRefund {
    /// What refunding `refund_won` costs the merchant: the refund plus the per-refund fee, when
    /// the fee is known. PortOne's V2 cancel guide (결제 취소 정책 › 가상계좌 환불) works this through for a
    /// 10,000 won payment: 10,300 won paid to the PG.
    pub fn merchant_outlay_won(&self, refund_won: i64) -> Option<i64> {
        refund_won.checked_add(self.fee_per_refund_won?)
    }
}

/// The virtual-account refund facts for a provider.
///
/// - PortOne V2 (PortOne's V2 cancel guide, 결제 취소 정책 › 가상계좌 환불): `refundAccount.bank`, `.number`
///   and `.holderName` are required, and `.holderPhoneNumber` too for Smartro virtual accounts; 300 won
///   per refund on top of the payment fee; the payment's fees are not refunded; the PG's special
///   contract is needed except with Toss (토스페이먼츠).
/// - iamport (iamport's cancel reference, 결제취소 API: `refund_holder`, `refund_bank`, `refund_account`
///   required for virtual accounts, `refund_tel` required with Smartro, and a special contract needed;
///   iamport's refund guide, STEP 01 agrees on the three account fields). iamport's cancel reference states no
///   exception for Toss (토스페이먼츠), so none is assumed.
/// - Toss (토스페이먼츠) (Toss's cancel guide, Case 1: `refundReceiveAccount` only once the buyer has deposited,
///   and no partial cancel before the deposit, as the question 부분 취소도 가능한가요? repeats; Case 2: a
///   refund account typed into the payment widget is readable for 30 minutes). No special contract and no
///   refund of the original fees come from the Toss (토스페이먼츠) exception in PortOne's V2 cancel guide, which
///   describes the same PG (see the module docs).
pub fn virtual_account_refund(provider: Provider) -> VirtualAccountRefund {
    match provider {
        Provider::PortOneV2 => VirtualAccountRefund {
            provider,
            refund_account: RefundAccountRule::Required,
            holder_phone: HolderPhoneRule::RequiredWhenPgIsSmartro,
            fee_per_refund_won: Some(300),
            payment_fees_refunded: Some(false),
            special_contract: SpecialContract::RequiredExceptTossPayments,
            partial_cancel_before_deposit: None,
            widget_refund_account_readable_for: None,
        },
        Provider::Iamport => VirtualAccountRefund {
            provider,
            refund_account: RefundAccountRule::Required,
            holder_phone: HolderPhoneRule::RequiredWhenPgIsSmartro,
            fee_per_refund_won: None,
            payment_fees_refunded: None,
            special_contract: SpecialContract::Required,
            partial_cancel_before_deposit: None,
            widget_refund_account_readable_for: None,
        },
        Provider::Toss => VirtualAccountRefund {
            provider,
            refund_account: RefundAccountRule::RequiredOnceDeposited,
            holder_phone: HolderPhoneRule::Unknown,
            fee_per_refund_won: None,
            payment_fees_refunded: Some(false),
            special_contract: SpecialContract::NotRequired,
            partial_cancel_before_deposit: Some(false),
            widget_refund_account_readable_for: TimeDelta::try_minutes(30),
        },
    }
}
