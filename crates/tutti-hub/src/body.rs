//! Request bodies of the Hub's API for people and automation, read strictly: a field the
//! API does not know is refused (422, naming it) rather than ignored. Ignoring it is
//! dangerous here because an absent field has a meaning: a misspelled `rights` on a new
//! account would otherwise mean "all rights".

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use tutti_core::http_error::ApiError;
use tutti_core::settings::FieldError;

/// A JSON body; refusals are the API's JSON errors (see [`parse`]).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Reads `bytes` as a `T`. Broken JSON is a 400; JSON of the wrong shape (an unknown or
/// missing field, a wrong type) a 422 whose `fields` names the field by its path, e.g.
/// `settings.charsets` or `rihgts`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        refusal(&path, e.into_inner())
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Reads a flat JSON object as a `T` that is not ours to mark `deny_unknown_fields` (a
/// wire type other components read too, where an unknown field must stay harmless): its
/// fields are those `T::default()` serializes.
pub fn parse_flat<T: DeserializeOwned + Serialize + Default>(
    value: serde_json::Value,
) -> Result<T, ApiError> {
    let known = serde_json::to_value(T::default()).unwrap_or_default();
    if let (Some(given), Some(known)) = (value.as_object(), known.as_object()) {
        let expected: Vec<&str> = known.keys().map(String::as_str).collect();
        let unknown: Vec<FieldError> = given
            .keys()
            .filter(|k| !known.contains_key(*k))
            .map(|k| unknown_field(k, &expected.join(", ")))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::invalid(unknown));
        }
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        refusal(&path, e.into_inner())
    })
}

fn unknown_field(field: &str, expected: &str) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: format!(
            "{field}: there is no such field (a typo?); nothing was changed. Expected one of: {expected}"
        ),
    }
}

fn refusal(path: &str, e: serde_json::Error) -> ApiError {
    if !matches!(e.classify(), Category::Data) {
        return ApiError::bad_request(format!("the body is not valid JSON: {e}"));
    }
    // serde_json adds " at line L column C"; the field's path says more.
    let text = e.to_string();
    let text = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i]);
    let parent = if path == "." { "" } else { path };
    // The path is the object the field is (or is not) in, or may already end with it.
    let join = |name: &str| {
        if parent.is_empty() {
            name.to_string()
        } else if parent == name || parent.ends_with(&format!(".{name}")) {
            parent.to_string()
        } else {
            format!("{parent}.{name}")
        }
    };
    // serde's own wording: "unknown field `x`, expected one of `a`, `b`" and
    // "missing field `x`".
    let named = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, rest)| (name.to_string(), rest.to_string()))
    };
    if let Some((name, rest)) = named("unknown field `") {
        let expected = rest
            .trim_start_matches(", expected ")
            .trim_start_matches("one of ")
            .replace('`', "");
        return ApiError::invalid(vec![unknown_field(&join(&name), &expected)]);
    }
    if let Some((name, _)) = named("missing field `") {
        let field = join(&name);
        return ApiError::invalid(vec![FieldError {
            message: format!("{field}: this field is required"),
            field,
        }]);
    }
    let field = if parent.is_empty() {
        "body".to_string()
    } else {
        parent.to_string()
    };
    ApiError::invalid(vec![FieldError {
        message: format!("{field}: {text}"),
        field,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::AccountInput;

    fn refused<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> ApiError {
        match parse::<T>(json.as_bytes()) {
            Ok(v) => panic!("{json} was taken: {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_misspelled_field_is_refused_by_name_not_ignored() {
        let e = refused::<AccountInput>(
            r#"{"user_name":"erin","password":"erin-password","rihgts":[]}"#,
        );
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.fields.len(), 1, "{e:?}");
        assert_eq!(e.fields[0].field, "rihgts");
        assert!(
            e.message.starts_with("rihgts: there is no such field"),
            "{e:?}"
        );
        assert!(
            e.message.contains("rights"),
            "the known fields are listed: {e:?}"
        );
    }

    #[test]
    fn nested_unknown_and_missing_fields_and_wrong_types_name_their_path() {
        let e = refused::<AccountInput>(
            r#"{"user_name":"erin","password":"erin-password","settings":{"chrsets":["utf-8"]}}"#,
        );
        assert_eq!(e.fields[0].field, "settings.chrsets", "{e:?}");
        let e = refused::<AccountInput>(r#"{"password":"erin-password"}"#);
        assert_eq!(
            (e.fields[0].field.as_str(), e.message.as_str()),
            ("user_name", "user_name: this field is required")
        );
        let e = refused::<AccountInput>(r#"{"user_name":"erin","rights":"all"}"#);
        assert_eq!(e.fields[0].field, "rights", "{e:?}");
        let e = refused::<AccountInput>(r#"{"user_name":"erin","rights":["everything"]}"#);
        assert!(e.fields[0].field.starts_with("rights"), "{e:?}");
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        assert_eq!(
            refused::<AccountInput>("{not json").status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            refused::<AccountInput>(r#"{"user_name":"erin"} trailing"#).status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn flat_wire_types_refuse_unknown_fields_too() {
        use tutti_core::api::ComponentSettings;
        let ok: ComponentSettings =
            parse_flat(serde_json::json!({"event_transfer_seconds": 7})).unwrap();
        assert_eq!(ok.event_transfer_seconds, 7);
        let e = parse_flat::<ComponentSettings>(
            serde_json::json!({"event_transfer_seconds": 7, "anonymous_profile_field": ["zip"]}),
        )
        .unwrap_err();
        assert_eq!(e.fields[0].field, "anonymous_profile_field");
        assert!(e.message.contains("anonymous_profile_fields"), "{e:?}");
        let e = parse_flat::<ComponentSettings>(serde_json::json!({})).unwrap_err();
        assert_eq!(e.fields[0].field, "event_transfer_seconds");
    }
}
