//! Toss error codes and the error body.
//!
//! Every non-2xx answer from Toss is `{"code": "...", "message": "..."}`. The code decodes to an [`ErrorCode`]:
//! the codes this crate knows have their own variant, any other code is kept as [`ErrorCode::Unrecognized`], so a
//! code Toss adds tomorrow never turns an error into a decode failure. The HTTP status travels next to it in
//! [`crate::ApiError::status`].
//!
//! The cancel codes, with the HTTP status Toss gives them:
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `ALREADY_CANCELED_PAYMENT`, `INVALID_REFUND_ACCOUNT_INFO`, `EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT`, `INVALID_REFUND_ACCOUNT_NUMBER`, `INVALID_BANK`, `NOT_MATCHES_REFUNDABLE_AMOUNT`, `REFUND_REJECTED`, `ALREADY_REFUND_PAYMENT`, `FORBIDDEN_BANK_REFUND_REQUEST` |
//! | 403 | `NOT_CANCELABLE_AMOUNT`, `FORBIDDEN_CONSECUTIVE_REQUEST`, `FORBIDDEN_REQUEST`, `NOT_CANCELABLE_PAYMENT`, `EXCEED_MAX_REFUND_DUE`, `NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT`, `NOT_ALLOWED_PARTIAL_REFUND`, `NOT_AVAILABLE_BANK`, `NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER` |
//! | 500 | `FAILED_REFUND_PROCESS`, `FAILED_METHOD_HANDLING_CANCEL`, `FAILED_PARTIAL_REFUND`, `COMMON_ERROR`, `FAILED_CLOSED_ACCOUNT_REFUND` |
//!
//! The statuses come from a transcription of Toss's error table; match on the code, not on the status.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal, )*) => {
        /// A Toss error code. Open: a code this crate does not list is kept as [`ErrorCode::Unrecognized`].
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
            /// A code this version of the crate does not list, kept as sent.
            Unrecognized(String),
        }

        impl ErrorCode {
            /// Every code this crate lists, for tests and tables.
            pub const KNOWN: &'static [&'static str] = &[$($wire),*];

            /// The code as it travels on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( ErrorCode::$variant => $wire, )*
                    ErrorCode::Unrecognized(code) => code,
                }
            }
        }

        impl From<&str> for ErrorCode {
            fn from(code: &str) -> Self {
                match code {
                    $( $wire => ErrorCode::$variant, )*
                    other => ErrorCode::Unrecognized(other.to_owned()),
                }
            }
        }
    };
}

error_codes! {
    // --- cancel: 400
    /// The payment was cancelled already.
    AlreadyCanceledPayment = "ALREADY_CANCELED_PAYMENT",
    /// The refund account (bank, number, holder) did not pass Toss's check.
    InvalidRefundAccountInfo = "INVALID_REFUND_ACCOUNT_INFO",
    /// The cancel amount is larger than what remains after discounts.
    ExceedCancelAmountDiscountAmount = "EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT",
    /// The refund account number is malformed.
    InvalidRefundAccountNumber = "INVALID_REFUND_ACCOUNT_NUMBER",
    /// The bank code is not one Toss knows.
    InvalidBank = "INVALID_BANK",
    /// `refundableAmount` differs from the payment's balance: someone cancelled in between. Re-read the payment.
    NotMatchesRefundableAmount = "NOT_MATCHES_REFUNDABLE_AMOUNT",
    /// The refund was rejected.
    RefundRejected = "REFUND_REJECTED",
    /// The payment was refunded already.
    AlreadyRefundPayment = "ALREADY_REFUND_PAYMENT",
    /// Refunds to this bank are not allowed.
    ForbiddenBankRefundRequest = "FORBIDDEN_BANK_REFUND_REQUEST",
    // --- cancel: 403
    /// This amount cannot be cancelled.
    NotCancelableAmount = "NOT_CANCELABLE_AMOUNT",
    /// A second cancel of the same payment came too soon after the first; try again in a moment.
    ForbiddenConsecutiveRequest = "FORBIDDEN_CONSECUTIVE_REQUEST",
    /// The request is not allowed.
    ForbiddenRequest = "FORBIDDEN_REQUEST",
    /// This payment cannot be cancelled.
    NotCancelablePayment = "NOT_CANCELABLE_PAYMENT",
    /// The refund deadline has passed.
    ExceedMaxRefundDue = "EXCEED_MAX_REFUND_DUE",
    /// A virtual account still waiting for its deposit can only be cancelled in full.
    NotAllowedPartialRefundWaitingDeposit = "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
    /// This payment cannot be cancelled in part.
    NotAllowedPartialRefund = "NOT_ALLOWED_PARTIAL_REFUND",
    /// The bank is not available (e.g. under maintenance).
    NotAvailableBank = "NOT_AVAILABLE_BANK",
    /// The customer's account is dormant, so the payment cannot be cancelled.
    NotCancelablePaymentForDormantUser = "NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER",
    // --- cancel: 500
    /// The refund could not be processed (a bank delay or a passing fault).
    FailedRefundProcess = "FAILED_REFUND_PROCESS",
    /// The pay method's side failed while cancelling.
    FailedMethodHandlingCancel = "FAILED_METHOD_HANDLING_CANCEL",
    /// A partial refund failed (bank maintenance, closed account, ...).
    FailedPartialRefund = "FAILED_PARTIAL_REFUND",
    /// A passing error on Toss's side.
    CommonError = "COMMON_ERROR",
    /// The refund account is closed.
    FailedClosedAccountRefund = "FAILED_CLOSED_ACCOUNT_REFUND",
    // --- common
    /// The secret key is wrong or not allowed to make this call.
    UnauthorizedKey = "UNAUTHORIZED_KEY",
    /// The `Authorization` header is not `Basic base64("<secret key>:")`.
    IncorrectBasicAuthFormat = "INCORRECT_BASIC_AUTH_FORMAT",
    /// The secret key is not a valid key.
    InvalidApiKey = "INVALID_API_KEY",
    /// The request is malformed.
    InvalidRequest = "INVALID_REQUEST",
    /// No payment has this key or order id.
    NotFoundPayment = "NOT_FOUND_PAYMENT",
    /// The thing asked for does not exist.
    NotFound = "NOT_FOUND",
    /// The payment was processed already.
    AlreadyProcessedPayment = "ALREADY_PROCESSED_PAYMENT",
    /// A passing error at a provider behind Toss; try again later.
    ProviderError = "PROVIDER_ERROR",
    /// Toss's internal processing failed.
    FailedInternalSystemProcessing = "FAILED_INTERNAL_SYSTEM_PROCESSING",
    /// Toss's internal payment processing failed.
    FailedPaymentInternalSystemProcessing = "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    // --- idempotency
    /// The first request with this `Idempotency-Key` is still being processed; ask again later with the same key.
    IdempotentRequestProcessing = "IDEMPOTENT_REQUEST_PROCESSING",
    /// The `Idempotency-Key` is not acceptable (e.g. too long).
    InvalidIdempotencyKey = "INVALID_IDEMPOTENCY_KEY",
}

impl ErrorCode {
    /// Whether the code is one this crate does not list.
    pub fn is_unrecognized(&self) -> bool {
        matches!(self, ErrorCode::Unrecognized(_))
    }

    /// Whether the same request, sent again later, may succeed: the code names a passing condition (a request
    /// still in progress, too many requests at once, a temporary fault at Toss, a bank or a provider).
    ///
    /// Send a cancel again only with the **same** `Idempotency-Key` ([`crate::toss::PreparedCancel::send`] does);
    /// with a new key, re-read the payment first. Codes that describe the request or the payment
    /// (`ALREADY_CANCELED_PAYMENT`, `NOT_MATCHES_REFUNDABLE_AMOUNT`, ...) are never retryable, nor is an
    /// unrecognized code (see [`crate::toss::CancelError::is_retryable`] for how the HTTP status decides then).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorCode::ForbiddenConsecutiveRequest
                | ErrorCode::IdempotentRequestProcessing
                | ErrorCode::FailedRefundProcess
                | ErrorCode::FailedMethodHandlingCancel
                | ErrorCode::CommonError
                | ErrorCode::ProviderError
                | ErrorCode::FailedInternalSystemProcessing
                | ErrorCode::FailedPaymentInternalSystemProcessing
                | ErrorCode::NotAvailableBank
        )
    }
}

impl From<String> for ErrorCode {
    fn from(code: String) -> Self {
        match ErrorCode::from(code.as_str()) {
            ErrorCode::Unrecognized(_) => ErrorCode::Unrecognized(code),
            known => known,
        }
    }
}

impl FromStr for ErrorCode {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ErrorCode::from(s))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ErrorCode::from)
    }
}

/// The body of an error answer: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TossError {
    /// What went wrong, as a code.
    pub code: ErrorCode,
    /// Toss's explanation, in Korean unless the request asked for English. Missing in some bodies.
    #[serde(default)]
    pub message: Option<String>,
}

impl TossError {
    /// An error body, e.g. for tests of code that handles errors.
    pub fn new(code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        TossError {
            code: code.into(),
            message: Some(message.into()),
        }
    }

    /// See [`ErrorCode::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.code.is_retryable()
    }
}

impl crate::error::ApiErrorBody for TossError {
    fn code(&self) -> &str {
        self.code.as_str()
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref().filter(|m| !m.is_empty())
    }
}

impl fmt::Display for TossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => write!(f, "{}: {m}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for TossError {}
