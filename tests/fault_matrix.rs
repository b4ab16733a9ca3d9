//! The fault matrix: every fault a network can produce after (or before) the provider applied a refund, against
//! every kind of refund, under every retry policy, on all three providers — and a second worker sending the same
//! refund, or a different one, at the same time. For each run the sandbox's ledger (what the provider applied) is
//! compared with what the SDK reported:
//!
//! * **over-refunded**: more was applied than asked (two refunds, or a larger amount). Must never happen.
//! * **misreported**: the report contradicts the ledger: a success whose amount or cancellation is not the one
//!   applied, a success nobody's refund backs, two workers claiming one cancel, or "nothing applied" when this
//!   request's refund was applied. Must never happen.
//! * **unverified**: the SDK said it could not tell (outcome unknown, or `Unverified`). Allowed; the merchant then
//!   reads the payment. Where the provider's key or guard lets the SDK find out (PortOne V2 and Toss with any
//!   retrying policy, iamport with `checksum`), a single worker's run must end with a definitive report.
//!
//! Each run has a sandbox of its own, so faults and in-flight registries never cross runs; runs go in parallel with
//! short deadlines, so the whole matrix takes seconds.
#![cfg(feature = "sandbox")]

use kr_payments::Error;
use kr_payments::account::{AccountNumber, BankCode, HolderName};
use kr_payments::error::Delivery;
use kr_payments::refund::{Refund, RefundAccount, RefundError, RefundOutcome, RefundStatus, Refunds};
use kr_payments::sandbox::{self, AppliedCancel, Fault, FaultRule, Provider, Sandbox, SeedPayment};
use kr_payments::transport::RetryPolicy;
use reqwest::Method;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use wiremock::MockServer;

/// The deadline of every refund call: short, so stalls cost little.
const TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long the sandbox stalls after applying: past the first attempt's share of the deadline.
const STALL: Duration = Duration::from_millis(2_000);
const PAID: i64 = 10_000;
const VA_PAID: i64 = 20_000;
const PART: i64 = 3_000;
const REASON: &str = "matrix refund";
const OTHER_REASON: &str = "another item returned";
/// Runs at once. A loaded machine makes first attempts miss their share of the deadline: such a run honestly
/// reports "unknown", and the ones that must learn their outcome are run again alone before judging.
const PARALLEL_RUNS: usize = 8;

const PROVIDERS: [Provider; 3] = [Provider::PortOneV2, Provider::Iamport, Provider::Toss];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    GuardedPartial,
    UnguardedPartial,
    GuardedFull,
    UnguardedFull,
    VirtualAccount,
}

const SHAPES: [Shape; 5] = [
    Shape::GuardedPartial,
    Shape::UnguardedPartial,
    Shape::GuardedFull,
    Shape::UnguardedFull,
    Shape::VirtualAccount,
];

impl Shape {
    fn guarded(self) -> bool {
        matches!(self, Shape::GuardedPartial | Shape::GuardedFull)
    }

    /// What the refund may take, at most.
    fn asked(self) -> i64 {
        match self {
            Shape::GuardedPartial | Shape::UnguardedPartial => PART,
            Shape::GuardedFull | Shape::UnguardedFull => PAID,
            Shape::VirtualAccount => VA_PAID,
        }
    }
}

#[derive(Clone, Debug)]
enum Inject {
    DropBeforeApply,
    ResetAfterApply,
    StallAfterApply,
    Redirect { status: u16, cross_origin: bool },
    StatusAfterApply(u16),
    TruncatedAfterApply,
    HtmlAfterApply(u16),
}

fn injections() -> Vec<Inject> {
    let mut all = vec![
        Inject::DropBeforeApply,
        Inject::ResetAfterApply,
        Inject::StallAfterApply,
        Inject::TruncatedAfterApply,
        Inject::HtmlAfterApply(502),
    ];
    for status in [307, 308] {
        for cross_origin in [false, true] {
            all.push(Inject::Redirect { status, cross_origin });
        }
    }
    for status in [401, 429, 500, 502, 503] {
        all.push(Inject::StatusAfterApply(status));
    }
    all
}

impl Inject {
    fn fault(&self, sb: &Sandbox, provider: Provider, foreign: &str) -> Fault {
        match self {
            Inject::DropBeforeApply => Fault::DropBeforeApply,
            Inject::ResetAfterApply => Fault::DropConnection,
            Inject::StallAfterApply => Fault::Delay(STALL),
            Inject::TruncatedAfterApply => Fault::TruncatedBody,
            Inject::HtmlAfterApply(status) => Fault::HtmlAfterApply(*status),
            Inject::StatusAfterApply(status) => Fault::StatusAfterApply(*status),
            Inject::Redirect { status, cross_origin } => Fault::RedirectAfterApply {
                status: *status,
                location: if *cross_origin {
                    format!("{foreign}/collect")
                } else {
                    format!("{}/moved", sb.origin(provider))
                },
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    Never,
    Safe,
    Aggressive,
}

impl Policy {
    fn retry(self) -> RetryPolicy {
        match self {
            Policy::Never => RetryPolicy::Never,
            Policy::Safe => RetryPolicy::Safe {
                max_attempts: 3,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(50),
            },
            // Retries everything it is asked about, at once, many times.
            Policy::Aggressive => RetryPolicy::Custom(Arc::new(|ctx| (ctx.attempt < 8).then_some(Duration::ZERO))),
        }
    }
}

/// What the SDK said happened to the money.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Report {
    Refunded { amount: i64, cancellation: String },
    NotApplied,
    Unknown(&'static str),
}

fn report_of(result: Result<RefundOutcome, RefundError>) -> Report {
    match result {
        Ok(o) => match o.status {
            RefundStatus::Succeeded | RefundStatus::Requested => Report::Refunded {
                amount: o.refunded_amount,
                cancellation: o.cancellation_id.unwrap_or_default(),
            },
            RefundStatus::Failed => Report::NotApplied,
            _ => Report::Unknown("an outcome of unknown status"),
        },
        Err(e) => report_of_error(&e.error),
    }
}

fn report_of_error<E>(e: &Error<E>) -> Report {
    match (e, e.delivery()) {
        (Error::Unverified(_), _) => Report::Unknown("unverified"),
        (_, Delivery::NotSent | Delivery::Refused) => Report::NotApplied,
        (_, _) => Report::Unknown("outcome unknown"),
    }
}

struct Clients {
    portone: kr_payments::portone_v2::Client,
    iamport: kr_payments::iamport::Client,
    toss: kr_payments::toss::Client,
}

/// One HTTP client for every run: building one loads the TLS roots, which would dominate the matrix's time. Built
/// as the crate asks of a client it is given: no redirects followed.
fn http() -> reqwest::Client {
    static HTTP: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    })
    .clone()
}

fn clients(sb: &Sandbox, policy: Policy) -> Clients {
    Clients {
        portone: kr_payments::portone_v2::Client::builder()
            .http_client(http())
            .secret(sandbox::DEFAULT_PORTONE_SECRET)
            .base_url(sb.origin(Provider::PortOneV2))
            .timeout(TIMEOUT)
            .retry(policy.retry())
            .build()
            .unwrap(),
        iamport: kr_payments::iamport::Client::builder()
            .http_client(http())
            .imp_key(sandbox::DEFAULT_IMP_KEY)
            .imp_secret(sandbox::DEFAULT_IMP_SECRET)
            .base_url(sb.origin(Provider::Iamport))
            .timeout(TIMEOUT)
            .retry(policy.retry())
            .build()
            .unwrap(),
        toss: kr_payments::toss::Client::builder()
            .http_client(http())
            .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
            .base_url(sb.origin(Provider::Toss))
            .timeout(TIMEOUT)
            .retry(policy.retry())
            .build()
            .unwrap(),
    }
}

fn bank(p: Provider) -> &'static str {
    match p {
        Provider::PortOneV2 => "SHINHAN",
        Provider::Iamport => "088",
        _ => "88",
    }
}

/// Sends one refund of `shape` through the SDK and says what it reported.
async fn refund(c: &Clients, p: Provider, id: &str, shape: Shape, amount: i64, reason: &str) -> Report {
    let neutral = match shape {
        Shape::GuardedPartial => Refund::partial(amount, PAID, reason),
        Shape::GuardedFull => Refund::full(reason).expected_balance(PAID),
        Shape::UnguardedFull => Refund::full(reason),
        Shape::VirtualAccount => Refund::full(reason).to_account(RefundAccount::new(
            BankCode::new(bank(p)),
            AccountNumber::new("1234567890"),
            HolderName::new("홍길동"),
        )),
        // The neutral API always guards a partial refund: an unguarded one goes through each facade.
        Shape::UnguardedPartial => return unguarded_partial(c, p, id, amount, reason).await,
    };
    report_of(match p {
        Provider::PortOneV2 => c.portone.refund(id, &neutral).await,
        Provider::Iamport => c.iamport.refund(id, &neutral).await,
        _ => c.toss.refund(id, &neutral).await,
    })
}

async fn unguarded_partial(c: &Clients, p: Provider, id: &str, amount: i64, reason: &str) -> Report {
    match p {
        Provider::PortOneV2 => match c
            .portone
            .cancel_payment(kr_payments::portone_v2::PaymentId::new(id), reason)
            .amount(amount)
            .send()
            .await
        {
            Ok(kr_payments::portone_v2::CancelOutcome::Succeeded(c)) => Report::Refunded {
                amount: c.total_amount,
                cancellation: c.id,
            },
            Ok(other) => panic!("unexpected PortOne outcome {other:?}"),
            Err(e) => report_of_error(&e),
        },
        Provider::Iamport => {
            let sent = c
                .iamport
                .cancel_payment(kr_payments::iamport::ImpUid::new(id), reason)
                .amount(amount)
                .send_with_warnings()
                .await;
            match sent {
                Ok(done) => Report::Refunded {
                    amount: done.refunded,
                    cancellation: done.entry().and_then(|e| e.cancellation_id.clone()).unwrap_or_default(),
                },
                Err(e) => report_of_error(&e),
            }
        }
        _ => match c
            .toss
            .cancel_payment(kr_payments::toss::PaymentKey::new(id), reason)
            .amount(amount)
            .send()
            .await
        {
            Ok(done) => {
                let cancel = done.cancel().expect("the facade checked the entry");
                Report::Refunded {
                    amount: cancel.cancel_amount,
                    cancellation: cancel.transaction_key.clone(),
                }
            }
            Err(e) => report_of_error(&e),
        },
    }
}

/// The id a report names an applied cancel by, per provider.
fn ledger_id(p: Provider, c: &AppliedCancel) -> &str {
    match p {
        Provider::Toss => &c.transaction_key,
        _ => &c.cancellation_id,
    }
}

/// One run's verdict.
#[derive(Default, Debug)]
struct Verdict {
    over: bool,
    misreported: Option<String>,
    unverified: bool,
}

/// Compares the reports of every worker of one run with the ledger of the payment they refunded.
fn judge(p: Provider, ceiling: i64, reports: &[Report], ledger: &[AppliedCancel]) -> Verdict {
    let applied: i64 = ledger.iter().map(|c| c.amount).sum();
    let mut v = Verdict {
        over: ledger.len() > reports.len() || applied > ceiling,
        unverified: reports.iter().any(|r| matches!(r, Report::Unknown(_))),
        ..Verdict::default()
    };
    let mut claimed = Vec::new();
    for r in reports {
        if let Report::Refunded { amount, cancellation } = r {
            match ledger.iter().find(|c| ledger_id(p, c) == cancellation) {
                None => v.misreported = Some(format!("a success for {cancellation:?}, which was not applied")),
                Some(c) if c.amount != *amount => {
                    v.misreported = Some(format!("{amount} reported, {} applied", c.amount))
                }
                Some(_) if claimed.contains(cancellation) => {
                    v.misreported = Some(format!("two workers claim cancel {cancellation:?}"))
                }
                Some(_) => claimed.push(cancellation.clone()),
            }
        }
    }
    let unknowns = reports.iter().filter(|r| matches!(r, Report::Unknown(_))).count();
    let unclaimed = ledger.len().saturating_sub(claimed.len());
    if unclaimed > unknowns {
        v.misreported = Some(format!(
            "{unclaimed} applied cancel(s) nobody reports, {unknowns} outcome(s) unknown: {reports:?}"
        ));
    }
    v
}

/// A second worker, started while the first one's faulted attempt is under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Second {
    Alone,
    SameRefund,
    DifferentRefund,
}

#[derive(Clone, Debug)]
struct Case {
    provider: Provider,
    inject: Inject,
    shape: Shape,
    policy: Policy,
    second: Second,
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} / {:?} / {:?} / {:?} / {:?}",
            self.provider, self.inject, self.shape, self.policy, self.second
        )
    }
}

struct Ran {
    case: Case,
    reports: Vec<Report>,
    verdict: Verdict,
    took: Duration,
}

async fn run(case: Case, foreign: String) -> Ran {
    let started = std::time::Instant::now();
    let sb = Sandbox::builder()
        .toss_cancel_interval(Some(sandbox::TOSS_CANCEL_INTERVAL))
        .start()
        .await
        .unwrap();
    let p = case.provider;
    let seed = match case.shape {
        Shape::VirtualAccount => SeedPayment::virtual_account("order-matrix", VA_PAID),
        _ => SeedPayment::card("order-matrix", PAID),
    };
    let id = sb.seed(seed.provider(p));
    sb.faults().add(
        FaultRule::new(case.inject.fault(&sb, p, &foreign))
            .provider(p)
            .method(Method::POST)
            .path_contains("cancel"),
    );
    let first = clients(&sb, case.policy);
    let reports = match case.second {
        Second::Alone => vec![refund(&first, p, &id, case.shape, PART, REASON).await],
        second => {
            let second_clients = clients(&sb, Policy::Safe);
            let (amount, reason) = match second {
                Second::SameRefund => (PART, REASON),
                _ => (1_000, OTHER_REASON),
            };
            let a = refund(&first, p, &id, Shape::GuardedPartial, PART, REASON);
            let b = async {
                // Start once the first worker's faulted attempt reached the provider.
                for _ in 0..100 {
                    if sb.faults().pending() == 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                refund(&second_clients, p, &id, Shape::GuardedPartial, amount, reason).await
            };
            let (a, b) = tokio::join!(a, b);
            vec![a, b]
        }
    };
    let ceiling = match case.second {
        Second::Alone => case.shape.asked(),
        // Both guard the same balance: at most one of the two can be applied.
        _ => PART,
    };
    let ledger = sb.cancels(&id);
    let verdict = judge(p, ceiling, &reports, &ledger);
    Ran {
        case,
        reports,
        verdict,
        took: started.elapsed(),
    }
}

/// Whether the SDK has what it needs to learn the outcome of this run by itself: an idempotency key (PortOne V2,
/// Toss) or a `checksum` (iamport), a policy that may ask again, and no second worker to confuse the evidence.
fn must_be_definitive(case: &Case) -> bool {
    case.second == Second::Alone
        && case.policy != Policy::Never
        && (case.provider != Provider::Iamport || case.shape.guarded())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_matrix_never_over_refunds_and_never_misreports() {
    // Any request reaching this server would be a refund, a token body or a credential sent to another origin.
    let foreign = MockServer::start().await;
    let mut cases = Vec::new();
    for provider in PROVIDERS {
        for inject in injections() {
            for policy in [Policy::Never, Policy::Safe, Policy::Aggressive] {
                for shape in SHAPES {
                    cases.push(Case {
                        provider,
                        inject: inject.clone(),
                        shape,
                        policy,
                        second: Second::Alone,
                    });
                }
                for second in [Second::SameRefund, Second::DifferentRefund] {
                    cases.push(Case {
                        provider,
                        inject: inject.clone(),
                        shape: Shape::GuardedPartial,
                        policy,
                        second,
                    });
                }
            }
        }
    }
    // `FAULT_MATRIX_ONLY=<text>` runs only the cases whose description contains it, and prints each (for debugging).
    let only = std::env::var("FAULT_MATRIX_ONLY").ok();
    if only.is_some() {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_test_writer()
            .try_init();
    }
    if let Some(only) = &only {
        cases.retain(|c| c.to_string().contains(only.as_str()));
    }
    let parallel = std::env::var("FAULT_MATRIX_PARALLEL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(PARALLEL_RUNS);
    let permits = Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::new();
    for case in cases {
        let permits = permits.clone();
        let foreign = foreign.uri();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            run(case, foreign).await
        }));
    }
    let mut ran = Vec::new();
    for t in tasks {
        ran.push(t.await.unwrap());
    }

    if only.is_some() {
        for r in &ran {
            println!("  {} took {:?}: {:?} -> {:?}", r.case, r.took, r.reports, r.verdict);
        }
    }
    let total = ran.len();
    let over: Vec<&Ran> = ran.iter().filter(|r| r.verdict.over).collect();
    let misreported: Vec<&Ran> = ran.iter().filter(|r| r.verdict.misreported.is_some()).collect();
    let unverified = ran.iter().filter(|r| r.verdict.unverified).count();
    println!(
        "fault matrix: {total} runs, {} over-refunded, {} misreported, {unverified} unverified",
        over.len(),
        misreported.len()
    );
    for provider in PROVIDERS {
        for policy in [Policy::Never, Policy::Safe, Policy::Aggressive] {
            let of = |r: &&Ran| r.case.provider == provider && r.case.policy == policy;
            let runs = ran.iter().filter(of).count();
            let u = ran.iter().filter(of).filter(|r| r.verdict.unverified).count();
            println!("  {provider:?} / {policy:?}: {runs} runs, {u} unverified");
        }
    }
    let mut slowest: Vec<&Ran> = ran.iter().collect();
    slowest.sort_by_key(|r| std::cmp::Reverse(r.took));
    for r in slowest.iter().take(5) {
        println!("  slowest {:?}: {}", r.took, r.case);
    }
    for r in over.iter().chain(misreported.iter()) {
        println!("  FAILED {}: {:?} -> {:?}", r.case, r.reports, r.verdict);
    }
    // A run that must learn its outcome but did not may have lost its attempts to the machine's load rather than to
    // the injected fault: run each again alone. Over-refunds and misreports were already judged on every run.
    let mut undecided = Vec::new();
    for r in ran
        .iter()
        .filter(|r| must_be_definitive(&r.case) && r.verdict.unverified)
    {
        let again = run(r.case.clone(), foreign.uri()).await;
        assert!(
            !again.verdict.over,
            "{} refunded more than asked when run alone",
            again.case
        );
        assert!(
            again.verdict.misreported.is_none(),
            "{} misreported when run alone: {:?}",
            again.case,
            again.verdict
        );
        if again.verdict.unverified {
            undecided.push(again);
        }
    }
    println!(
        "  {} undecided under load, decided when run alone",
        ran.iter()
            .filter(|r| must_be_definitive(&r.case) && r.verdict.unverified)
            .count()
            - undecided.len()
    );
    for r in &undecided {
        println!("  UNDECIDED {}: {:?}", r.case, r.reports);
    }
    assert!(only.is_some() || total >= 500, "{total} runs");
    assert!(over.is_empty(), "{} runs refunded more than asked", over.len());
    assert!(misreported.is_empty(), "{} runs misreported", misreported.len());
    assert!(
        undecided.is_empty(),
        "{} runs with a key or guard and a retrying policy did not learn their outcome",
        undecided.len()
    );
    let leaked = foreign.received_requests().await.unwrap_or_default();
    assert!(
        leaked.is_empty(),
        "a redirect sent {} request(s) to another origin",
        leaked.len()
    );
}
