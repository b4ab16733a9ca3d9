//! Toss error codes and the error body.
//!
//! Every non-2xx answer from Toss is `{"code": "...", "message": "..."}`. The code decodes to an [`ErrorCode`]:
//! the codes this crate knows have their own variant, any other code is kept as [`ErrorCode::Unrecognized`], so a
//! code Toss adds tomorrow never turns an error into a decode failure. The HTTP status travels next to it in
//! [`crate::ApiError::status`].
//!
//! The cancel (refund) codes, with the HTTP status Toss's error-code reference
//! (<https://docs.tosspayments.com/reference/error-codes>) gives them:
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `ALREADY_CANCELED_PAYMENT`, `INVALID_REFUND_ACCOUNT_INFO`, `EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT`, `INVALID_REFUND_ACCOUNT_NUMBER`, `INVALID_BANK`, `NOT_MATCHES_REFUNDABLE_AMOUNT`, `REFUND_REJECTED`, `ALREADY_REFUND_PAYMENT`, `FORBIDDEN_BANK_REFUND_REQUEST`, `ALREADY_REFUNDING_PAYMENT`, `INVALID_REFUND_AMOUNT`, `DUPLICATED_REQUEST`, `INVALID_TEST_CODE` |
//! | 403 | `NOT_CANCELABLE_AMOUNT`, `FORBIDDEN_CONSECUTIVE_REQUEST`, `FORBIDDEN_REQUEST`, `NOT_CANCELABLE_PAYMENT`, `EXCEED_MAX_REFUND_DUE`, `NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT`, `NOT_ALLOWED_PARTIAL_REFUND`, `NOT_AVAILABLE_BANK`, `NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER`, `EXCEED_MAX_REFUND_AMOUNT`, `NOT_ALLOWED_REFUND_BANK`, `NOT_SUPPORTED_REFUND` |
//! | 500 | `FAILED_REFUND_PROCESS`, `FAILED_METHOD_HANDLING_CANCEL`, `FAILED_PARTIAL_REFUND`, `COMMON_ERROR`, `FAILED_CLOSED_ACCOUNT_REFUND`, `UNKNOWN_ERROR` |
//!
//! Match on the code, not on the status: statuses of the older codes come from a transcription of that table.
//!
//! # Three questions a caller asks of a code
//! * [`ErrorCode::is_retryable`]: would the same request, sent again later with the same `Idempotency-Key`,
//!   be expected to succeed?
//! * [`ErrorCode::outcome_pending`]: after a cancel, is the refund's fate still open rather than refused? Then
//!   the answer is not a failure: read the payment (or wait for its webhook) to learn what happened.
//! * Neither: the request was refused, and nothing was refunded by it.

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
    // --- refund codes added to Toss's table later (statuses from the reference)
    /// 400: a refund of this payment is under way already. Not a refusal of the refund: see
    /// [`ErrorCode::outcome_pending`].
    AlreadyRefundingPayment = "ALREADY_REFUNDING_PAYMENT",
    /// 400: the refund amount is not acceptable (e.g. zero, or more than can be refunded this way).
    InvalidRefundAmount = "INVALID_REFUND_AMOUNT",
    /// 400: Toss took this for a repeat of a request it is handling or has just handled. The first one decides
    /// the outcome: see [`ErrorCode::outcome_pending`].
    DuplicatedRequest = "DUPLICATED_REQUEST",
    /// 400: the `TossPayments-Test-Code` header names no error code Toss can simulate.
    InvalidTestCode = "INVALID_TEST_CODE",
    /// 403: the amount is above the most that can be refunded.
    ExceedMaxRefundAmount = "EXCEED_MAX_REFUND_AMOUNT",
    /// 403: refunds to this bank are not allowed.
    NotAllowedRefundBank = "NOT_ALLOWED_REFUND_BANK",
    /// 403: this payment (its method or contract) cannot be refunded through the API.
    NotSupportedRefund = "NOT_SUPPORTED_REFUND",
    /// 500: an error Toss does not classify. As with other 5xx answers to a cancel, the refund may or may not
    /// have happened: resend with the same key, or read the payment.
    UnknownError = "UNKNOWN_ERROR",
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
    /// still in progress, too many requests at once, a temporary or unclassified fault at Toss, a bank or a
    /// provider).
    ///
    /// Send a cancel again only with the **same** `Idempotency-Key` ([`crate::toss::PreparedCancel::send`] does);
    /// with a new key, re-read the payment first. Codes that describe the request or the payment
    /// (`ALREADY_CANCELED_PAYMENT`, `NOT_MATCHES_REFUNDABLE_AMOUNT`, ...) are never retryable, nor is an
    /// unrecognized code (then [`crate::Error::is_retryable`] goes by the HTTP status).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ErrorCode::ForbiddenConsecutiveRequest
                | ErrorCode::IdempotentRequestProcessing
                | ErrorCode::FailedRefundProcess
                | ErrorCode::FailedMethodHandlingCancel
                | ErrorCode::CommonError
                | ErrorCode::UnknownError
                | ErrorCode::ProviderError
                | ErrorCode::FailedInternalSystemProcessing
                | ErrorCode::FailedPaymentInternalSystemProcessing
                | ErrorCode::NotAvailableBank
        )
    }

    /// Whether, in answer to a cancel, the code means "the outcome is still to be learned" rather than "refused":
    ///
    /// * `ALREADY_REFUNDING_PAYMENT`: a refund of the payment is in progress (perhaps this very cancel, sent
    ///   earlier);
    /// * `DUPLICATED_REQUEST`: Toss saw this request as a repeat; the earlier one decides;
    /// * `IDEMPOTENT_REQUEST_PROCESSING`: the first request with this `Idempotency-Key` is still being handled.
    ///
    /// None of these says the refund failed, and none says it happened. Do not report the refund as failed and
    /// do not issue a new cancel with a new key: read the payment ([`crate::toss::Client::get_payment`]) and look
    /// for the cancel in its `cancels`, now or after a while (or wait for Toss's webhook), and only then decide.
    /// Resending with the **same** key is also safe, which is why `IDEMPOTENT_REQUEST_PROCESSING` is retryable
    /// too. A 5xx answer or a timeout leaves the outcome unknown as well; that is judged from the status, not
    /// from this method.
    pub fn outcome_pending(&self) -> bool {
        matches!(
            self,
            ErrorCode::AlreadyRefundingPayment | ErrorCode::DuplicatedRequest | ErrorCode::IdempotentRequestProcessing
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

    /// See [`ErrorCode::outcome_pending`].
    pub fn outcome_pending(&self) -> bool {
        self.code.outcome_pending()
    }
}

impl crate::error::ApiErrorBody for TossError {
    fn code(&self) -> &str {
        self.code.as_str()
    }
    /// A known code decides ([`ErrorCode::is_retryable`]); an unrecognized one leaves it to the HTTP status.
    fn retryable(&self) -> Option<bool> {
        (!self.code.is_unrecognized()).then(|| self.code.is_retryable())
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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// The three answers for every refund code Toss's reference lists, so a code cannot slip into the wrong
    /// class unnoticed: (wire code, retryable, outcome pending).
    const REFUND_CODES: &[(&str, bool, bool)] = &[
        ("ALREADY_REFUNDING_PAYMENT", false, true),
        ("INVALID_REFUND_AMOUNT", false, false),
        ("DUPLICATED_REQUEST", false, true),
        ("INVALID_TEST_CODE", false, false),
        ("EXCEED_MAX_REFUND_AMOUNT", false, false),
        ("NOT_ALLOWED_REFUND_BANK", false, false),
        ("NOT_SUPPORTED_REFUND", false, false),
        ("UNKNOWN_ERROR", true, false),
        ("ALREADY_CANCELED_PAYMENT", false, false),
        ("NOT_MATCHES_REFUNDABLE_AMOUNT", false, false),
        ("FORBIDDEN_CONSECUTIVE_REQUEST", true, false),
        ("IDEMPOTENT_REQUEST_PROCESSING", true, true),
        ("COMMON_ERROR", true, false),
    ];

    #[test]
    fn each_refund_code_is_known_and_classified() {
        for &(wire, retryable, pending) in REFUND_CODES {
            let code = ErrorCode::from(wire);
            assert!(!code.is_unrecognized(), "{wire} should be a known code");
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.is_retryable(), retryable, "{wire}: is_retryable");
            assert_eq!(code.outcome_pending(), pending, "{wire}: outcome_pending");
        }
    }

    #[test]
    fn only_the_three_in_flight_codes_are_pending() {
        let pending: Vec<&str> = ErrorCode::KNOWN
            .iter()
            .copied()
            .filter(|c| ErrorCode::from(*c).outcome_pending())
            .collect();
        assert_eq!(
            pending,
            [
                "ALREADY_REFUNDING_PAYMENT",
                "DUPLICATED_REQUEST",
                "IDEMPOTENT_REQUEST_PROCESSING"
            ]
        );
    }

    #[test]
    fn an_unrecognized_code_is_neither_pending_nor_retryable() {
        let code = ErrorCode::from("REFUND_SOMETHING_NEW");
        assert!(code.is_unrecognized());
        assert!(!code.outcome_pending());
        assert!(!code.is_retryable());
    }

    #[test]
    fn the_error_body_answers_as_its_code() {
        let body: super::TossError =
            serde_json::from_str(r#"{"code":"ALREADY_REFUNDING_PAYMENT","message":"x"}"#).unwrap();
        assert_eq!(body.code, ErrorCode::AlreadyRefundingPayment);
        assert!(body.outcome_pending());
        assert!(!body.is_retryable());
    }
}
