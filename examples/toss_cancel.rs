//! Cancels a Toss payment, in full or in part, the safe way: read the payment, check the cancel against it, send
//! it with an idempotency key, and resend with the same key if the answer is lost.
//!
//! ```text
//! TOSS_SECRET_KEY=test_sk_... TOSS_PAYMENT_KEY=... [TOSS_CANCEL_AMOUNT=1000] [TOSS_CANCEL_REASON=...] \
//!   [TOSS_REFUND_BANK=20 TOSS_REFUND_ACCOUNT=1002345678901 TOSS_REFUND_HOLDER=...] \
//!   [TOSS_BASE_URL=http://127.0.0.1:8080/toss] [TOSS_ALLOW_LIVE=1] \
//!   cargo run --example toss_cancel
//! ```
//!
//! Without `TOSS_SECRET_KEY` it prints this usage and exits successfully. A live key (`live_sk_...`) moves real
//! money and is refused unless `TOSS_ALLOW_LIVE=1`.

use kr_payments::toss::{Client, Mode, RefundReceiveAccount};
use std::env;
use std::process::ExitCode;

const USAGE: &str = "\
usage: TOSS_SECRET_KEY=test_sk_... TOSS_PAYMENT_KEY=<paymentKey> cargo run --example toss_cancel

optional:
  TOSS_CANCEL_AMOUNT   won to cancel (default: everything left)
  TOSS_CANCEL_REASON   reason sent to Toss (default: \"requested by the merchant\")
  TOSS_REFUND_BANK, TOSS_REFUND_ACCOUNT, TOSS_REFUND_HOLDER
                       refund account, needed for a virtual account that was paid into
  TOSS_BASE_URL        another API address (a sandbox)
  TOSS_ALLOW_LIVE=1    allow a live_sk_ key (real refunds)";

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(secret_key) = env::var("TOSS_SECRET_KEY") else {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    };
    match run(secret_key).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(secret_key: String) -> Result<(), Box<dyn std::error::Error>> {
    let payment_key = env::var("TOSS_PAYMENT_KEY").map_err(|_| format!("TOSS_PAYMENT_KEY is not set\n\n{USAGE}"))?;
    let mut builder = Client::builder().secret_key(secret_key);
    if let Ok(url) = env::var("TOSS_BASE_URL") {
        builder = builder.base_url(url);
    }
    let client = builder.build()?;
    if client.mode() == Mode::Live && env::var("TOSS_ALLOW_LIVE").as_deref() != Ok("1") {
        return Err("a live key refunds real money; set TOSS_ALLOW_LIVE=1 if that is what you want".into());
    }

    let payment = client
        .get_payment(&kr_payments::toss::PaymentKey::new(payment_key.clone()))
        .await?;
    println!(
        "payment {} ({:?}, {}): total {} won, balance {} won, cancelled so far {} won",
        payment.order_id(),
        payment.method(),
        payment.status(),
        payment.total(),
        payment.balance(),
        payment.cancelled_total()
    );

    let reason = env::var("TOSS_CANCEL_REASON").unwrap_or_else(|_| "requested by the merchant".into());
    let mut cancel = match env::var("TOSS_CANCEL_AMOUNT") {
        Ok(amount) => client.partial_cancel(&payment, amount.parse()?, payment.balance(), reason),
        Err(_) => client.full_cancel(&payment, reason),
    };
    if let (Ok(bank), Ok(number), Ok(holder)) = (
        env::var("TOSS_REFUND_BANK"),
        env::var("TOSS_REFUND_ACCOUNT"),
        env::var("TOSS_REFUND_HOLDER"),
    ) {
        cancel = cancel.refund_receive_account(RefundReceiveAccount::new(
            kr_payments::account::BankCode::new(bank),
            kr_payments::account::AccountNumber::new(number),
            kr_payments::account::HolderName::new(holder),
        ));
    } else if let Some(account) = payment.widget_refund_account() {
        cancel = cancel.refund_receive_account(account);
    }

    // Checked here, before anything is sent; the key is fixed from now on.
    let cancel = cancel.prepare()?;
    println!("sending cancel with Idempotency-Key {}", cancel.idempotency_key());
    let done = match cancel.send().await {
        Ok(done) => done,
        // The refund may or may not have happened: the same key makes a second try harmless.
        Err(e) if e.is_timeout() || e.is_retryable() => {
            eprintln!("first attempt failed ({e}); sending again with the same key");
            cancel.send().await?
        }
        Err(e) => return Err(e.into()),
    };

    println!(
        "done: status {}, balance {} won, this cancel {} won (key {})",
        done.payment.status(),
        done.payment.balance(),
        done.cancel().map_or(0, |c| c.cancel_amount),
        done.idempotency_key
    );
    Ok(())
}
