//! Composes the API areas under the context path: `/api/*` first, the artifact catch-all last, one root
//! `recover` for leftovers (no route, bad method), and the headers every Artifactory response carries.

use std::convert::Infallible;

use warp::filters::BoxedFilter;
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;
use warp::{Filter, Rejection};

use super::error::ApiError;
use super::{
    artifacts, docker, repositories, search, security, storage, system, tokens, AppState, REVISION,
    VERSION,
};

/// Matches the configured context path (any number of segments, or none).
fn context(state: &AppState) -> BoxedFilter<()> {
    let mut f: BoxedFilter<()> = warp::any().boxed();
    for seg in state.ctx_path.split('/').filter(|s| !s.is_empty()) {
        f = f.and(warp::path(seg.to_string())).boxed();
    }
    f
}

/// Every route of the server.
pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    let api = warp::path("api")
        .and(
            system::routes(&state)
                .or(storage::routes(&state))
                .unify()
                .or(repositories::routes(&state))
                .unify()
                .or(security::routes(&state))
                .unify()
                .or(docker::api_routes(&state))
                .unify()
                .or(search::routes(&state))
                .unify(),
        )
        .boxed();
    // The Access service's token API answers at the server root and under the context path.
    // The registry API lives at the server root too (`/v2/...`, outside the context path).
    let under_ctx = docker::root_routes(&state)
        .or(tokens::access_routes(&state))
        .unify()
        .or(context(&state).and(
            tokens::access_routes(&state)
                .or(api)
                .unify()
                .or(artifacts::routes(&state))
                .unify(),
        ))
        .unify()
        .boxed();
    let id = state.instance_id.clone();
    let faults = state.config.faults;
    // One line per request, like Artifactory's request.log: method, path (never the query string or
    // headers, which may carry secrets), status and time.
    let log = warp::log::custom(|info: warp::log::Info<'_>| {
        tracing::debug!(
            target: "jcr_reference::request",
            "{} {} {} {}ms",
            info.method(),
            info.path(),
            info.status().as_u16(),
            info.elapsed().as_millis()
        )
    });
    let routes = under_ctx
        .recover(recover)
        .unify()
        .map(move |mut r: Response| {
            add_common_headers(&mut r, &id);
            r
        })
        .with(log)
        .map(|r| -> Response { warp::Reply::into_response(r) });
    if faults.any() {
        routes
            .then(move |r| super::faults::apply(faults, r))
            .boxed()
    } else {
        routes.boxed()
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

/// Leftover rejections in the REST error shape.
async fn recover(rej: Rejection) -> Result<Response, Infallible> {
    let err = if rej.is_not_found() {
        ApiError::not_found("Not Found")
    } else if rej.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
    } else if rej.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is too large")
    } else {
        ApiError::bad_request(format!("{rej:?}"))
    };
    Ok(err.into_response())
}
