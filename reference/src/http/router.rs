//! The one route: warp hands over every request whole; [`handle`] identifies the caller, parses the
//! endpoint ([`super::endpoint`]), checks its access rule, calls the area's handler and renders the
//! result. The headers every Artifactory response carries and the deliberate faults of test servers
//! are applied on the way out.

use futures_util::{Stream, StreamExt};
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderMap, HeaderValue, Method};
use warp::path::FullPath;
use warp::reply::Response;
use warp::Filter;

use super::endpoint::{Access, Endpoint, Incoming, Security};
use super::headers::Headers;
use super::{
    artifacts, builds, docker, helm, render, repositories, search, security, storage, system,
    tokens, users, AppState, BodyStream, Query, Req, REVISION, VERSION,
};
use crate::auth::Credentials;
use crate::error::ApiError;
use crate::messages as msg;

/// Every route of the server.
pub(crate) fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let raw_query = warp::query::raw().or(warp::any().map(String::new)).unify();
    let app = state.clone();
    let id = state.instance_id.clone();
    let faults = state.config.faults;
    let idle = std::time::Duration::from_secs(state.config.idle_timeout_secs.max(1));
    let routes = warp::method()
        .and(warp::path::full())
        .and(raw_query)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .then(
            move |method: Method, path: FullPath, query: String, headers: HeaderMap, body| {
                let app = app.clone();
                let body = boxed(body, idle);
                async move { handle(app, method, path.as_str(), &query, headers, body).await }
            },
        )
        .map(move |mut r: Response| {
            add_common_headers(&mut r, &id);
            r
        })
        .map(|r| -> Response { warp::Reply::into_response(r) });
    if faults.any() {
        routes
            .then(move |r| super::faults::apply(faults, r))
            .boxed()
    } else {
        routes.boxed()
    }
}

/// The request body as the domain reads it: chunks as `Bytes`, failing when the client stops
/// sending for the idle timeout.
fn boxed<S, B>(s: S, idle: std::time::Duration) -> BodyStream
where
    S: Stream<Item = Result<B, warp::Error>> + Send + 'static,
    B: warp::Buf,
{
    let chunks = Box::pin(s.map(|r| {
        r.map(|mut b| b.copy_to_bytes(b.remaining()))
            .map_err(std::io::Error::other)
    }));
    Box::pin(super::serve::idle_body(chunks, idle))
}

/// The credentials a request presents.
fn credentials(headers: &Headers) -> Credentials {
    // A header that is not text can match nothing: it stands as an empty value.
    let text = |name: &str| {
        headers
            .has(name)
            .then(|| headers.get(name).unwrap_or_default().into_owned())
    };
    Credentials {
        api_key: text("x-jfrog-art-api").or_else(|| text("x-api-key")),
        authorization: text(header::AUTHORIZATION.as_str()),
    }
}

async fn handle(
    state: AppState,
    method: Method,
    path: &str,
    raw_query: &str,
    headers: HeaderMap,
    body: BodyStream,
) -> Response {
    let started = std::time::Instant::now();
    let now = state.config.clock.now_ms();
    let headers = if state.config.faults.first_header_line_only {
        super::faults::first_lines(headers)
    } else {
        headers
    };
    let headers = Headers::new(headers);
    let caller = state
        .auth
        .identify(&state.store, &credentials(&headers), now)
        .await;
    let r = Req {
        state,
        method,
        headers,
        query: Query::parse(raw_query),
        caller,
    };
    let control = path.strip_prefix("/_reference/");
    let fault = match control {
        Some(_) => None,
        None => r.state.faults.take(r.method.as_str(), path),
    };
    if let Some(d) = fault.as_ref().and_then(|f| f.delay_ms) {
        tokio::time::sleep(std::time::Duration::from_millis(d)).await;
    }
    let result = match (control, fault.as_ref().and_then(|f| f.status)) {
        (Some(rest), _) => super::control::handle(&r, rest, body).await,
        (None, Some(status)) => Err(ApiError::new(
            status,
            format!(
                "Injected by the reference server's control API (fault rule {})",
                fault.as_ref().map_or(0, |f| f.id)
            ),
        )),
        (None, None) => {
            let parsed = Endpoint::parse(&Incoming {
                method: &r.method,
                path,
                ctx: &r.state.ctx_path,
                query: &r.query,
                headers: &r.headers,
            });
            match parsed {
                Ok(ep) => match check(&r, ep.access()) {
                    Ok(()) => dispatch(&r, ep, body).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
    };
    let mut resp = render(&r, result);
    if let Some(f) = &fault {
        resp = super::control::cut(f, resp);
    }
    // The control API's own requests stay out of the journal it shows.
    if control.is_none() {
        r.state.requests.push(crate::requests::Logged {
            at: now,
            method: r.method.to_string(),
            path: path.to_string(),
            status: resp.status().as_u16(),
            duration_ms: started.elapsed().as_millis() as u64,
            caller: r
                .caller
                .as_ref()
                .map_or_else(|_| "-".to_string(), |c| c.name.clone()),
        });
    }
    // One line per request, like Artifactory's request.log: method, path (never the query string or
    // headers, which may carry secrets), status and time.
    tracing::debug!(
        target: "jcr_reference::request",
        "{} {path} {} {}ms",
        r.method,
        resp.status().as_u16(),
        started.elapsed().as_millis()
    );
    if super::endpoint::is_registry_path(path, &r.state.ctx_path) {
        resp.headers_mut().insert(
            "docker-distribution-api-version",
            HeaderValue::from_static("registry/2.0"),
        );
    }
    resp
}

/// The endpoint's access rule, checked once for every request.
fn check(r: &Req, access: Access) -> Result<(), ApiError> {
    match access {
        Access::Own => Ok(()),
        Access::Anyone => r.caller().map(|_| ()),
        Access::User | Access::Path(_) => r.require_user().map(|_| ()),
        Access::Named => match r.require_user()? {
            c if c.anonymous => Err(msg::unauthorized()),
            _ => Ok(()),
        },
        Access::Admin => r.require_admin(|_| msg::forbidden()).map(|_| ()),
    }
}

async fn dispatch(r: &Req, ep: Endpoint, body: BodyStream) -> Result<Response, ApiError> {
    match ep {
        Endpoint::System(e) => system::handle(r, e, body).await,
        Endpoint::Storage(e) => storage::handle(r, e, body).await,
        Endpoint::Artifacts(e) => artifacts::handle(r, e, body).await,
        Endpoint::Repositories(e) => repositories::handle(r, e, body).await,
        Endpoint::Security(e) => match e {
            Security::ApiKeyGet { .. }
            | Security::ApiKeyCreate { .. }
            | Security::ApiKeyRegenerate { .. }
            | Security::ApiKeyRevoke { .. } => security::handle(r, e).await,
            Security::TokenList
            | Security::TokenCreate
            | Security::TokenRevoke
            | Security::AccessTokenCreate
            | Security::AccessTokenList
            | Security::AccessTokenGet { .. }
            | Security::AccessTokenRevoke { .. } => tokens::handle(r, e, body).await,
            _ => users::handle(r, e, body).await,
        },
        Endpoint::Search(e) => search::handle(r, e, body).await,
        Endpoint::Docker(e) => docker::handle(r, e, body).await,
        Endpoint::Builds(e) => builds::handle(r, e, body).await,
        Endpoint::Helm(e) => helm::handle(r, e, body).await,
        Endpoint::Unbuilt(u) => Err(u.error()),
    }
}

/// Headers a 7.x server puts on every response.
fn add_common_headers(r: &mut Response, id: &str) {
    let h = r.headers_mut();
    let version = format!("Artifactory/{VERSION} {REVISION}");
    if let Ok(v) = HeaderValue::from_str(id) {
        h.insert("x-artifactory-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&version) {
        h.insert("x-jfrog-version", v.clone());
        h.insert(header::SERVER, v);
    }
}
