//! Marker values in every field, and none of the personal ones in anything the crate prints.
//!
//! Samples are built from the normalized specs (a schema-driven builder, not a hand list): every property of every
//! schema is filled, each string with a marker of its own. A marker is *hidden* when its field is sensitive (the
//! table in `kr_payments::sensitive`, or a sensitive string format), or sits inside one; every other marker is
//! *shown*. Then:
//!
//! * every generated type of the three specs (`build.rs`'s registry), decoded from its sample, prints (`{:?}` and
//!   `{:#?}`) no hidden marker and every shown one, and serializes back with all of them;
//! * the facade's paths run against loopback mock servers with those samples as answers: lookups, listings,
//!   cancels, the provider-neutral refund, webhook verification (forged deliveries included), and their failures
//!   (refusals carrying a payment, undecodable answers). No `Debug` or `Display` of any result or error, and no
//!   line of the TRACE log, may show a hidden marker; what the merchant stores (serialization, the raw answer)
//!   keeps them.
//!
//! The fields the issue named as leaking are checked to be among the sensitive fields the samples covered, so the
//! table cannot lose one unnoticed.
#![cfg(all(feature = "portone-v2", feature = "iamport", feature = "toss"))]

use kr_payments::account::{AccountNumber, BankCode, HolderName, PhoneNumber};
use kr_payments::refund::{Refund, RefundAccount as NeutralAccount, Refunds};
use kr_payments::sensitive::{shown_for_format, shown_for_key};
use kr_payments::{iamport, portone_v2, toss};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fmt::{Debug, Display};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The value of every sensitive `format: date` field: no other field carries it.
const HIDDEN_DATE: &str = "1913-03-07";
/// The value of every `format: ipv4` field.
const HIDDEN_IP: &str = "203.0.113.77";

// ---- markers and the schema-driven sampler --------------------------------------------------------------------

#[derive(Default, Clone)]
struct Markers {
    /// Values that must never print.
    hidden: BTreeSet<String>,
    /// Values that must print where the whole value prints.
    shown: BTreeSet<String>,
    /// Sensitive fields that got a hidden marker, as `Schema.property`.
    fields: BTreeSet<String>,
}

impl Markers {
    fn extend(&mut self, other: &Markers) {
        self.hidden.extend(other.hidden.iter().cloned());
        self.shown.extend(other.shown.iter().cloned());
        self.fields.extend(other.fields.iter().cloned());
    }
}

struct Spec {
    doc: Value,
}

impl Spec {
    fn load(file: &str) -> Spec {
        let path = format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Spec {
            doc: serde_json::from_str(&text).expect("normalized spec is JSON"),
        }
    }

    fn schemas(&self) -> &Map<String, Value> {
        self.doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .expect("components.schemas")
    }
}

/// Fills a schema with markers. Markers are numbered across the whole run, so each is unique.
struct Sampler<'a> {
    spec: &'a Spec,
    /// Which variant nested unions take (index modulo their variant count), so several samples of one type reach
    /// different nested variants.
    rotate: usize,
    markers: Markers,
    /// `$ref`s being expanded, to stop at recursion.
    stack: Vec<String>,
}

static NEXT_MARKER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn next_number() -> usize {
    NEXT_MARKER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// A hidden marker: long enough that its last four characters (`QZXW`, the same for all) are all `LastFour` shows.
fn hidden_text() -> String {
    format!("PII{:06}QZXW", next_number())
}

fn shown_text() -> String {
    format!("ok{:06}", next_number())
}

impl<'a> Sampler<'a> {
    fn new(spec: &'a Spec, rotate: usize) -> Self {
        Sampler {
            spec,
            rotate,
            markers: Markers::default(),
            stack: Vec::new(),
        }
    }

    fn hidden(&mut self) -> Value {
        let m = hidden_text();
        self.markers.hidden.insert(m.clone());
        json!(m)
    }

    fn shown(&mut self) -> Value {
        let m = shown_text();
        self.markers.shown.insert(m.clone());
        json!(m)
    }

    /// The sample of component schema `name`; `variant` picks the union variant at the top.
    fn named(&mut self, name: &str, variant: usize) -> Value {
        let schema = self.spec.schemas()[name].clone();
        self.stack.push(name.to_string());
        let v = match schema.get("oneOf").and_then(Value::as_array) {
            Some(variants) => self.sample(&variants[variant % variants.len()], name, None, false, 1),
            None => self.sample(&schema, name, None, false, 1),
        };
        self.stack.pop();
        v
    }

    /// `owner` is the component schema the properties being filled belong to; `key` the property holding `schema`;
    /// `hidden` whether an enclosing field is sensitive.
    fn sample(&mut self, schema: &Value, owner: &str, key: Option<&str>, hidden: bool, depth: usize) -> Value {
        let by_key = key.and_then(shown_for_key).is_some();
        let before = self.markers.hidden.len();
        let v = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/").to_string();
                let target = self.spec.schemas()[&name].clone();
                if self.stack.contains(&name) || depth > 12 {
                    return minimal(self.spec, &target, 0);
                }
                self.stack.push(name.clone());
                let v = self.fill_checked(&target, &name, key, hidden || by_key, depth + 1);
                self.stack.pop();
                v
            }
            None => self.fill_checked(schema, owner, key, hidden || by_key, depth),
        };
        if by_key && !hidden && self.markers.hidden.len() > before {
            self.markers.fields.insert(format!("{owner}.{}", key.unwrap_or("?")));
        }
        v
    }

    /// [`Self::fill`], hiding what a sensitive string format marks.
    fn fill_checked(&mut self, s: &Value, owner: &str, key: Option<&str>, hidden: bool, depth: usize) -> Value {
        let by_format = s
            .get("format")
            .and_then(Value::as_str)
            .and_then(shown_for_format)
            .is_some();
        let before = self.markers.hidden.len();
        let v = self.fill(s, owner, key, hidden || by_format, depth);
        if by_format && !hidden && self.markers.hidden.len() > before {
            self.markers.fields.insert(format!("{owner}.{}", key.unwrap_or("?")));
        }
        v
    }

    fn fill(&mut self, s: &Value, owner: &str, key: Option<&str>, hidden: bool, depth: usize) -> Value {
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            return values[0].clone();
        }
        if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
            let mut merged = Map::new();
            for p in parts {
                match self.sample(p, owner, key, hidden, depth + 1) {
                    Value::Object(m) => merged.extend(m),
                    other if parts.len() == 1 => return other,
                    _ => {}
                }
            }
            return Value::Object(merged);
        }
        if let Some(variants) = s.get("oneOf").and_then(Value::as_array) {
            let pick = &variants[self.rotate % variants.len()];
            return self.sample(pick, owner, key, hidden, depth + 1);
        }
        match s.get("type").and_then(Value::as_str) {
            Some("string") => match s.get("format").and_then(Value::as_str) {
                Some("date-time") => json!("2026-01-02T03:04:05Z"),
                Some("date") if hidden => {
                    self.markers.hidden.insert(HIDDEN_DATE.into());
                    json!(HIDDEN_DATE)
                }
                Some("date") => json!("2026-01-02"),
                Some("ipv4") => {
                    self.markers.hidden.insert(HIDDEN_IP.into());
                    json!(HIDDEN_IP)
                }
                _ if hidden => self.hidden(),
                _ => self.shown(),
            },
            Some("integer") => json!(7),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") => match s.get("items") {
                Some(items) => json!([self.sample(items, owner, key, hidden, depth + 1)]),
                None => json!([]),
            },
            Some("object") | None if s.get("properties").is_some() => {
                let mut out = Map::new();
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (name, p) in props {
                        out.insert(name.clone(), self.sample(p, owner, Some(name), hidden, depth + 1));
                    }
                }
                // A required name without a schema (iamport has some) is generated as free-form JSON.
                for name in s.get("required").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(name) = name.as_str().filter(|n| !out.contains_key(*n)) {
                        let v = self.sample(&json!({ "type": "string" }), owner, Some(name), hidden, depth + 1);
                        out.insert(name.to_string(), v);
                    }
                }
                Value::Object(out)
            }
            Some("object") => match s.get("additionalProperties") {
                Some(ap) if ap.is_object() && !ap.as_object().is_some_and(Map::is_empty) => {
                    json!({ "entry": self.sample(ap, owner, key, hidden, depth + 1) })
                }
                // Free-form JSON: a sensitive name inside must be hidden too, the rest shown.
                _ if hidden => json!({ "note": self.hidden() }),
                _ => {
                    let email = self.hidden();
                    self.markers
                        .fields
                        .insert(format!("{owner}.{}.email", key.unwrap_or("?")));
                    json!({ "email": email, "memo": self.shown() })
                }
            },
            _ => Value::Null,
        }
    }
}

/// A value with the required properties only and no markers, where a schema recurses.
fn minimal(spec: &Spec, schema: &Value, depth: usize) -> Value {
    assert!(depth < 40, "schema recursion too deep");
    let s = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => &spec.schemas()[r.trim_start_matches("#/components/schemas/")],
        None => schema,
    };
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return values[0].clone();
    }
    if let Some(parts) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for p in parts {
            if let Value::Object(m) = minimal(spec, p, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    if let Some(variants) = s.get("oneOf").and_then(Value::as_array) {
        return minimal(spec, &variants[0], depth + 1);
    }
    match s.get("type").and_then(Value::as_str) {
        Some("string") => match s.get("format").and_then(Value::as_str) {
            Some("date-time") => json!("2026-01-02T03:04:05Z"),
            Some("date") => json!("2026-01-02"),
            _ => json!("x"),
        },
        Some("integer") => json!(7),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") | None if s.get("properties").is_some() => {
            let required: BTreeSet<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut out = Map::new();
            for (name, p) in s["properties"].as_object().into_iter().flatten() {
                if required.contains(name.as_str()) {
                    out.insert(name.clone(), minimal(spec, p, depth + 1));
                }
            }
            Value::Object(out)
        }
        Some("object") => json!({}),
        _ => Value::Null,
    }
}

// ---- what was printed ------------------------------------------------------------------------------------------

/// Every text the crate printed, with the type it came from, checked against every hidden marker at the end.
#[derive(Default)]
struct Printed {
    texts: Vec<(String, String)>,
    types: BTreeSet<String>,
    markers: Markers,
}

impl Printed {
    fn debug<T: Debug>(&mut self, what: &str, value: &T) {
        self.types.insert(std::any::type_name::<T>().to_string());
        self.texts.push((what.to_string(), format!("{value:?}")));
        self.texts.push((format!("{what} {{:#?}}"), format!("{value:#?}")));
    }

    fn both<T: Debug + Display>(&mut self, what: &str, value: &T) {
        self.debug(what, value);
        self.texts.push((format!("{what} Display"), value.to_string()));
    }

    /// Marks `value` as something a test put into a request: it must not print either.
    fn hidden_input(&mut self, value: &str) -> String {
        self.markers.hidden.insert(value.to_string());
        value.to_string()
    }

    /// Fails on any hidden marker in anything printed.
    fn assert_clean(&self, log: &str) {
        let mut leaks = Vec::new();
        for (what, text) in self
            .texts
            .iter()
            .chain(std::iter::once(&("TRACE log".to_string(), log.to_string())))
        {
            for m in &self.markers.hidden {
                if text.contains(m.as_str()) {
                    leaks.push(format!("{what} shows {m}"));
                }
            }
        }
        assert!(leaks.is_empty(), "{} leaks:\n{}", leaks.len(), leaks.join("\n"));
    }
}

/// `what` serialized must hold every marker of `markers`: the merchant stores what the server sent.
#[track_caller]
fn assert_keeps(what: &str, serialized: &str, markers: &Markers) {
    let lost: Vec<&String> = markers
        .hidden
        .iter()
        .chain(&markers.shown)
        .filter(|m| !serialized.contains(m.as_str()))
        .collect();
    assert!(lost.is_empty(), "{what} lost {lost:?} in {serialized}");
}

// ---- the TRACE log ---------------------------------------------------------------------------------------------

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged in this test binary, at TRACE, installed once as the global default (a per-thread subscriber
/// misses events whose callsite interest another thread cached first).
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(log.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber of this binary");
        log
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).to_string()
}

async fn mock_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

fn quick() -> kr_payments::transport::RetryPolicy {
    kr_payments::transport::RetryPolicy::Never
}

/// Digits only, as the refund account checks require; unique like every marker.
fn hidden_digits() -> String {
    format!("9081{:08}", next_number())
}

// ---- every generated type --------------------------------------------------------------------------------------

/// `{:?}`, `{:#?}` and the JSON serialization of a value decoded from a sample.
type PrintedForms = (String, String, String);

struct DebugType {
    name: &'static str,
    decode: fn(&str) -> Result<PrintedForms, String>,
}

struct Coverage {
    types: usize,
    samples: usize,
    markers: Markers,
}

fn check_generated(api: &str, file: &str, registry: &[DebugType]) -> Coverage {
    let spec = Spec::load(file);
    let mut coverage = Coverage {
        types: 0,
        samples: 0,
        markers: Markers::default(),
    };
    let mut failures = Vec::new();
    for (name, schema) in spec.schemas() {
        let Some(entry) = registry.iter().find(|e| e.name.eq_ignore_ascii_case(name)) else {
            continue;
        };
        coverage.types += 1;
        let variants = schema.get("oneOf").and_then(Value::as_array).map_or(1, Vec::len);
        for variant in 0..variants {
            let mut sampler = Sampler::new(&spec, variant);
            let sample = sampler.named(name, variant);
            let markers = sampler.markers;
            coverage.samples += 1;
            let text = sample.to_string();
            match (entry.decode)(&text) {
                Err(e) => failures.push(format!("{name}/{variant}: does not decode: {e}\n  {text}")),
                Ok((debug, pretty, serialized)) => {
                    for m in &markers.hidden {
                        if debug.contains(m.as_str()) || pretty.contains(m.as_str()) {
                            failures.push(format!("{name}/{variant}: Debug shows {m}: {debug}"));
                        }
                    }
                    for m in &markers.shown {
                        if !debug.contains(m.as_str()) {
                            failures.push(format!(
                                "{name}/{variant}: Debug hides {m}, which is not sensitive: {debug}"
                            ));
                        }
                    }
                    for m in markers.hidden.iter().chain(&markers.shown) {
                        if !serialized.contains(m.as_str()) {
                            failures.push(format!("{name}/{variant}: serializing lost {m}: {serialized}"));
                        }
                    }
                }
            }
            coverage.markers.extend(&markers);
        }
    }
    println!(
        "{api}: {} types ({} samples) printed without {} hidden markers, {} sensitive fields",
        coverage.types,
        coverage.samples,
        coverage.markers.hidden.len(),
        coverage.markers.fields.len()
    );
    assert!(
        failures.is_empty(),
        "{api}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        coverage.types * 10 >= registry.len() * 6,
        "{api}: only {} of the {} generated types matched a spec schema",
        coverage.types,
        registry.len()
    );
    coverage
}

/// Fields the issue found printed, each of which must be among the sensitive fields the samples covered.
#[track_caller]
fn assert_covers(api: &str, fields: &BTreeSet<String>, expected: &[&str]) {
    let missing: Vec<&&str> = expected.iter().filter(|f| !fields.contains(**f)).collect();
    assert!(missing.is_empty(), "{api}: not covered as sensitive: {missing:?}");
}

/// Sets `object[key]`, forgetting the marker it replaces.
fn set(object: &mut Value, key: &str, value: Value, markers: &mut Markers) {
    if let Some(old) = object.get(key).and_then(Value::as_str) {
        markers.shown.remove(old);
        markers.hidden.remove(old);
    }
    object[key] = value;
}

// ---- PortOne V2 paths ------------------------------------------------------------------------------------------

const STORE: &str = "store-redaction";

fn portone_client(base: &str) -> portone_v2::Client {
    portone_v2::Client::builder()
        .secret("portone-secret-for-redaction")
        .store_id(STORE)
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

/// A PortOne payment sample of `variant`, with nested unions rotated by `rotate`, named `id`.
fn portone_payment(spec: &Spec, variant: usize, rotate: usize, id: &str) -> (Value, Markers) {
    let mut sampler = Sampler::new(spec, rotate);
    let mut v = sampler.named("Payment", variant);
    let mut markers = sampler.markers;
    set(&mut v, "id", json!(id), &mut markers);
    (v, markers)
}

async fn portone_paths(printed: &mut Printed) {
    let spec = Spec::load("portone-v2.json");
    let server = mock_server().await;
    let client = portone_client(&server.uri());
    let variants = spec.schemas()["Payment"]["oneOf"].as_array().unwrap().len();

    // Lookups: every status, nested unions (pay method, customer address, ...) rotated through their variants.
    let mut listed = Vec::new();
    let mut listed_markers = Markers::default();
    for variant in 0..variants {
        for rotate in 0..4 {
            let id = format!("pay-{variant}-{rotate}");
            let (body, markers) = portone_payment(&spec, variant, rotate, &id);
            Mock::given(method("GET"))
                .and(path(format!("/payments/{id}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(&body))
                .mount(&server)
                .await;
            let payment = client
                .get_payment(&kr_payments::portone_v2::PaymentId::new(id.clone()))
                .await
                .unwrap();
            printed.debug("portone payment", &payment);
            assert_keeps("portone payment", &serde_json::to_string(&payment).unwrap(), &markers);
            printed.markers.extend(&markers);
            listed_markers.extend(&markers);
            listed.push(body);
        }
    }

    // Listings, page-based and by cursor.
    let page = json!({ "items": listed, "page": { "number": 0, "size": listed.len(), "totalCount": listed.len() } });
    Mock::given(method("GET"))
        .and(path("/payments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&page))
        .mount(&server)
        .await;
    let all: Vec<_> = futures::StreamExt::collect::<Vec<_>>(client.payments(Default::default()).stream()).await;
    assert_eq!(all.len(), listed.len());
    for p in &all {
        printed.debug("portone listed payment", p.as_ref().unwrap());
    }
    let cursor_items: Vec<Value> = listed
        .iter()
        .enumerate()
        .map(|(i, p)| json!({ "payment": p, "cursor": format!("cursor-{i}") }))
        .collect();
    Mock::given(method("GET"))
        .and(path("/payments-by-cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": cursor_items })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/payments-by-cursor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] })))
        .with_priority(2)
        .mount(&server)
        .await;
    let by_cursor: Vec<_> =
        futures::StreamExt::collect::<Vec<_>>(client.payments_by_cursor(Default::default()).stream()).await;
    assert_eq!(by_cursor.len(), listed.len());
    for p in &by_cursor {
        printed.debug("portone payment with cursor", p.as_ref().unwrap());
    }
    let one_page = client.payments(Default::default()).page(0).await.unwrap();
    printed.debug("portone payments page", &one_page);
    assert_keeps(
        "portone page",
        &serde_json::to_string(&one_page).unwrap(),
        &listed_markers,
    );

    // A cancel into a refund account (markers in the request, logged at TRACE), answered with a full sample.
    let cancellation_variants = spec.schemas()["PaymentCancellation"]["oneOf"].as_array().unwrap().len();
    for variant in 0..cancellation_variants {
        let id = format!("pay-cancel-{variant}");
        let mut sampler = Sampler::new(&spec, variant);
        let mut cancellation = sampler.named("PaymentCancellation", variant);
        consistent_cancellation(&mut cancellation);
        printed.markers.extend(&sampler.markers);
        Mock::given(method("POST"))
            .and(path(format!("/payments/{id}/cancel")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "cancellation": cancellation })))
            .mount(&server)
            .await;
        let account = portone_v2::RefundAccount::new(
            portone_v2::Bank::Kookmin,
            AccountNumber::new(printed.hidden_input(&hidden_digits())),
            HolderName::new(printed.hidden_input(&hidden_text())),
        )
        .holder_phone(PhoneNumber::new(printed.hidden_input(&hidden_digits())));
        let request = client
            .refund_virtual_account(portone_v2::PaymentId::new(&id), account, "refund")
            .refund_email(printed.hidden_input(&format!("{}@example.com", hidden_text())));
        printed.debug("portone cancel request", &request);
        let outcome = request.send().await.unwrap();
        printed.debug("portone cancel outcome", &outcome);

        // The provider-neutral refund of the same payment.
        let neutral = NeutralAccount::new(
            BankCode::new("KOOKMIN"),
            AccountNumber::new(printed.hidden_input(&hidden_digits())),
            HolderName::new(printed.hidden_input(&hidden_text())),
        )
        .holder_phone(PhoneNumber::new(printed.hidden_input(&hidden_digits())));
        let refund = Refund::full("refund").to_account(neutral);
        printed.debug("neutral refund request", &refund);
        let outcome = client.refund(&id, &refund).await.unwrap();
        printed.debug("portone refund outcome", &outcome);
        assert_keeps("portone refund raw", outcome.raw.expose(), &sampler.markers);
    }

    // An unknown cancellation status keeps its raw JSON; Debug hides what is in it.
    let mut sampler = Sampler::new(&spec, 0);
    let mut unknown = sampler.named("PaymentCancellation", 0);
    consistent_cancellation(&mut unknown);
    unknown["status"] = json!("KR_PAYMENTS_NEW_STATUS");
    unknown["customer"] = json!({ "name": sampler.hidden(), "email": sampler.hidden() });
    printed.markers.extend(&sampler.markers);
    Mock::given(method("POST"))
        .and(path("/payments/pay-unknown/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "cancellation": unknown })))
        .mount(&server)
        .await;
    let outcome = client
        .full_cancel(portone_v2::PaymentId::new("pay-unknown"), "refund")
        .send()
        .await
        .unwrap();
    printed.debug("portone unrecognized cancel outcome", &outcome);

    // Failures: refusals and an answer that does not decode, with personal data in it.
    Mock::given(method("POST"))
        .and(path("/payments/pay-refused/cancel"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "type": "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", "message": "balance moved"
        })))
        .mount(&server)
        .await;
    let err = client
        .full_cancel(portone_v2::PaymentId::new("pay-refused"), "refund")
        .send()
        .await
        .unwrap_err();
    printed.both("portone cancel error", &err);
    let err = client.refund("pay-refused", &Refund::full("refund")).await.unwrap_err();
    printed.both("portone refund error", &err);
    let (mut broken, markers) = portone_payment(&spec, 0, 0, "pay-broken");
    broken["amount"] = json!("lots");
    printed.markers.extend(&markers);
    Mock::given(method("GET"))
        .and(path("/payments/pay-broken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&broken))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&kr_payments::portone_v2::PaymentId::new("pay-broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    printed.both("portone decode error", &err);

    // Webhooks: signed, forged, signed but malformed, and an event type this crate does not know.
    let secret = portone_v2::webhook::Secret::from_bytes(b"redaction-webhook-secret".to_vec());
    let now = chrono::Utc::now();
    let verifier = portone_v2::webhook::Verifier::new(secret).clock(move || now);
    let mut markers = Markers::default();
    let customer = |m: &mut Markers| {
        let name = hidden_text();
        let email = format!("{}@example.com", hidden_text());
        let ip = hidden_text();
        m.hidden.extend([name.clone(), email.clone(), ip.clone()]);
        json!({ "name": name, "email": email, "origin": { "ipAddress": ip } })
    };
    let billing_key = hidden_text();
    markers.hidden.insert(billing_key.clone());
    let unknown_name = hidden_text();
    markers.hidden.insert(unknown_name.clone());
    let unknown = json!({ "type": "Transaction.KrPaymentsSomethingNew", "timestamp": "2026-01-02T03:04:05Z",
                          "data": { "paymentId": "pay-0-0", "customer": customer(&mut markers), "remitteeName": unknown_name } });
    // (body, markers its decoded event keeps): a known event keeps its modelled fields only.
    let bodies = [
        (
            json!({ "type": "Transaction.Paid", "timestamp": "2026-01-02T03:04:05Z",
                    "data": { "paymentId": "pay-0-0", "transactionId": "tx-1", "storeId": STORE, "customer": customer(&mut markers) } }),
            Markers::default(),
        ),
        (unknown.clone(), event_markers(&unknown)),
        (
            json!({ "type": "BillingKey.Issued", "timestamp": "2026-01-02T03:04:05Z",
                    "data": { "billingKey": billing_key, "storeId": STORE } }),
            Markers {
                hidden: [billing_key.clone()].into(),
                ..Markers::default()
            },
        ),
    ];
    for (body, kept) in &bodies {
        let text = body.to_string();
        let headers = verifier.sign_headers("msg-1", now.timestamp(), text.as_bytes());
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let event = verifier.verify_pairs(text.as_bytes(), pairs.iter().copied()).unwrap();
        printed.debug("portone webhook event", &event);
        assert_keeps("portone webhook event", &serde_json::to_string(&event).unwrap(), kept);
        // Forged: the same body under another secret.
        let forger = portone_v2::webhook::Verifier::new(portone_v2::webhook::Secret::from_bytes(b"forger".to_vec()));
        let forged = forger.sign_headers("msg-1", now.timestamp(), text.as_bytes());
        let pairs: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let err = verifier
            .verify_pairs(text.as_bytes(), pairs.iter().copied())
            .unwrap_err();
        printed.both("portone forged webhook", &err);
    }
    let malformed = json!({ "type": "Transaction.Paid", "timestamp": "2026-01-02T03:04:05Z",
                            "data": { "paymentId": 5, "customer": customer(&mut markers) } })
    .to_string();
    let headers = verifier.sign_headers("msg-2", now.timestamp(), malformed.as_bytes());
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let err = verifier
        .verify_pairs(malformed.as_bytes(), pairs.iter().copied())
        .unwrap_err();
    printed.both("portone malformed webhook", &err);
    printed.markers.extend(&markers);
}

/// Amounts that fit a full cancel of 10,000 won: the crate checks a cancel's answer against the request.
fn consistent_cancellation(cancellation: &mut Value) {
    cancellation["totalAmount"] = json!(10_000);
    cancellation["taxFreeAmount"] = json!(0);
    cancellation["vatAmount"] = json!(909);
    cancellation["easyPayDiscountAmount"] = json!(0);
}

/// Hidden markers of a hand-written body: the values under sensitive names, at any depth.
fn collect_hidden(v: &Value, into: &mut Markers) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if shown_for_key(k).is_some() {
                    let mut all = Vec::new();
                    strings(child, &mut all);
                    into.hidden.extend(all);
                } else {
                    collect_hidden(child, into);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_hidden(c, into)),
        _ => {}
    }
}

fn strings(v: &Value, into: &mut Vec<String>) {
    match v {
        Value::String(s) => into.push(s.clone()),
        Value::Object(m) => m.values().for_each(|c| strings(c, into)),
        Value::Array(a) => a.iter().for_each(|c| strings(c, into)),
        _ => {}
    }
}

fn event_markers(body: &Value) -> Markers {
    let mut m = Markers::default();
    collect_hidden(body, &mut m);
    m
}

// ---- iamport paths ---------------------------------------------------------------------------------------------

const IMP_KEY: &str = "imp-key-for-redaction";
const IMP_SECRET: &str = "imp-secret-for-redaction";

fn iamport_client(base: &str) -> iamport::Client {
    iamport::Client::builder()
        .imp_key(IMP_KEY)
        .imp_secret(IMP_SECRET)
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

/// An iamport payment sample named `imp_uid`/`merchant_uid`, with `status`.
fn iamport_payment(spec: &Spec, rotate: usize, imp_uid: &str, merchant_uid: &str, status: &str) -> (Value, Markers) {
    let mut sampler = Sampler::new(spec, rotate);
    let mut v = sampler.named("PaymentAnnotation", 0);
    let mut markers = sampler.markers;
    set(&mut v, "imp_uid", json!(imp_uid), &mut markers);
    set(&mut v, "merchant_uid", json!(merchant_uid), &mut markers);
    set(&mut v, "status", json!(status), &mut markers);
    set(&mut v, "amount", json!(10_000), &mut markers);
    set(&mut v, "cancel_amount", json!(0), &mut markers);
    (v, markers)
}

fn envelope(code: i64, response: Value) -> Value {
    json!({ "code": code, "message": if code == 0 { Value::Null } else { json!("refused") }, "response": response })
}

async fn iamport_paths(printed: &mut Printed) {
    let spec = Spec::load("iamport-v1.json");
    let server = mock_server().await;
    Mock::given(method("POST"))
        .and(path("/users/getToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 0, "message": null,
            "response": {"access_token": "iamport-token-for-redaction", "now": 1_000_000_000, "expired_at": 4_000_000_000_i64}
        })))
        .mount(&server)
        .await;
    let client = iamport_client(&server.uri());

    // Lookups and a listing.
    let mut listed = Vec::new();
    for rotate in 0..3 {
        let imp_uid = format!("imp_{rotate}");
        let (body, markers) = iamport_payment(&spec, rotate, &imp_uid, &format!("order-{rotate}"), "paid");
        Mock::given(method("GET"))
            .and(path(format!("/payments/{imp_uid}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(envelope(0, body.clone())))
            .mount(&server)
            .await;
        let payment = client.get_payment(&iamport::ImpUid::new(&imp_uid)).await.unwrap();
        printed.debug("iamport payment", &payment);
        assert_keeps("iamport payment", &serde_json::to_string(&payment).unwrap(), &markers);
        printed.markers.extend(&markers);
        listed.push(body);
    }
    Mock::given(method("GET"))
        .and(path_regex("^/payments/status/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(
            0,
            json!({ "total": listed.len(), "previous": 0, "next": 0, "list": listed }),
        )))
        .mount(&server)
        .await;
    let list = client.payments_by_status(iamport::StatusFilter::All);
    let page = list.page(1).await.unwrap();
    printed.debug("iamport page", &page);
    let all: Vec<_> = futures::StreamExt::collect::<Vec<_>>(list.stream()).await;
    for p in &all {
        printed.debug("iamport listed payment", p.as_ref().unwrap());
    }

    // A cancel into a refund account, answered with the payment after it; then the neutral refund.
    let (mut cancelled, markers) = iamport_payment(&spec, 0, "imp_cancel", "order-cancel", "cancelled");
    // The whole 10,000 won cancelled, by the one entry in the history.
    cancelled["cancel_amount"] = json!(10_000);
    cancelled["cancel_history"][0]["amount"] = json!(10_000);
    printed.markers.extend(&markers);
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(0, cancelled)))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    let account = iamport::RefundAccount::new(
        BankCode::new("88"),
        AccountNumber::new(printed.hidden_input(&hidden_digits())),
        HolderName::new(printed.hidden_input(&hidden_text())),
    )
    .holder_phone(PhoneNumber::new(printed.hidden_input(&hidden_digits())));
    let request = client.refund_virtual_account(iamport::ImpUid::new("imp_cancel"), account, "refund");
    printed.debug("iamport cancel request", &request);
    let done = request.send_with_warnings().await.unwrap();
    printed.debug("iamport cancel result", &done);
    let neutral = NeutralAccount::new(
        BankCode::new("88"),
        AccountNumber::new(printed.hidden_input(&hidden_digits())),
        HolderName::new(printed.hidden_input(&hidden_text())),
    );
    let outcome = client
        .refund("imp_cancel", &Refund::full("refund").to_account(neutral))
        .await
        .unwrap();
    printed.debug("iamport refund outcome", &outcome);
    assert_keeps("iamport refund raw", outcome.raw.expose(), &markers);

    // Refusals carrying the whole payment (iamport's `response`), and an undecodable payment.
    let (refused, markers) = iamport_payment(&spec, 1, "imp_cancel", "order-cancel", "paid");
    printed.markers.extend(&markers);
    Mock::given(method("POST"))
        .and(path("/payments/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(1, refused.clone())))
        .with_priority(2)
        .mount(&server)
        .await;
    let err = client
        .cancel_payment(iamport::ImpUid::new("imp_cancel"), "refund")
        .send()
        .await
        .unwrap_err();
    let iamport_error = err.api().expect("an iamport refusal").clone();
    assert_keeps(
        "iamport error response",
        &iamport_error.response.clone().unwrap().to_string(),
        &markers,
    );
    printed.both("iamport cancel refusal", &err);
    printed.both("iamport error body", &iamport_error);
    let err = client.refund("imp_cancel", &Refund::full("refund")).await.unwrap_err();
    printed.both("iamport refund error", &err);
    let (refused_lookup, markers) = iamport_payment(&spec, 2, "imp_refused", "order-refused", "paid");
    printed.markers.extend(&markers);
    Mock::given(method("GET"))
        .and(path("/payments/imp_refused"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(-1, refused_lookup)))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&iamport::ImpUid::new("imp_refused"))
        .await
        .unwrap_err();
    printed.both("iamport lookup refusal", &err);
    let (mut broken, markers) = iamport_payment(&spec, 0, "imp_broken", "order-broken", "paid");
    broken["amount"] = json!("lots");
    printed.markers.extend(&markers);
    Mock::given(method("GET"))
        .and(path("/payments/imp_broken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(0, broken)))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&iamport::ImpUid::new("imp_broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    printed.both("iamport decode error", &err);

    // Webhooks: confirmed, and forged three ways (another order, another status, an unknown cancel).
    use iamport::webhook::Notification;
    let cases = [
        r#"{"imp_uid":"imp_0","merchant_uid":"order-0","status":"paid"}"#,
        r#"{"imp_uid":"imp_0","merchant_uid":"order-forged","status":"paid"}"#,
        r#"{"imp_uid":"imp_0","merchant_uid":"order-0","status":"failed"}"#,
        r#"{"imp_uid":"imp_0","merchant_uid":"order-0","status":"cancelled","cancellation_id":"cx-forged"}"#,
    ];
    for (i, body) in cases.iter().enumerate() {
        let notification = Notification::from_json(body.as_bytes()).unwrap();
        printed.debug("iamport notification", &notification);
        match notification.verify_by_refetch(&client).await {
            Ok(payment) => {
                assert_eq!(i, 0, "only the first notification is genuine");
                printed.debug("iamport verified payment", &payment);
            }
            Err(e) => {
                assert_ne!(i, 0, "{e:?}");
                printed.both("iamport webhook verify error", &e);
            }
        }
    }
}

// ---- Toss paths ------------------------------------------------------------------------------------------------

const TOSS_KEY: &str = "test_sk_redaction0markers";

fn toss_client(base: &str) -> toss::Client {
    toss::Client::builder()
        .secret_key(TOSS_KEY)
        .base_url(base)
        .retry(quick())
        .build()
        .unwrap()
}

fn toss_payment(spec: &Spec, rotate: usize, key: &str, order: &str) -> (Value, Markers) {
    let mut sampler = Sampler::new(spec, rotate);
    let mut v = sampler.named("Payment", 0);
    let mut markers = sampler.markers;
    set(&mut v, "paymentKey", json!(key), &mut markers);
    set(&mut v, "orderId", json!(order), &mut markers);
    set(&mut v, "status", json!("DONE"), &mut markers);
    set(&mut v, "totalAmount", json!(10_000), &mut markers);
    set(&mut v, "balanceAmount", json!(10_000), &mut markers);
    (v, markers)
}

async fn toss_paths(printed: &mut Printed) {
    let spec = Spec::load("toss-v1.json");
    let server = mock_server().await;
    let client = toss_client(&server.uri());

    // Lookups by key and by order id.
    let mut payments = Vec::new();
    for rotate in 0..3 {
        let key = format!("pk_{rotate}");
        let order = format!("order-{rotate}");
        let (body, markers) = toss_payment(&spec, rotate, &key, &order);
        for p in [format!("/v1/payments/{key}"), format!("/v1/payments/orders/{order}")] {
            Mock::given(method("GET"))
                .and(path(p))
                .respond_with(ResponseTemplate::new(200).set_body_json(&body))
                .mount(&server)
                .await;
        }
        let payment = client
            .get_payment(&kr_payments::toss::PaymentKey::new(key.clone()))
            .await
            .unwrap();
        printed.debug("toss payment", &payment);
        assert_keeps("toss payment", &serde_json::to_string(&payment).unwrap(), &markers);
        let by_order = client.get_payment_by_order_id(&order).await.unwrap();
        printed.debug("toss payment by order", &by_order);
        printed.markers.extend(&markers);
        payments.push((body, payment));
    }

    // A cancel into a refund account, then the neutral refund, both answered with the payment after it.
    let (cancelled, markers) = toss_payment(&spec, 0, "pk_cancel", "order-cancel");
    printed.markers.extend(&markers);
    Mock::given(method("POST"))
        .and(path("/v1/payments/pk_cancel/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&cancelled))
        .mount(&server)
        .await;
    let account = toss::RefundAccount::new(
        BankCode::new("20"),
        AccountNumber::new(printed.hidden_input(&hidden_digits())),
        HolderName::new(printed.hidden_input(&hidden_text())),
    );
    let request = client
        .cancel_payment(toss::PaymentKey::new("pk_cancel"), "refund")
        .refund_account(account);
    printed.debug("toss cancel request", &request);
    let prepared = request.prepare().unwrap();
    printed.debug("toss prepared cancel", &prepared);
    let done = prepared.send().await.unwrap();
    printed.debug("toss cancel result", &done);
    let neutral = NeutralAccount::new(
        BankCode::new("20"),
        AccountNumber::new(printed.hidden_input(&hidden_digits())),
        HolderName::new(printed.hidden_input(&hidden_text())),
    );
    let outcome = client
        .refund("pk_cancel", &Refund::full("refund").to_account(neutral))
        .await
        .unwrap();
    printed.debug("toss refund outcome", &outcome);
    assert_keeps("toss refund raw", outcome.raw.expose(), &markers);

    // Failures: a refusal, and a payment that does not decode.
    Mock::given(method("POST"))
        .and(path("/v1/payments/pk_refused/cancel"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "NOT_CANCELABLE_PAYMENT", "message": "cannot cancel"
        })))
        .mount(&server)
        .await;
    let err = client
        .cancel_payment(toss::PaymentKey::new("pk_refused"), "refund")
        .send()
        .await
        .unwrap_err();
    printed.both("toss cancel error", &err);
    let err = client.refund("pk_refused", &Refund::full("refund")).await.unwrap_err();
    printed.both("toss refund error", &err);
    let (mut broken, markers) = toss_payment(&spec, 1, "pk_broken", "order-broken");
    broken["totalAmount"] = json!("a lot");
    printed.markers.extend(&markers);
    Mock::given(method("GET"))
        .and(path("/v1/payments/pk_broken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&broken))
        .mount(&server)
        .await;
    let err = client
        .get_payment(&kr_payments::toss::PaymentKey::new("pk_broken"))
        .await
        .unwrap_err();
    assert!(matches!(err, kr_payments::Error::Decode(_)), "{err:?}");
    printed.both("toss decode error", &err);

    // Webhooks: a status change with the whole payment, genuine and forged; deposit callbacks with the right and a
    // forged secret; a cancel status change; an event type this crate does not model.
    use toss::webhook::Event;
    let (body0, payment0) = &payments[0];
    let secret = payment0.secret.clone().expect("the sample has a secret");
    let forged_secret = printed.hidden_input(&hidden_text());
    let mut forged_payment = body0.clone();
    forged_payment["orderId"] = json!("order-forged");
    let cancel = body0["cancels"][0].clone();
    let mut cancel_data = cancel.clone();
    cancel_data["paymentKey"] = json!("pk_0");
    let mut unknown_markers = Markers::default();
    let unknown = json!({ "eventType": "KR_PAYMENTS_NEW_EVENT", "createdAt": "2026-01-02T03:04:05.000000",
                          "data": { "customerName": hidden_text(), "customerEmail": hidden_text(), "orderId": "order-0" } });
    collect_hidden(&unknown, &mut unknown_markers);
    printed.markers.extend(&unknown_markers);
    let deliveries = [
        (
            json!({ "eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-02T03:04:05.000000", "data": body0 }),
            true,
        ),
        (
            json!({ "eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-02T03:04:05.000000", "data": forged_payment }),
            false,
        ),
        (
            json!({ "createdAt": "2026-01-02T03:04:05.000000", "secret": secret, "status": "DONE",
                 "transactionKey": "tx-0", "orderId": "order-0" }),
            true,
        ),
        (
            json!({ "createdAt": "2026-01-02T03:04:05.000000", "secret": forged_secret, "status": "DONE",
                 "transactionKey": "tx-0", "orderId": "order-0" }),
            false,
        ),
        (
            json!({ "eventType": "CANCEL_STATUS_CHANGED", "createdAt": "2026-01-02T03:04:05.000000", "data": cancel_data }),
            true,
        ),
        (
            json!({ "eventType": "BILLING_DELETED", "createdAt": "2026-01-02T03:04:05.000000",
                    "data": { "billingKey": printed.hidden_input(&hidden_text()), "reason": "customer asked",
                              "customerKey": printed.hidden_input(&hidden_text()) } }),
            false,
        ),
        (unknown, false),
    ];
    for (body, genuine) in &deliveries {
        let event = Event::from_json(body.to_string().as_bytes()).unwrap();
        printed.debug("toss webhook event", &event);
        match event.verify_by_refetch(&client).await {
            Ok(payment) => {
                assert!(genuine, "a forged delivery was confirmed: {body}");
                printed.debug("toss verified payment", &payment);
            }
            Err(e) => {
                assert!(!genuine, "a genuine delivery was refused: {e}");
                printed.both("toss webhook verify error", &e);
            }
        }
    }
    // A status change whose payment does not decode, at a sensitive field.
    let mut bad = body0.clone();
    bad["card"]["number"] = json!(4_330_123_412_345_678_i64);
    let bad = json!({ "eventType": "PAYMENT_STATUS_CHANGED", "createdAt": "2026-01-02T03:04:05.000000", "data": bad });
    let err = Event::from_json(bad.to_string().as_bytes()).unwrap_err();
    printed.both("toss webhook parse error", &err);
    printed.markers.hidden.insert("4330123412345678".into());
}

// ---- the test --------------------------------------------------------------------------------------------------

#[tokio::test]
async fn redaction_hides_every_personal_marker_in_every_type_and_path() {
    captured();
    const PORTONE: &[DebugType] = include!(concat!(env!("OUT_DIR"), "/portone_v2_debug_types.rs"));
    const IAMPORT: &[DebugType] = include!(concat!(env!("OUT_DIR"), "/iamport_debug_types.rs"));
    const TOSS: &[DebugType] = include!(concat!(env!("OUT_DIR"), "/toss_debug_types.rs"));

    let portone = check_generated("portone-v2", "portone-v2.json", PORTONE);
    let iamport_types = check_generated("iamport-v1", "iamport-v1.json", IAMPORT);
    let toss_types = check_generated("toss-v1", "toss-v1.json", TOSS);
    assert_covers(
        "portone-v2",
        &portone.markers.fields,
        &[
            "Card.number",
            "PaymentMethod.accountNumber",
            "PaymentMethod.remitteeName",
            "PaymentMethod.remitterName",
            "Customer.name",
            "Customer.phoneNumber",
            "Customer.email",
            "Customer.address",
            "Customer.birthYear",
            "PaymentOrigin.ipAddress",
            "CancelPaymentBody.refundEmail",
            "CancelPaymentBodyRefundAccount.number",
            "CancelPaymentBodyRefundAccount.holderName",
        ],
    );
    assert_covers(
        "iamport-v1",
        &iamport_types.markers.fields,
        &[
            "PaymentAnnotation.card_number",
            "PaymentAnnotation.vbank_num",
            "PaymentAnnotation.vbank_holder",
            "PaymentAnnotation.buyer_name",
            "PaymentAnnotation.buyer_tel",
            "PaymentAnnotation.buyer_email",
            "PaymentAnnotation.buyer_addr",
            "PaymentAnnotation.buyer_postcode",
            "PaymentAnnotation.custom_data",
            "PaymentAnnotation.customer_uid",
            "PrepareCreateBody.cust_ip",
        ],
    );
    assert_covers(
        "toss-v1",
        &toss_types.markers.fields,
        &[
            "Payment.secret",
            "Payment.metadata",
            "PaymentCard.number",
            "PaymentVirtualAccount.accountNumber",
            "PaymentVirtualAccount.customerName",
            "VirtualAccountRefundReceiveAccount.accountNumber",
            "VirtualAccountRefundReceiveAccount.holderName",
            "PaymentMobilePhone.customerMobilePhone",
        ],
    );

    let mut printed = Printed::default();
    portone_paths(&mut printed).await;
    iamport_paths(&mut printed).await;
    toss_paths(&mut printed).await;
    let log = log_text();
    assert!(log.contains("response body"), "TRACE bodies were captured");
    assert!(log.contains("request body"), "TRACE request bodies were captured");
    printed.assert_clean(&log);
    let shown_in_log = printed
        .markers
        .shown
        .iter()
        .filter(|m| log.contains(m.as_str()))
        .count();
    assert!(
        shown_in_log > 0,
        "the TRACE log shows the fields that are not sensitive"
    );

    let types = portone.types + iamport_types.types + toss_types.types + printed.types.len();
    let mut fields = BTreeSet::new();
    for (api, c) in [
        ("portone-v2", &portone),
        ("iamport-v1", &iamport_types),
        ("toss-v1", &toss_types),
    ] {
        fields.extend(c.markers.fields.iter().map(|f| format!("{api}:{f}")));
    }
    println!(
        "paths: {} facade and generated types printed {} times, {} hidden markers checked",
        printed.types.len(),
        printed.texts.len(),
        printed.markers.hidden.len()
    );
    println!("redaction: {types} types, {} fields covered", fields.len());
}
