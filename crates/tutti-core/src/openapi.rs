//! What the components' OpenAPI documents share: how a caller authenticates (the
//! ClusterSecret, or a login's cookie and CSRF header) and the error answer every
//! operation can give.

use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use crate::api::{ErrorBody, FieldError, VERSION};

/// Declares the ClusterSecret bearer scheme; the requirement that names it.
pub fn cluster_secret(doc: &mut OpenApi) -> SecurityRequirement {
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "cluster_secret",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("the installation's ClusterSecret"))
                    .build(),
            ),
        );
    SecurityRequirement::new("cluster_secret", Vec::<String>::new())
}

/// The OpenAPI document of a component API whose every path needs the ClusterSecret as a
/// bearer token (the Tracker's and the Mailer's), served under `base`.
pub fn cluster_api_doc(mut doc: OpenApi, title: &str, about: &str, base: &str) -> OpenApi {
    doc.info.title = title.into();
    doc.info.version = VERSION.into();
    doc.info.description = Some(about.into());
    doc.servers = Some(vec![utoipa::openapi::Server::new(base)]);
    doc.security = Some(vec![cluster_secret(&mut doc)]);
    describe_errors(&mut doc);
    doc
}

/// Completes a component API's OpenAPI document with the error answer every operation can
/// give: the [`ErrorBody`] (with its [`FieldError`]s) as the `4XX` and `5XX` answer of each
/// operation that does not describe its own.
pub fn describe_errors(doc: &mut OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    use utoipa::{PartialSchema, ToSchema};
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    components
        .schemas
        .insert(FieldError::name().into_owned(), FieldError::schema());
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            let responses = &mut operation.responses.responses;
            responses.entry("4XX".into()).or_insert_with(|| {
                error("refused: what is wrong, and for refused input each field")
            });
            responses.entry("5XX".into()).or_insert_with(|| {
                error("a failure of the component (the details are in its log)")
            });
        }
    }
}

/// The security of an API for people: the login's session cookie on every call (but the
/// login itself, `POST /session`), and the CSRF token in `X-CSRF-Token` on every change.
pub fn describe_session_auth(doc: &mut OpenApi, cookie: &str) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "session",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(cookie))),
    );
    components.add_security_scheme(
        "csrf",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "the login's csrf_token; needed on POST, PUT, PATCH and DELETE",
        ))),
    );
    doc.security = Some(vec![
        SecurityRequirement::new("session", Vec::<String>::new()).add("csrf", Vec::<String>::new()),
    ]);
    if let Some(login) = doc
        .paths
        .paths
        .get_mut("/session")
        .and_then(|item| item.post.as_mut())
    {
        login.security = Some(vec![SecurityRequirement::default()]);
    }
}
