//! Id newtypes: one type per kind of id, so a payment id cannot be passed where a reason, an order id or another
//! provider's id belongs (the Rust API Guidelines' C-NEWTYPE).

/// Defines an id newtype: `new`, `as_str`, `into_inner`, the checks every call makes before sending, `Debug`,
/// `Display`, serde as a plain string, `From<String>`/`From<&str>` (for code that already holds the right id).
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $wire:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id. An empty id is refused when a call is made, before anything is sent.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }
            /// The id as the provider knows it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The id, unwrapped.
            pub fn into_inner(self) -> String {
                self.0
            }
            /// The id, after the checks every call makes before sending: not blank, no control characters.
            #[allow(dead_code)]
            pub(crate) fn checked(&self) -> Result<&str, $crate::InvalidRequest> {
                $crate::transport::check_id($wire, &self.0).map(|()| self.0.as_str())
            }

            /// The id as one path segment: also never `.` or `..`.
            #[allow(dead_code)]
            pub(crate) fn segment(&self) -> Result<String, $crate::InvalidRequest> {
                $crate::transport::path_segment($wire, &self.0)
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }
        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }
        impl From<&$name> for $name {
            fn from(id: &$name) -> Self {
                id.clone()
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

pub(crate) use id_type;
