//! The refund tour: every refund story the providers' guides tell, run against the embedded sandbox.
//!
//! ```sh
//! cargo run --example refund_tour --features sandbox
//! ```
//!
//! No network and no keys: the sandbox speaks PortOne V2, iamport and Toss on 127.0.0.1. For each provider the tour
//! seeds a card, a virtual-account and a mobile-phone payment, then, through the provider-neutral
//! [`kr_payments::refund::Refunds`] API (the same code for all three clients):
//!
//! 1. refunds 3,000 of a 10,000 card payment, stating the balance it believes in (10,000);
//! 2. refunds 2,000 more, stating the new balance (7,000);
//! 3. replays step 2 with the stale balance (7,000): the provider refuses it, nothing is refunded twice;
//! 4. fully cancels the phone payment (possible only in the month it was paid);
//! 5. refunds the virtual-account payment to a bank account.
//!
//! For PortOne V2 it also receives the `Transaction.*Cancelled` webhooks the sandbox sends and verifies their
//! Standard Webhooks signatures. It prints a table per provider and exits non-zero if any step deviates from what
//! the providers document.

use chrono::Utc;
use kr_payments::policy::{self, PayMethod};
use kr_payments::portone_v2::webhook::{Event, Secret, Verifier};
use kr_payments::refund::{Refund, RefundAccount, RefundError, RefundOutcome, RefundStatus, Refunds};
use kr_payments::sandbox::{self, Provider, Sandbox, SeedPayment};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WEBHOOK_SECRET: &[u8] = b"refund-tour-webhook-secret";

/// What a step expects.
enum Expect {
    Refunded { amount: i64, balance_after: i64 },
    Refused { code: &'static str },
}

struct Row {
    step: String,
    request: String,
    outcome: String,
    balance: String,
    deadline: String,
    ok: bool,
}

/// The story, written once against the neutral API: only the client and the ids differ per provider.
async fn story<C: Refunds>(client: &C, ids: &Ids, codes: &Codes, provider: policy::Provider) -> Vec<Row> {
    let steps: Vec<(&str, &str, Refund, Expect, PayMethod)> = vec![
        (
            "1 partial",
            &ids.card,
            Refund::partial(3_000, 10_000, "한 개 반품"),
            Expect::Refunded {
                amount: 3_000,
                balance_after: 7_000,
            },
            PayMethod::Card,
        ),
        (
            "2 partial",
            &ids.card,
            Refund::partial(2_000, 7_000, "한 개 더 반품"),
            Expect::Refunded {
                amount: 2_000,
                balance_after: 5_000,
            },
            PayMethod::Card,
        ),
        (
            "3 stale balance",
            &ids.card,
            Refund::partial(2_000, 7_000, "한 개 더 반품"),
            Expect::Refused {
                code: codes.balance_mismatch,
            },
            PayMethod::Card,
        ),
        (
            "4 full (phone)",
            &ids.phone,
            Refund::full("주문 취소"),
            Expect::Refunded {
                amount: 5_500,
                balance_after: 0,
            },
            PayMethod::MobilePhone,
        ),
        (
            "5 virtual account",
            &ids.vbank,
            Refund::full("주문 취소").to_account(
                RefundAccount::new(
                    kr_payments::account::BankCode::new(codes.bank),
                    kr_payments::account::AccountNumber::new("1234567890123"),
                    kr_payments::account::HolderName::new("홍길동"),
                )
                .holder_phone(kr_payments::account::PhoneNumber::new("01012345678")),
            ),
            Expect::Refunded {
                amount: 20_000,
                balance_after: 0,
            },
            PayMethod::VirtualAccount,
        ),
    ];
    let mut rows = Vec::new();
    for (step, id, refund, expect, method) in steps {
        let result = client.refund(id, &refund).await;
        let deadline = policy::deadline(provider, method, Utc::now());
        let processing = policy::processing(provider, method, &policy::Conditions::new());
        rows.push(row(
            step,
            &refund,
            &result,
            &expect,
            format!("{deadline}; {processing}"),
        ));
    }
    rows
}

fn row(
    step: &str,
    refund: &Refund,
    result: &Result<RefundOutcome, RefundError>,
    expect: &Expect,
    deadline: String,
) -> Row {
    let request = match &refund.amount {
        kr_payments::refund::RefundAmount::Partial {
            amount,
            expected_balance,
        } => {
            format!("refund {amount} of balance {expected_balance}")
        }
        _ if refund.account.is_some() => "full, to a bank account".to_string(),
        _ => "full".to_string(),
    };
    let (outcome, balance, ok) = match (result, expect) {
        (Ok(o), Expect::Refunded { amount, balance_after }) => (
            format!("{:?}, {} won back", o.status, o.refunded_amount),
            o.remaining_balance.map_or("?".into(), |b| b.to_string()),
            o.status == RefundStatus::Succeeded
                && o.refunded_amount == *amount
                && o.remaining_balance == Some(*balance_after),
        ),
        (Err(e), Expect::Refused { code }) => {
            let got = e.api().map_or("(no API answer)".to_string(), |p| p.code.clone());
            (format!("refused: {got}"), "unchanged".into(), got == *code)
        }
        (Ok(o), Expect::Refused { .. }) => (format!("UNEXPECTED success {:?}", o.status), "?".into(), false),
        (Err(e), Expect::Refunded { .. }) => (format!("UNEXPECTED error: {e}"), "?".into(), false),
    };
    Row {
        step: step.into(),
        request,
        outcome,
        balance,
        deadline,
        ok,
    }
}

struct Ids {
    card: String,
    phone: String,
    vbank: String,
}

/// What differs per provider in the story: error codes and bank codes are the provider's own.
struct Codes {
    balance_mismatch: &'static str,
    bank: &'static str,
}

fn seed(sandbox: &Sandbox, provider: Provider, tag: &str) -> Ids {
    Ids {
        card: sandbox.seed(SeedPayment::card(format!("{tag}-card"), 10_000).provider(provider)),
        phone: sandbox.seed(SeedPayment::mobile_phone(format!("{tag}-phone"), 5_500).provider(provider)),
        vbank: sandbox.seed(
            SeedPayment::virtual_account(format!("{tag}-vbank"), 20_000)
                .provider(provider)
                .pg("smartro"),
        ),
    }
}

fn print_table(title: &str, rows: &[Row]) -> bool {
    println!("\n{title}");
    println!(
        "{:<18} {:<28} {:<46} {:<10} cancel deadline / refund time",
        "step", "request", "outcome", "balance"
    );
    for r in rows {
        let mark = if r.ok { "" } else { "  <-- NOT AS DOCUMENTED" };
        println!(
            "{:<18} {:<28} {:<46} {:<10} {}{mark}",
            r.step, r.request, r.outcome, r.balance, r.deadline
        );
    }
    rows.iter().all(|r| r.ok)
}

/// A tiny webhook endpoint that verifies every delivery, as a merchant's server would.
async fn webhook_receiver(received: Arc<Mutex<Vec<Result<Event, String>>>>) -> std::io::Result<String> {
    use axum::{body::Bytes, http::HeaderMap, routing::post};
    let verifier = Verifier::new(Secret::from_bytes(WEBHOOK_SECRET));
    let app = axum::Router::new().route(
        "/webhooks/portone",
        post(move |headers: HeaderMap, body: Bytes| {
            let verifier = verifier.clone();
            let received = received.clone();
            async move {
                let result = verifier.verify(&body, &headers).map_err(|e| e.to_string());
                let status = if result.is_ok() { 200 } else { 400 };
                if let Ok(mut r) = received.lock() {
                    r.push(result);
                }
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/webhooks/portone", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => {
            println!("\nevery step behaved as the providers document");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("\nsome steps deviated from the documented behaviour (marked above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("refund tour failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    println!(
        "sandbox on {} (PortOne V2, iamport and Toss on one loopback port)",
        sandbox.base_url()
    );
    let received = Arc::new(Mutex::new(Vec::new()));
    sandbox.register_webhook(webhook_receiver(received.clone()).await?, WEBHOOK_SECRET.to_vec());

    let portone = kr_payments::portone_v2::Client::builder()
        .secret(sandbox::DEFAULT_PORTONE_SECRET)
        .store_id(sandbox::DEFAULT_STORE_ID)
        .base_url(sandbox.base_url_portone_v2())
        .build()?;
    let iamport = kr_payments::iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret(sandbox::DEFAULT_IMP_SECRET)
        .base_url(sandbox.base_url_iamport())
        .build()?;
    let toss = kr_payments::toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sandbox.base_url_toss())
        .build()?;

    let mut all_ok = true;
    let ids = seed(&sandbox, Provider::PortOneV2, "v2");
    let codes = Codes {
        balance_mismatch: "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
        bank: "SHINHAN",
    };
    let rows = story(&portone, &ids, &codes, policy::Provider::PortOneV2).await;
    all_ok &= print_table(
        "PortOne V2  (currentCancellableAmount guards every partial refund)",
        &rows,
    );

    let ids = seed(&sandbox, Provider::Iamport, "v1");
    // iamport answers every failure with HTTP 200 and a non-zero `code`; the SDK turns it into an error.
    let codes = Codes {
        balance_mismatch: "1",
        bank: "088",
    };
    let rows = story(&iamport, &ids, &codes, policy::Provider::Iamport).await;
    all_ok &= print_table("iamport  (checksum guards every partial refund)", &rows);

    let ids = seed(&sandbox, Provider::Toss, "toss");
    let codes = Codes {
        balance_mismatch: "NOT_MATCHES_REFUNDABLE_AMOUNT",
        bank: "88",
    };
    let rows = story(&toss, &ids, &codes, policy::Provider::Toss).await;
    all_ok &= print_table(
        "Toss  (refundableAmount + Idempotency-Key guard every partial refund)",
        &rows,
    );

    // PortOne delivers webhooks asynchronously: give them a moment to arrive.
    let expected = 4; // two partial refunds, the phone cancel, the virtual-account refund
    for _ in 0..50 {
        if received.lock().map(|r| r.len()).unwrap_or(0) >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = received.lock().map(|r| r.clone()).unwrap_or_default();
    println!("\nPortOne V2 webhooks received by the merchant endpoint:");
    let mut webhooks_ok = received.len() == expected;
    for r in &received {
        match r {
            Ok(event) => println!(
                "  verified  {:<32} payment {}",
                event.event_type(),
                event.payment_id().unwrap_or("?")
            ),
            Err(e) => {
                webhooks_ok = false;
                println!("  REJECTED  {e}");
            }
        }
    }
    if !webhooks_ok {
        println!("  expected {expected} verified deliveries, got {}", received.len());
    }
    sandbox.shutdown().await;
    Ok(all_ok && webhooks_ok)
}
