// The one table of sensitive fields. Two users read this file: the crate, as part of `crate::sensitive` (raw JSON,
// TRACE bodies, hand-written `Debug`), and `build.rs`, through `include!`, to give every generated type a `Debug`
// that hides the same fields. So it holds plain data and `core`-only code: no `crate::` paths, no inner docs.

/// How a sensitive value prints in `Debug`, `Display` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shown {
    /// Nothing of the value: `"<redacted>"`.
    Redacted,
    /// Only its length, `"<redacted: 40 chars>"`: enough to tell an empty or cut-off credential from a whole one.
    Length,
    /// The last four characters, `"****1234"`, so a merchant can tell two cards or accounts apart. A value of
    /// fewer than [`LAST_FOUR_MIN_CHARS`] characters prints as `"<redacted>"`: four of six would be most of it.
    LastFour,
}

/// The shortest value [`Shown::LastFour`] shows four characters of.
pub const LAST_FOUR_MIN_CHARS: usize = 8;

/// What kind of data a [`SensitiveField`] holds, for the documentation and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Credentials, tokens, billing keys and passwords.
    Credential,
    /// Card and bank account numbers, and what belongs to a card.
    CardOrAccount,
    /// People's names (buyers, holders, depositors, contacts).
    Name,
    /// Phone numbers and email addresses.
    Contact,
    /// Postal addresses and postcodes.
    Address,
    /// Birth dates, gender and identity numbers or tokens (CI, DI).
    Identity,
    /// Merchant-defined blobs (`custom_data`, `metadata`): whatever was put there may be personal.
    MerchantData,
    /// IP addresses.
    Network,
}

/// One entry of [`FIELDS`]: a field name, normalized (see [`normalized_eq`]), and how its value prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SensitiveField {
    /// The name, lower case without `_` or `-`: `accountnumber` stands for `accountNumber`, `account_number` and
    /// `ACCOUNT-NUMBER`.
    pub key: &'static str,
    /// How the value prints.
    pub shown: Shown,
    /// What it holds.
    pub category: Category,
}

const fn field(key: &'static str, shown: Shown, category: Category) -> SensitiveField {
    SensitiveField { key, shown, category }
}

/// Field names whose values never reach a log, a `Debug` or a `Display`, in any of the three APIs. A name matches
/// wherever it appears, at any depth: the bare `name` and `number` are hidden everywhere because PortOne, iamport
/// and Toss use them for a customer's name and a card or account number.
pub const FIELDS: &[SensitiveField] = {
    use Category::*;
    use Shown::*;
    &[
        // Credentials and tokens.
        field("secret", Length, Credential),
        field("secretkey", Length, Credential),
        field("apisecret", Length, Credential),
        field("impkey", Length, Credential),
        field("impsecret", Length, Credential),
        field("accesstoken", Length, Credential),
        field("refreshtoken", Length, Credential),
        field("token", Length, Credential),
        field("billingkey", Length, Credential),
        field("billingissuetoken", Length, Credential),
        field("paymenttoken", Length, Credential),
        field("secure3dtoken", Length, Credential),
        field("authkey", Length, Credential),
        field("customerkey", Length, Credential),
        field("customeruid", Length, Credential),
        field("password", Redacted, Credential),
        field("cardpassword", Redacted, Credential),
        field("passwordtwodigits", Redacted, Credential),
        field("escrowpassword", Redacted, Credential),
        field("benepiapassword", Redacted, Credential),
        field("benepiauser", Redacted, Credential),
        // Card and account numbers.
        field("number", LastFour, CardOrAccount),
        field("cardnumber", LastFour, CardOrAccount),
        field("accountnumber", LastFour, CardOrAccount),
        field("depositaccountnumber", LastFour, CardOrAccount),
        field("vbanknum", LastFour, CardOrAccount),
        field("refundaccount", LastFour, CardOrAccount),
        field("refundreceiveaccount", Redacted, CardOrAccount),
        field("cardexpirationmonth", Redacted, CardOrAccount),
        field("cardexpirationyear", Redacted, CardOrAccount),
        // People's names.
        field("name", Redacted, Name),
        field("holder", Redacted, Name),
        field("holdername", Redacted, Name),
        field("accountholder", Redacted, Name),
        field("depositaccountholder", Redacted, Name),
        field("bankholder", Redacted, Name),
        field("vbankholder", Redacted, Name),
        field("refundholder", Redacted, Name),
        field("depositorname", Redacted, Name),
        field("customername", Redacted, Name),
        field("buyername", Redacted, Name),
        field("remitteename", Redacted, Name),
        field("remittername", Redacted, Name),
        field("contactname", Redacted, Name),
        field("registrantcontactname", Redacted, Name),
        field("ceoname", Redacted, Name),
        field("representativename", Redacted, Name),
        field("recipientrepresentativename", Redacted, Name),
        field("supplierrepresentativename", Redacted, Name),
        field("shippingaddressfirstname", Redacted, Name),
        field("shippingaddresslastname", Redacted, Name),
        // Phone numbers and email addresses.
        field("phone", Redacted, Contact),
        field("phonenumber", Redacted, Contact),
        field("mobilephonenumber", Redacted, Contact),
        field("holderphonenumber", Redacted, Contact),
        field("customermobilephone", Redacted, Contact),
        field("customerphone", Redacted, Contact),
        field("contactphone", Redacted, Contact),
        field("tel", Redacted, Contact),
        field("tel1", Redacted, Contact),
        field("tel2", Redacted, Contact),
        field("buyertel", Redacted, Contact),
        field("customertel", Redacted, Contact),
        field("refundtel", Redacted, Contact),
        field("shippingaddressphone", Redacted, Contact),
        field("email", Redacted, Contact),
        field("buyeremail", Redacted, Contact),
        field("customeremail", Redacted, Contact),
        field("refundemail", Redacted, Contact),
        field("contactemail", Redacted, Contact),
        field("shippingaddressemail", Redacted, Contact),
        // Postal addresses.
        field("address", Redacted, Address),
        field("addr", Redacted, Address),
        field("buyeraddr", Redacted, Address),
        field("customeraddr", Redacted, Address),
        field("oneline", Redacted, Address),
        field("addressline1", Redacted, Address),
        field("addressline2", Redacted, Address),
        field("formedaddress", Redacted, Address),
        field("shippingaddress", Redacted, Address),
        field("shippingaddressstreet", Redacted, Address),
        field("shippingaddresscity", Redacted, Address),
        field("shippingaddressstate", Redacted, Address),
        field("shippingaddresszip", Redacted, Address),
        field("zipcode", Redacted, Address),
        field("postcode", Redacted, Address),
        field("buyerpostcode", Redacted, Address),
        field("customerpostcode", Redacted, Address),
        // Birth dates, gender, identity numbers and tokens.
        field("birth", Redacted, Identity),
        field("birthday", Redacted, Identity),
        field("birthdate", Redacted, Identity),
        field("birthyear", Redacted, Identity),
        field("birthmonth", Redacted, Identity),
        field("gender", Redacted, Identity),
        field("genderdigit", Redacted, Identity),
        field("identitynumber", Redacted, Identity),
        field("customeridentitynumber", Redacted, Identity),
        field("birthorbusinessregistrationnumber", Redacted, Identity),
        field("identifier", Redacted, Identity),
        field("ci", Redacted, Identity),
        field("di", Redacted, Identity),
        field("uniquekey", Redacted, Identity),
        // Merchant-defined blobs.
        field("customdata", Redacted, MerchantData),
        field("metadata", Redacted, MerchantData),
        field("userdefinedproperties", Redacted, MerchantData),
        field("partneruserdefinedproperties", Redacted, MerchantData),
        // IP addresses.
        field("ipaddress", Redacted, Network),
        field("custip", Redacted, Network),
        field("browserip", Redacted, Network),
    ]
};

/// OpenAPI string formats whose values are sensitive whatever the field is called. They mark generated types only
/// (`build.rs` reads them from the specs); raw JSON carries no formats and is matched by name alone, so every
/// field the specs give one of these formats is in [`FIELDS`] too.
pub const FORMATS: &[(&str, Shown, Category)] = &[
    ("email", Shown::Redacted, Category::Contact),
    ("idn-email", Shown::Redacted, Category::Contact),
    ("ipv4", Shown::Redacted, Category::Network),
    ("ipv6", Shown::Redacted, Category::Network),
    ("password", Shown::Redacted, Category::Credential),
];

/// Whether `key` spells `normalized` (lower case, no separators) ignoring ASCII case, `_` and `-`.
pub fn normalized_eq(key: &str, normalized: &str) -> bool {
    let mut wanted = normalized.bytes();
    for b in key.bytes().filter(|b| *b != b'_' && *b != b'-') {
        if wanted.next() != Some(b.to_ascii_lowercase()) {
            return false;
        }
    }
    wanted.next().is_none()
}

/// How the field `key` (any spelling) prints, when it is sensitive.
pub fn shown_for_key(key: &str) -> Option<Shown> {
    FIELDS.iter().find(|f| normalized_eq(key, f.key)).map(|f| f.shown)
}

/// How a string of OpenAPI format `format` prints, when the format is sensitive.
pub fn shown_for_format(format: &str) -> Option<Shown> {
    FORMATS.iter().find(|(f, _, _)| *f == format).map(|(_, shown, _)| *shown)
}
