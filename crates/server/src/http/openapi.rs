//! `/openapi.json`: the document every route's annotation contributes to, plus
//! what no single annotation can say exactly.
//!
//! The contract is checked by schemathesis in the test suite
//! (`scripts/api-contract.sh`), which fails on any answer the document does not
//! list. Some answers come from layers every route shares rather than from its
//! handler: authentication (401), the body extractors (400 unreadable, 413 too
//! large, 415 wrong content type), the query and path extractors (400, 404).
//! Writing those on each of ~70 annotations by hand is how the document came to
//! miss 31 of them; [`complete`] derives them from what each operation declares
//! instead, so a new route cannot forget them.

use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Spec, Ref, RefOr, ResponseBuilder};

use super::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        description = "Account protection: accounts, sessions, guarded resets."
    ),
    components(schemas(ErrorBody))
)]
pub(super) struct ApiDoc;

/// Adds the security schemes and the shared answers to `spec`.
pub(super) fn complete(spec: &mut Spec) {
    let components = spec.components.get_or_insert_with(Default::default);
    for (name, description) in [
        (
            "session",
            "Session token from POST /api/v1/sessions (or the session cookie)",
        ),
        (
            "operator",
            "Operator API key from `gatehouse operator create`",
        ),
        (
            "oidc_access_token",
            "An OpenID Connect access token from /oauth2/token",
        ),
    ] {
        components.add_security_scheme(
            name,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            ),
        );
    }
    for (path, item) in spec.paths.paths.iter_mut() {
        // The OAuth endpoints answer errors in RFC 6749's shape, declared on
        // each of them; the shared answers below are Gatehouse's own shape.
        if path.starts_with("/oauth2/")
            || path.starts_with("/.well-known/")
            || path.starts_with("/ssf/")
        {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_shared_answers(op);
        }
    }
}

/// The answers a route gets from the layers it passes through, by what the
/// operation declares.
fn add_shared_answers(op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| {
        params
            .iter()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
    };
    let mut shared: Vec<(&str, &str)> = Vec::new();
    if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
        shared.push(("401", "Missing, unknown, expired or revoked credential"));
    }
    if op.request_body.is_some() {
        shared.push(("400", "The body is not valid (which field, and why)"));
        shared.push(("413", "The body is larger than the server accepts"));
        shared.push(("415", "The body is not of the declared content type"));
    }
    if has(ParameterIn::Query) {
        shared.push(("400", "A query parameter is not valid (which, and why)"));
    }
    if has(ParameterIn::Path) {
        shared.push(("400", "A path parameter is not valid"));
        shared.push(("404", "Nothing has that id"));
    }
    for (status, description) in shared {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(description)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build(),
                )
            });
    }
}

/// The document as served: `spec` with serde's `flatten` written out.
///
/// utoipa writes a `#[serde(flatten)]` field as `allOf: [$ref, {…}]`. When
/// the flattened struct refuses unknown fields (`additionalProperties: false`,
/// as a rule's definition does), no object can satisfy both halves: the extra
/// fields break the first. Such compositions are merged here into the one
/// object serde really writes; other schemas are left as they are.
pub(super) fn served(spec: &Spec) -> serde_json::Value {
    let mut doc = serde_json::to_value(spec).expect("an OpenAPI document serializes");
    expand_text_formats(&mut doc);
    // Until nothing changes: a composition can name another (a rule change
    // flattens a rule, which flattens a rule's definition).
    while let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
        .cloned()
    {
        let merged: Vec<(String, serde_json::Value)> = schemas
            .iter()
            .filter_map(|(name, s)| Some((name.clone(), merge_closed_all_of(s, &schemas)?)))
            .collect();
        if merged.is_empty() {
            break;
        }
        let out = doc["components"]["schemas"]
            .as_object_mut()
            .expect("read above");
        out.extend(merged);
    }
    doc
}

/// `schema` as one closed object, if it is an `allOf` of objects (inline or by
/// reference) at least one of which is closed; `None` otherwise.
fn merge_closed_all_of(
    schema: &serde_json::Value,
    schemas: &serde_json::Map<String, serde_json::Value>,
) -> Option<serde_json::Value> {
    use serde_json::{Map, Value};
    let parts = schema.get("allOf")?.as_array()?;
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut closed = false;
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(r) => schemas.get(r.strip_prefix("#/components/schemas/")?)?,
            None => part,
        };
        if part.get("type").and_then(Value::as_str) != Some("object") {
            return None;
        }
        closed |= part.get("additionalProperties") == Some(&Value::Bool(false));
        properties.extend(part.get("properties")?.as_object()?.clone());
        for r in part
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !required.contains(r) {
                required.push(r.clone());
            }
        }
    }
    if !closed {
        return None;
    }
    let mut merged = Map::new();
    merged.insert("type".into(), "object".into());
    if let Some(d) = schema.get("description") {
        merged.insert("description".into(), d.clone());
    }
    merged.insert("required".into(), Value::Array(required));
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert("additionalProperties".into(), Value::Bool(false));
    Some(Value::Object(merged))
}

/// Characters no operator- or app-supplied text may hold
/// (`gatehouse_domain::text`): C0 and C1 controls, bidi overrides and isolates.
const NOT_TEXT: &str = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069";

/// White space as Rust's `str::trim` sees it (Unicode `White_Space`), written
/// out: regex engines' `\s` differ from it and from each other.
const WHITE_SPACE: &str =
    r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Fields write `format = "one-line"` or `"multi-line"` (or `"optional-…"` of either)
/// (with their `max_length`), meaning `gatehouse_domain::text::one_line`,
/// `multi_line`, or blank-or-one-line: here that becomes the pattern those
/// functions enforce (something besides white space, no control characters;
/// line breaks and tabs allowed in multi-line), so the rule is written once
/// rather than on every field.
fn expand_text_formats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let text = |c: &str| format!("{c}*[^{NOT_TEXT}{WHITE_SPACE}]{c}*");
            let one_line = text(&format!("[^{NOT_TEXT}]"));
            let multi_line = text(&format!(r"(?:[\t\n\r]|[^{NOT_TEXT}])"));
            let blank = format!("[{WHITE_SPACE}]*");
            let pattern = match map.get("format").and_then(|f| f.as_str()) {
                Some("one-line") => Some(format!("^{one_line}$")),
                Some("optional-one-line") => Some(format!("^(?:{blank}|{one_line})$")),
                Some("multi-line") => Some(format!("^{multi_line}$")),
                Some("optional-multi-line") => Some(format!("^(?:{blank}|{multi_line})$")),
                _ => None,
            };
            if let Some(pattern) = pattern {
                map.remove("format");
                map.insert("pattern".into(), pattern.into());
            }
            // A password as `gatehouse_domain::password` takes it: 1 to
            // MAX_CHARS characters, none of them a control character. (A new
            // password must also meet the policy and not be breached: rules
            // no schema states, so those answers are a documented 400.)
            unsigned_range(map);
            if map.get("format").and_then(|f| f.as_str()) == Some("password") {
                map.insert("minLength".into(), 1.into());
                map.insert(
                    "maxLength".into(),
                    gatehouse_domain::password::MAX_CHARS.into(),
                );
                map.insert("pattern".into(), r"^[^\x00-\x1f\x7f-\x9f]+$".into());
            }
            map.values_mut().for_each(expand_text_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(expand_text_formats),
        _ => {}
    }
}

/// utoipa writes Rust's `u32` as `int32` with `minimum: 0` and `u64` as
/// `int64` with `minimum: 0`; but `int32` stops at 2^31 - 1 and `int64` at
/// 2^63 - 1, so values the server takes (an AS number above 2^31) would read
/// as invalid. Written out as the unsigned range instead.
fn unsigned_range(map: &mut serde_json::Map<String, serde_json::Value>) {
    let unsigned = map.get("minimum").and_then(|m| m.as_f64()) == Some(0.0);
    let max = match map.get("format").and_then(|f| f.as_str()) {
        Some("int32") if unsigned => u64::from(u32::MAX),
        Some("int64") if unsigned => u64::MAX,
        _ => return,
    };
    map.remove("format");
    map.entry("maximum").or_insert(max.into());
}

/// An account named by its id or its e-mail address.
pub(crate) fn account_ref() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    let string = |format| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    OneOfBuilder::new()
        .item(string(KnownFormat::Uuid))
        .item(string(KnownFormat::Email))
        .description(Some("An account's id or e-mail address"))
        .build()
        .into()
}
