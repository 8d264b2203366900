//! The REST API: Toxiproxy 2.x's routes, bodies and status codes.
//!
//! | Route | Success |
//! | --- | --- |
//! | `GET /version` | 200 `{"version": "..."}` |
//! | `POST /reset` | 204 |
//! | `GET /proxies` | 200 `{name: proxy, ...}` |
//! | `POST /proxies` | 201 proxy; 409 if the name exists |
//! | `POST /populate` | 201 `{"proxies": [proxy, ...]}` |
//! | `GET /proxies/{proxy}` | 200 proxy |
//! | `POST`/`PATCH /proxies/{proxy}` | 200 proxy (fields `listen`, `upstream`, `enabled`) |
//! | `DELETE /proxies/{proxy}` | 204 |
//! | `GET /proxies/{proxy}/toxics` | 200 `[toxic, ...]` |
//! | `POST /proxies/{proxy}/toxics` | 200 toxic |
//! | `GET /proxies/{proxy}/toxics/{toxic}` | 200 toxic |
//! | `POST`/`PATCH /proxies/{proxy}/toxics/{toxic}` | 200 toxic (`attributes`, `toxicity`) |
//! | `DELETE /proxies/{proxy}/toxics/{toxic}` | 204 |
//!
//! Errors are [`ApiError`]s. Requests whose `User-Agent` starts with `Mozilla/` get 403, as
//! Toxiproxy keeps browsers away from its API.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use super::collection::{ProxyCollection, ProxyInput};
use super::error::ApiError;
use super::proxy::ProxyJson;

/// The Toxiproxy release whose API this server follows, tagged as ours.
pub const VERSION: &str = "2.12.0+cachecheck";

type Proxies = State<Arc<ProxyCollection>>;
type ApiResult = Result<Response, ApiError>;

pub fn router(proxies: Arc<ProxyCollection>) -> Router {
    Router::new()
        .route("/reset", post(reset))
        .route("/proxies", get(proxy_index).post(proxy_create))
        .route("/populate", post(populate))
        .route(
            "/proxies/{proxy}",
            get(proxy_show)
                .post(proxy_update)
                .patch(proxy_update)
                .delete(proxy_delete),
        )
        .route(
            "/proxies/{proxy}/toxics",
            get(toxic_index).post(toxic_create),
        )
        .route(
            "/proxies/{proxy}/toxics/{toxic}",
            get(toxic_show)
                .post(toxic_update)
                .patch(toxic_update)
                .delete(toxic_delete),
        )
        .route("/version", get(version))
        .fallback(not_found)
        .layer(middleware::from_fn(stop_browsers))
        .with_state(proxies)
}

/// Runs a handler in its own task, so a client that hangs up cannot cancel a change half-way
/// through rewiring live connections.
async fn detached<F>(work: F) -> Response
where
    F: Future<Output = ApiResult> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => err.into_response(),
        Err(err) => ApiError::internal(err).into_response(),
    }
}

fn json(status: StatusCode, value: &impl Serialize) -> ApiResult {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| ApiError::bad_request_body().join(err))
}

async fn stop_browsers(request: Request, next: Next) -> Response {
    let agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    if agent.is_some_and(|agent| agent.starts_with("Mozilla/")) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "User agent not allowed\n",
        )
            .into_response();
    }
    next.run(request).await
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

async fn version() -> Response {
    let body = format!("{{\"version\": \"{VERSION}\"}}\n");
    (
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

async fn reset(State(proxies): Proxies) -> Response {
    detached(async move {
        proxies.reset().await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn proxy_index(State(proxies): Proxies) -> Response {
    detached(async move {
        let mut all = std::collections::BTreeMap::new();
        for proxy in proxies.all().await {
            all.insert(proxy.name.clone(), proxy.to_json().await);
        }
        json(StatusCode::OK, &all)
    })
    .await
}

async fn proxy_create(State(proxies): Proxies, body: Bytes) -> Response {
    detached(async move {
        let proxy = proxies.create(parse(&body)?).await?;
        json(StatusCode::CREATED, &proxy.to_json().await)
    })
    .await
}

async fn populate(State(proxies): Proxies, body: Bytes) -> Response {
    /// `{"proxies": [...]}` (`null` when none), with `error` and `status` first when something
    /// failed: the proxies handled before the failure are listed, as Toxiproxy lists them.
    #[derive(Serialize)]
    struct Populated {
        #[serde(flatten)]
        error: Option<ApiError>,
        proxies: Option<Vec<ProxyJson>>,
    }
    detached(async move {
        let (created, error) = match parse::<Vec<ProxyInput>>(&body) {
            Ok(inputs) => proxies.populate(inputs).await,
            Err(err) => (Vec::new(), Some(err)),
        };
        let mut list = Vec::with_capacity(created.len());
        for proxy in created {
            list.push(proxy.to_json().await);
        }
        let status = match &error {
            Some(err) => StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST),
            None => StatusCode::CREATED,
        };
        let populated = Populated {
            error,
            proxies: (!list.is_empty()).then_some(list),
        };
        json(status, &populated)
    })
    .await
}

async fn proxy_show(State(proxies): Proxies, Path(name): Path<String>) -> Response {
    detached(async move { json(StatusCode::OK, &proxies.get(&name).await?.to_json().await) }).await
}

async fn proxy_update(State(proxies): Proxies, Path(name): Path<String>, body: Bytes) -> Response {
    detached(async move {
        let proxy = proxies.get(&name).await?;
        let input: ProxyInput = parse(&body)?;
        let (listen, upstream, enabled) = proxy.settings().await;
        let listen = input.listen.unwrap_or(listen);
        let upstream = input.upstream.unwrap_or(upstream);
        proxy
            .update(listen, upstream, input.enabled.unwrap_or(enabled))
            .await?;
        json(StatusCode::OK, &proxy.to_json().await)
    })
    .await
}

async fn proxy_delete(State(proxies): Proxies, Path(name): Path<String>) -> Response {
    detached(async move {
        proxies.remove(&name).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn toxic_index(State(proxies): Proxies, Path(name): Path<String>) -> Response {
    detached(async move {
        json(
            StatusCode::OK,
            &proxies.get(&name).await?.toxics.list().await,
        )
    })
    .await
}

async fn toxic_create(State(proxies): Proxies, Path(name): Path<String>, body: Bytes) -> Response {
    detached(async move {
        let proxy = proxies.get(&name).await?;
        json(StatusCode::OK, &proxy.toxics.add_json(&body).await?)
    })
    .await
}

async fn toxic_show(
    State(proxies): Proxies,
    Path((name, toxic)): Path<(String, String)>,
) -> Response {
    detached(async move {
        json(
            StatusCode::OK,
            &proxies.get(&name).await?.toxics.get(&toxic).await?,
        )
    })
    .await
}

async fn toxic_update(
    State(proxies): Proxies,
    Path((name, toxic)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    detached(async move {
        let proxy = proxies.get(&name).await?;
        json(
            StatusCode::OK,
            &proxy.toxics.update_json(&toxic, &body).await?,
        )
    })
    .await
}

async fn toxic_delete(
    State(proxies): Proxies,
    Path((name, toxic)): Path<(String, String)>,
) -> Response {
    detached(async move {
        proxies.get(&name).await?.toxics.remove(&toxic).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
