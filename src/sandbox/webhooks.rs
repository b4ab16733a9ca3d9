//! Webhook delivery for the three providers.
//!
//! - PortOne V2: `Transaction.*` and `BillingKey.*` events `{type, timestamp, data}`, signed the
//!   Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//! - Toss: `{eventType, createdAt, data}`: `PAYMENT_STATUS_CHANGED` (data: the Payment) after a
//!   confirm, a billing charge or a cancel, and `BILLING_DELETED` (data: `{billingKey}`) after a
//!   billing key is deleted. Toss signs none of these.
//! - iamport: `{imp_uid, merchant_uid, status, cancellation_id}` after a cancel sent with
//!   `enable_webhook: true`, unsigned.
//!
//! Deliveries go through one background task in the order the events happened, the way a receiver
//! would see them (one attempt each; no automatic retries, since a test that wants retries can read
//! [`WebhookDelivery::status`], and PortOne's `resendWebhook` sends one again).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ledger::{CancelRecord, PaymentRecord};
use super::{Provider, Shared, lock};

/// One webhook the sandbox sent (or tried to send).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// The provider whose webhook it is.
    pub provider: Provider,
    /// Receiver URL.
    pub url: String,
    /// Event type, e.g. `Transaction.PartialCancelled`, `PAYMENT_STATUS_CHANGED`; iamport's is its `status`.
    pub event_type: String,
    /// The `webhook-id` header (PortOne V2); a sandbox id for the others, which send no such header.
    pub webhook_id: String,
    /// The JSON body exactly as sent.
    pub body: String,
    /// The receiver's HTTP status; `None` when the request failed.
    pub status: Option<u16>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
}

#[derive(Clone)]
enum Endpoint {
    PortOne { url: String, secret: Vec<u8> },
    Toss { url: String },
    Iamport { url: String },
}

impl Endpoint {
    fn provider(&self) -> Provider {
        match self {
            Endpoint::PortOne { .. } => Provider::PortOneV2,
            Endpoint::Toss { .. } => Provider::Toss,
            Endpoint::Iamport { .. } => Provider::Iamport,
        }
    }

    fn url(&self) -> &str {
        match self {
            Endpoint::PortOne { url, .. } | Endpoint::Toss { url } | Endpoint::Iamport { url } => url,
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("provider", &self.provider())
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

struct Job {
    provider: Provider,
    url: String,
    event_type: String,
    webhook_id: String,
    /// `(timestamp, signature)` for a signed (PortOne V2) delivery.
    signed: Option<(i64, String)>,
    body: String,
}

/// A webhook as queued, kept so PortOne V2's resendWebhook can send it again.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub payment_id: String,
    pub webhook_id: String,
    pub url: String,
    pub event_type: String,
    pub body: String,
    pub payment_status: &'static str,
    pub triggered_at: chrono::DateTime<chrono::Utc>,
    endpoint: usize,
}

/// Registered receivers and the queue to the delivery task.
#[derive(Debug)]
pub(crate) struct Hub {
    endpoints: Mutex<Vec<Endpoint>>,
    queue: mpsc::UnboundedSender<Job>,
    deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
    sent: Mutex<Vec<Sent>>,
}

impl Hub {
    /// Creates the hub and spawns its delivery task on the current runtime.
    pub fn start() -> (Hub, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let log = deliveries.clone();
        let worker = tokio::spawn(async move {
            // PortOne documents a 30 s timeout on its webhook requests; the sandbox does the same.
            let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build();
            while let Some(job) = rx.recv().await {
                let outcome = match &client {
                    Ok(client) => {
                        let mut req = client
                            .post(&job.url)
                            .header("content-type", "application/json")
                            .body(job.body.clone());
                        if let Some((timestamp, signature)) = &job.signed {
                            req = req
                                .header("webhook-id", &job.webhook_id)
                                .header("webhook-timestamp", timestamp.to_string())
                                .header("webhook-signature", signature);
                        }
                        req.send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
                    }
                    Err(e) => Err(e.to_string()),
                };
                let (status, error) = match outcome {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e)),
                };
                lock(&log).push(WebhookDelivery {
                    provider: job.provider,
                    url: job.url,
                    event_type: job.event_type,
                    webhook_id: job.webhook_id,
                    body: job.body,
                    status,
                    error,
                });
            }
        });
        (
            Hub {
                endpoints: Mutex::new(Vec::new()),
                queue: tx,
                deliveries,
                sent: Mutex::new(Vec::new()),
            },
            worker,
        )
    }

    pub fn register(&self, url: String, secret: Vec<u8>) {
        lock(&self.endpoints).push(Endpoint::PortOne { url, secret });
    }

    pub fn register_toss(&self, url: String) {
        lock(&self.endpoints).push(Endpoint::Toss { url });
    }

    pub fn register_iamport(&self, url: String) {
        lock(&self.endpoints).push(Endpoint::Iamport { url });
    }

    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries).clone()
    }

    /// What the last delivery of `webhook_id` got back: `None` while it has not been attempted.
    pub fn outcome(&self, webhook_id: &str) -> Option<WebhookDelivery> {
        lock(&self.deliveries)
            .iter()
            .rev()
            .find(|d| d.webhook_id == webhook_id)
            .cloned()
    }

    fn enqueue(&self, endpoint: &Endpoint, event_type: &str, webhook_id: String, body: &str, timestamp: i64) {
        let signed = match endpoint {
            Endpoint::PortOne { secret, .. } => {
                Some((timestamp, sign(secret, &webhook_id, timestamp, body.as_bytes())))
            }
            _ => None,
        };
        // A send error means the sandbox is shutting down; the event has nowhere to go.
        let _ = self.queue.send(Job {
            provider: endpoint.provider(),
            url: endpoint.url().to_owned(),
            event_type: event_type.to_owned(),
            webhook_id,
            signed,
            body: body.to_owned(),
        });
    }

    fn send(
        &self,
        provider: Provider,
        payment: Option<(&str, &'static str)>,
        event_type: &str,
        body: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let endpoints = lock(&self.endpoints).clone();
        for (index, endpoint) in endpoints.iter().enumerate().filter(|(_, e)| e.provider() == provider) {
            let webhook_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            if let Some((payment_id, payment_status)) = payment {
                lock(&self.sent).push(Sent {
                    payment_id: payment_id.to_owned(),
                    webhook_id: webhook_id.clone(),
                    url: endpoint.url().to_owned(),
                    event_type: event_type.to_owned(),
                    body: body.to_owned(),
                    payment_status,
                    triggered_at: now,
                    endpoint: index,
                });
            }
            self.enqueue(endpoint, event_type, webhook_id, body, now.timestamp());
        }
    }

    /// Sends a PortOne V2 payment's webhook again: the one named, or its latest. Returns what was resent.
    pub fn resend(
        &self,
        payment_id: &str,
        webhook_id: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<Sent> {
        let found = lock(&self.sent)
            .iter()
            .rev()
            .find(|s| s.payment_id == payment_id && webhook_id.is_none_or(|w| w == s.webhook_id))
            .cloned()?;
        let endpoint = lock(&self.endpoints).get(found.endpoint).cloned()?;
        // A resend keeps the webhook's id, as Standard Webhooks retries do, with a fresh timestamp.
        self.enqueue(
            &endpoint,
            &found.event_type,
            found.webhook_id.clone(),
            &found.body,
            now.timestamp(),
        );
        Some(found)
    }
}

/// Queues the event that a cancel produces: `Transaction.CancelPending` for a cancel left
/// REQUESTED, otherwise `Transaction.Cancelled` once nothing is left or `Transaction.PartialCancelled`.
pub(crate) fn cancel_event(shared: &Shared, payment: &PaymentRecord, cancel: &CancelRecord) {
    let event_type = if cancel.is_pending() {
        "Transaction.CancelPending"
    } else if payment.is_fully_cancelled() {
        "Transaction.Cancelled"
    } else {
        "Transaction.PartialCancelled"
    };
    let data = json!({
        "storeId": shared.config.store_id,
        "paymentId": payment.id,
        "transactionId": payment.transaction_id,
        "cancellationId": cancel.id,
    });
    portone_event(shared, payment, event_type, data);
}

fn portone_event(shared: &Shared, payment: &PaymentRecord, event_type: &str, data: Value) {
    let now = shared.now();
    let body = json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    let status = super::portone_v2::status_of(payment);
    shared.webhooks.send(
        Provider::PortOneV2,
        Some((&payment.id, status)),
        event_type,
        &body.to_string(),
        now,
    );
}

/// `Transaction.Paid` for a PortOne V2 payment that was just paid (confirm, billing-key charge).
pub(crate) fn paid_event(shared: &Shared, payment: &PaymentRecord) {
    let data = json!({
        "storeId": shared.config.store_id,
        "paymentId": payment.id,
        "transactionId": payment.transaction_id,
    });
    portone_event(shared, payment, "Transaction.Paid", data);
}

/// `BillingKey.Issued` for a PortOne V2 billing key.
pub(crate) fn billing_key_issued(shared: &Shared, billing_key: &str) {
    let now = shared.now();
    let body = json!({
        "type": "BillingKey.Issued",
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": {"storeId": shared.config.store_id, "billingKey": billing_key},
    });
    shared
        .webhooks
        .send(Provider::PortOneV2, None, "BillingKey.Issued", &body.to_string(), now);
}

fn toss_event(shared: &Shared, event_type: &str, data: Value) {
    let now = shared.now();
    let created = super::ledger::in_kst(now).to_rfc3339_opts(SecondsFormat::Millis, false);
    let body = json!({"eventType": event_type, "createdAt": created, "data": data});
    shared
        .webhooks
        .send(Provider::Toss, None, event_type, &body.to_string(), now);
}

/// Toss `PAYMENT_STATUS_CHANGED` with the payment as it is now.
pub(crate) fn toss_payment_changed(shared: &Shared, payment: &PaymentRecord) {
    toss_event(shared, "PAYMENT_STATUS_CHANGED", super::toss::payment_json(payment));
}

/// Toss `BILLING_DELETED` after a billing key was deleted.
pub(crate) fn toss_billing_deleted(shared: &Shared, billing_key: &str) {
    toss_event(shared, "BILLING_DELETED", json!({"billingKey": billing_key}));
}

/// iamport's notification after a cancel sent with `enable_webhook: true`.
pub(crate) fn iamport_cancelled(shared: &Shared, payment: &PaymentRecord, cancel: &CancelRecord) {
    let status = super::iamport::status_of(payment);
    let body = json!({
        "imp_uid": payment.id,
        "merchant_uid": payment.order_id,
        "status": status,
        "cancellation_id": cancel.id,
    });
    shared
        .webhooks
        .send(Provider::Iamport, None, status, &body.to_string(), shared.now());
}

/// The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
/// Signs a delivery exactly as the SDK's own verifier expects (Standard Webhooks, `v1,<base64>`).
fn sign(secret: &[u8], webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
    crate::portone_v2::webhook::sign(
        &crate::portone_v2::webhook::Secret::from_bytes(secret.to_vec()),
        webhook_id,
        timestamp,
        body,
    )
}
