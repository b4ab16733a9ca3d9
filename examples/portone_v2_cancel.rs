//! Refund all or part of a PortOne V2 payment, the way a back-office "refund" button should.
//!
//! ```text
//! PORTONE_API_SECRET=... cargo run --example portone_v2_cancel -- <payment-id> [amount] [base-url]
//! ```
//!
//! * Without `amount`, everything still refundable is cancelled.
//! * `base-url` defaults to `http://127.0.0.1:8080/portone-v2`, the local fake started with
//!   `cargo run --features sandbox --bin kr-payments-sandbox -- --port 8080`. Pass `https://api.portone.io` only
//!   when you mean to move real money.
//! * `PORTONE_STORE_ID` sets the store, for secrets that cover several.
//! * Without `PORTONE_API_SECRET` it prints this help and exits successfully, so it is harmless to run anywhere.
//!
//! The steps: read the payment, take the balance PortOne reports, and send the cancel with that balance as its
//! guard. If anything was refunded in between, PortOne refuses instead of refunding twice, and the program says
//! so. The outcome is matched in full: an HTTP 200 may still be a failed or pending cancel.

#[cfg(not(feature = "portone-v2"))]
fn main() {
    eprintln!("this example needs the `portone-v2` feature");
}

#[cfg(feature = "portone-v2")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    demo::run().await
}

#[cfg(feature = "portone-v2")]
mod demo {
    use kr_payments::Error;
    use kr_payments::portone_v2::payment::PaymentMethodType;
    use kr_payments::portone_v2::{CancelOutcome, CancelPaymentError, Client, PaymentExt};
    use std::process::ExitCode;

    const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/portone-v2";
    const USAGE: &str = "usage: PORTONE_API_SECRET=... portone_v2_cancel <payment-id> [amount] [base-url]";

    pub async fn run() -> ExitCode {
        let Some(secret) = std::env::var("PORTONE_API_SECRET")
            .ok()
            .filter(|s| !s.trim().is_empty())
        else {
            println!("{USAGE}\nPORTONE_API_SECRET is not set: nothing to do.");
            return ExitCode::SUCCESS;
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let Some(payment_id) = args.first() else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        let amount = match args.get(1).map(|a| a.parse::<i64>()) {
            None => None,
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => {
                eprintln!("amount must be whole won, e.g. 3000");
                return ExitCode::from(2);
            }
        };
        let base_url = args.get(2).map_or(DEFAULT_BASE_URL, String::as_str);

        let mut builder = Client::builder().secret(secret).base_url(base_url);
        if let Ok(store) = std::env::var("PORTONE_STORE_ID") {
            builder = builder.store_id(store);
        }
        let client = match builder.build() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("cannot create the client: {e}");
                return ExitCode::FAILURE;
            }
        };

        let payment = match client
            .get_payment(&kr_payments::portone_v2::PaymentId::new(payment_id))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cannot read payment {payment_id}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let Some(balance) = payment.cancellable_amount() else {
            eprintln!(
                "payment {payment_id} has status {} and no amounts this program can read",
                payment.status()
            );
            return ExitCode::FAILURE;
        };
        println!(
            "payment {payment_id}: {}, paid {} won, cancelled {} won, {balance} won refundable",
            payment.status(),
            payment.paid_amount().unwrap_or(0),
            payment.cancelled_amount().unwrap_or(0),
        );
        if balance == 0 {
            println!("nothing to refund");
            return ExitCode::SUCCESS;
        }
        if payment.method_type() == Some(PaymentMethodType::VirtualAccount) {
            eprintln!(
                "virtual-account payments are refunded into an account the customer names: \
                 use Client::refund_virtual_account with a RefundAccount"
            );
            return ExitCode::FAILURE;
        }

        // Always guarded, even for a full cancel: the stated balance makes a retry harmless.
        let request = match amount {
            Some(a) => client.partial_cancel(
                kr_payments::portone_v2::PaymentId::new(payment_id),
                a,
                balance,
                "refund from the back office",
            ),
            None => client
                .full_cancel(
                    kr_payments::portone_v2::PaymentId::new(payment_id),
                    "refund from the back office",
                )
                .current_cancellable_amount(balance),
        };
        match request.send().await {
            Ok(CancelOutcome::Succeeded(c)) => {
                println!("refunded {} won (cancellation {})", c.total_amount, c.id);
                if let Some(url) = c.receipt_url {
                    println!("receipt: {url}");
                }
                ExitCode::SUCCESS
            }
            Ok(CancelOutcome::Requested(c)) => {
                println!(
                    "cancellation {} is pending at the PG; the Transaction.Cancelled webhook will confirm it",
                    c.id
                );
                ExitCode::SUCCESS
            }
            Ok(CancelOutcome::Failed(c)) => {
                eprintln!("cancellation {} failed: nothing was refunded", c.id);
                ExitCode::FAILURE
            }
            Ok(other) => {
                eprintln!(
                    "cancel came back with status {}, unknown to this version: check the dashboard",
                    other.status()
                );
                ExitCode::FAILURE
            }
            Err(Error::InvalidRequest(e)) => {
                eprintln!("not sent: {e}");
                ExitCode::from(2)
            }
            Err(e)
                if matches!(
                    e.api(),
                    Some(CancelPaymentError::CancellableAmountConsistencyBroken { .. })
                ) =>
            {
                eprintln!("the balance changed since it was read; nothing was refunded. Read the payment again.");
                ExitCode::FAILURE
            }
            Err(e) if e.is_timeout() => {
                eprintln!("no answer in time: the refund may or may not have happened. Read the payment again.");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("cancel refused: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
