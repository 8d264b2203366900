//! All proxies of the server by name (Toxiproxy's `ProxyCollection`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::ApiError;
use super::proxy::{Proxy, StartError};

/// A proxy in a request body (`POST /proxies`, `POST /populate`). Unknown fields (`toxics`) are
/// ignored, as Toxiproxy does.
#[derive(Debug, Deserialize)]
pub struct ProxyInput {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub upstream: Option<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
}

/// The proxies, sorted by name (as Go's JSON encoder sorts map keys).
#[derive(Default)]
pub struct ProxyCollection {
    proxies: Mutex<BTreeMap<String, Arc<Proxy>>>,
}

/// True if two addresses name the same socket address (`localhost:1` and `127.0.0.1:1` do).
async fn same_address(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let resolve = |s: &str| {
        let s = s.to_string();
        async move {
            tokio::net::lookup_host(s)
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
        }
    };
    match (resolve(a).await, resolve(b).await) {
        (Some(a), Some(b)) => a == b && a.port() != 0,
        _ => false,
    }
}

impl ProxyCollection {
    pub async fn all(&self) -> Vec<Arc<Proxy>> {
        self.proxies.lock().await.values().cloned().collect()
    }

    pub async fn get(&self, name: &str) -> Result<Arc<Proxy>, ApiError> {
        self.proxies
            .lock()
            .await
            .get(name)
            .cloned()
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// `POST /proxies`: creates a proxy, started unless `enabled` is false.
    pub async fn create(&self, input: ProxyInput) -> Result<Arc<Proxy>, ApiError> {
        let name = input.name.unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::missing_field().join("name"));
        }
        let upstream = input.upstream.unwrap_or_default();
        if upstream.is_empty() {
            return Err(ApiError::missing_field().join("upstream"));
        }
        let mut proxies = self.proxies.lock().await;
        if proxies.contains_key(&name) {
            return Err(ApiError::proxy_already_exists());
        }
        let proxy = Proxy::new(name.clone(), input.listen.unwrap_or_default(), upstream);
        if input.enabled.unwrap_or(true) {
            proxy.start().await.map_err(ApiError::from)?;
        }
        proxies.insert(name, proxy.clone());
        Ok(proxy)
    }

    /// `POST /populate`: checks every entry first, then, in request order, creates each proxy,
    /// or replaces the one of the same name if its listen or upstream address differs (an
    /// identical one is left untouched, toxics and all; a name given twice is replaced by its
    /// second entry, as Toxiproxy does). Returns the proxies handled, and the error that
    /// stopped it (those before it stay created, as in Toxiproxy).
    pub async fn populate(&self, inputs: Vec<ProxyInput>) -> (Vec<Arc<Proxy>>, Option<ApiError>) {
        let mut checked = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let name = input.name.unwrap_or_default();
            if name.is_empty() {
                let err = ApiError::missing_field().join(format!("name at proxy {}", i + 1));
                return (Vec::new(), Some(err));
            }
            let upstream = input.upstream.unwrap_or_default();
            if upstream.is_empty() {
                let err = ApiError::missing_field().join(format!("upstream at proxy {}", i + 1));
                return (Vec::new(), Some(err));
            }
            let listen = input.listen.unwrap_or_default();
            checked.push((name, listen, upstream, input.enabled.unwrap_or(true)));
        }
        let mut proxies = self.proxies.lock().await;
        let mut result = Vec::with_capacity(checked.len());
        for (name, listen, upstream, enabled) in checked {
            if let Some(existing) = proxies.get(&name) {
                let (old_listen, old_upstream, _) = existing.settings().await;
                if same_address(&old_listen, &listen).await && old_upstream == upstream {
                    result.push(existing.clone());
                    continue;
                }
                existing.stop().await;
            }
            let proxy = Proxy::new(name.clone(), listen, upstream);
            if enabled {
                if let Err(err) = proxy.start().await {
                    return (result, Some(err.into()));
                }
            }
            proxies.insert(name, proxy.clone());
            result.push(proxy);
        }
        (result, None)
    }

    /// `DELETE /proxies/{proxy}`: stops the proxy and forgets it.
    pub async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let proxy = self
            .proxies
            .lock()
            .await
            .remove(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        proxy.stop().await;
        Ok(())
    }

    /// `POST /reset`: enables every proxy and removes all toxics, upstream and downstream.
    pub async fn reset(&self) -> Result<(), ApiError> {
        for proxy in self.all().await {
            match proxy.start().await {
                Ok(()) | Err(StartError::AlreadyStarted) => {}
                Err(err) => return Err(err.into()),
            }
            proxy.toxics.reset().await;
        }
        Ok(())
    }

    /// Stops and forgets every proxy (server shutdown).
    pub async fn clear(&self) {
        let proxies = std::mem::take(&mut *self.proxies.lock().await);
        for proxy in proxies.values() {
            proxy.stop().await;
        }
    }
}
