//! Generates the low-level clients from the normalized specs in `openapi/` with progenitor.
//!
//! One file per enabled provider lands in `OUT_DIR` and is included by `src/<provider>/raw.rs`. Generation reruns
//! only when a spec (or this file) changes. After progenitor, passes over the syntax tree open every enum that
//! comes from a server (see `open_enums`), give the types a `Debug` that hides sensitive fields (see
//! `redacted_debug`, driven by the crate's one table, `src/sensitive/table.rs`) and give every request body a
//! compile-time checked builder (see `builders`).

use std::path::PathBuf;

struct Api {
    feature: &'static str,
    /// Module path of the provider in the crate, for the test registry.
    module: &'static str,
    spec: &'static str,
    out: &'static str,
    /// The hand-written type each provider keeps in the generated client for its hooks (auth, headers).
    inner: &'static str,
    /// API areas behind a feature of their own: (the feature's `CARGO_FEATURE_*` variable, path prefix). When the
    /// feature is off, the area's operations and the schemas only they use are not generated.
    areas: &'static [(&'static str, &'static str)],
}

const APIS: &[Api] = &[
    Api {
        feature: "CARGO_FEATURE_PORTONE_V2",
        module: "portone_v2",
        spec: "openapi/portone-v2.json",
        out: "portone_v2.rs",
        inner: "crate::portone_v2::RawInner",
        // Partner settlement (66 operations) and B2B tax invoices (31) are most of the spec and none of a refund.
        areas: &[
            ("CARGO_FEATURE_PORTONE_V2_PLATFORM", "/platform"),
            ("CARGO_FEATURE_PORTONE_V2_B2B", "/b2b"),
        ],
    },
    Api {
        feature: "CARGO_FEATURE_IAMPORT",
        module: "iamport",
        spec: "openapi/iamport-v1.json",
        out: "iamport_v1.rs",
        inner: "crate::iamport::RawInner",
        areas: &[],
    },
    Api {
        feature: "CARGO_FEATURE_TOSS",
        module: "toss",
        spec: "openapi/toss-v1.json",
        out: "toss_v1.rs",
        inner: "crate::toss::RawInner",
        areas: &[],
    },
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/sensitive/table.rs");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for api in APIS {
        println!("cargo:rerun-if-changed={}", api.spec);
        for (feature, _) in api.areas {
            println!("cargo:rerun-if-env-changed={feature}");
        }
        if std::env::var_os(api.feature).is_none() {
            continue;
        }
        let (code, registry, debug_registry, builder_registry) = generate(api);
        std::fs::write(out_dir.join(api.out), code).expect("write generated code");
        std::fs::write(out_dir.join(format!("{}_open_enums.rs", api.module)), registry).expect("write registry");
        std::fs::write(out_dir.join(format!("{}_debug_types.rs", api.module)), debug_registry).expect("write registry");
        std::fs::write(out_dir.join(format!("{}_builders.rs", api.module)), builder_registry).expect("write registry");
    }
}

/// Returns the generated client, the open-enum registry the tests iterate over (see
/// `tests/generated_open_enums.rs`): one entry per opened enum, with a closure that decodes JSON into it, and the
/// registry of every type that holds data, with a closure that decodes JSON into it and prints it
/// (`tests/redaction_markers.rs`).
fn generate(api: &Api) -> (String, String, String, String) {
    let file = std::fs::File::open(api.spec).unwrap_or_else(|e| panic!("{}: {e}", api.spec));
    let mut spec: serde_json::Value =
        serde_json::from_reader(std::io::BufReader::new(file)).unwrap_or_else(|e| panic!("{}: {e}", api.spec));
    let left_out: Vec<&str> = api
        .areas
        .iter()
        .filter(|(feature, _)| std::env::var_os(feature).is_none())
        .map(|(_, prefix)| *prefix)
        .collect();
    areas::leave_out(&mut spec, &left_out);
    let formats = redacted_debug::Formats::read(&spec);
    let spec: openapiv3::OpenAPI = serde_json::from_value(spec).unwrap_or_else(|e| panic!("{}: {e}", api.spec));
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
    let opened = open_enums::apply(&mut ast);
    let printed = redacted_debug::apply(&mut ast, &formats);
    let built = builders::apply(&mut ast);
    let mut debug_registry = String::from(
        "// Generated by build.rs: every generated type that holds data, decoded from JSON and printed.\n&[\n",
    );
    for name in printed {
        let ty = format!("kr_payments::{}::raw::types::{name}", api.module);
        debug_registry.push_str(&format!(
            "    DebugType {{ name: \"{name}\", decode: |text| {{ let v: {ty} = serde_json::from_str(text).map_err(|e| e.to_string())?; Ok((format!(\"{{v:?}}\"), format!(\"{{v:#?}}\"), serde_json::to_string(&v).map_err(|e| e.to_string())?)) }} }},\n"
        ));
    }
    debug_registry.push_str("]\n");
    let mut registry = String::from("// Generated by build.rs: every enum the open-enum pass touched.\n&[\n");
    for (name, is_union, values) in opened {
        let ty = format!("kr_payments::{}::raw::types::{name}", api.module);
        let probe = if is_union {
            "v.tag().to_string()"
        } else {
            "v.as_str().to_string()"
        };
        registry.push_str(&format!(
            "    OpenEnum {{ name: \"{name}\", union: {is_union}, values: &{values:?}, decode: |json| {{ let v: {ty} = serde_json::from_value(json).map_err(|e| e.to_string())?; Ok(({probe}, v.is_unrecognized(), serde_json::to_value(&v).map_err(|e| e.to_string())?)) }}, decode_text: |text| {{ let v: {ty} = serde_json::from_str(text).map_err(|e| e.to_string())?; Ok(({probe}, v.is_unrecognized(), serde_json::to_value(&v).map_err(|e| e.to_string())?)) }} }},\n"
        ));
    }
    registry.push_str("]\n");
    let mut builder_registry = String::from(
        "// Generated by build.rs: every type that got a builder, its required fields and those of them that are an Option.\n&[\n",
    );
    for (name, required, nullable) in built {
        builder_registry.push_str(&format!("    ({name:?}, &{required:?}, &{nullable:?}),\n"));
    }
    builder_registry.push_str("]\n");
    (prettyplease::unparse(&ast), registry, debug_registry, builder_registry)
}

/// Leaves API areas out of a spec (see `Api::areas`).
mod areas {
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn refs(v: &Value, into: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => {
                            let name = r
                                .strip_prefix("#/components/schemas/")
                                .unwrap_or_else(|| panic!("$ref {r}"));
                            into.insert(name.to_string());
                        }
                        _ => refs(v, into),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, into)),
            _ => {}
        }
    }

    /// The schemas `roots` name and every schema those refer to.
    fn closure(schemas: &serde_json::Map<String, Value>, roots: BTreeSet<String>) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = roots.into_iter().collect();
        while let Some(name) = todo.pop() {
            if seen.insert(name.clone()) {
                let mut next = BTreeSet::new();
                refs(&schemas[&name], &mut next);
                todo.extend(next.into_iter().filter(|n| !seen.contains(n)));
            }
        }
        seen
    }

    fn in_area(path: &str, prefix: &str) -> bool {
        path == prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/'))
    }

    /// Removes the operations under each of `prefixes` and the schemas that only they use. Schemas no operation
    /// uses (webhook bodies, for one) always stay.
    pub fn leave_out(spec: &mut Value, prefixes: &[&str]) {
        if prefixes.is_empty() {
            return;
        }
        let schemas = spec["components"]["schemas"]
            .as_object()
            .expect("components.schemas")
            .clone();
        let mut used_by_any = BTreeSet::new();
        refs(&spec["paths"], &mut used_by_any);
        let used_by_any = closure(&schemas, used_by_any);
        let paths = spec["paths"].as_object_mut().expect("paths");
        paths.retain(|path, _| !prefixes.iter().any(|p| in_area(path, p)));
        let mut roots: BTreeSet<String> = schemas.keys().filter(|n| !used_by_any.contains(*n)).cloned().collect();
        refs(&spec["paths"], &mut roots);
        let keep = closure(&schemas, roots);
        spec["components"]["schemas"]
            .as_object_mut()
            .expect("components.schemas")
            .retain(|name, _| keep.contains(name));
    }
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

    pub(super) fn serde_arg(attrs: &[syn::Attribute], key: &str) -> Option<String> {
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

    /// Removes a derive (`Copy`, `Deserialize`, `Debug`) from a type's derive list, by the path's last segment.
    pub(super) fn drop_derive(attrs: &mut [syn::Attribute], which: &str) {
        for a in attrs.iter_mut().filter(|a| a.path().is_ident("derive")) {
            if let syn::Meta::List(list) = &a.meta {
                let paths: syn::punctuated::Punctuated<syn::Path, syn::Token![,]> = list
                    .parse_args_with(syn::punctuated::Punctuated::parse_terminated)
                    .expect("derive list");
                let kept: Vec<&syn::Path> = paths
                    .iter()
                    .filter(|p| p.segments.last().is_none_or(|s| s.ident != which))
                    .collect();
                *a = parse_quote!(#[derive(#(#kept),*)]);
            }
        }
    }

    /// Keeps only the `serde` attributes of a field (its docs are not needed on the decoding helper).
    fn serde_only(field: &syn::Field) -> syn::Field {
        let mut f = field.clone();
        f.attrs.retain(|a| a.path().is_ident("serde"));
        f.vis = parse_quote!(pub(super));
        f
    }

    /// Returns the opened enums: (name, is a tagged union, known wire values or tags).
    pub fn apply(file: &mut syn::File) -> Vec<(String, bool, Vec<String>)> {
        let mut opened = Vec::new();
        let Some(types) = file.items.iter_mut().find_map(|i| match i {
            Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        }) else {
            return opened;
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
        let mut variant_structs: Vec<Item> = Vec::new();
        for item in types.iter_mut() {
            let Item::Enum(e) = item else { continue };
            let Some(kind) = classify(e) else { continue };
            let name = e.ident.clone();
            assert!(
                !e.variants.iter().any(|v| v.ident == "Unrecognized"),
                "{name} already has a variant named Unrecognized"
            );
            e.attrs.push(parse_quote!(#[non_exhaustive]));
            let values = match &kind {
                Kind::Strings(v) => v.iter().map(|(_, w)| w.clone()).collect(),
                Kind::Tagged { known, .. } => known.clone(),
            };
            opened.push((name.to_string(), matches!(kind, Kind::Tagged { .. }), values));
            match kind {
                Kind::Strings(values) => {
                    drop_derive(&mut e.attrs, "Copy");
                    // Decoded through `FromStr`, made total below (see `crate::open_enum`).
                    drop_derive(&mut e.attrs, "Deserialize");
                    extra.push(parse_quote! {
                        impl<'de> ::serde::Deserialize<'de> for #name {
                            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                                crate::open_enum::deserialize_str_enum(deserializer)
                            }
                        }
                    });
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
                    // Decoded tag-first (see `crate::open_enum`): each known variant's fields get a plain struct
                    // that serde derives, in the `union_variants` module.
                    drop_derive(&mut e.attrs, "Deserialize");
                    let name_str = name.to_string();
                    let mut arms: Vec<proc_macro2::TokenStream> = Vec::new();
                    for v in e.variants.iter().filter(|v| v.ident != "Unrecognized") {
                        let wire = serde_arg(&v.attrs, "rename").unwrap_or_else(|| v.ident.to_string());
                        let vident = &v.ident;
                        match &v.fields {
                            Fields::Named(named) => {
                                let helper = format_ident!("{}_{}", name, vident);
                                let fields: Vec<syn::Field> = named.named.iter().map(serde_only).collect();
                                let idents: Vec<&syn::Ident> = named
                                    .named
                                    .iter()
                                    .map(|f| f.ident.as_ref().expect("named field"))
                                    .collect();
                                variant_structs.push(parse_quote! {
                                    #[derive(::serde::Deserialize)]
                                    pub(super) struct #helper { #(#fields),* }
                                });
                                arms.push(quote! {
                                    #wire => {
                                        let v = <union_variants::#helper as ::serde::Deserialize>::deserialize(fields)?;
                                        Ok(Self::#vident { #(#idents: v.#idents),* })
                                    }
                                });
                            }
                            Fields::Unit => {
                                arms.push(quote! {
                                    #wire => {
                                        <::serde::de::IgnoredAny as ::serde::Deserialize>::deserialize(fields)?;
                                        Ok(Self::#vident)
                                    }
                                });
                            }
                            Fields::Unnamed(one) if one.unnamed.len() == 1 => {
                                let ty = &one.unnamed[0].ty;
                                arms.push(quote! {
                                    #wire => <#ty as ::serde::Deserialize>::deserialize(fields).map(Self::#vident),
                                });
                            }
                            Fields::Unnamed(_) => panic!("{name}::{vident}: a tagged variant with several fields"),
                        }
                    }
                    extra.push(parse_quote! {
                        impl crate::open_enum::TaggedUnion for #name {
                            const TAG: &'static str = #tag;
                            const NAME: &'static str = #name_str;
                            fn is_known(tag: &str) -> bool {
                                #payload::KNOWN_TAGS.contains(&tag)
                            }
                            fn decode_known<'de, D: ::serde::Deserializer<'de>>(tag: &str, fields: D) -> ::std::result::Result<Self, D::Error> {
                                match tag {
                                    #(#arms)*
                                    other => Err(<D::Error as ::serde::de::Error>::custom(format!("{} has no variant `{}`", #what, other))),
                                }
                            }
                            fn decode_unrecognized(object: ::serde_json::Value) -> ::std::result::Result<Self, ::serde_json::Error> {
                                <#payload as ::serde::Deserialize>::deserialize(object).map(Self::Unrecognized)
                            }
                        }
                    });
                    extra.push(parse_quote! {
                        impl<'de> ::serde::Deserialize<'de> for #name {
                            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> ::std::result::Result<Self, D::Error> {
                                crate::open_enum::deserialize_tagged(deserializer)
                            }
                        }
                    });
                    extra.push(parse_quote! {
                        #[doc = concat!("The raw JSON of a ", #what, " whose tag is not in the spec. Deserializing one whose tag IS known fails, so a malformed known variant surfaces as a decode error.")]
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
                    let variants: Vec<&syn::Ident> = e
                        .variants
                        .iter()
                        .filter(|v| v.ident != "Unrecognized")
                        .map(|v| &v.ident)
                        .collect();
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
        let mut from_str_patched = BTreeSet::new();
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
                Some("FromStr") => {
                    patch_from_str(imp);
                    from_str_patched.insert(self_name);
                }
                _ => {}
            }
        }
        // Every string enum decodes through its `FromStr`: it must have one, made total above.
        assert_eq!(string_enums, from_str_patched, "string enums without a FromStr");
        if !variant_structs.is_empty() {
            extra.push(parse_quote! {
                /// The fields of each known variant of a tagged union, decoded on their own (see `crate::open_enum`).
                #[allow(non_camel_case_types)]
                mod union_variants {
                    #[allow(unused_imports)]
                    use super::*;
                    #(#variant_structs)*
                }
            });
        }
        types.extend(extra);
        opened
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

/// The crate's table of sensitive fields, shared with `crate::sensitive`.
#[allow(dead_code)]
mod sensitive_table {
    include!("src/sensitive/table.rs");
}

/// Gives every generated type that could print a sensitive value a `Debug` that hides it, by the crate's one table
/// (`src/sensitive/table.rs`): a field whose wire name is in the table, or whose schema has a sensitive string
/// format, prints through `crate::sensitive::Masked` (`"****1234"`, `"<redacted>"`, ...); a field of free-form
/// JSON (`serde_json::Value` or `Map`, the raw object of an unrecognized variant) prints through
/// `crate::sensitive::Json`, which hides the table's fields at any depth. Every other field prints its own `Debug`,
/// itself generated the same way, so a value nested anywhere is covered.
///
/// Only types with such a field lose their derived `Debug`; the impl that replaces it is one call to a shared
/// helper with a slice of fields, the same shape as the derive's, so the build grows little. Serialization is
/// untouched.
mod redacted_debug {
    use super::sensitive_table::{Shown, shown_for_format, shown_for_key};
    use quote::{format_ident, quote};
    use serde_json::Value;
    use std::collections::{BTreeMap, BTreeSet};
    use syn::{Fields, Item, parse_quote};

    /// Properties a spec gives a sensitive format: by (schema name, lower case; wire name), and by wire name alone
    /// for properties of inline schemas, whose generated type names are typify's.
    pub struct Formats {
        by_schema: BTreeMap<(String, String), Shown>,
        anywhere: BTreeMap<String, Shown>,
    }

    impl Formats {
        pub fn read(spec: &Value) -> Formats {
            let mut formats = Formats {
                by_schema: BTreeMap::new(),
                anywhere: BTreeMap::new(),
            };
            if let Some(schemas) = spec.pointer("/components/schemas").and_then(Value::as_object) {
                for (name, schema) in schemas {
                    formats.read_schema(Some(&name.to_ascii_lowercase()), schema);
                }
            }
            if let Some(paths) = spec.get("paths") {
                formats.read_schema(None, paths);
            }
            formats
        }

        /// Reads the properties of `schema` (its own under `owner`, nested ones anywhere).
        fn read_schema(&mut self, owner: Option<&str>, schema: &Value) {
            match schema {
                Value::Object(m) => {
                    if let Some(props) = m.get("properties").and_then(Value::as_object) {
                        for (prop, p) in props {
                            if let Some(shown) = p.get("format").and_then(Value::as_str).and_then(shown_for_format) {
                                match owner {
                                    Some(owner) => self.by_schema.insert((owner.to_string(), prop.clone()), shown),
                                    None => self.anywhere.insert(prop.clone(), shown),
                                };
                            }
                            self.read_schema(None, p);
                        }
                    }
                    for (k, v) in m {
                        match k.as_str() {
                            "properties" => {}
                            // The parts of a composed schema are the schema's own properties.
                            "allOf" => self.read_schema(owner, v),
                            _ => self.read_schema(None, v),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| self.read_schema(owner, v)),
                _ => {}
            }
        }

        fn shown(&self, owner: &str, wire: &str) -> Option<Shown> {
            self.by_schema
                .get(&(owner.to_ascii_lowercase(), wire.to_string()))
                .or_else(|| self.anywhere.get(wire))
                .copied()
        }
    }

    enum Print {
        Plain,
        Masked(Shown),
        Json,
    }

    fn mentions_json(ty: &syn::Type) -> bool {
        quote!(#ty).to_string().contains("serde_json")
    }

    fn derives(attrs: &[syn::Attribute], which: &str) -> bool {
        attrs.iter().filter(|a| a.path().is_ident("derive")).any(|a| {
            let mut hit = false;
            let _ = a.parse_nested_meta(|m| {
                hit |= m.path.segments.last().is_some_and(|s| s.ident == which);
                Ok(())
            });
            hit
        })
    }

    /// How each field of a type prints, and whether any needs more than its own `Debug`.
    fn plan(
        owners: &[String],
        fields: &Fields,
        formats: &Formats,
        used: &mut BTreeSet<(String, String)>,
    ) -> Vec<Print> {
        fields
            .iter()
            .map(|f| {
                if let Some(ident) = &f.ident {
                    let wire = super::open_enums::serde_arg(&f.attrs, "rename").unwrap_or_else(|| unraw(ident));
                    let by_format = owners.iter().find_map(|o| {
                        let shown = formats.shown(o, &wire)?;
                        used.insert((o.to_ascii_lowercase(), wire.clone()));
                        Some(shown)
                    });
                    if let Some(shown) = shown_for_key(&wire).or(by_format) {
                        return Print::Masked(shown);
                    }
                }
                if mentions_json(&f.ty) {
                    Print::Json
                } else {
                    Print::Plain
                }
            })
            .collect()
    }

    fn unraw(ident: &syn::Ident) -> String {
        let s = ident.to_string();
        s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
    }

    /// The expression one field prints through, given an expression of type `&FieldType`.
    fn printed(print: &Print, value: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
        match print {
            Print::Plain => value,
            Print::Masked(shown) => {
                let shown = format_ident!("{}", format!("{shown:?}"));
                quote!(&crate::sensitive::Masked(#value, crate::sensitive::Shown::#shown))
            }
            Print::Json => quote!(&crate::sensitive::Json(#value)),
        }
    }

    /// A call printing `fields`, bound to the expressions in `values`, under `name`.
    fn body(
        name: &str,
        fields: &Fields,
        plan: &[Print],
        values: &[proc_macro2::TokenStream],
    ) -> proc_macro2::TokenStream {
        let shown: Vec<proc_macro2::TokenStream> =
            plan.iter().zip(values).map(|(p, v)| printed(p, v.clone())).collect();
        match fields {
            Fields::Named(named) => {
                let names: Vec<String> = named
                    .named
                    .iter()
                    .map(|f| unraw(f.ident.as_ref().expect("named field")))
                    .collect();
                quote!(crate::sensitive::debug_struct(f, #name, &[#((#names, #shown)),*]))
            }
            Fields::Unnamed(_) => quote!(crate::sensitive::debug_tuple(f, #name, &[#(#shown),*])),
            Fields::Unit => quote!(f.write_str(#name)),
        }
    }

    /// Replaces the derived `Debug` where a field needs hiding. Returns the names of the types that hold data (all
    /// structs, and enums with a variant that has fields), for the test registry.
    pub fn apply(file: &mut syn::File, formats: &Formats) -> Vec<String> {
        let Some(types) = file.items.iter_mut().find_map(|i| match i {
            Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        }) else {
            return Vec::new();
        };
        let mut used = BTreeSet::new();
        let mut holding_data = Vec::new();
        let mut impls: Vec<Item> = Vec::new();
        for item in types.iter_mut() {
            match item {
                Item::Struct(s) if derives(&s.attrs, "Debug") => {
                    assert!(s.generics.params.is_empty(), "{}: generic generated type", s.ident);
                    let name = s.ident.clone();
                    holding_data.push(name.to_string());
                    let plan = plan(&[name.to_string()], &s.fields, formats, &mut used);
                    if plan.iter().all(|p| matches!(p, Print::Plain)) {
                        continue;
                    }
                    let values: Vec<proc_macro2::TokenStream> = match &s.fields {
                        Fields::Named(n) => n
                            .named
                            .iter()
                            .map(|f| {
                                let i = f.ident.as_ref().expect("named field");
                                quote!(&self.#i)
                            })
                            .collect(),
                        _ => (0..s.fields.len())
                            .map(|i| {
                                let i = syn::Index::from(i);
                                quote!(&self.#i)
                            })
                            .collect(),
                    };
                    let call = body(&name.to_string(), &s.fields, &plan, &values);
                    super::open_enums::drop_derive(&mut s.attrs, "Debug");
                    impls.push(parse_quote! {
                        impl ::std::fmt::Debug for #name {
                            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                #call
                            }
                        }
                    });
                }
                Item::Enum(e) if derives(&e.attrs, "Debug") => {
                    assert!(e.generics.params.is_empty(), "{}: generic generated type", e.ident);
                    if e.variants.iter().all(|v| matches!(v.fields, Fields::Unit)) {
                        continue;
                    }
                    let name = e.ident.clone();
                    holding_data.push(name.to_string());
                    let plans: Vec<Vec<Print>> = e
                        .variants
                        .iter()
                        .map(|v| {
                            // A union variant's fields come from the variant's own schema, named like the variant
                            // or like the union followed by it.
                            let owners = [v.ident.to_string(), format!("{}{}", name, v.ident), name.to_string()];
                            plan(&owners, &v.fields, formats, &mut used)
                        })
                        .collect();
                    if plans.iter().flatten().all(|p| matches!(p, Print::Plain)) {
                        continue;
                    }
                    let arms = e.variants.iter().zip(&plans).map(|(v, plan)| {
                        let vident = &v.ident;
                        let bound: Vec<syn::Ident> = (0..v.fields.len()).map(|i| format_ident!("__field{i}")).collect();
                        let values: Vec<proc_macro2::TokenStream> = bound.iter().map(|b| quote!(#b)).collect();
                        let call = body(&unraw(vident), &v.fields, plan, &values);
                        match &v.fields {
                            Fields::Named(n) => {
                                let idents = n.named.iter().map(|f| f.ident.as_ref().expect("named field"));
                                quote!(Self::#vident { #(#idents: #bound),* } => #call,)
                            }
                            Fields::Unnamed(_) => quote!(Self::#vident(#(#bound),*) => #call,),
                            Fields::Unit => quote!(Self::#vident => #call,),
                        }
                    });
                    super::open_enums::drop_derive(&mut e.attrs, "Debug");
                    impls.push(parse_quote! {
                        impl ::std::fmt::Debug for #name {
                            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                                match self {
                                    #(#arms)*
                                }
                            }
                        }
                    });
                }
                _ => {}
            }
        }
        // A format the spec marks on a schema's own property must have reached that schema's type: a mismatch
        // between schema and type names would otherwise leave the field printed in the clear.
        let unmatched: Vec<&(String, String)> = formats.by_schema.keys().filter(|k| !used.contains(*k)).collect();
        assert!(
            unmatched.is_empty(),
            "properties with a sensitive format that no generated field took: {unmatched:?}"
        );
        types.extend(impls);
        holding_data
    }
}

/// Gives every struct an operation takes as its request body a builder (`bon::Builder`), checked at compile time:
/// `AgainBody::builder().customer_uid(..).merchant_uid(..).amount(..).name(..).build()` compiles, and leaving out a
/// field the spec requires does not. The structs a body holds (a `PaymentAmountInput` inside
/// `BillingKeyPaymentInput`) get none: bon's builders cost compile time in proportion to the square of a struct's
/// field count, and with them the default-features build took about 10% more (BENCHMARKS.md §4), past the budget.
/// Those structs are mostly small, and the ones without required fields have `Default`.
///
/// What the builder takes follows what the body sends:
/// * a field the spec requires is a plain field: its setter must be called;
/// * an optional field is an `Option` (skipped on the wire when `None`): its setter may be left out, and the
///   `maybe_` setter takes an `Option`;
/// * an optional list or map (`#[serde(default)]`, skipped when empty) may be left out too, and is then empty;
/// * a required field that is also nullable (an `Option` sent as `null`, not skipped) must still be set, by
///   `maybe_` with `None` for an explicit `null`;
/// * string setters take `impl Into<String>`.
///
/// The builder has no `Debug` (bon derives none unless asked), so a half-built body cannot print a secret; the
/// body it builds prints through its own, redacted `Debug`. Serialization and decoding are untouched: the derive
/// adds the builder and nothing else.
mod builders {
    use std::collections::BTreeSet;
    use syn::{FnArg, ImplItem, Item, Pat, parse_quote};

    /// The `types::X` a method's `body` argument borrows, for every method of the generated client.
    fn body_types(file: &syn::File) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for item in &file.items {
            let Item::Impl(imp) = item else { continue };
            for it in &imp.items {
                let ImplItem::Fn(f) = it else { continue };
                for input in &f.sig.inputs {
                    let FnArg::Typed(arg) = input else { continue };
                    let Pat::Ident(name) = &*arg.pat else { continue };
                    if name.ident != "body" {
                        continue;
                    }
                    let syn::Type::Reference(r) = &*arg.ty else { continue };
                    let syn::Type::Path(p) = &*r.elem else { continue };
                    let segments: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
                    if let [module, name] = segments.as_slice()
                        && module == "types"
                    {
                        out.insert(name.clone());
                    }
                }
            }
        }
        out
    }

    fn serde_flag(attrs: &[syn::Attribute], flag: &str) -> bool {
        attrs.iter().filter(|a| a.path().is_ident("serde")).any(|a| {
            let mut hit = false;
            let _ = a.parse_nested_meta(|m| {
                hit |= m.path.is_ident(flag);
                if m.input.peek(syn::Token![=]) {
                    let _: syn::Expr = m.value()?.parse()?;
                }
                Ok(())
            });
            hit
        })
    }

    fn is_option(ty: &syn::Type) -> bool {
        matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
    }

    /// A struct that got a builder: its name, its required fields and, of those, the ones that are an `Option` (wire
    /// names).
    pub type Built = (String, Vec<String>, Vec<String>);

    /// Derives the builders. Returns each struct that got one, for the test registry.
    pub fn apply(file: &mut syn::File) -> Vec<Built> {
        let bodies = body_types(file);
        let Some(types) = file.items.iter_mut().find_map(|i| match i {
            Item::Mod(m) if m.ident == "types" => m.content.as_mut().map(|(_, items)| items),
            _ => None,
        }) else {
            return Vec::new();
        };
        let chosen: BTreeSet<String> = types
            .iter()
            .filter_map(|item| match item {
                Item::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => Some(s.ident.to_string()),
                _ => None,
            })
            .filter(|name| bodies.contains(name))
            .collect();
        let mut built = Vec::new();
        for item in types.iter_mut() {
            let Item::Struct(s) = item else { continue };
            if !chosen.contains(&s.ident.to_string()) {
                continue;
            }
            assert!(s.generics.params.is_empty(), "{}: generic request body", s.ident);
            let (mut required, mut nullable) = (Vec::new(), Vec::new());
            for f in s.fields.iter_mut() {
                let ident = f.ident.as_ref().expect("named field");
                let wire = super::open_enums::serde_arg(&f.attrs, "rename").unwrap_or_else(|| {
                    let s = ident.to_string();
                    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
                });
                let skipped = serde_flag(&f.attrs, "skip_serializing_if");
                if is_option(&f.ty) {
                    if !skipped {
                        // Required by the spec but nullable: sent as `null` when `None`, so it must be set.
                        f.attrs.push(parse_quote!(#[builder(required)]));
                        required.push(wire.clone());
                        nullable.push(wire);
                    }
                } else if serde_flag(&f.attrs, "default") {
                    // An optional list or map: left out, it is empty and not sent.
                    f.attrs.push(parse_quote!(#[builder(default)]));
                } else {
                    required.push(wire);
                }
            }
            s.attrs.push(parse_quote!(#[derive(::bon::Builder)]));
            s.attrs.push(parse_quote!(#[builder(on(::std::string::String, into))]));
            built.push((s.ident.to_string(), required, nullable));
        }
        built
    }
}
