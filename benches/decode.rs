//! Decode speed: the generated types against `serde_json::Value`, on the same bytes.
//!
//! Three payloads a refund flow reads: a PortOne V2 payment that was paid and then partially cancelled four
//! times, a Toss payment with four cancels, and an iamport payment list page of 100. For each:
//! * `value`: `serde_json::from_slice::<serde_json::Value>`, the baseline;
//! * `typed`: `serde_json::from_slice` into the generated type;
//! * `facade`: what the facades' `decode_json` does: the plain typed decode, and only after a failure a second,
//!   path-tracking decode that names the JSON path of the field that did not fit;
//! * `path on every decode`: `serde_path_to_error` on every body, as the facades did before; kept to show what
//!   path tracking costs.
//!
//! The summary table times the variants interleaved in the same process and prints speed ratios (Value time ÷
//! typed time: above 1.0 means the typed decode is faster).

mod support;

use criterion::{BenchmarkId, Criterion, Throughput};
use kr_payments::iamport::raw::types::PaymentListResponse;
use kr_payments::portone_v2::raw::types as v2;
use kr_payments::toss::raw::types as toss;
use serde::de::DeserializeOwned;
use std::hint::black_box;
use std::time::{Duration, Instant};

const PORTONE_V2_PAYMENT: &[u8] = include_bytes!("fixtures/portone_v2_payment_partial_cancelled.json");
const TOSS_PAYMENT: &[u8] = include_bytes!("fixtures/toss_payment_several_cancels.json");
const IAMPORT_PAYMENT: &[u8] = include_bytes!("fixtures/iamport_payment.json");

/// An iamport `GET /payments/status/all` page of 100: one payment from the fixture, varied per entry (ids,
/// amounts, status; every third one cancelled in part with a cancel history), so no two entries are the same.
fn iamport_page() -> Vec<u8> {
    let base: serde_json::Value = serde_json::from_slice(IAMPORT_PAYMENT).expect("iamport fixture is JSON");
    let list: Vec<serde_json::Value> = (0..100)
        .map(|i| {
            let mut p = base.clone();
            let amount = 10_000 + 1_000 * (i % 37);
            p["imp_uid"] = format!("imp_{:012}", 448_280_090_000u64 + i).into();
            p["merchant_uid"] = format!("order-20240915-{i:05}").into();
            p["amount"] = amount.into();
            p["paid_at"] = (1_726_367_400 + 60 * i).into();
            if i % 3 == 0 {
                let cancelled = amount / 4;
                p["status"] = "paid".into();
                p["cancel_amount"] = cancelled.into();
                p["cancelled_at"] = (1_726_450_000 + 60 * i).into();
                p["cancel_reason"] = "부분 반품".into();
                p["cancel_history"] = serde_json::json!([{
                    "pg_tid": format!("StdpayCARDINIpayTest2024091611{i:04}"),
                    "amount": cancelled,
                    "cancelled_at": 1_726_450_000 + 60 * i,
                    "reason": "부분 반품",
                    "cancellation_id": format!("cancel-{i:05}"),
                    "receipt_url": format!("https://iniweb.inicis.com/receipt/cancel/{i:05}"),
                }]);
                p["cancel_receipt_urls"] =
                    serde_json::json!([format!("https://iniweb.inicis.com/receipt/cancel/{i:05}")]);
            }
            p
        })
        .collect();
    let page = serde_json::json!({
        "code": 0,
        "message": null,
        "response": { "total": 1834, "previous": 0, "next": 2, "list": list },
    });
    serde_json::to_vec(&page).expect("serializes")
}

/// Checks that each payload decodes to what the bench claims it measures, before anything is timed.
fn check_payloads(iamport: &[u8]) {
    match serde_json::from_slice::<v2::Payment>(PORTONE_V2_PAYMENT).expect("PortOne V2 payment decodes") {
        v2::Payment::PartialCancelled {
            cancellations, amount, ..
        } => {
            assert_eq!(cancellations.len(), 4, "four cancellations");
            assert_eq!(amount.cancelled, 23_500);
        }
        other => panic!("expected PARTIAL_CANCELLED, got {other:?}"),
    }
    let t: toss::Payment = serde_json::from_slice(TOSS_PAYMENT).expect("Toss payment decodes");
    assert_eq!(t.status, toss::PaymentStatus::PartialCanceled);
    assert_eq!(t.cancels.as_ref().map(Vec::len), Some(4));
    assert_eq!(t.balance_amount, 62_500);
    let page: PaymentListResponse = serde_json::from_slice(iamport).expect("iamport page decodes");
    let list = page.response.and_then(|r| r.list).expect("a list");
    assert_eq!(list.len(), 100);
    assert!(
        list.iter()
            .filter(|p| p.cancel_history.as_ref().is_some_and(|h| !h.is_empty()))
            .count()
            >= 30
    );
    // The generated unions decode tag-first when the tag leads (as PortOne sends it) and through a buffer when it
    // does not: the same payment either way.
    let mut moved: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(PORTONE_V2_PAYMENT).expect("JSON");
    let status = moved.remove("status").expect("status");
    moved.insert("status".into(), status);
    let moved = serde_json::to_vec(&moved).expect("serializes");
    let leads_with = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .trim_start_matches(['{', ' ', '\n'])
            .starts_with("\"status\"")
    };
    assert!(
        leads_with(PORTONE_V2_PAYMENT),
        "the fixture leads with its tag, as PortOne sends it"
    );
    assert!(!leads_with(&moved));
    let first: v2::Payment = typed(PORTONE_V2_PAYMENT);
    let last: v2::Payment = typed(&moved);
    assert_eq!(
        serde_json::to_value(&first).expect("serializes"),
        serde_json::to_value(&last).expect("serializes")
    );
    // The facade's decode reports the same path and message as a path-tracking decode on a bad body.
    let broken =
        String::from_utf8_lossy(PORTONE_V2_PAYMENT).replacen("\"totalAmount\": 4000", "\"totalAmount\": \"4000\"", 1);
    let now = decode_with_path::<v2::Payment>(broken.as_bytes()).expect_err("broken body fails");
    let facade = facade_decode::<v2::Payment>(broken.as_bytes()).expect_err("broken body fails");
    assert_eq!(now, facade);
    let broken =
        String::from_utf8_lossy(TOSS_PAYMENT).replacen("\"cancelAmount\": 4000", "\"cancelAmount\": 4000.5", 1);
    let now = decode_with_path::<toss::Payment>(broken.as_bytes()).expect_err("broken body fails");
    assert!(now.0.contains("cancels[1].cancelAmount"), "path: {}", now.0);
    assert_eq!(Some(now), facade_decode::<toss::Payment>(broken.as_bytes()).err());
}

fn typed<T: DeserializeOwned>(bytes: &[u8]) -> T {
    serde_json::from_slice(bytes).expect("decodes")
}

fn value(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("decodes")
}

/// The typed decode with the JSON path tracked on every body (the facades' decode before it went path-on-error).
fn typed_with_path<T: DeserializeOwned>(bytes: &[u8]) -> T {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).expect("decodes");
    de.end().expect("no trailing data");
    v
}

/// A decode that tracks the JSON path: on failure, the path of the first mismatch and serde's message.
fn decode_with_path<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (String, String)> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = serde_path_to_error::deserialize(&mut de).map_err(|e| (e.path().to_string(), e.inner().to_string()))?;
    de.end().map_err(|e| (".".to_string(), e.to_string()))?;
    Ok(v)
}

/// The facades' `decode_json` (`src/error.rs`): a plain decode, and only when it fails a second, path-tracking decode
/// to name the path. A failed decode is rare and already slow to handle (it is an error); a good one pays nothing.
fn facade_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, (String, String)> {
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(_) => decode_with_path(bytes),
    }
}

/// One decode to time: a name and the work.
struct Variant<'a> {
    name: &'static str,
    run: Box<dyn Fn() + 'a>,
}

fn variant<'a, T: 'static>(name: &'static str, f: impl Fn() -> T + 'a) -> Variant<'a> {
    Variant {
        name,
        run: Box::new(move || {
            black_box(f());
        }),
    }
}

/// Times the variants round-robin (rotating which goes first), `iters` decodes per variant per round, and
/// returns each variant's median time per decode over the rounds.
fn interleaved(variants: &[Variant<'_>], rounds: usize, iters: usize) -> Vec<Duration> {
    let mut per_round: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let started = Instant::now();
            for _ in 0..iters {
                (variants[i].run)();
            }
            per_round[i].push(started.elapsed() / iters as u32);
        }
    }
    per_round
        .into_iter()
        .map(|mut v| {
            v.sort_unstable();
            v[v.len() / 2]
        })
        .collect()
}

fn criterion_benches(c: &mut Criterion, iamport: &[u8]) {
    let payloads: [(&str, &[u8]); 3] = [
        ("portone_v2_payment", PORTONE_V2_PAYMENT),
        ("toss_payment", TOSS_PAYMENT),
        ("iamport_list_100", iamport),
    ];
    for (name, bytes) in payloads {
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("value", bytes.len()), bytes, |b, bytes| {
            b.iter(|| value(bytes))
        });
        match name {
            "portone_v2_payment" => {
                g.bench_with_input(BenchmarkId::new("typed", bytes.len()), bytes, |b, bytes| {
                    b.iter(|| typed::<v2::Payment>(bytes))
                });
            }
            "toss_payment" => {
                g.bench_with_input(BenchmarkId::new("typed", bytes.len()), bytes, |b, bytes| {
                    b.iter(|| typed::<toss::Payment>(bytes))
                });
            }
            _ => {
                g.bench_with_input(BenchmarkId::new("typed", bytes.len()), bytes, |b, bytes| {
                    b.iter(|| typed::<PaymentListResponse>(bytes))
                });
            }
        }
        g.finish();
    }
}

fn summary(iamport: &[u8]) {
    let (rounds, iters) = if support::full_run() { (41, 200) } else { (3, 5) };
    let p = PORTONE_V2_PAYMENT;
    let rows: Vec<(&str, usize, Vec<Variant<'_>>)> = vec![
        (
            "PortOne V2 Payment (PARTIAL_CANCELLED, 4 cancellations)",
            p.len(),
            vec![
                variant("value", || value(p)),
                variant("typed", || typed::<v2::Payment>(p)),
                variant("facade", || facade_decode::<v2::Payment>(p)),
                variant("path on every decode", || typed_with_path::<v2::Payment>(p)),
            ],
        ),
        (
            "Toss Payment (PARTIAL_CANCELED, 4 cancels)",
            TOSS_PAYMENT.len(),
            vec![
                variant("value", || value(TOSS_PAYMENT)),
                variant("typed", || typed::<toss::Payment>(TOSS_PAYMENT)),
                variant("facade", || facade_decode::<toss::Payment>(TOSS_PAYMENT)),
                variant("path on every decode", || {
                    typed_with_path::<toss::Payment>(TOSS_PAYMENT)
                }),
            ],
        ),
        (
            "iamport payment list, 100 per page",
            iamport.len(),
            vec![
                variant("value", || value(iamport)),
                variant("typed", || typed::<PaymentListResponse>(iamport)),
                variant("facade", || facade_decode::<PaymentListResponse>(iamport)),
                variant("path on every decode", || {
                    typed_with_path::<PaymentListResponse>(iamport)
                }),
            ],
        ),
    ];
    println!("\n## decode: typed vs serde_json::Value (interleaved, {rounds} rounds × {iters} decodes, median)");
    println!("load average: {}\n", support::load_average());
    println!("| payload | bytes | decode | time | MB/s | speed vs Value |");
    println!("|---|---:|---|---:|---:|---:|");
    for (label, len, variants) in &rows {
        let times = interleaved(variants, rounds, iters);
        let base = times[0];
        for (v, t) in variants.iter().zip(&times) {
            let mbs = *len as f64 / t.as_secs_f64() / 1e6;
            let speed = base.as_secs_f64() / t.as_secs_f64();
            println!(
                "| {label} | {len} | {} | {} | {mbs:.0} | {speed:.2}× |",
                v.name,
                support::us(*t)
            );
        }
    }
    println!("\ntarget: typed ≥ 1.00× Value");
}

fn main() {
    let iamport = iamport_page();
    check_payloads(&iamport);
    let mut c = support::criterion();
    criterion_benches(&mut c, &iamport);
    if !support::profiling() {
        summary(&iamport);
    }
    c.final_summary();
}
