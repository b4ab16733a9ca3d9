//! Toss: no official spec exists. `openapi/source/toss-v1.yaml` is the project's own spec, authored from
//! Toss's documented facts; regen checks it obeys the rules the generator needs and writes it as JSON.

use super::{Normalized, StepLog, common};
use serde_json::Value;

/// Response fields that may be required, per received schema: what Toss's documentation guarantees in every
/// answer and the facade needs to tell the merchant the truth. Seed 001's examples carry all of them.
const GUARANTEED: &[(&str, &[&str])] = &[
    (
        "Payment",
        &["paymentKey", "orderId", "status", "totalAmount", "balanceAmount"],
    ),
    ("PaymentCancel", &["cancelAmount", "transactionKey"]),
    (
        "Transaction",
        &["transactionKey", "paymentKey", "orderId", "status", "amount"],
    ),
    ("Settlement", &["paymentKey"]),
    ("CashReceipt", &["receiptKey"]),
    ("CashReceiptList", &["hasNext", "data"]),
    ("Billing", &["billingKey", "customerKey"]),
    ("ErrorResponse", &["code", "message"]),
    // Webhook bodies, as the webhook module decodes them.
    ("PaymentStatusChangedWebhook", &["eventType", "createdAt", "data"]),
    ("CancelStatusChangedWebhook", &["eventType", "createdAt", "data"]),
    ("BillingDeletedWebhook", &["eventType", "createdAt", "data"]),
    ("BillingDeleted", &["billingKey"]),
    ("DepositCallbackWebhook", &["createdAt", "secret", "status", "orderId"]),
    ("GenericWebhook", &["eventType"]),
];

pub fn normalize(mut spec: Value) -> Result<Normalized, crate::Error> {
    let mut log = StepLog::default();
    if spec
        .get("openapi")
        .and_then(Value::as_str)
        .is_none_or(|v| !v.starts_with("3.0."))
    {
        return Err("toss-v1.yaml must be OpenAPI 3.0.x".into());
    }
    let n = common::strip_prose(&mut spec);
    log.optional(
        "drop prose",
        "the normalized spec carries facts only; our source keeps its notes in comments",
        n,
    );

    // The source must already be written for the generator: these guards keep it that way.
    let defaults = common::defaults_to_vendor_key(&mut spec);
    let bounds = common::constraints_to_vendor_key(&mut spec);
    if defaults + bounds > 0 {
        return Err(format!("toss-v1.yaml uses `default` ({defaults}) or bounds ({bounds}); write them as x-server-default / x-kr-max-length").into());
    }
    let ops = common::assert_unique_operation_ids(&mut spec)?;
    for (path, method, op) in common::operations_mut(&mut spec) {
        let codes: Vec<&String> = op
            .get("responses")
            .and_then(Value::as_object)
            .map(|r| r.keys().collect())
            .unwrap_or_default();
        let ok = codes.iter().filter(|c| c.starts_with('2')).count() == 1
            && codes.iter().all(|c| c.starts_with('2') || *c == "4XX" || *c == "5XX");
        if !ok {
            return Err(format!("{method} {path}: responses must be one 2xx plus 4XX/5XX, found {codes:?}").into());
        }
    }
    log.required(
        "validate the authored spec",
        "one success type and one error type per operation, no `default`, no bounds, unique operationIds, every $ref resolves — the rules progenitor and typify need (see the PortOne and iamport steps for why)",
        ops,
    )?;
    let reduced = common::reduce_received_required(&mut spec, GUARANTEED, common::Unlisted::Refuse)?;
    log.required(
        "response fields optional unless guaranteed",
        "a received schema requires only what Toss's documentation guarantees and the facade needs (ids, status, amounts, each cancel's amount and key: the table in `xtask/src/normalize/toss.rs`); the source may say more, and a received schema the table does not classify fails the run. Schemas sent in requests are not touched",
        reduced.checked,
    )?;
    log.optional(
        "(required entries taken off by the step above)",
        "fields the source lists as required that the table does not guarantee",
        reduced.removed,
    );
    if !reduced.shared.is_empty() {
        return Err(format!(
            "schemas both sent and received with a required list: {:?}; split them so requests stay strict",
            reduced.shared
        )
        .into());
    }
    let n = common::make_received_optional_properties_nullable(&mut spec);
    log.optional(
        "optional response fields nullable",
        "Toss sends `null` for fields it may also leave out (seed 001: `secret`, `failure`, `cancelRequestId`, ...); an optional received property that is not nullable would fail the whole answer on a null",
        n,
    );

    common::finalize(&mut spec, "TossPayments core API v1 (authored by kr-payments)");
    common::assert_refs_resolve(&spec)?;
    Ok(Normalized { spec, log })
}
