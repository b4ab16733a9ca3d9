//! Cancels an iamport payment, in full or in part.
//!
//! ```text
//! IAMPORT_IMP_KEY=... IAMPORT_IMP_SECRET=... cargo run --example iamport_cancel -- <imp_uid> [<amount> <balance>]
//! ```
//!
//! With only `imp_uid`, everything left is cancelled. With `amount` and `balance` (what can still be cancelled
//! before this cancel, as your records have it), a partial cancel guarded by `checksum`. Set `IAMPORT_BASE_URL`
//! to aim at a sandbox instead of the real API. Without credentials it prints this usage and exits.

use kr_payments::iamport::{Client, ImpUid};

const USAGE: &str = "usage: IAMPORT_IMP_KEY=... IAMPORT_IMP_SECRET=... \
cargo run --example iamport_cancel -- <imp_uid> [<amount> <balance>]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Ok(key), Ok(secret), Some(imp_uid)) = (
        std::env::var("IAMPORT_IMP_KEY"),
        std::env::var("IAMPORT_IMP_SECRET"),
        args.first(),
    ) else {
        println!("{USAGE}");
        return Ok(());
    };
    let mut builder = Client::builder().imp_key(key).imp_secret(secret);
    if let Ok(url) = std::env::var("IAMPORT_BASE_URL") {
        builder = builder.base_url(url);
    }
    let client = builder.build()?;
    let payment = ImpUid::new(imp_uid.as_str());

    let request = match (args.get(1), args.get(2)) {
        (None, None) => client.full_cancel(payment, "cancelled from the kr-payments example"),
        (Some(amount), Some(balance)) => client.partial_cancel(
            payment,
            amount.parse()?,
            balance.parse()?,
            "partially cancelled from the kr-payments example",
        ),
        _ => {
            println!("{USAGE}");
            return Ok(());
        }
    };

    match request.send().await {
        Ok(payment) => {
            println!(
                "status {}, cancelled {} won in total, {} won left",
                payment.status.as_ref().map_or("?", |s| s.as_str()),
                payment.cancelled_total().unwrap_or_default(),
                payment.cancellable_balance().map_or("?".to_string(), |b| b.to_string()),
            );
            Ok(())
        }
        Err(e) if e.api().is_some() => {
            // iamport refused: nothing was cancelled. The message says why (e.g. the balance did not match).
            eprintln!("refused: {e}");
            std::process::exit(1);
        }
        Err(e) if e.is_timeout() => {
            eprintln!("timed out: the cancel may or may not have happened; fetch the payment before retrying");
            std::process::exit(2);
        }
        Err(e) => Err(e.into()),
    }
}
