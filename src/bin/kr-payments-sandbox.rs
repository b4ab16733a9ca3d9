//! `kr-payments-sandbox`: the embedded sandbox as a standalone server, so a test suite in any
//! language can run refunds against PortOne V2, iamport and Toss without network or keys.

use std::process::ExitCode;

use kr_payments::sandbox::{self, Sandbox};

const HELP: &str = r#"kr-payments-sandbox: a local fake of the PortOne V2, iamport and Toss payment APIs
that gets cancellation right (balances, partial cancels, refusals, idempotency, tokens).

USAGE:
    kr-payments-sandbox [--port N] [--seed FILE] [credentials...]

OPTIONS:
    --port N               Port on 127.0.0.1 to listen on (default 0: any free port)
    --seed FILE            JSON file of payments to create at start (format below)
    --portone-secret S     PortOne V2 API secret to accept (default: sandbox-secret)
    --store-id S           PortOne V2 store id (default: store-sandbox)
    --imp-key K            iamport imp_key (default: sandbox-imp-key)
    --imp-secret S         iamport imp_secret (default: sandbox-imp-secret)
    --toss-secret-key K    Toss secret key (default: test_sk_sandbox)
    -h, --help             Print this help

On start it prints one line per base URL, then one line per seeded payment:
    sandbox http://127.0.0.1:PORT
    portone-v2 http://127.0.0.1:PORT/portone-v2
    iamport http://127.0.0.1:PORT/iamport
    toss http://127.0.0.1:PORT/toss
    seeded <provider> <orderId> <id>
and serves until killed. <id> is the paymentId (PortOne V2), imp_uid (iamport) or paymentKey
(Toss) to use in requests.

SEED FILE: a JSON array of payments, or {"payments": [...]}. Each payment:
    provider    "portone-v2" | "iamport" | "toss"           (default "portone-v2")
    method      "card" | "virtual-account" | "mobile-phone" (default "card")
    orderId     string, required (merchant_uid / orderId; PortOne V2 uses it as the paymentId)
    amount      integer won, required
    taxFree     integer won (default 0)
    vat         integer won (default: one eleventh of the taxable part)
    id          provider id to use instead of a generated one
    pg          PG code, iamport spelling: "tosspayments", "smartro", "kcp"... (default "tosspayments")
    paidAt      RFC 3339 time (default: now)
    orderName   string
    deposited   bool, virtual accounts only (default true)
    asyncCancel bool, PortOne V2 only: cancels stay REQUESTED

Example:
    [{"provider": "toss", "orderId": "order-1", "amount": 10000, "id": "pk-1"},
     {"provider": "iamport", "method": "virtual-account", "orderId": "order-2", "amount": 5000,
      "pg": "smartro"}]
"#;

struct Args {
    port: u16,
    seed: Option<String>,
    portone_secret: Option<String>,
    store_id: Option<String>,
    imp_key: Option<String>,
    imp_secret: Option<String>,
    toss_secret_key: Option<String>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        port: 0,
        seed: None,
        portone_secret: None,
        store_id: None,
        imp_key: None,
        imp_secret: None,
        toss_secret_key: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (flag.clone(), None),
        };
        if name == "-h" || name == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--port" => {
                let v = value()?;
                args.port = v.parse().map_err(|_| format!("--port: {v:?} is not a port number"))?;
            }
            "--seed" => args.seed = Some(value()?),
            "--portone-secret" => args.portone_secret = Some(value()?),
            "--store-id" => args.store_id = Some(value()?),
            "--imp-key" => args.imp_key = Some(value()?),
            "--imp-secret" => args.imp_secret = Some(value()?),
            "--toss-secret-key" => args.toss_secret_key = Some(value()?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kr-payments-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let seeds = match &args.seed {
        None => Vec::new(),
        Some(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("kr-payments-sandbox: cannot read {path}: {e}");
                    return ExitCode::from(2);
                }
            };
            match sandbox::parse_seed_file(&text) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("kr-payments-sandbox: {path}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let mut builder = Sandbox::builder().port(args.port);
    if let Some(s) = args.portone_secret {
        builder = builder.portone_secret(s);
    }
    if let Some(s) = args.store_id {
        builder = builder.store_id(s);
    }
    if args.imp_key.is_some() || args.imp_secret.is_some() {
        builder = builder.iamport_credentials(
            args.imp_key.unwrap_or_else(|| sandbox::DEFAULT_IMP_KEY.to_owned()),
            args.imp_secret
                .unwrap_or_else(|| sandbox::DEFAULT_IMP_SECRET.to_owned()),
        );
    }
    if let Some(k) = args.toss_secret_key {
        builder = builder.toss_secret_key(k);
    }
    let sandbox = match builder.start().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kr-payments-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("sandbox {}", sandbox.base_url());
    println!("portone-v2 {}", sandbox.base_url_portone_v2());
    println!("iamport {}", sandbox.base_url_iamport());
    println!("toss {}", sandbox.base_url_toss());
    for seed in seeds {
        let provider = seed.for_provider();
        let order = seed.order_id().to_owned();
        let id = sandbox.seed(seed);
        println!("seeded {provider} {order} {id}");
    }
    // Serves until the process is killed; the sandbox stops with it.
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
