//! Generates the low-level clients from the normalized specs in `openapi/` with progenitor.
//!
//! One file per enabled provider lands in `OUT_DIR` and is included by `src/<provider>/raw.rs`. Generation reruns
//! only when a spec (or this file) changes. After progenitor, one pass over the syntax tree opens every enum that
//! comes from a server (see `open_enums`).

use std::path::PathBuf;

struct Api {
    feature: &'static str,
    spec: &'static str,
    out: &'static str,
    /// The hand-written type each provider keeps in the generated client for its hooks (auth, headers).
    inner: &'static str,
}

const APIS: &[Api] = &[
    Api {
        feature: "CARGO_FEATURE_PORTONE_V2",
        spec: "openapi/portone-v2.json",
        out: "portone_v2.rs",
        inner: "crate::portone_v2::RawInner",
    },
    Api {
        feature: "CARGO_FEATURE_IAMPORT",
        spec: "openapi/iamport-v1.json",
        out: "iamport_v1.rs",
        inner: "crate::iamport::RawInner",
    },
    Api {
        feature: "CARGO_FEATURE_TOSS",
        spec: "openapi/toss-v1.json",
        out: "toss_v1.rs",
        inner: "crate::toss::RawInner",
    },
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for api in APIS {
        println!("cargo:rerun-if-changed={}", api.spec);
        if std::env::var_os(api.feature).is_none() {
            continue;
        }
        let code = generate(api);
        std::fs::write(out_dir.join(api.out), code).expect("write generated code");
    }
}

fn generate(api: &Api) -> String {
    let file = std::fs::File::open(api.spec).unwrap_or_else(|e| panic!("{}: {e}", api.spec));
    let spec: openapiv3::OpenAPI =
        serde_json::from_reader(std::io::BufReader::new(file)).unwrap_or_else(|e| panic!("{}: {e}", api.spec));
    let inner: proc_macro2::TokenStream = api.inner.parse().expect("inner type path");
    let mut settings = progenitor::GenerationSettings::new();
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(inner)
        .with_hooks(progenitor::HooksMode::Expected);
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("{}: progenitor: {e}", api.spec));
    let mut ast: syn::File =
        syn::parse2(tokens).unwrap_or_else(|e| panic!("{}: generated code does not parse: {e}", api.spec));
    open_enums::apply(&mut ast);
    prettyplease::unparse(&ast)
}

/// Opens every enum that comes from a server, so that a value or tag the spec does not list yet is kept instead of
/// failing the whole response:
/// * a string enum gets `#[serde(untagged)] Unrecognized(String)` as its last variant (its `Display` and `FromStr`
///   learn it too, and `Copy` goes, since the variant owns a `String`), plus `as_str()` and `is_unrecognized()`;
/// * a tagged union (`#[serde(tag = ...)]`) gets `#[serde(untagged)] Unrecognized(<Name>Unrecognized)`, where the
///   payload keeps the raw JSON object and refuses to deserialize when the tag IS known: a malformed known variant
///   must be a decode error, never silently "unrecognized";
/// * both become `#[non_exhaustive]`, as enums that grow with the API.
mod open_enums {
    use quote::{format_ident, quote};
    use std::collections::BTreeSet;
    use syn::{Fields, Item, ItemEnum, ItemImpl, parse_quote};

    enum Kind {
        /// Wire values of a plain string enum, by variant ident.
        Strings(Vec<(syn::Ident, String)>),
        /// Tag property and known tag values of an internally tagged union.
        Tagged { tag: String, known: Vec<String> },
    }

    fn serde_arg(attrs: &[syn::Attribute], key: &str) -> Option<String> {
        let mut found = None;
        for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let _ = a.parse_nested_meta(|m| {
                if m.path.is_ident(key) {
                    let lit: syn::LitStr = m.value()?.parse()?;
                    found = Some(lit.value());
                } else if m.input.peek(syn::Token![=]) {
                    let _: syn::Expr = m.value()?.parse()?;
                }
                Ok(())
            });
        }
        found
    }

    fn has_serde_flag(attrs: &[syn::Attribute], flag: &str) -> bool {
        attrs.iter().filter(|a| a.path().is_ident("serde")).any(|a| {
            let mut hit = false;
            let _ = a.parse_nested_meta(|m| {
                if m.path.is_ident(flag) {
                    hit = true;
                }
                if m.input.peek(syn::Token![=]) {
                    let _: syn::Expr = m.value()?.parse()?;
                }
                Ok(())
            });
            hit
        })
    }

    fn derives_deserialize(e: &ItemEnum) -> bool {
        e.attrs
            .iter()
            .any(|a| a.path().is_ident("derive") && quote!(#a).to_string().contains("Deserialize"))
    }

    fn classify(e: &ItemEnum) -> Option<Kind> {
        if !derives_deserialize(e) || has_serde_flag(&e.attrs, "untagged") {
            return None;
        }
        if let Some(tag) = serde_arg(&e.attrs, "tag") {
            let known = e
                .variants
                .iter()
                .map(|v| serde_arg(&v.attrs, "rename").unwrap_or_else(|| v.ident.to_string()))
                .collect();
            return Some(Kind::Tagged { tag, known });
        }
        if e.variants.iter().all(|v| matches!(v.fields, Fields::Unit)) && !e.variants.is_empty() {
            let values = e
                .variants
                .iter()
                .map(|v| {
                    (
                        v.ident.clone(),
                        serde_arg(&v.attrs, "rename").unwrap_or_else(|| v.ident.to_string()),
                    )
                })
                .collect();
            return Some(Kind::Strings(values));
        }
        None
    }

    fn drop_copy(e: &mut ItemEnum) {
        for a in e.attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
            if let syn::Meta::List(list) = &a.meta {
                let paths: syn::punctuated::Punctuated<syn::Path, syn::Token![,]> = list
                    .parse_args_with(syn::punctuated::Punctuated::parse_terminated)
                    .expect("derive list");
                let kept: Vec<&syn::Path> = paths.iter().filter(|p| !p.is_ident("Copy")).collect();
                *a = parse_quote!(#[derive(#(#kept),*)]);
            }
        }
    }

    pub fn apply(file: &mut syn::File) {
        let Some(types) = file.items.iter_mut().find_map(|i| match i {
            Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        }) else {
            return;
        };
        let taken: BTreeSet<String> = types
            .iter()
            .filter_map(|i| match i {
                Item::Struct(s) => Some(s.ident.to_string()),
                Item::Enum(e) => Some(e.ident.to_string()),
                _ => None,
            })
            .collect();
        let mut string_enums = BTreeSet::new();
        let mut extra: Vec<Item> = Vec::new();
        for item in types.iter_mut() {
            let Item::Enum(e) = item else { continue };
            let Some(kind) = classify(e) else { continue };
            let name = e.ident.clone();
            assert!(
                !e.variants.iter().any(|v| v.ident == "Unrecognized"),
                "{name} already has a variant named Unrecognized"
            );
            e.attrs.push(parse_quote!(#[non_exhaustive]));
            match kind {
                Kind::Strings(values) => {
                    drop_copy(e);
                    e.variants.push(parse_quote! {
                        /// A value this version of the spec does not list, kept as sent.
                        #[serde(untagged)]
                        Unrecognized(::std::string::String)
                    });
                    string_enums.insert(name.to_string());
                    let idents = values.iter().map(|(i, _)| i);
                    let wires = values.iter().map(|(_, w)| w);
                    extra.push(parse_quote! {
                        impl #name {
                            /// The value as it travels on the wire.
                            pub fn as_str(&self) -> &str {
                                match self {
                                    #(Self::#idents => #wires,)*
                                    Self::Unrecognized(value) => value.as_str(),
                                }
                            }
                            /// Whether the value is one the spec does not list.
                            pub fn is_unrecognized(&self) -> bool {
                                matches!(self, Self::Unrecognized(_))
                            }
                        }
                    });
                }
                Kind::Tagged { tag, known } => {
                    let payload = format_ident!("{}Unrecognized", name);
                    assert!(
                        !taken.contains(&payload.to_string()),
                        "{payload} collides with a generated type"
                    );
                    e.variants.push(parse_quote! {
                        /// A variant whose tag this version of the spec does not list; the raw JSON is kept.
                        #[serde(untagged)]
                        Unrecognized(#payload)
                    });
                    let what = format!("`{name}`");
                    extra.push(parse_quote! {
                        /// The raw JSON of a #what whose tag is not in the spec. Deserializing one whose tag IS known
                        /// fails, so a malformed known variant surfaces as a decode error.
                        #[derive(::serde::Serialize, Clone, Debug, PartialEq)]
                        #[serde(transparent)]
                        pub struct #payload(pub ::serde_json::Value);
                    });
                    extra.push(parse_quote! {
                        impl #payload {
                            /// Tags the spec lists for this union.
                            pub const KNOWN_TAGS: &'static [&'static str] = &[#(#known),*];
                            /// Name of the tag property.
                            pub const TAG: &'static str = #tag;
                            /// The tag value as sent.
                            pub fn tag(&self) -> &str {
                                self.0.get(#tag).and_then(::serde_json::Value::as_str).unwrap_or_default()
                            }
                        }
                    });
                    extra.push(parse_quote! {
                        impl<'de> ::serde::Deserialize<'de> for #payload {
                            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                                use ::serde::de::Error as _;
                                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(deserializer)?;
                                match value.get(#tag).and_then(::serde_json::Value::as_str) {
                                    Some(t) if Self::KNOWN_TAGS.contains(&t) => Err(D::Error::custom(format!(
                                        "{} `{}` = {:?} does not match the fields the spec gives that variant", #what, #tag, t
                                    ))),
                                    Some(_) => Ok(Self(value)),
                                    None => Err(D::Error::custom(format!("{} has no string `{}` tag", #what, #tag))),
                                }
                            }
                        }
                    });
                    let variants: Vec<&syn::Ident> = e.variants.iter().filter(|v| v.ident != "Unrecognized").map(|v| &v.ident).collect();
                    let all_have_message = e.variants.iter().filter(|v| v.ident != "Unrecognized").all(|v| {
                        matches!(&v.fields, Fields::Named(n) if n.named.iter().any(|f| f.ident.as_ref().is_some_and(|i| i == "message")))
                    });
                    let tags = &known;
                    extra.push(parse_quote! {
                        impl #name {
                            /// Whether the tag is one the spec does not list.
                            pub fn is_unrecognized(&self) -> bool {
                                matches!(self, Self::Unrecognized(_))
                            }
                            /// The tag (`type` or `status` on the wire), also for an unrecognized variant.
                            pub fn tag(&self) -> &str {
                                match self {
                                    #(Self::#variants { .. } => #tags,)*
                                    Self::Unrecognized(raw) => raw.tag(),
                                }
                            }
                        }
                    });
                    if all_have_message {
                        let vs = variants.clone();
                        extra.push(parse_quote! {
                            impl #name {
                                /// The error message the server sent, if any.
                                pub fn message(&self) -> ::std::option::Option<&str> {
                                    match self {
                                        #(Self::#vs { message, .. } => message.as_deref(),)*
                                        Self::Unrecognized(raw) => raw.0.get("message").and_then(::serde_json::Value::as_str),
                                    }
                                }
                            }
                        });
                        extra.push(parse_quote! {
                            impl crate::error::ApiErrorBody for #name {
                                fn code(&self) -> &str {
                                    self.tag()
                                }
                                fn message(&self) -> ::std::option::Option<&str> {
                                    #name::message(self)
                                }
                            }
                        });
                    }
                }
            }
        }
        for item in types.iter_mut() {
            let Item::Impl(imp) = item else { continue };
            let Some(self_name) = impl_self_name(imp) else { continue };
            if !string_enums.contains(&self_name) {
                continue;
            }
            let trait_name = imp
                .trait_
                .as_ref()
                .and_then(|(p, _)| p.segments.last())
                .map(|s| s.ident.to_string());
            match trait_name.as_deref() {
                Some("Display") => patch_display(imp),
                Some("FromStr") => patch_from_str(imp),
                _ => {}
            }
        }
        types.extend(extra);
    }

    fn impl_self_name(imp: &ItemImpl) -> Option<String> {
        match &*imp.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
    }

    fn find_match(block: &mut syn::Block) -> Option<&mut syn::ExprMatch> {
        block.stmts.iter_mut().find_map(|s| match s {
            syn::Stmt::Expr(syn::Expr::Match(m), _) => Some(m),
            _ => None,
        })
    }

    fn patch_display(imp: &mut ItemImpl) {
        for it in imp.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = it {
                let m = find_match(&mut f.block).expect("typify Display is a match");
                m.arms
                    .push(parse_quote!(Self::Unrecognized(ref value) => f.write_str(value),));
            }
        }
    }

    fn patch_from_str(imp: &mut ItemImpl) {
        for it in imp.items.iter_mut() {
            if let syn::ImplItem::Fn(f) = it {
                let m = find_match(&mut f.block).expect("typify FromStr is a match");
                let last = m.arms.last_mut().expect("FromStr has arms");
                assert!(matches!(last.pat, syn::Pat::Wild(_)), "FromStr's last arm is `_`");
                *last = parse_quote!(_ => Ok(Self::Unrecognized(value.to_string())),);
            }
        }
    }
}
