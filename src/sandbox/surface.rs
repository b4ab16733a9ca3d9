//! The sandbox's HTTP surface as a whole: which operations of each provider's spec it serves, and
//! the answers for everything else, always in the provider's own error format.
//!
//! - A path and method that some operation of the provider's spec has, but the sandbox does not
//!   serve: 501 with the sandbox's own code `SANDBOX_NOT_SUPPORTED` (no provider documents a code
//!   for this) and the operation's id, in the provider's error body.
//! - A path the spec has, with a method it does not: 405.
//! - A path in no spec: 404 (PortOne V2 `NOT_FOUND`, Toss `NOT_FOUND`, iamport `code` -1).
//! - Any other error the HTTP stack produces before a handler (a body above the size limit, a path
//!   segment that is not UTF-8 once decoded, a malformed request line, a URI above 64 KiB): its
//!   status, with a body in the provider's format, via [`format_guard`] or, for what hyper answers
//!   itself, [`rewrite_hyper_error`].
//!
//! Codes for statuses the providers document no code for are our choice: PortOne V2 and Toss
//! `INVALID_REQUEST` for 4xx input problems; `SANDBOX_INTERNAL_ERROR` for the sandbox's own 500.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::Provider;
use super::faults::{RouteInfo, split_provider};

/// One operation of a provider's spec (`openapi/*.json`, plus the three Toss operations issue 16
/// adds to the Toss spec), and whether the sandbox serves it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The API it belongs to.
    pub provider: Provider,
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path template below the provider's base URL, e.g. `/payments/{paymentId}/cancel`.
    pub path: &'static str,
    /// The spec's `operationId`.
    pub operation_id: &'static str,
    /// True when the sandbox implements it; otherwise it answers 501 `SANDBOX_NOT_SUPPORTED`.
    pub served: bool,
}

const fn op(
    provider: Provider,
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    served: bool,
) -> Operation {
    Operation {
        provider,
        method,
        path,
        operation_id,
        served,
    }
}

/// Every operation of the three specs, sorted by provider and path. A test checks this table
/// against `openapi/*.json`, and that each served operation is routed and each other one is not.
const OPERATIONS: &[Operation] = &[
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/bulk-tax-invoices/{bulkTaxInvoiceId}",
        "getB2bBulkTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/companies/business-info",
        "getB2bBusinessInfos",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/counterparties",
        "getB2bCounterparties",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/counterparties",
        "createB2bCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/counterparties/{brn}/certificate",
        "getB2bCounterpartyCertificate",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/counterparties/{brn}/certificate/registration-url",
        "getB2bCounterpartyCertificateRegistrationUrl",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/counterparties/{brn}/certificate/validate",
        "validateB2bCounterpartyCertificate",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/b2b/counterparties/{counterpartyId}",
        "deleteB2bCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/counterparties/{counterpartyId}",
        "getB2bCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/b2b/counterparties/{counterpartyId}",
        "updateB2bCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/file-upload-url",
        "createB2bFileUploadUrl",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices",
        "getB2bTaxInvoices",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices-sheet",
        "downloadB2bTaxInvoicesSheet",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/draft",
        "draftB2bTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PUT",
        "/b2b/tax-invoices/draft",
        "updateB2bTaxInvoiceDraft",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/issue-immediately",
        "issueB2bTaxInvoiceImmediately",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/request-reverse-issuance",
        "requestB2bTaxInvoiceReverseIssuance",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/b2b/tax-invoices/{taxInvoiceKey}",
        "deleteB2bTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices/{taxInvoiceKey}",
        "getB2bTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/attach-file",
        "attachB2bTaxInvoiceFile",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices/{taxInvoiceKey}/attachments",
        "getB2bTaxInvoiceAttachments",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/b2b/tax-invoices/{taxInvoiceKey}/attachments/{attachmentId}",
        "deleteB2bTaxInvoiceAttachment",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/cancel-issuance",
        "cancelB2bTaxInvoiceIssuance",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/cancel-request",
        "cancelB2bTaxInvoiceRequest",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/issue",
        "issueB2bTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices/{taxInvoiceKey}/pdf-download-url",
        "getB2bTaxInvoicePdfDownloadUrl",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices/{taxInvoiceKey}/popup-url",
        "getB2bTaxInvoicePopupUrl",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/b2b/tax-invoices/{taxInvoiceKey}/print-url",
        "getB2bTaxInvoicePrintUrl",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/refuse-request",
        "refuseB2bTaxInvoiceRequest",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/request",
        "requestB2bTaxInvoice",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/b2b/tax-invoices/{taxInvoiceKey}/send-to-nts",
        "sendToNtsB2bTaxInvoice",
        false,
    ),
    op(Provider::PortOneV2, "GET", "/banks", "getBankInfos", false),
    op(Provider::PortOneV2, "GET", "/billing-keys", "getBillingKeyInfos", false),
    op(Provider::PortOneV2, "POST", "/billing-keys", "issueBillingKey", true),
    op(
        Provider::PortOneV2,
        "POST",
        "/billing-keys/confirm",
        "confirmBillingKey",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/billing-keys/confirm-issue-and-pay",
        "confirmBillingKeyIssueAndPay",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/billing-keys/{billingKey}",
        "deleteBillingKey",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/billing-keys/{billingKey}",
        "getBillingKeyInfo",
        false,
    ),
    op(Provider::PortOneV2, "GET", "/cash-receipts", "getCashReceipts", false),
    op(Provider::PortOneV2, "POST", "/cash-receipts", "issueCashReceipt", false),
    op(
        Provider::PortOneV2,
        "GET",
        "/checkout-profiles/evaluate",
        "evaluateCheckoutProfile",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/identity-verifications",
        "getIdentityVerifications",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/identity-verifications/{identityVerificationId}",
        "getIdentityVerification",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/identity-verifications/{identityVerificationId}/confirm",
        "confirmIdentityVerification",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/identity-verifications/{identityVerificationId}/resend",
        "resendIdentityVerification",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/identity-verifications/{identityVerificationId}/send",
        "sendIdentityVerification",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/kakaopay/payment/order",
        "getKakaopayPaymentOrder",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/login/api-secret",
        "loginViaApiSecret",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-events-by-cursor",
        "getAllPaymentEventsByCursor",
        true,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-gateways/card-promotion",
        "getPgCardPromotions",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-reconciliations/settlements/vat-report",
        "getPaymentReconciliationSettlementVatReport",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-reconciliations/transactions/vat-report",
        "getPaymentReconciliationTransactionVatReport",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/payment-schedules",
        "revokePaymentSchedules",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-schedules",
        "getPaymentSchedules",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-schedules/{paymentScheduleId}",
        "getPaymentSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payment-sessions",
        "createPaymentSession",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payment-sessions/{sessionId}",
        "getPaymentSession",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payment-sessions/{sessionId}/close",
        "closePaymentSession",
        false,
    ),
    op(Provider::PortOneV2, "GET", "/payments", "getPayments", true),
    op(
        Provider::PortOneV2,
        "GET",
        "/payments-by-cursor",
        "getAllPaymentsByCursor",
        true,
    ),
    op(Provider::PortOneV2, "GET", "/payments/{paymentId}", "getPayment", true),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/billing-key",
        "payWithBillingKey",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/cancel",
        "cancelPayment",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/cancellations/{cancellationId}/stop",
        "stopPaymentCancellation",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/capture",
        "capturePayment",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payments/{paymentId}/cash-receipt",
        "getCashReceiptByPaymentId",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/cash-receipt/cancel",
        "cancelCashReceiptByPaymentId",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/confirm",
        "confirmPayment",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/escrow/complete",
        "confirmEscrow",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/payments/{paymentId}/escrow/logistics",
        "modifyEscrowLogistics",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/escrow/logistics",
        "applyEscrowLogistics",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/instant",
        "payInstantly",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/pre-register",
        "preRegisterPayment",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/register-store-receipt",
        "registerStoreReceipt",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/resend-webhook",
        "resendWebhook",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/schedule",
        "createPaymentSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/payments/{paymentId}/transactions",
        "getPaymentTransactions",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/payments/{paymentId}/virtual-account/close",
        "closeVirtualAccount",
        true,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/paymentwall/delivery/confirm",
        "confirmPaymentwallDelivery",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/account-transfers",
        "getPlatformAccountTransfers",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/additional-fee-policies",
        "getPlatformAdditionalFeePolicies",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/additional-fee-policies",
        "createPlatformAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/additional-fee-policies/{id}",
        "getPlatformAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/platform/additional-fee-policies/{id}",
        "updatePlatformAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/additional-fee-policies/{id}/archive",
        "archivePlatformAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/additional-fee-policies/{id}/recover",
        "recoverPlatformAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/platform/additional-fee-policies/{id}/schedule",
        "cancelPlatformAdditionalFeePolicySchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/additional-fee-policies/{id}/schedule",
        "getPlatformAdditionalFeePolicySchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/additional-fee-policies/{id}/schedule",
        "scheduleAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PUT",
        "/platform/additional-fee-policies/{id}/schedule",
        "rescheduleAdditionalFeePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/bank-accounts/{bank}/{accountNumber}/holder",
        "getPlatformAccountHolder",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/bulk-account-transfers",
        "getPlatformBulkAccountTransfers",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/bulk-payouts",
        "getPlatformBulkPayouts",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/companies/{businessRegistrationNumber}/state",
        "getPlatformCompanyState",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/contracts",
        "getPlatformContracts",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/contracts",
        "createPlatformContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/contracts/{id}",
        "getPlatformContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/platform/contracts/{id}",
        "updatePlatformContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/contracts/{id}/archive",
        "archivePlatformContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/contracts/{id}/recover",
        "recoverPlatformContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/platform/contracts/{id}/schedule",
        "cancelPlatformContractSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/contracts/{id}/schedule",
        "getPlatformContractSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/contracts/{id}/schedule",
        "scheduleContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PUT",
        "/platform/contracts/{id}/schedule",
        "rescheduleContract",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/discount-share-policies",
        "getPlatformDiscountSharePolicies",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/discount-share-policies",
        "createPlatformDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/discount-share-policies/{id}",
        "getPlatformDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/platform/discount-share-policies/{id}",
        "updatePlatformDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/discount-share-policies/{id}/archive",
        "archivePlatformDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/discount-share-policies/{id}/recover",
        "recoverPlatformDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/platform/discount-share-policies/{id}/schedule",
        "cancelPlatformDiscountSharePolicySchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/discount-share-policies/{id}/schedule",
        "getPlatformDiscountSharePolicySchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/discount-share-policies/{id}/schedule",
        "scheduleDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PUT",
        "/platform/discount-share-policies/{id}/schedule",
        "rescheduleDiscountSharePolicy",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/discount-share-policy-filter-options",
        "getPlatformDiscountSharePolicyFilterOptions",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/partner-filter-options",
        "getPlatformPartnerFilterOptions",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/partner-settlements",
        "getPlatformPartnerSettlements",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partner-settlements/complete-payout",
        "completePlatformPayoutByPartnerSettlementIds",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partner-settlements/delete",
        "deletePlatformPartnerSettlements",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/partners",
        "getPlatformPartners",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners",
        "createPlatformPartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/batch",
        "createPlatformPartners",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/counterparty-connect",
        "connectBulkPartnerCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/counterparty-connect/{id}",
        "connectPartnerCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/counterparty-disconnect",
        "disconnectBulkPartnerCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/counterparty-disconnect/{id}",
        "disconnectPartnerCounterparty",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/schedule",
        "schedulePlatformPartners",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/partners/{id}",
        "getPlatformPartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/platform/partners/{id}",
        "updatePlatformPartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/{id}/archive",
        "archivePlatformPartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/{id}/recover",
        "recoverPlatformPartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/platform/partners/{id}/schedule",
        "cancelPlatformPartnerSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/partners/{id}/schedule",
        "getPlatformPartnerSchedule",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/partners/{id}/schedule",
        "schedulePartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PUT",
        "/platform/partners/{id}/schedule",
        "reschedulePartner",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/payouts",
        "getPlatformPayouts",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/setting",
        "getPlatformSetting",
        false,
    ),
    op(
        Provider::PortOneV2,
        "PATCH",
        "/platform/setting",
        "updatePlatformSetting",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/transfer-summaries",
        "getPlatformTransferSummaries",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/transfer-summaries/sheet-file",
        "downloadPlatformTransferSheet",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/transfers/manual",
        "createPlatformManualTransfer",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/transfers/order",
        "createPlatformOrderTransfer",
        false,
    ),
    op(
        Provider::PortOneV2,
        "POST",
        "/platform/transfers/order-cancel",
        "createPlatformOrderCancelTransfer",
        false,
    ),
    op(
        Provider::PortOneV2,
        "DELETE",
        "/platform/transfers/{id}",
        "deletePlatformTransfer",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/platform/transfers/{id}",
        "getPlatformTransfer",
        false,
    ),
    op(
        Provider::PortOneV2,
        "GET",
        "/promotions/{promotionId}",
        "getPromotion",
        false,
    ),
    op(Provider::PortOneV2, "POST", "/token/refresh", "refreshToken", false),
    op(Provider::Iamport, "GET", "/banks", "allBankCodes", false),
    op(
        Provider::Iamport,
        "GET",
        "/banks/{bank_standard_code}",
        "bankCodes",
        false,
    ),
    op(Provider::Iamport, "POST", "/benepia/payment", "payBenepiaPoint", false),
    op(Provider::Iamport, "POST", "/benepia/point", "queryBenepiaPoint", false),
    op(Provider::Iamport, "GET", "/cards", "allCardCodes", false),
    op(
        Provider::Iamport,
        "GET",
        "/cards/{card_standard_code}",
        "cardCodes",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/certifications/otp/confirm/{imp_uid}",
        "confirmOTP",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/certifications/otp/request",
        "requestOTP",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/certifications/{imp_uid}",
        "deleteCertification",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/certifications/{imp_uid}",
        "getCertification",
        false,
    ),
    op(Provider::Iamport, "POST", "/cvs", "issueCvsPayment", false),
    op(Provider::Iamport, "DELETE", "/cvs/{imp_uid}", "revokeCvsPayment", false),
    op(
        Provider::Iamport,
        "GET",
        "/escrows/logis/{imp_uid}",
        "escrow_logis_get",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/escrows/logis/{imp_uid}",
        "escrow_logis_save",
        false,
    ),
    op(
        Provider::Iamport,
        "PUT",
        "/escrows/logis/{imp_uid}",
        "escrow_logis_edit",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/kcpquick/autopay/{customer_uid}",
        "deleteAutoPayKey",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/kcpquick/members/{member_id}",
        "member_delete",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/kcpquick/members/{member_id}/fido/release",
        "releaseFido",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/kcpquick/payment/autopay",
        "payWithAutoPaymentKey",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/kcpquick/payment/money",
        "payWithMoney",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/kcpquick/prepare/{merchant_uid}",
        "prepare_create",
        false,
    ),
    op(
        Provider::Iamport,
        "PUT",
        "/kcpquick/prepare/{merchant_uid}",
        "prepare_update",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/naver/product-orders/{product_order_id}",
        "getProductOrderSingle",
        false,
    ),
    op(Provider::Iamport, "GET", "/naver/reviews", "getReviews", false),
    op(
        Provider::Iamport,
        "POST",
        "/partners/receipts/{imp_uid}",
        "partner",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payco/orders/status/{imp_uid}",
        "changeOrderStatus",
        false,
    ),
    op(Provider::Iamport, "GET", "/payments", "getPaymentListByImpUid", true),
    op(Provider::Iamport, "POST", "/payments/cancel", "cancelPayment", true),
    op(
        Provider::Iamport,
        "GET",
        "/payments/find/{merchant_uid}",
        "getPaymentByMerchantUid",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/find/{merchant_uid}/{payment_status}",
        "getPaymentByMerchantUidWithStatus",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/findAll/{merchant_uid}",
        "getAllPaymentsByMerchantUid",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/findAll/{merchant_uid}/{payment_status}",
        "getAllPaymentsByMerchantUidWithStatus",
        true,
    ),
    op(Provider::Iamport, "POST", "/payments/prepare", "preparePayment", true),
    op(
        Provider::Iamport,
        "PUT",
        "/payments/prepare",
        "editPreparePayment",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/prepare/{merchant_uid}",
        "getPaymentPrepareByMerchantUid",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/status/{payment_status}",
        "getPaymentsByStatus",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/{imp_uid}",
        "getPaymentByImpUid",
        true,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/{imp_uid}/balance",
        "balanceByImpUid",
        true,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/approve-cancel",
        "naverApproveCancelProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/approve-return",
        "naverApproveReturnProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/cancel",
        "naverCancelProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/{imp_uid}/naver/cash-amount",
        "queryCashAmount",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/collect-exchanged",
        "naverCollectProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/confirm",
        "naverConfirmPayment",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/place",
        "naverPlaceProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/point",
        "naverDepositPoint",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/payments/{imp_uid}/naver/product-orders",
        "getProductOrders",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/reject-return",
        "naverRejectReturnProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/request-return",
        "naverRequestReturnProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/resolve-return",
        "naverResolveReturnProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/ship",
        "naverShipProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/ship-exchanged",
        "naverShipExchangedProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/payments/{imp_uid}/naver/withhold-return",
        "naverWithholdReturnProductOrder",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/paymentwall/delivery",
        "paymentwall_delivery",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/receipts/external/{merchant_uid}",
        "revokeExternalReceipt",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/receipts/external/{merchant_uid}",
        "getExternalReceipt",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/receipts/external/{merchant_uid}",
        "issueExternalReceipt",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/receipts/{imp_uid}",
        "revokeReceipt",
        false,
    ),
    op(Provider::Iamport, "GET", "/receipts/{imp_uid}", "getReceipt", false),
    op(Provider::Iamport, "POST", "/receipts/{imp_uid}", "issueReceipt", false),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/customers",
        "customer_view_multiple",
        false,
    ),
    op(
        Provider::Iamport,
        "DELETE",
        "/subscribe/customers/{customer_uid}",
        "customer_delete",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/customers/{customer_uid}",
        "customer_view",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/customers/{customer_uid}",
        "customer_save",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/customers/{customer_uid}/payments",
        "customer_payments",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/customers/{customer_uid}/schedules",
        "findSchedulesByCustomer",
        false,
    ),
    op(Provider::Iamport, "POST", "/subscribe/payments/again", "again", false),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/payments/onetime",
        "onetime",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/payments/schedule",
        "findSchedulesByRange",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/payments/schedule",
        "schedule",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/payments/schedule/customers/{customer_uid}",
        "getSchedulesByCustomerUid",
        false,
    ),
    op(
        Provider::Iamport,
        "GET",
        "/subscribe/payments/schedule/{merchant_uid}",
        "getScheduleByMid",
        false,
    ),
    op(
        Provider::Iamport,
        "PUT",
        "/subscribe/payments/schedule/{merchant_uid}",
        "updateScheduleByMid",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/payments/schedule/{merchant_uid}/reschedule",
        "rescheduleByMid",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/payments/schedule/{merchant_uid}/retry",
        "retryScheduleByMid",
        false,
    ),
    op(
        Provider::Iamport,
        "POST",
        "/subscribe/payments/unschedule",
        "unschedule",
        false,
    ),
    op(Provider::Iamport, "GET", "/tiers/{tier_code}", "GetTier", false),
    op(Provider::Iamport, "POST", "/users/getToken", "getToken", true),
    op(Provider::Iamport, "GET", "/users/pg", "getPgSettingList", false),
    op(Provider::Iamport, "POST", "/vbanks", "createVbank", false),
    op(Provider::Iamport, "DELETE", "/vbanks/{imp_uid}", "revokeVbank", true),
    op(Provider::Iamport, "PUT", "/vbanks/{imp_uid}", "modifyVbank", false),
    op(
        Provider::Toss,
        "POST",
        "/v1/billing/authorizations/card",
        "issueBillingKeyByCustomerKey",
        true,
    ),
    op(
        Provider::Toss,
        "POST",
        "/v1/billing/authorizations/issue",
        "issueBillingKeyByAuthKey",
        true,
    ),
    op(
        Provider::Toss,
        "DELETE",
        "/v1/billing/{billingKey}",
        "deleteBillingKey",
        true,
    ),
    op(
        Provider::Toss,
        "POST",
        "/v1/billing/{billingKey}",
        "payWithBillingKey",
        true,
    ),
    op(Provider::Toss, "GET", "/v1/cash-receipts", "listCashReceipts", false),
    op(Provider::Toss, "POST", "/v1/cash-receipts", "issueCashReceipt", false),
    op(
        Provider::Toss,
        "POST",
        "/v1/cash-receipts/{receiptKey}/cancel",
        "cancelCashReceipt",
        false,
    ),
    op(Provider::Toss, "POST", "/v1/payments/confirm", "confirmPayment", true),
    op(Provider::Toss, "POST", "/v1/payments/key-in", "keyInPayment", false),
    op(
        Provider::Toss,
        "GET",
        "/v1/payments/orders/{orderId}",
        "getPaymentByOrderId",
        true,
    ),
    op(Provider::Toss, "GET", "/v1/payments/{paymentKey}", "getPayment", true),
    op(
        Provider::Toss,
        "POST",
        "/v1/payments/{paymentKey}/cancel",
        "cancelPayment",
        true,
    ),
    op(Provider::Toss, "GET", "/v1/promotions", "listPromotions", true),
    op(Provider::Toss, "GET", "/v1/promotions/card", "getCardPromotion", true),
    op(Provider::Toss, "GET", "/v1/settlements", "listSettlements", false),
    op(
        Provider::Toss,
        "POST",
        "/v1/settlements",
        "requestManualSettlement",
        false,
    ),
    op(Provider::Toss, "GET", "/v1/transactions", "listTransactions", true),
    op(
        Provider::Toss,
        "POST",
        "/v1/virtual-accounts",
        "issueVirtualAccount",
        false,
    ),
];

/// Every operation of the three specs and whether the sandbox serves it.
pub fn operations() -> &'static [Operation] {
    OPERATIONS
}

fn template_matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let is_param = ts.starts_with('{') && ts.ends_with('}');
                if is_param {
                    if ps.is_empty() {
                        return false;
                    }
                } else if ts != ps {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The error body of `provider` with this code and message.
pub(crate) fn error_body(provider: Option<Provider>, status: StatusCode, code: &str, message: &str) -> Response {
    let body = match provider {
        Some(Provider::PortOneV2) => json!({"type": code, "message": message}),
        Some(Provider::Iamport) => json!({"code": -1, "message": message, "response": null}),
        Some(Provider::Toss) => json!({"code": code, "message": message}),
        None => json!({"code": code, "message": message}),
    };
    (status, axum::Json(body)).into_response()
}

fn route_of(req: &Request) -> (Option<Provider>, String) {
    match req.extensions().get::<RouteInfo>() {
        Some(info) => (info.provider, info.path.clone()),
        None => split_provider(req.uri().path()),
    }
}

/// Fallback for a path no route serves, and for a served path asked with another method.
pub(crate) async fn unknown_route(req: Request) -> Response {
    let (provider, path) = route_of(&req);
    let method = req.method().as_str();
    let Some(provider) = provider else {
        return error_body(
            None,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no provider here: use {base}/portone-v2, {base}/iamport or {base}/toss, or a provider's own origin",
        );
    };
    let same_path: Vec<&Operation> = OPERATIONS
        .iter()
        .filter(|o| o.provider == provider && template_matches(o.path, &path))
        .collect();
    if let Some(o) = same_path.iter().find(|o| o.method == method && !o.served) {
        let message = format!(
            "the sandbox does not support {} ({} {}); kr-payments-sandbox --help lists what it serves",
            o.operation_id, o.method, o.path
        );
        return error_body(
            Some(provider),
            StatusCode::NOT_IMPLEMENTED,
            "SANDBOX_NOT_SUPPORTED",
            &message,
        );
    }
    // The method asked for was not routed here, whatever template also matches the path (a
    // `{paymentKey}` matches `confirm`), so it is not among the allowed ones.
    let mut allowed: Vec<&str> = same_path.iter().map(|o| o.method).filter(|m| *m != method).collect();
    allowed.dedup();
    if !allowed.is_empty() {
        let message = format!("{method} is not allowed on {path}; the API has {}", allowed.join(", "));
        let mut resp = error_body(
            Some(provider),
            StatusCode::METHOD_NOT_ALLOWED,
            "INVALID_REQUEST",
            &message,
        );
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        return resp;
    }
    let message = format!("the {} API has no {method} {path}", provider.as_str());
    error_body(Some(provider), StatusCode::NOT_FOUND, "NOT_FOUND", &message)
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"))
}

/// Code for an error status in PortOne V2's and Toss's vocabulary.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        500..=599 => "SANDBOX_INTERNAL_ERROR",
        _ => "INVALID_REQUEST",
    }
}

/// Turns every error answer that is not already the provider's JSON (axum's plain-text rejections:
/// 400 for a path that does not decode, 413 above the body limit, an empty 405) into the
/// provider's error body with the same status.
pub(crate) async fn format_guard(req: Request, next: Next) -> Response {
    let (provider, _) = route_of(&req);
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&resp) {
        return resp;
    }
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    let (_, body) = resp.into_parts();
    // A rejection's text is short and names the problem (never a secret); keep at most 300 bytes of it.
    let detail = if plain {
        axum::body::to_bytes(body, 4096)
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
            .filter(|s| !s.trim().is_empty())
    } else {
        None
    };
    let reason = status.canonical_reason().unwrap_or("error");
    let message = match detail {
        Some(d) => format!("{reason}: {d}"),
        None => reason.to_owned(),
    };
    error_body(provider, status, code_for(status), &message)
}

/// The bytes of a whole response that replaces one of hyper's own error answers (it writes those
/// with an empty body, before any handler runs). `head` is what hyper was about to write; `None`
/// means it is not such an answer and goes out unchanged.
pub(crate) fn rewrite_hyper_error(head: &[u8], provider: Option<Provider>) -> Option<Vec<u8>> {
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    let status_line = std::str::from_utf8(&head[..line_end]).ok()?;
    let code: u16 = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    if !matches!(code, 400 | 414 | 431) {
        return None;
    }
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    // Every answer of the sandbox's own handlers has a body; only hyper's carry none.
    if !lower.contains("content-length: 0\r\n") || !lower.ends_with("\r\n\r\n") {
        return None;
    }
    let status = StatusCode::from_u16(code).ok()?;
    let reason = status.canonical_reason().unwrap_or("error");
    let message = match code {
        414 => "URI Too Long: the request target is longer than 64 KiB".to_owned(),
        431 => "Request Header Fields Too Large".to_owned(),
        _ => "Bad Request: the request line or a header is not valid HTTP".to_owned(),
    };
    let body = match provider {
        Some(Provider::PortOneV2) => json!({"type": "INVALID_REQUEST", "message": message}),
        Some(Provider::Iamport) => json!({"code": -1, "message": message, "response": null}),
        Some(Provider::Toss) => json!({"code": "INVALID_REQUEST", "message": message}),
        None => json!({"code": "INVALID_REQUEST", "message": message}),
    }
    .to_string();
    Some(
        format!(
            "HTTP/1.1 {code} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// The provider named by the start of a request read from a connection of the prefixed listener:
/// `GET /toss/...` is Toss. Used only to shape hyper's own error answers.
pub(crate) fn sniff_provider(chunk: &[u8]) -> Option<Provider> {
    let space = chunk.iter().take(16).position(|b| *b == b' ')?;
    if !chunk[..space].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    let rest = &chunk[space + 1..];
    [Provider::PortOneV2, Provider::Iamport, Provider::Toss]
        .into_iter()
        .find(|p| {
            let prefix = p.prefix();
            rest.starts_with(prefix.as_bytes()) && matches!(rest.get(prefix.len()), Some(b'/' | b'?' | b' '))
        })
}
