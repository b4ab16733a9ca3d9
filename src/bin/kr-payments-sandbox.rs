//! `kr-payments-sandbox`: the embedded sandbox as a standalone server, so a test suite in any
//! language can run refunds against PortOne V2, iamport and Toss without network or keys.

use std::process::ExitCode;

use kr_payments::sandbox::{self, Sandbox};

const HELP: &str = r#"kr-payments-sandbox: a local fake of the PortOne V2, iamport and Toss payment APIs
that gets cancellation right (balances, partial cancels, refusals, idempotency, tokens).

USAGE:
    kr-payments-sandbox [--port N] [--port-portone-v2 N] [--port-iamport N] [--port-toss N]
                        [--seed FILE] [credentials...]

Each provider is served twice over the same state: at the root of its own origin, with its real
paths (point a client whose base URL is an origin there, e.g. the official PortOne SDKs), and
below a prefix of one shared port.

OPTIONS:
    --port N               Shared port on 127.0.0.1, providers below /portone-v2, /iamport, /toss
                           (default 0: any free port)
    --port-portone-v2 N    Port of PortOne V2's own origin (default 0: any free port)
    --port-iamport N       Port of iamport's own origin (default 0: any free port)
    --port-toss N          Port of Toss's own origin (default 0: any free port)
    --toss-cancel-interval-ms N
                           Toss's rule: of several cancels of one paymentKey within N ms only the
                           first is processed (403 FORBIDDEN_CONSECUTIVE_REQUEST). Default 1000, as
                           Toss documents; 0 turns it off
    --seed FILE            JSON file of payments to create at start (format below)
    --portone-secret S     PortOne V2 API secret to accept (default: sandbox-secret)
    --store-id S           PortOne V2 store id (default: store-sandbox)
    --imp-key K            iamport imp_key (default: sandbox-imp-key)
    --imp-secret S         iamport imp_secret (default: sandbox-imp-secret)
    --toss-secret-key K    Toss secret key (default: test_sk_sandbox)
    -h, --help             Print this help

On start it prints one line per base URL, then one line per seeded payment, then "ready":
    sandbox http://127.0.0.1:PORT
    portone-v2 http://127.0.0.1:PORT/portone-v2
    iamport http://127.0.0.1:PORT/iamport
    toss http://127.0.0.1:PORT/toss
    origin portone-v2 http://127.0.0.1:PORT1
    origin iamport http://127.0.0.1:PORT2
    origin toss http://127.0.0.1:PORT3
    seeded <provider> <orderId> <id>
    ready
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

Every other operation of each provider's spec answers 501 SANDBOX_NOT_SUPPORTED in that
provider's error format.

SERVED OPERATIONS:
"#;

/// `--help`'s list of served operations, from the sandbox's own table.
fn served() -> String {
    let mut out = String::new();
    for op in sandbox::operations().iter().filter(|o| o.served) {
        out.push_str(&format!(
            "    {:<11} {:<7} {:<58} {}\n",
            op.provider.as_str(),
            op.method,
            op.path,
            op.operation_id
        ));
    }
    out
}

struct Args {
    port: u16,
    origin_ports: Vec<(sandbox::Provider, u16)>,
    toss_cancel_interval_ms: u64,
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
        origin_ports: Vec::new(),
        toss_cancel_interval_ms: 1000,
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
            "--port-portone-v2" | "--port-iamport" | "--port-toss" => {
                let provider = match name.as_str() {
                    "--port-portone-v2" => sandbox::Provider::PortOneV2,
                    "--port-iamport" => sandbox::Provider::Iamport,
                    _ => sandbox::Provider::Toss,
                };
                let v = value()?;
                let port = v.parse().map_err(|_| format!("{name}: {v:?} is not a port number"))?;
                args.origin_ports.push((provider, port));
            }
            "--toss-cancel-interval-ms" => {
                let v = value()?;
                args.toss_cancel_interval_ms = v
                    .parse()
                    .map_err(|_| format!("{name}: {v:?} is not a number of milliseconds"))?;
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
            print!("{HELP}{}", served());
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
    let interval =
        (args.toss_cancel_interval_ms > 0).then(|| std::time::Duration::from_millis(args.toss_cancel_interval_ms));
    let mut builder = Sandbox::builder().port(args.port).toss_cancel_interval(interval);
    for (provider, port) in args.origin_ports {
        builder = builder.origin_port(provider, port);
    }
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
    for provider in [
        sandbox::Provider::PortOneV2,
        sandbox::Provider::Iamport,
        sandbox::Provider::Toss,
    ] {
        println!("origin {provider} {}", sandbox.origin(provider));
    }
    for seed in seeds {
        let provider = seed.for_provider();
        let order = seed.order_id().to_owned();
        let id = sandbox.seed(seed);
        println!("seeded {provider} {order} {id}");
    }
    println!("ready");
    // Serves until the process is killed; the sandbox stops with it.
    std::future::pending::<()>().await;
    ExitCode::SUCCESS
}
