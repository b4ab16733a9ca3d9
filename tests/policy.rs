//! Tests for `kr_payments::policy`: one row per seed policy entry, then the day, year and month
//! boundaries in Korean time.
//!
//! Seeds: 000 = PortOne V2 cancel guide, 001 = Toss (토스페이먼츠) cancel guide, 002 = iamport cancel
//! reference, 003 = iamport refund guide (files under `shared/seeds/`).

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use kr_payments::policy::{
    self, Conditions, DeadlineCheck, DeadlineRule, Hardness, HolderPhoneRule, KST, PayMethod, Period, ProcessingTime,
    Provider, RefundAccountRule, SpecialContract,
};

/// A KST wall-clock time as the UTC instant the API takes.
fn kst(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    KST.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid KST time")
        .with_timezone(&Utc)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid UTC time")
}

fn hard(period: Period) -> DeadlineRule {
    DeadlineRule::Within { period, hard: true }
}

fn is_past_hard(check: DeadlineCheck) -> bool {
    matches!(check, DeadlineCheck::PastHard { .. })
}

fn is_past_soft(check: DeadlineCheck) -> bool {
    matches!(check, DeadlineCheck::PastSoft { .. })
}

// ---------------------------------------------------------------------------------------------
// Every deadline row of the seeds' policy sections.
// ---------------------------------------------------------------------------------------------

#[test]
fn deadline_rule_for_every_seed_row() {
    use PayMethod as M;
    use Provider as P;
    let rows: &[(Provider, PayMethod, DeadlineRule, &str)] = &[
        (
            P::PortOneV2,
            M::VirtualAccount,
            DeadlineRule::NoLimit,
            "seed 000, 결제 취소 정책 › 가상계좌 환불 (취소 기한)",
        ),
        (
            P::PortOneV2,
            M::MobilePhone,
            DeadlineRule::SameCalendarMonthKst,
            "seed 000, 결제 취소 정책 › 휴대폰 소액결제",
        ),
        (
            P::PortOneV2,
            M::Card,
            DeadlineRule::IssuerDependent {
                typical: Period::Years(1),
            },
            "seed 000, 결제 취소 정책 › 카드",
        ),
        (
            P::PortOneV2,
            M::KakaoPayCard,
            hard(Period::Years(1)),
            "seed 000, 결제 취소 정책 › 카카오페이 (카드)",
        ),
        (
            P::PortOneV2,
            M::KakaoPayMoney,
            hard(Period::Years(5)),
            "seed 000, 결제 취소 정책 › 카카오페이 (머니)",
        ),
        (
            P::PortOneV2,
            M::NaverPay,
            hard(Period::Days(1095)),
            "seed 000, 결제 취소 정책 › 네이버페이",
        ),
        (
            P::PortOneV2,
            M::PayPal,
            hard(Period::Days(180)),
            "seed 000, 결제 취소 정책 › 페이팔",
        ),
        (
            P::Toss,
            M::Card,
            DeadlineRule::IssuerDependent {
                typical: Period::Years(1),
            },
            "seed 001, 결제 취소 기한, row 카드",
        ),
        (
            P::Toss,
            M::AccountTransfer,
            hard(Period::Days(180)),
            "seed 001, 결제 취소 기한, row 계좌이체",
        ),
        (
            P::Toss,
            M::VirtualAccount,
            DeadlineRule::MerchantSetting {
                typical: Period::Days(365),
            },
            "seed 001, 결제 취소 기한, row 가상계좌",
        ),
        (
            P::Toss,
            M::MobilePhone,
            DeadlineRule::SameCalendarMonthKst,
            "seed 001, 결제 취소 기한, row 휴대폰",
        ),
        (
            P::Toss,
            M::PayPal,
            hard(Period::Days(180)),
            "seed 001, 결제 취소 기한, row 해외 간편결제(PayPal)",
        ),
        (
            P::Iamport,
            M::MobilePhone,
            DeadlineRule::SameCalendarMonthKst,
            "seed 003, STEP 03 › Note - Refunding mobile micropayments",
        ),
    ];
    for &(provider, method, rule, source) in rows {
        assert_eq!(
            policy::deadline_rule(provider, method),
            rule,
            "{source}: {provider:?} {method:?}"
        );
        let deadline = policy::deadline(provider, method, kst(2026, 3, 10, 15, 0, 0));
        assert_eq!(deadline.rule, rule, "{source}");
        let expected_hardness = match rule {
            DeadlineRule::NoLimit => None,
            DeadlineRule::IssuerDependent { .. } | DeadlineRule::MerchantSetting { .. } => Some(Hardness::Soft),
            _ => Some(Hardness::Hard),
        };
        assert_eq!(deadline.hardness, expected_hardness, "{source}: hardness");
        assert_eq!(
            deadline.is_hard(),
            expected_hardness == Some(Hardness::Hard),
            "{source}"
        );
        assert_eq!(
            deadline.last_allowed.is_some(),
            rule != DeadlineRule::NoLimit,
            "{source}: a bounded rule yields an instant, no limit yields none"
        );
    }
}

#[test]
fn seed_000_paypal_needs_seller_consent_and_says_so() {
    let paid = kst(2026, 3, 10, 15, 0, 0);
    let portone = policy::deadline(Provider::PortOneV2, PayMethod::PayPal, paid);
    assert!(
        portone.seller_consent_required,
        "seed 000, 결제 취소 정책 › 페이팔: 판매자 동의 필요"
    );
    assert_eq!(
        portone.to_string(),
        "cancel by 2026-09-06 23:59:59 KST (within 180 days of payment); seller consent required"
    );
    // Seed 001's PayPal row states no such condition.
    let toss = policy::deadline(Provider::Toss, PayMethod::PayPal, paid);
    assert!(
        !toss.seller_consent_required,
        "seed 001, 결제 취소 기한, row 해외 간편결제(PayPal)"
    );
    assert_eq!(
        toss.to_string(),
        "cancel by 2026-09-06 23:59:59 KST (within 180 days of payment)"
    );
}

// ---------------------------------------------------------------------------------------------
// Day limits: day N-1, N and N+1 counted on KST calendar dates from the payment date.
// ---------------------------------------------------------------------------------------------

#[test]
fn day_limits_open_on_day_n_and_close_at_the_start_of_day_n_plus_1() {
    use PayMethod as M;
    use Provider as P;
    // Last KST day computed by hand from a payment on 2026-03-10: 180 days = 21 (rest of March)
    // + 30 + 31 + 30 + 31 + 31 + 6 → 2026-09-06; 1095 days = 2029-03-10 minus one day, since the
    // span holds 29 Feb 2028 → 2029-03-09.
    let rows: &[(Provider, PayMethod, u64, NaiveDate, &str)] = &[
        (
            P::PortOneV2,
            M::NaverPay,
            1095,
            date(2029, 3, 9),
            "seed 000, 결제 취소 정책 › 네이버페이",
        ),
        (
            P::PortOneV2,
            M::PayPal,
            180,
            date(2026, 9, 6),
            "seed 000, 결제 취소 정책 › 페이팔",
        ),
        (
            P::Toss,
            M::AccountTransfer,
            180,
            date(2026, 9, 6),
            "seed 001, 결제 취소 기한, row 계좌이체",
        ),
        (
            P::Toss,
            M::PayPal,
            180,
            date(2026, 9, 6),
            "seed 001, 결제 취소 기한, row 해외 간편결제(PayPal)",
        ),
    ];
    // Early morning, late evening and a time that is still the previous day in UTC: day 0 is the
    // KST date in every case.
    for (h, mi) in [(0, 0), (8, 59), (15, 0), (23, 30)] {
        let paid = kst(2026, 3, 10, h, mi, 0);
        for &(provider, method, n, day_n, source) in rows {
            assert_eq!(
                date(2026, 3, 10) + chrono::Days::new(n),
                day_n,
                "{source}: table arithmetic"
            );
            let deadline = policy::deadline(provider, method, paid);
            let day_n_minus_1 = day_n.pred_opt().expect("date");
            let day_n_plus_1 = day_n.succ_opt().expect("date");
            let at = |d: NaiveDate, h, mi, s| kst(d.year(), d.month(), d.day(), h, mi, s);
            assert_eq!(
                deadline.check(at(day_n_minus_1, 12, 0, 0)),
                DeadlineCheck::Open,
                "{source}: day N-1 (paid {h:02}:{mi:02} KST)"
            );
            assert_eq!(
                deadline.check(at(day_n, 0, 0, 0)),
                DeadlineCheck::Open,
                "{source}: start of day N"
            );
            assert_eq!(
                deadline.check(at(day_n, 23, 59, 59)),
                DeadlineCheck::Open,
                "{source}: last second of day N"
            );
            let day_after = at(day_n_plus_1, 0, 0, 0);
            assert!(
                is_past_hard(deadline.check(day_after)),
                "{source}: first second of day N+1 must be past, got {:?}",
                deadline.check(day_after)
            );
            assert!(
                is_past_hard(deadline.check(at(day_n_plus_1, 12, 0, 0))),
                "{source}: day N+1"
            );
        }
    }
}

#[test]
fn day_zero_is_the_kst_date_even_when_utc_is_still_the_previous_day() {
    // 2026-03-11 00:10 KST is 2026-03-10 15:10 UTC; the payment date is 11 March.
    let paid = utc(2026, 3, 10, 15, 10, 0);
    let deadline = policy::deadline(Provider::Toss, PayMethod::AccountTransfer, paid);
    assert_eq!(
        deadline.to_string(),
        "cancel by 2026-09-07 23:59:59 KST (within 180 days of payment)",
        "seed 001, 결제 취소 기한, row 계좌이체: counted from the KST payment date"
    );
    assert_eq!(deadline.check(kst(2026, 9, 7, 23, 59, 59)), DeadlineCheck::Open);
    assert!(is_past_hard(deadline.check(kst(2026, 9, 8, 0, 0, 0))));
}

#[test]
fn past_hard_reports_the_deadline_and_how_late_the_cancel_is() {
    let paid = kst(2026, 3, 10, 15, 0, 0);
    let deadline = policy::deadline(Provider::PortOneV2, PayMethod::NaverPay, paid);
    let now = kst(2029, 3, 10, 1, 0, 0);
    match deadline.check(now) {
        DeadlineCheck::PastHard { last_allowed, overdue } => {
            assert_eq!(Some(last_allowed), deadline.last_allowed);
            assert_eq!(
                last_allowed.with_timezone(&KST).format("%F %T").to_string(),
                "2029-03-09 23:59:59"
            );
            assert_eq!(overdue, now - last_allowed);
            assert!(overdue > TimeDelta::hours(1) && overdue <= TimeDelta::hours(1) + TimeDelta::seconds(1));
        }
        other => panic!("seed 000, 결제 취소 정책 › 네이버페이: expected PastHard, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Year limits.
// ---------------------------------------------------------------------------------------------

#[test]
fn year_limits_end_on_the_same_kst_date_years_later() {
    use PayMethod as M;
    use Provider as P;
    let paid = kst(2026, 3, 10, 15, 0, 0);
    let rows: &[(Provider, PayMethod, NaiveDate, bool, &str)] = &[
        (
            P::PortOneV2,
            M::KakaoPayCard,
            date(2027, 3, 10),
            true,
            "seed 000, 결제 취소 정책 › 카카오페이 (카드 1년)",
        ),
        (
            P::PortOneV2,
            M::KakaoPayMoney,
            date(2031, 3, 10),
            true,
            "seed 000, 결제 취소 정책 › 카카오페이 (머니 5년)",
        ),
        (
            P::PortOneV2,
            M::Card,
            date(2027, 3, 10),
            false,
            "seed 000, 결제 취소 정책 › 카드 (통상 1년)",
        ),
        (
            P::Toss,
            M::Card,
            date(2027, 3, 10),
            false,
            "seed 001, 결제 취소 기한, row 카드",
        ),
    ];
    for &(provider, method, last_day, is_hard, source) in rows {
        let deadline = policy::deadline(provider, method, paid);
        let at = |d: NaiveDate, h, mi, s| kst(d.year(), d.month(), d.day(), h, mi, s);
        let before = last_day.pred_opt().expect("date");
        let after = last_day.succ_opt().expect("date");
        assert_eq!(
            deadline.check(at(before, 12, 0, 0)),
            DeadlineCheck::Open,
            "{source}: day before"
        );
        assert_eq!(
            deadline.check(at(last_day, 23, 59, 59)),
            DeadlineCheck::Open,
            "{source}: last second"
        );
        let late = deadline.check(at(after, 0, 0, 0));
        if is_hard {
            assert!(is_past_hard(late), "{source}: expected PastHard, got {late:?}");
        } else {
            assert!(
                is_past_soft(late),
                "{source}: issuer-dependent limit must only warn, got {late:?}"
            );
        }
    }
}

#[test]
fn a_year_from_29_february_ends_on_28_february() {
    let paid = kst(2028, 2, 29, 10, 0, 0);
    let deadline = policy::deadline(Provider::PortOneV2, PayMethod::KakaoPayCard, paid);
    assert_eq!(
        deadline.to_string(),
        "cancel by 2029-02-28 23:59:59 KST (within 1 year of payment)"
    );
    assert_eq!(deadline.check(kst(2029, 2, 28, 23, 59, 59)), DeadlineCheck::Open);
    assert!(is_past_hard(deadline.check(kst(2029, 3, 1, 0, 0, 0))));
}

// ---------------------------------------------------------------------------------------------
// Same-month rule, decided in KST.
// ---------------------------------------------------------------------------------------------

const MONTH_RULE_SOURCES: &[(Provider, &str)] = &[
    (Provider::PortOneV2, "seed 000, 결제 취소 정책 › 휴대폰 소액결제"),
    (Provider::Toss, "seed 001, 결제 취소 기한, row 휴대폰"),
    (
        Provider::Iamport,
        "seed 003, STEP 03 › Note - Refunding mobile micropayments",
    ),
];

#[test]
fn month_rule_payment_late_on_the_last_day_closes_at_kst_midnight() {
    // 2026-11-30 23:30 KST = 2026-11-30 14:30 UTC.
    let paid = kst(2026, 11, 30, 23, 30, 0);
    assert_eq!(paid, utc(2026, 11, 30, 14, 30, 0));
    for &(provider, source) in MONTH_RULE_SOURCES {
        let deadline = policy::deadline(provider, PayMethod::MobilePhone, paid);
        assert_eq!(
            deadline.to_string(),
            "cancel by 2026-11-30 23:59:59 KST (same month as payment)",
            "{source}"
        );
        assert_eq!(deadline.check(paid), DeadlineCheck::Open, "{source}: at payment");
        assert_eq!(
            deadline.check(kst(2026, 11, 30, 23, 59, 59)),
            DeadlineCheck::Open,
            "{source}: 23:59:59 KST on the last day"
        );
        assert!(
            is_past_hard(deadline.check(kst(2026, 12, 1, 0, 0, 0))),
            "{source}: 00:00:00 KST on the 1st is the next month"
        );
        // 2026-12-01 00:10 KST is still 2026-11-30 15:10 UTC: same UTC day and month as the
        // payment, yet a different KST month.
        let next_kst_month = kst(2026, 12, 1, 0, 10, 0);
        assert_eq!(next_kst_month, utc(2026, 11, 30, 15, 10, 0));
        assert!(
            is_past_hard(deadline.check(next_kst_month)),
            "{source}: same UTC month but next KST month must be refused"
        );
    }
}

#[test]
fn month_rule_payment_just_after_kst_midnight_belongs_to_the_new_month() {
    // 2026-12-01 00:10 KST = 2026-11-30 15:10 UTC: November in UTC, December in KST.
    let paid = utc(2026, 11, 30, 15, 10, 0);
    for &(provider, source) in MONTH_RULE_SOURCES {
        let deadline = policy::deadline(provider, PayMethod::MobilePhone, paid);
        assert_eq!(
            deadline.to_string(),
            "cancel by 2026-12-31 23:59:59 KST (same month as payment)",
            "{source}"
        );
        // 2026-12-01 09:00 KST = 2026-12-01 00:00 UTC: a different UTC month from the payment,
        // but the same KST month.
        assert_eq!(
            deadline.check(utc(2026, 12, 1, 0, 0, 0)),
            DeadlineCheck::Open,
            "{source}: different UTC month, same KST month"
        );
        assert_eq!(
            deadline.check(kst(2026, 12, 31, 23, 59, 59)),
            DeadlineCheck::Open,
            "{source}: last second of December KST"
        );
        // 2027-01-01 00:00 KST = 2026-12-31 15:00 UTC: still December in UTC.
        let new_year = kst(2027, 1, 1, 0, 0, 0);
        assert_eq!(new_year, utc(2026, 12, 31, 15, 0, 0));
        assert!(
            is_past_hard(deadline.check(new_year)),
            "{source}: first second of January KST"
        );
    }
}

#[test]
fn seed_003_example_january_31_payment_is_not_refundable_on_february_1() {
    let deadline = policy::deadline(Provider::Iamport, PayMethod::MobilePhone, kst(2027, 1, 31, 12, 0, 0));
    assert_eq!(deadline.check(kst(2027, 1, 31, 23, 59, 59)), DeadlineCheck::Open);
    assert!(
        is_past_hard(deadline.check(kst(2027, 2, 1, 9, 0, 0))),
        "seed 003, STEP 03 › Note - Refunding mobile micropayments: 31 Jan → 1 Feb refused"
    );
}

#[test]
fn month_rule_sweep_ends_on_the_last_instant_of_the_payments_kst_month() {
    // Every day of 2024–2028 (two leap years) at times on both sides of the UTC date change.
    let mut day = date(2024, 1, 1);
    while day <= date(2028, 12, 31) {
        for (h, mi, s) in [(0, 0, 0), (8, 59, 59), (9, 0, 0), (23, 59, 59)] {
            let paid = kst(day.year(), day.month(), day.day(), h, mi, s);
            let deadline = policy::deadline(Provider::Toss, PayMethod::MobilePhone, paid);
            let last = deadline
                .last_allowed
                .expect("month rule has an end")
                .with_timezone(&KST);
            assert_eq!((last.year(), last.month()), (day.year(), day.month()), "paid {paid}");
            assert_eq!((last.hour(), last.minute(), last.second()), (23, 59, 59), "paid {paid}");
            let first_refused = (last + TimeDelta::nanoseconds(1)).with_timezone(&KST);
            assert_eq!(
                (
                    first_refused.day(),
                    first_refused.hour(),
                    first_refused.minute(),
                    first_refused.second()
                ),
                (1, 0, 0, 0),
                "paid {paid}"
            );
            assert_eq!(deadline.check(last.with_timezone(&Utc)), DeadlineCheck::Open);
            assert!(is_past_hard(deadline.check(first_refused.with_timezone(&Utc))));
        }
        day = day.succ_opt().expect("date");
    }
}

#[test]
fn day_rule_sweep_closes_exactly_181_kst_days_after_the_payment_date() {
    let mut day = date(2024, 1, 1);
    while day <= date(2028, 12, 31) {
        for (h, mi, s) in [(0, 0, 0), (8, 59, 59), (23, 59, 59)] {
            let paid = kst(day.year(), day.month(), day.day(), h, mi, s);
            let deadline = policy::deadline(Provider::Toss, PayMethod::PayPal, paid);
            let first_refused =
                (deadline.last_allowed.expect("bounded") + TimeDelta::nanoseconds(1)).with_timezone(&KST);
            assert_eq!(first_refused.time(), chrono::NaiveTime::MIN, "paid {paid}");
            assert_eq!((first_refused.date_naive() - day).num_days(), 181, "paid {paid}");
        }
        day = day.succ_opt().expect("date");
    }
}

// ---------------------------------------------------------------------------------------------
// Soft limits, no limit, unknown.
// ---------------------------------------------------------------------------------------------

#[test]
fn soft_limits_past_due_are_past_soft_never_past_hard() {
    // seed 001, 결제 취소 기한, row 가상계좌: usually 365 days, set per merchant.
    let paid = kst(2026, 1, 5, 10, 0, 0);
    let deadline = policy::deadline(Provider::Toss, PayMethod::VirtualAccount, paid);
    assert_eq!(
        deadline.to_string(),
        "cancel by 2027-01-05 23:59:59 KST if possible (typically 365 days; depends on the merchant's settings)"
    );
    assert_eq!(deadline.check(kst(2027, 1, 5, 23, 59, 59)), DeadlineCheck::Open);
    match deadline.check(kst(2027, 1, 6, 0, 0, 0)) {
        DeadlineCheck::PastSoft { overdue, .. } => assert_eq!(overdue, TimeDelta::nanoseconds(1)),
        other => panic!("seed 001, 결제 취소 기한, row 가상계좌: expected PastSoft, got {other:?}"),
    }

    // seed 000, 결제 취소 정책 › 카드: typically a year, issuer-dependent.
    let card = policy::deadline(Provider::PortOneV2, PayMethod::Card, paid);
    assert_eq!(
        card.to_string(),
        "cancel by 2027-01-05 23:59:59 KST if possible (typically 1 year; depends on the card issuer)"
    );
    assert!(
        is_past_soft(card.check(kst(2030, 1, 1, 0, 0, 0))),
        "seed 000, 결제 취소 정책 › 카드"
    );
    assert!(!card.is_hard());
}

#[test]
fn portone_v2_virtual_account_has_no_deadline() {
    let deadline = policy::deadline(
        Provider::PortOneV2,
        PayMethod::VirtualAccount,
        kst(2026, 3, 10, 15, 0, 0),
    );
    assert_eq!(deadline.last_allowed, None);
    assert_eq!(deadline.hardness, None);
    assert_eq!(
        deadline.check(kst(2036, 3, 10, 15, 0, 0)),
        DeadlineCheck::Open,
        "seed 000, 결제 취소 정책 › 가상계좌 환불: 취소 기한 제한 없음"
    );
    assert_eq!(deadline.to_string(), "no cancel deadline");
}

#[test]
fn methods_no_seed_covers_answer_unknown() {
    use PayMethod as M;
    use Provider as P;
    let rows: &[(Provider, PayMethod)] = &[
        (P::PortOneV2, M::Unknown),
        (P::Iamport, M::Unknown),
        (P::Toss, M::Unknown),
        // Seed 000 names no rule for these.
        (P::PortOneV2, M::AccountTransfer),
        (P::PortOneV2, M::GiftCertificate),
        (P::PortOneV2, M::EasyPay),
        // Seed 001's table has no row for these.
        (P::Toss, M::GiftCertificate),
        (P::Toss, M::EasyPay),
        (P::Toss, M::KakaoPayCard),
        (P::Toss, M::NaverPay),
        // iamport: seed 000 is a V2-only page, so its card/NaverPay/PayPal rules are not borrowed.
        (P::Iamport, M::Card),
        (P::Iamport, M::VirtualAccount),
        (P::Iamport, M::NaverPay),
        (P::Iamport, M::PayPal),
        (P::Iamport, M::KakaoPayMoney),
    ];
    let paid = kst(2026, 3, 10, 15, 0, 0);
    for &(provider, method) in rows {
        let deadline = policy::deadline(provider, method, paid);
        assert_eq!(deadline.rule, DeadlineRule::Unknown, "{provider:?} {method:?}");
        assert_eq!(deadline.last_allowed, None, "{provider:?} {method:?}");
        assert_eq!(deadline.hardness, None, "{provider:?} {method:?}");
        assert_eq!(
            deadline.check(kst(2040, 1, 1, 0, 0, 0)),
            DeadlineCheck::Unknown,
            "{provider:?} {method:?}"
        );
        assert_eq!(deadline.check(paid), DeadlineCheck::Unknown, "{provider:?} {method:?}");
        assert_eq!(deadline.to_string(), "cancel deadline unknown");
    }
    for &(provider, method) in &rows[..10] {
        let time = policy::processing(provider, method, &Conditions::new());
        assert_eq!(time, ProcessingTime::Unknown, "{provider:?} {method:?}");
        assert_eq!(time.min_business_days(), None);
        assert_eq!(time.max_business_days(), None);
        assert_eq!(time.to_string(), "refund processing time unknown");
    }
}

// ---------------------------------------------------------------------------------------------
// Processing times.
// ---------------------------------------------------------------------------------------------

fn days(min: Option<u32>, max: u32) -> ProcessingTime {
    ProcessingTime::BusinessDays {
        min_business_days: min,
        max_business_days: max,
        card_issuer_max_days: None,
    }
}

#[test]
fn processing_time_for_every_seed_row() {
    use PayMethod as M;
    use Provider as P;
    let none = Conditions::new();
    let rows: Vec<(Provider, PayMethod, Conditions, ProcessingTime, &str, &str)> = vec![
        (
            P::PortOneV2,
            M::VirtualAccount,
            none,
            days(Some(1), 2),
            "refund takes 1-2 business days",
            "seed 000, 결제 취소 정책 › 가상계좌 환불 (처리 시간)",
        ),
        (
            P::Toss,
            M::Card,
            Conditions::new().card_captured(false),
            ProcessingTime::Immediate,
            "refunded immediately",
            "seed 001, 결제 취소 기한, row 카드 (before 매입)",
        ),
        (
            P::Toss,
            M::Card,
            Conditions::new().card_captured(true),
            days(Some(3), 4),
            "refund takes 3-4 business days",
            "seed 001, 결제 취소 기한, row 카드 (after 매입)",
        ),
        (
            P::Toss,
            M::Card,
            Conditions::new().card_captured(false).partial(true),
            days(Some(3), 4),
            "refund takes 3-4 business days",
            "seed 001, 결제 취소 기한, row 카드 (partial cancel)",
        ),
        (
            P::Toss,
            M::Card,
            Conditions::new().partial(true),
            days(Some(3), 4),
            "refund takes 3-4 business days",
            "seed 001, 결제 취소 기한 › 부분 취소도 가능한가요?",
        ),
        (
            P::Toss,
            M::Card,
            none,
            days(None, 4),
            "refund takes up to 4 business days",
            "seed 001, 결제 취소 기한, row 카드 (매입 state unknown)",
        ),
        (
            P::Toss,
            M::AccountTransfer,
            none,
            ProcessingTime::Immediate,
            "refunded immediately",
            "seed 001, 결제 취소 기한, row 계좌이체",
        ),
        (
            P::Toss,
            M::VirtualAccount,
            none,
            days(Some(2), 2),
            "refund takes 2 business days",
            "seed 001, 결제 취소 기한, row 가상계좌",
        ),
        (
            P::Toss,
            M::VirtualAccount,
            Conditions::new().suspected_fraud(true),
            days(None, 9),
            "refund takes up to 9 business days",
            "seed 001, 결제 취소 기한, row 가상계좌 (의심거래)",
        ),
        (
            P::Toss,
            M::MobilePhone,
            none,
            ProcessingTime::SameDay,
            "cancelled the same day",
            "seed 001, 결제 취소 기한, row 휴대폰",
        ),
        (
            P::Toss,
            M::PayPal,
            none,
            ProcessingTime::BusinessDays {
                min_business_days: None,
                max_business_days: 5,
                card_issuer_max_days: Some(30),
            },
            "refund takes up to 5 business days (some up to 30 days, depending on the card issuer)",
            "seed 001, 결제 취소 기한, row 해외 간편결제(PayPal)",
        ),
        (
            P::Iamport,
            M::Card,
            none,
            ProcessingTime::Immediate,
            "refunded immediately",
            "seed 002, 결제취소 API (신용카드 즉시 취소)",
        ),
        (
            P::Iamport,
            M::AccountTransfer,
            none,
            ProcessingTime::Immediate,
            "refunded immediately",
            "seed 002, 결제취소 API (실시간계좌이체 즉시 취소)",
        ),
        (
            P::Iamport,
            M::MobilePhone,
            none,
            ProcessingTime::Immediate,
            "refunded immediately",
            "seed 002, 결제취소 API (휴대폰 소액결제 즉시 취소)",
        ),
        (
            P::Iamport,
            M::VirtualAccount,
            none,
            days(Some(1), 1),
            "refund takes 1 business day",
            "seed 002, 결제취소 API (가상계좌 익영업일)",
        ),
    ];
    for (provider, method, conditions, expected, line, source) in rows {
        let time = policy::processing(provider, method, &conditions);
        assert_eq!(time, expected, "{source}: {provider:?} {method:?} {conditions:?}");
        assert_eq!(time.to_string(), line, "{source}");
    }
}

#[test]
fn processing_bounds_are_exposed_as_numbers() {
    let none = Conditions::new();
    let va = policy::processing(Provider::PortOneV2, PayMethod::VirtualAccount, &none);
    assert_eq!((va.min_business_days(), va.max_business_days()), (Some(1), Some(2)));
    let fraud = policy::processing(Provider::Toss, PayMethod::VirtualAccount, &none.suspected_fraud(true));
    assert_eq!((fraud.min_business_days(), fraud.max_business_days()), (None, Some(9)));
    let transfer = policy::processing(Provider::Toss, PayMethod::AccountTransfer, &none);
    assert_eq!(
        (transfer.min_business_days(), transfer.max_business_days()),
        (Some(0), Some(0))
    );
}

#[test]
fn conditions_a_seed_does_not_mention_do_not_change_the_answer() {
    let flagged = Conditions::new()
        .suspected_fraud(true)
        .partial(true)
        .card_captured(true);
    // Seed 000 gives one virtual-account time with no conditions.
    assert_eq!(
        policy::processing(Provider::PortOneV2, PayMethod::VirtualAccount, &flagged),
        days(Some(1), 2)
    );
    // Seed 001's transfer and phone rows have no conditions.
    assert_eq!(
        policy::processing(Provider::Toss, PayMethod::AccountTransfer, &flagged),
        ProcessingTime::Immediate
    );
    assert_eq!(
        policy::processing(Provider::Toss, PayMethod::MobilePhone, &flagged),
        ProcessingTime::SameDay
    );
}

// ---------------------------------------------------------------------------------------------
// Virtual-account refund facts.
// ---------------------------------------------------------------------------------------------

#[test]
fn portone_v2_virtual_account_refund_facts() {
    let va = policy::virtual_account_refund(Provider::PortOneV2);
    let source = "seed 000, 결제 취소 정책 › 가상계좌 환불";
    assert_eq!(va.provider, Provider::PortOneV2);
    assert_eq!(va.refund_account, RefundAccountRule::Required, "{source}: 필수 정보");
    assert_eq!(
        va.holder_phone,
        HolderPhoneRule::RequiredWhenPgIsSmartro,
        "{source}: 스마트로"
    );
    assert_eq!(va.fee_per_refund_won, Some(300), "{source}: 건당 300원");
    assert_eq!(va.payment_fees_refunded, Some(false), "{source}");
    assert_eq!(
        va.special_contract,
        SpecialContract::RequiredExceptTossPayments,
        "{source}: 특약"
    );
    assert_eq!(va.partial_cancel_before_deposit, None, "{source} says nothing about it");
    assert_eq!(va.widget_refund_account_readable_for, None);
    // The seed's worked example: refunding 10,000 won costs the merchant 10,300 won.
    assert_eq!(va.merchant_outlay_won(10_000), Some(10_300), "{source}: worked example");
    assert_eq!(va.merchant_outlay_won(i64::MAX), None, "overflow is not a number");
}

#[test]
fn iamport_virtual_account_refund_facts() {
    let va = policy::virtual_account_refund(Provider::Iamport);
    assert_eq!(
        va.refund_account,
        RefundAccountRule::Required,
        "seed 002, 결제취소 API: refund_holder/bank/account"
    );
    assert_eq!(
        va.holder_phone,
        HolderPhoneRule::RequiredWhenPgIsSmartro,
        "seed 002, 결제취소 API: refund_tel"
    );
    assert_eq!(
        va.special_contract,
        SpecialContract::Required,
        "seed 002, 결제취소 API: 특약계약 필요"
    );
    assert_eq!(va.fee_per_refund_won, None, "no iamport seed states a fee");
    assert_eq!(va.merchant_outlay_won(10_000), None);
    assert_eq!(va.payment_fees_refunded, None);
    assert_eq!(va.partial_cancel_before_deposit, None);
}

#[test]
fn toss_virtual_account_refund_facts() {
    let va = policy::virtual_account_refund(Provider::Toss);
    assert_eq!(
        va.refund_account,
        RefundAccountRule::RequiredOnceDeposited,
        "seed 001, Case 1. 가상계좌 결제 환불하기"
    );
    assert_eq!(
        va.partial_cancel_before_deposit,
        Some(false),
        "seed 001, Case 1 and 부분 취소도 가능한가요?"
    );
    assert_eq!(
        va.widget_refund_account_readable_for,
        Some(TimeDelta::minutes(30)),
        "seed 001, Case 2. 결제위젯 환불 계좌 확인하기: 30분"
    );
    assert_eq!(
        va.special_contract,
        SpecialContract::NotRequired,
        "seed 000, 가상계좌 환불: Toss exception"
    );
    assert_eq!(
        va.payment_fees_refunded,
        Some(false),
        "seed 000, 가상계좌 환불: Toss exception"
    );
    assert_eq!(va.holder_phone, HolderPhoneRule::Unknown);
    assert_eq!(
        va.fee_per_refund_won, None,
        "the 300 won fee is stated for PortOne V2 only"
    );
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}
