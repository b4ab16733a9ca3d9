//! Contract tests of the PortOne V2 payment reads and listings, over real HTTP on 127.0.0.1.
#![cfg(feature = "portone-v2")]

use futures::StreamExt as _;
use kr_payments::Error;
use kr_payments::portone_v2::payment::{
    GetAllPaymentsByCursorBody, PaymentFilterInput, PaymentMethodType, PaymentStatus,
};
use kr_payments::portone_v2::{CancelOutcome, Client, GetPaymentError, PaymentByStatus, PaymentExt};
use kr_payments::transport::RetryPolicy;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const SECRET: &str = "portone-test-secret-Zq81xV0c";
const STORE: &str = "store-3f1c9a70-5b2e-4d8a-9c61-0e7f2a4b8d19";
const USER_AGENT: &str = concat!("kr-payments/", env!("CARGO_PKG_VERSION"));

fn fixture(rel: &str) -> Value {
    let p = format!("{}/tests/fixtures/portone_v2/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(599).set_body_string("unexpected request"))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: no unplanned request")
        .mount(&server)
        .await;
    server
}

fn client(server: &MockServer) -> Client {
    Client::builder()
        .secret(SECRET)
        .store_id(STORE)
        .base_url(server.uri())
        .retry(RetryPolicy::Never)
        .build()
        .unwrap()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.get(name).map(|v| v.to_str().unwrap())
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A GET with the client's credentials, no body and no content type.
fn assert_get(req: &Request, expected_path: &str) {
    assert_eq!(req.method.as_str(), "GET");
    assert_eq!(req.url.path(), expected_path);
    assert_eq!(header(req, "authorization"), Some(format!("PortOne {SECRET}").as_str()));
    assert_eq!(header(req, "user-agent"), Some(USER_AGENT));
    assert_eq!(header(req, "api-version"), None);
    assert_eq!(header(req, "content-type"), None);
    assert!(req.body.is_empty());
}

/// The JSON a listing request carries in its `requestBody` query parameter.
fn request_body(req: &Request) -> Value {
    serde_json::from_str(&query(req, "requestBody").expect("requestBody query parameter")).unwrap()
}

/// Matches a listing request whose `requestBody` has `pointer` equal to `value`.
struct BodyAt(&'static str, Value);

impl Match for BodyAt {
    fn matches(&self, request: &Request) -> bool {
        query(request, "requestBody")
            .and_then(|q| serde_json::from_str::<Value>(&q).ok())
            .is_some_and(|b| b.pointer(self.0).cloned().unwrap_or(Value::Null) == self.1)
    }
}

async fn get_fixture(server: &MockServer, payment_path: &str, status: u16, body: Value) {
    Mock::given(method("GET"))
        .and(path(payment_path))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

#[tokio::test]
async fn a_paid_payment_gives_its_balance() {
    let server = server().await;
    get_fixture(
        &server,
        "/payments/order-20240601-0007",
        200,
        fixture("getPayment/paid.json"),
    )
    .await;

    let payment = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new("order-20240601-0007"))
        .await
        .unwrap();

    assert!(matches!(&*payment, PaymentByStatus::Paid { .. }), "{payment:?}");
    assert_eq!(payment.id(), Some("order-20240601-0007"));
    assert_eq!(payment.status(), PaymentStatus::Paid);
    assert_eq!(payment.paid_amount(), Some(10000));
    assert_eq!(payment.cancelled_amount(), Some(0));
    assert_eq!(payment.cancellable_amount(), Some(10000));
    assert_eq!(payment.amount().map(|a| a.discount), Some(2000));
    assert_eq!(payment.method_type(), Some(PaymentMethodType::Card));
    assert!(payment.cancellations().is_empty());

    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_get(&sent[0], "/payments/order-20240601-0007");
    assert_eq!(
        query(&sent[0], "storeId").as_deref(),
        Some(STORE),
        "the client's store id by default"
    );
}

#[tokio::test]
async fn a_partially_cancelled_payment_lists_its_cancellations() {
    let server = server().await;
    get_fixture(
        &server,
        "/payments/order-20240601-0008",
        200,
        fixture("getPayment/partial_cancelled.json"),
    )
    .await;

    let payment = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new("order-20240601-0008"))
        .store_id("store-other-7c2d")
        .send()
        .await
        .unwrap();

    assert_eq!(payment.status(), PaymentStatus::PartialCancelled);
    assert_eq!(
        payment.cancellable_amount(),
        Some(7000),
        "paid 10000 minus cancelled 3000"
    );
    let cancellations = payment.cancellations();
    assert_eq!(cancellations.len(), 2);
    assert!(
        matches!(&cancellations[0], CancelOutcome::Succeeded(c) if c.receipt_url.as_deref() == Some("https://receipts.example.com/cancel/1"))
    );
    assert!(matches!(&cancellations[1], CancelOutcome::Failed(c) if c.total_amount == 2000));
    let sent = requests(&server).await;
    assert_eq!(query(&sent[0], "storeId").as_deref(), Some("store-other-7c2d"));
}

#[tokio::test]
async fn other_statuses_map_to_the_filter_terms() {
    let server = server().await;
    get_fixture(
        &server,
        "/payments/va",
        200,
        fixture("getPayment/virtual_account_issued.json"),
    )
    .await;
    get_fixture(
        &server,
        "/payments/pending",
        200,
        fixture("getPayment/pay_pending.json"),
    )
    .await;
    let c = client(&server);

    let va = c
        .get_payment(&kr_payments::portone_v2::PaymentId::new("va"))
        .await
        .unwrap();
    assert_eq!(va.status(), PaymentStatus::VirtualAccountIssued);
    assert_eq!(va.method_type(), Some(PaymentMethodType::VirtualAccount));
    assert_eq!(va.cancellable_amount(), Some(0), "nothing deposited yet");

    let pending = c
        .get_payment(&kr_payments::portone_v2::PaymentId::new("pending"))
        .await
        .unwrap();
    assert_eq!(
        pending.status(),
        PaymentStatus::Pending,
        "PAY_PENDING on the wire, PENDING in filters"
    );
    assert!(pending.method().is_none());
    assert_eq!(pending.method_type(), None);
}

#[tokio::test]
async fn an_unknown_payment_status_is_kept_and_still_readable() {
    let server = server().await;
    let body = fixture("getPayment/unrecognized_status.json");
    get_fixture(&server, "/payments/order-20240601-0011", 200, body.clone()).await;

    let payment = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new("order-20240601-0011"))
        .await
        .unwrap();

    let PaymentByStatus::Unrecognized(raw) = payment.by_status() else {
        panic!("expected Unrecognized, got {payment:?}")
    };
    assert_eq!(raw.0, body, "the raw JSON is kept whole");
    assert_eq!(payment.status(), PaymentStatus::Unrecognized("ON_HOLD".into()));
    assert_eq!(payment.id(), Some("order-20240601-0011"));
    assert_eq!(payment.cancellable_amount(), Some(9000));
    assert_eq!(payment.method_type(), Some(PaymentMethodType::VirtualAccount));
}

#[tokio::test]
async fn payment_not_found_is_typed_and_ids_are_percent_encoded() {
    let server = server().await;
    let case = fixture("getPayment/errors/PAYMENT_NOT_FOUND.json");
    get_fixture(
        &server,
        "/payments/%EC%A3%BC%EB%AC%B8%2F7%20%3F",
        404,
        case["body"].clone(),
    )
    .await;

    let err = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new("주문/7 ?"))
        .await
        .unwrap_err();

    assert!(
        matches!(err.api(), Some(GetPaymentError::PaymentNotFound { .. })),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(404));
    assert_get(&requests(&server).await[0], "/payments/%EC%A3%BC%EB%AC%B8%2F7%20%3F");
}

#[tokio::test]
async fn an_empty_payment_id_is_refused_before_sending() {
    let server = server().await;
    let err = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new(""))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidRequest(i) if i.field == "paymentId"),
        "{err:?}"
    );
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn page_listing_streams_across_two_pages() {
    let server = server().await;
    for (number, file) in [(0, "getPayments/page0.json"), (1, "getPayments/page1.json")] {
        Mock::given(method("GET"))
            .and(path("/payments"))
            .and(BodyAt("/page/number", json!(number)))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(file)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let filter = PaymentFilterInput {
        status: vec![PaymentStatus::Paid],
        ..Default::default()
    };

    let ids: Vec<String> = client(&server)
        .payments(filter)
        .page_size(2)
        .stream()
        .map(|p| p.unwrap().id().unwrap().to_string())
        .collect()
        .await;

    assert_eq!(ids, ["order-list-0001", "order-list-0002", "order-list-0003"]);
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2, "stops after the page that reaches totalCount");
    for (i, req) in sent.iter().enumerate() {
        assert_get(req, "/payments");
        assert_eq!(
            request_body(req),
            json!({"page": {"number": i, "size": 2}, "filter": {"storeId": STORE, "status": ["PAID"]}})
        );
    }
}

#[tokio::test]
async fn page_listing_can_span_all_stores_and_stops_on_errors() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/payments"))
        .and(BodyAt("/page/number", json!(0)))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("getPayments/page0.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/payments"))
        .and(BodyAt("/page/number", json!(1)))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"type": "FORBIDDEN"})))
        .expect(1)
        .mount(&server)
        .await;

    let results: Vec<_> = client(&server)
        .payments(PaymentFilterInput::default())
        .all_stores()
        .page_size(2)
        .stream()
        .collect()
        .await;

    assert_eq!(results.len(), 3, "two payments, then the error, then the end");
    assert!(results[0].is_ok() && results[1].is_ok());
    let err = results[2].as_ref().unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.api().map(|e| e.tag()), Some("FORBIDDEN"));
    assert_eq!(
        request_body(&requests(&server).await[0]),
        json!({"page": {"number": 0, "size": 2}, "filter": {}})
    );
}

#[tokio::test]
async fn page_listing_refuses_pages_past_the_limit_without_sending() {
    let server = server().await;
    let c = client(&server);
    for (size, start, field) in [(0, 0, "page.size"), (1000, 60, "page"), (60_001, 0, "page")] {
        let results: Vec<_> = c
            .payments(PaymentFilterInput::default())
            .page_size(size)
            .start_page(start)
            .stream()
            .collect()
            .await;
        assert_eq!(results.len(), 1);
        assert!(
            matches!(&results[0], Err(Error::InvalidRequest(i)) if i.field == field),
            "{size}x{start}: {:?}",
            results[0]
        );
    }
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn cursor_listing_follows_the_cursor_to_an_empty_page() {
    let server = server().await;
    for (cursor, file) in [
        (Value::Null, "getAllPaymentsByCursor/first.json"),
        (json!("cur-0012"), "getAllPaymentsByCursor/second.json"),
        (json!("cur-0013"), "getAllPaymentsByCursor/empty.json"),
    ] {
        Mock::given(method("GET"))
            .and(path("/payments-by-cursor"))
            .and(BodyAt("/cursor", cursor))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(file)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let from = "2024-06-01T00:00:00Z".parse().unwrap();
    let until = "2024-06-02T00:00:00Z".parse().unwrap();

    let items: Vec<(String, String)> = client(&server)
        .payments_by_cursor(GetAllPaymentsByCursorBody {
            from: Some(from),
            until: Some(until),
            size: Some(2),
            ..Default::default()
        })
        .stream()
        .map(|r| {
            let item = r.unwrap();
            (item.payment.id().unwrap().to_string(), item.cursor)
        })
        .collect()
        .await;

    assert_eq!(
        items,
        [
            ("order-list-0011".to_string(), "cur-0011".to_string()),
            ("order-list-0012".to_string(), "cur-0012".to_string()),
            ("order-list-0013".to_string(), "cur-0013".to_string()),
        ]
    );
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 3);
    let mut expected = json!({
        "storeId": STORE,
        "from": "2024-06-01T00:00:00Z",
        "until": "2024-06-02T00:00:00Z",
        "size": 2
    });
    for (req, cursor) in sent.iter().zip([None, Some("cur-0012"), Some("cur-0013")]) {
        assert_get(req, "/payments-by-cursor");
        match cursor {
            Some(c) => expected["cursor"] = json!(c),
            None => assert!(expected.get("cursor").is_none()),
        }
        assert_eq!(request_body(req), expected);
    }
}

#[tokio::test]
async fn cursor_listing_checks_the_page_size_before_sending() {
    let server = server().await;
    for size in [0, 1001, -5] {
        let results: Vec<_> = client(&server)
            .payments_by_cursor(GetAllPaymentsByCursorBody {
                size: Some(size),
                ..Default::default()
            })
            .stream()
            .collect()
            .await;
        assert!(
            matches!(results.as_slice(), [Err(Error::InvalidRequest(i))] if i.field == "size"),
            "{size}: {results:?}"
        );
    }
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn a_malformed_payment_in_a_page_names_its_json_path() {
    let server = server().await;
    let mut page = fixture("getPayments/page0.json");
    page["items"][1]["cancellations"] = json!([{"status": "SUCCEEDED", "id": "c-1", "totalAmount": 1000,
        "taxFreeAmount": 0, "vatAmount": null, "reason": "x", "requestedAt": "2024-06-01T03:15:07Z"}]);
    Mock::given(method("GET"))
        .and(path("/payments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(1)
        .mount(&server)
        .await;

    let results: Vec<_> = client(&server)
        .payments(PaymentFilterInput::default())
        .stream()
        .collect()
        .await;

    let [Err(Error::Decode(d))] = results.as_slice() else {
        panic!("expected one decode error, got {results:?}")
    };
    assert_eq!(d.path, "items[1].cancellations[0].vatAmount");
    assert_eq!(d.status, 200);
}

#[tokio::test]
async fn a_malformed_payment_names_its_json_path() {
    let server = server().await;
    let mut body = fixture("getPayment/paid.json");
    body["amount"]["paid"] = json!(10000.5);
    get_fixture(&server, "/payments/order-20240601-0007", 200, body).await;

    let err = client(&server)
        .get_payment(&kr_payments::portone_v2::PaymentId::new("order-20240601-0007"))
        .send()
        .await
        .unwrap_err();

    let Error::Decode(d) = &err else {
        panic!("expected a decode error, got {err:?}")
    };
    assert_eq!(d.path, "amount.paid", "money is never a float: {d}");
}

#[tokio::test]
async fn page_listing_says_so_when_matches_go_past_the_paging_limit() {
    let server = server().await;
    for number in [0, 1] {
        let mut page = fixture("getPayments/page0.json");
        page["page"] = json!({"number": number, "size": 30000, "totalCount": 90000});
        Mock::given(method("GET"))
            .and(path("/payments"))
            .and(BodyAt("/page/number", json!(number)))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .expect(1)
            .mount(&server)
            .await;
    }

    let results: Vec<_> = client(&server)
        .payments(PaymentFilterInput::default())
        .page_size(30000)
        .stream()
        .collect()
        .await;

    assert_eq!(results.len(), 5, "two pages of two, then the refusal");
    assert!(results[..4].iter().all(Result::is_ok));
    let Err(Error::InvalidRequest(i)) = &results[4] else {
        panic!("expected InvalidRequest, got {:?}", results[4])
    };
    assert!(i.reason.contains("payments_by_cursor"), "{i}");
    assert_eq!(requests(&server).await.len(), 2, "the third page is never asked for");
}
