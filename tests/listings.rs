//! Listings of the three providers in one shape: a builder that owns a clone of its client and a boxed stream that
//! is `Unpin + Send + 'static`, so it can be stored or returned; iamport's and Toss's read from the sandbox page by
//! page, and Toss's follows its `startingAfter` cursor.
#![cfg(feature = "sandbox")]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use kr_payments::refund::{Refund, Refunds};
use kr_payments::sandbox::{self, Provider, Sandbox, SeedPayment};
use kr_payments::{iamport, portone_v2, toss};
use std::collections::BTreeSet;

/// Compiles only for a stream that can be kept in a struct, sent to another task and returned from a function.
fn storable<S: futures::Stream + Unpin + Send + 'static>(stream: S) -> S {
    stream
}

fn iamport_client(sb: &Sandbox) -> iamport::Client {
    iamport::Client::builder()
        .imp_key(sandbox::DEFAULT_IMP_KEY)
        .imp_secret(sandbox::DEFAULT_IMP_SECRET)
        .base_url(sb.base_url_iamport())
        .build()
        .unwrap()
}

fn toss_client(sb: &Sandbox) -> toss::Client {
    toss::Client::builder()
        .secret_key(sandbox::DEFAULT_TOSS_SECRET_KEY)
        .base_url(sb.base_url_toss())
        .build()
        .unwrap()
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 3, 0, 0).unwrap()
}

/// A stream built from a client that is gone before the stream is read: the stream owns what it needs.
fn paid_iamport_payments(
    sb: &Sandbox,
) -> BoxStream<'static, Result<iamport::Payment, kr_payments::Error<iamport::IamportError>>> {
    let client = iamport_client(sb);
    let stream = client.payments_by_status(iamport::StatusFilter::Paid).limit(2).stream();
    drop(client);
    stream
}

#[test]
fn every_providers_listing_stream_is_unpin_send_and_static() {
    let clients = |url: &str| {
        let v2 = portone_v2::Client::builder().secret("s").base_url(url).build().unwrap();
        let v1 = iamport::Client::builder()
            .imp_key("k")
            .imp_secret("s")
            .base_url(url)
            .build()
            .unwrap();
        let tc = toss::Client::builder()
            .secret_key("test_sk_x")
            .base_url(url)
            .build()
            .unwrap();
        (v2, v1, tc)
    };
    let (v2, v1, tc) = clients("http://127.0.0.1:9");
    // Nothing is polled: these only have to compile.
    let _ = storable(v2.payments(Default::default()).stream());
    let _ = storable(v2.payments_by_cursor(Default::default()).stream());
    let _ = storable(v1.payments_by_status(iamport::StatusFilter::All).stream());
    let _ = storable(tc.transactions(toss::TransactionQuery::new(noon()..=noon())).stream());
}

#[tokio::test]
async fn iamports_listing_outlives_its_client_and_reads_every_page() {
    let sb = Sandbox::start().await.unwrap();
    let seeded: BTreeSet<String> = (0..5)
        .map(|i| sb.seed(SeedPayment::card(format!("order-list-{i}"), 1_000 + i).provider(Provider::Iamport)))
        .collect();
    // Stored in a struct and moved to another task before being read.
    struct Holder {
        stream: BoxStream<'static, Result<iamport::Payment, kr_payments::Error<iamport::IamportError>>>,
    }
    let mut holder = Holder {
        stream: storable(paid_iamport_payments(&sb)),
    };
    let listed = tokio::spawn(async move {
        let mut ids = Vec::new();
        while let Some(p) = holder.stream.next().await {
            ids.push(p.unwrap().imp_uid.clone().unwrap());
        }
        ids
    })
    .await
    .unwrap();
    assert_eq!(listed.len(), 5, "{listed:?}");
    assert_eq!(
        listed.iter().cloned().collect::<BTreeSet<_>>(),
        seeded,
        "each payment once"
    );
    let pages: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path == "/payments/status/paid")
        .collect();
    assert_eq!(pages.len(), 3, "5 payments, 2 a page: {pages:?}");
}

/// The Toss payments of a test, with a cancel or two so that the listing holds approvals and cancels.
async fn seed_toss(sb: &Sandbox, count: i64) -> Vec<String> {
    let client = toss_client(sb);
    let mut keys = Vec::new();
    for i in 0..count {
        let key = sb.seed(
            SeedPayment::card(format!("order-tx-{i}"), 10_000)
                .provider(Provider::Toss)
                .paid_at(noon() + TimeDelta::minutes(i)),
        );
        if i % 2 == 0 {
            client
                .refund(&key, &Refund::partial(1_000, 10_000, "one item"))
                .await
                .unwrap();
        }
        keys.push(key);
    }
    keys
}

#[tokio::test]
async fn tosss_transactions_stream_reads_every_page_following_the_cursor_without_duplicates() {
    let sb = Sandbox::start().await.unwrap();
    sb.set_now(noon() + TimeDelta::hours(1));
    let keys = seed_toss(&sb, 5).await;
    let cancels: BTreeSet<String> = keys
        .iter()
        .flat_map(|k| sb.cancels(k))
        .map(|c| c.transaction_key)
        .collect();
    assert_eq!(cancels.len(), 3);

    let range = noon() - TimeDelta::hours(1)..=noon() + TimeDelta::hours(2);
    let stream = toss_client(&sb)
        .transactions(toss::TransactionQuery::new(range).limit(3))
        .stream();
    let listed: Vec<toss::Transaction> = storable(stream).map(Result::unwrap).collect().await;

    // 5 approvals and 3 cancels, each once.
    let tx_keys: Vec<&str> = listed.iter().map(|t| t.transaction_key()).collect();
    assert_eq!(tx_keys.len(), 8, "{tx_keys:?}");
    assert_eq!(
        tx_keys.iter().collect::<BTreeSet<_>>().len(),
        8,
        "no duplicates: {tx_keys:?}"
    );
    let approved: BTreeSet<&str> = listed
        .iter()
        .filter(|t| t.status == toss::Status::Done)
        .map(|t| t.payment_key())
        .collect();
    assert_eq!(
        approved,
        keys.iter().map(String::as_str).collect(),
        "every payment's approval"
    );
    let listed_cancels: BTreeSet<String> = listed
        .iter()
        .filter(|t| t.status != toss::Status::Done)
        .map(|t| t.transaction_key().to_owned())
        .collect();
    assert_eq!(listed_cancels, cancels, "every cancel the ledger applied");

    // Three pages (3 + 3 + 2): the second and third each start after the last key of the page before.
    let queries: Vec<String> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/transactions")
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(queries.len(), 3, "{queries:?}");
    assert!(!queries[0].contains("startingAfter"), "{}", queries[0]);
    for (page, query) in queries.iter().enumerate().skip(1) {
        let after = tx_keys[page * 3 - 1];
        assert!(
            query.contains(&format!("startingAfter={after}")),
            "page {page}: {query}"
        );
    }
    // The range went as Korean local time, to the second.
    assert!(
        queries[0].contains("startDate=2026-03-02T11%3A00%3A00"),
        "{}",
        queries[0]
    );
    assert!(queries[0].contains("endDate=2026-03-02T14%3A00%3A00"), "{}", queries[0]);
}

#[tokio::test]
async fn tosss_listing_without_a_limit_ends_at_an_empty_page_and_resumes_after_a_key() {
    let sb = Sandbox::start().await.unwrap();
    sb.set_now(noon() + TimeDelta::hours(1));
    seed_toss(&sb, 3).await;
    let client = toss_client(&sb);
    let range = noon() - TimeDelta::hours(1)..=noon() + TimeDelta::hours(2);
    let all: Vec<toss::Transaction> = client
        .transactions(toss::TransactionQuery::new(range.clone()))
        .stream()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(all.len(), 5);
    let resumed: Vec<String> = client
        .transactions(toss::TransactionQuery::new(range).starting_after(all[1].transaction_key()))
        .stream()
        .map(|t| t.unwrap().transaction_key().to_owned())
        .collect()
        .await;
    let expected: Vec<String> = all[2..].iter().map(|t| t.transaction_key().to_owned()).collect();
    assert_eq!(resumed, expected, "the rest, after the key given");
}

#[tokio::test]
async fn tosss_listing_refuses_a_bad_query_before_sending() {
    let sb = Sandbox::start().await.unwrap();
    let client = toss_client(&sb);
    let reversed = toss::TransactionQuery::new(noon()..=noon() - TimeDelta::seconds(1));
    for (query, field) in [
        (reversed, "startDate"),
        (toss::TransactionQuery::new(noon()..=noon()).limit(0), "limit"),
        (
            toss::TransactionQuery::new(noon()..=noon()).limit(toss::MAX_TRANSACTIONS_PAGE + 1),
            "limit",
        ),
    ] {
        let mut stream = client.transactions(query).stream();
        let err = stream.next().await.unwrap().unwrap_err();
        assert!(err.nothing_sent(), "{err}");
        assert!(err.to_string().contains(field), "{err}");
        assert!(stream.next().await.is_none());
    }
    assert!(sb.requests().iter().all(|r| r.path != "/v1/transactions"));
}

#[tokio::test]
async fn a_field_toss_adds_to_a_transaction_is_kept() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let item = serde_json::json!({
        "mId": "tosspayments",
        "transactionKey": "txk-1",
        "paymentKey": "pk-1",
        "orderId": "order-1",
        "method": "카드",
        "customerKey": null,
        "useEscrow": false,
        "receiptUrl": "https://example.invalid/r",
        "status": "DONE",
        "transactionAt": "2026-03-02T12:00:00+09:00",
        "currency": "KRW",
        "amount": 10000,
        "settlementDetail": {"fee": 330, "note": "a field no spec lists"}
    });
    Mock::given(method("GET"))
        .and(path("/v1/transactions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([item])))
        .mount(&server)
        .await;
    let client = toss::Client::builder()
        .secret_key("test_sk_x")
        .base_url(server.uri())
        .build()
        .unwrap();
    let listed: Vec<toss::Transaction> = client
        .transactions(toss::TransactionQuery::new(noon()..=noon()).limit(10))
        .stream()
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].transaction_key(), listed[0].amount()), ("txk-1", 10_000));
    let written = serde_json::to_value(&listed[0]).unwrap();
    assert_eq!(written["settlementDetail"]["fee"], 330, "the unknown field is kept");
    assert_eq!(written, item, "written back as sent");
}
