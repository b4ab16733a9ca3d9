//! The parts of a bank account a refund is sent to, one type each, so that a bank code, an account number, a
//! holder's name and a phone number cannot be passed in each other's place: the three providers order these
//! fields differently on the wire, and a swapped account is money sent to the wrong place.
//!
//! Every provider's refund account (`portone_v2::RefundAccount`, `iamport::RefundAccount`,
//! `toss::RefundAccount`) and the provider-neutral [`crate::refund::RefundAccount`] are built from these, in the
//! same order: bank, number, holder.
//!
//! ```
//! use kr_payments::account::{AccountNumber, BankCode, HolderName, PhoneNumber};
//! use kr_payments::refund::RefundAccount;
//!
//! let account = RefundAccount::new(BankCode::new("88"), AccountNumber::new("11012345678"), HolderName::new("홍길동"))
//!     .holder_phone(PhoneNumber::new("01012345678"));
//! // Personal data never reaches a log.
//! assert!(!format!("{account:?}").contains("11012345678"));
//! assert!(!format!("{account:?}").contains("홍길동"));
//! ```
//!
//! There is deliberately no `From<&str>` for the personal-data types: `"…".into()` would fit any of them, and
//! bring the swap back. Values are checked when the refund is sent, against each provider's rules.
//!
//! # A swapped account does not build
//! The same order on every provider compiles:
//!
//! ```
//! use kr_payments::account::{AccountNumber, BankCode, HolderName};
//! use kr_payments::{iamport, portone_v2, refund, toss};
//!
//! let _ = portone_v2::RefundAccount::new(portone_v2::Bank::Shinhan, AccountNumber::new("11012345678"), HolderName::new("홍길동"));
//! let _ = iamport::RefundAccount::new(BankCode::new("88"), AccountNumber::new("11012345678"), HolderName::new("홍길동"));
//! let _ = toss::RefundAccount::new(BankCode::new("88"), AccountNumber::new("11012345678"), HolderName::new("홍길동"));
//! let _ = refund::RefundAccount::new(BankCode::new("88"), AccountNumber::new("11012345678"), HolderName::new("홍길동"));
//! ```
//!
//! and each of these is a type error (`E0308`), checked by the crate's doctests. PortOne V2, number and holder
//! swapped:
//!
//! ```compile_fail,E0308
//! use kr_payments::account::{AccountNumber, HolderName};
//! use kr_payments::portone_v2;
//! let _ = portone_v2::RefundAccount::new(portone_v2::Bank::Shinhan, HolderName::new("홍길동"), AccountNumber::new("11012345678"));
//! ```
//!
//! iamport, number and holder swapped:
//!
//! ```compile_fail,E0308
//! use kr_payments::account::{AccountNumber, BankCode, HolderName};
//! use kr_payments::iamport;
//! let _ = iamport::RefundAccount::new(BankCode::new("88"), HolderName::new("홍길동"), AccountNumber::new("11012345678"));
//! ```
//!
//! Toss, number and holder swapped:
//!
//! ```compile_fail,E0308
//! use kr_payments::account::{AccountNumber, BankCode, HolderName};
//! use kr_payments::toss;
//! let _ = toss::RefundAccount::new(BankCode::new("20"), HolderName::new("홍길동"), AccountNumber::new("11012345678"));
//! ```
//!
//! Toss given iamport's former order (holder, bank, number), the swap that once reached the wire:
//!
//! ```compile_fail,E0308
//! use kr_payments::account::{AccountNumber, BankCode, HolderName};
//! use kr_payments::toss;
//! let _ = toss::RefundAccount::new(HolderName::new("홍길동"), BankCode::new("20"), AccountNumber::new("11012345678"));
//! ```
//!
//! The provider-neutral account, number and holder swapped:
//!
//! ```compile_fail,E0308
//! use kr_payments::account::{AccountNumber, BankCode, HolderName};
//! use kr_payments::refund;
//! let _ = refund::RefundAccount::new(BankCode::new("88"), HolderName::new("홍길동"), AccountNumber::new("11012345678"));
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! personal {
    ($(#[$doc:meta])* $name:ident, $wire:literal) => {
        $(#[$doc])*
        ///
        /// Personal data: `Debug` prints it as [`crate::sensitive`]'s table says for its wire name, and there is no
        /// `Display`. Serde writes the plain string (for storing it with the order).
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps the value as given; it is checked when a refund carrying it is sent.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into())
            }
            /// The value itself, for sending or storing. Never log it.
            pub fn expose(&self) -> &str {
                &self.0
            }
            /// The value, unwrapped.
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name))
                    .field(&crate::sensitive::by_name($wire, &self.0))
                    .finish()
            }
        }
    };
}

personal!(
    /// An account number, digits only (each provider's limit on its length is checked when sending). `Debug`
    /// shows its last four digits (`AccountNumber("****5678")`) when it has at least eight.
    AccountNumber,
    "accountNumber"
);
personal!(
    /// The name of an account's holder. `Debug` prints `HolderName("<redacted>")`.
    HolderName,
    "holderName"
);
personal!(
    /// The holder's phone number (Smartro virtual-account refunds need one). `Debug` prints
    /// `PhoneNumber("<redacted>")`.
    PhoneNumber,
    "holderPhoneNumber"
);

/// A bank code as a provider or its PG spells it: iamport takes the code from the payment's PG's own list (`88` is
/// Shinhan at KG Inicis), Toss its own two-digit codes (`20` is Woori). PortOne V2 names banks with an enum
/// instead (`portone_v2::Bank`). Not personal data: printed as is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BankCode(String);

impl BankCode {
    /// Wraps a code as given; it is checked when a refund carrying it is sent.
    pub fn new(code: impl Into<String>) -> Self {
        BankCode(code.into())
    }
    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The code, unwrapped.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankCode({:?})", self.0)
    }
}

impl fmt::Display for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
