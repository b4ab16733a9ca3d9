//! PortOne V2 webhook delivery: `Transaction.*` cancel events, Standard-Webhooks signed.
//!
//! Deliveries go through one background task in the order the events happened, the way a receiver
//! would see them from PortOne (one event per attempt; no retries, since a test that wants retries
//! can read [`WebhookDelivery::status`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::SecondsFormat;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::ledger::{CancelRecord, PaymentRecord};
use super::{Shared, lock};

/// One webhook the sandbox sent (or tried to send).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Receiver URL.
    pub url: String,
    /// Event type, e.g. `Transaction.PartialCancelled`.
    pub event_type: String,
    /// The `webhook-id` header.
    pub webhook_id: String,
    /// The JSON body exactly as sent.
    pub body: String,
    /// The receiver's HTTP status; `None` when the request failed.
    pub status: Option<u16>,
    /// Why the request failed, when it did.
    pub error: Option<String>,
}

struct Endpoint {
    url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

struct Job {
    url: String,
    event_type: String,
    webhook_id: String,
    timestamp: i64,
    signature: String,
    body: String,
}

/// Registered receivers and the queue to the delivery task.
#[derive(Debug)]
pub(crate) struct Hub {
    endpoints: Mutex<Vec<Endpoint>>,
    queue: mpsc::UnboundedSender<Job>,
    deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
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
                    Ok(client) => client
                        .post(&job.url)
                        .header("content-type", "application/json")
                        .header("webhook-id", &job.webhook_id)
                        .header("webhook-timestamp", job.timestamp.to_string())
                        .header("webhook-signature", &job.signature)
                        .body(job.body.clone())
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                let (status, error) = match outcome {
                    Ok(s) => (Some(s), None),
                    Err(e) => (None, Some(e)),
                };
                lock(&log).push(WebhookDelivery {
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
            },
            worker,
        )
    }

    pub fn register(&self, url: String, secret: Vec<u8>) {
        lock(&self.endpoints).push(Endpoint { url, secret });
    }

    pub fn deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries).clone()
    }

    fn send(&self, event_type: &str, body: String, timestamp: i64) {
        for endpoint in lock(&self.endpoints).iter() {
            let webhook_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
            let signature = sign(&endpoint.secret, &webhook_id, timestamp, body.as_bytes());
            // A send error means the sandbox is shutting down; the event has nowhere to go.
            let _ = self.queue.send(Job {
                url: endpoint.url.clone(),
                event_type: event_type.to_owned(),
                webhook_id,
                timestamp,
                signature,
                body: body.clone(),
            });
        }
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
    let now = shared.now();
    let body = json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": {
            "storeId": shared.config.store_id,
            "paymentId": payment.id,
            "transactionId": payment.transaction_id,
            "cancellationId": cancel.id,
        }
    });
    shared.webhooks.send(event_type, body.to_string(), now.timestamp());
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
