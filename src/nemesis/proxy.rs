//! The fault proxy, driven through Toxiproxy's REST API: one proxy per role, toxics added and
//! removed while the clients run.
//!
//! Calls go through the `toxiproxy_rust` client where it has them (populate, find, enable,
//! disable, the latency/timeout/bandwidth/slicer/limit_data/slow_close toxics, reset). Toxics it
//! cannot express (`reset_peer`, several toxics of one type on one stream, float toxicity
//! checks) are posted as Toxiproxy's own JSON over the same blocking HTTP client library.
//! Everything here blocks: call it from `spawn_blocking`, never on an async worker thread.

use crate::infra::Role;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A toxic in Toxiproxy's wire format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub stream: String,
    pub toxicity: f64,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Which fault proxy server a run used, as summary.json's `proxy` records it:
/// `{"name": "toxiproxy", "version": "2.12.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyIdentity {
    /// `toxiproxy` (Shopify's server) or `builtin` (`cachecheck proxy-server`).
    pub name: String,
    /// As the server's `GET /version` gives it.
    pub version: String,
}

impl ProxyIdentity {
    /// From the body of `GET /version`: JSON (`{"version": "2.12.0"}`, Toxiproxy 2.6+) or plain
    /// text (older ones). The built-in server's version carries `+cachecheck`.
    pub fn from_version_body(body: &str) -> ProxyIdentity {
        let body = body.trim();
        let version = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_else(|| body.to_string());
        let name = if version.ends_with("+cachecheck") {
            "builtin"
        } else {
            "toxiproxy"
        };
        ProxyIdentity {
            name: name.into(),
            version,
        }
    }
}

/// Maps a role and the listen address the proxy server reports to the address clients use.
pub type AddrMap<'a> = dyn Fn(Role, &str) -> Result<(String, u16)> + 'a;

/// A Toxiproxy-compatible server and the proxies cachecheck created on it.
pub struct FaultProxy {
    /// `host:port` of the REST API.
    pub api: String,
    client: toxiproxy_rust::client::Client,
    http: reqwest::blocking::Client,
    /// Role -> the address clients connect to (the proxy's listen address, as seen from the
    /// harness).
    pub listen: BTreeMap<Role, (String, u16)>,
    /// The server's name and version.
    pub identity: ProxyIdentity,
}

/// Runs a toxiproxy_rust call, turning its panics (it panics on transport errors) into errors.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(anyhow::anyhow!("fault proxy: {what}: {e}")),
        Err(_) => Err(anyhow::anyhow!("fault proxy: {what}: request failed")),
    }
}

impl FaultProxy {
    /// Connects to the REST API at `api` (`host:port`) and checks that it answers.
    pub fn connect(api: &str) -> Result<FaultProxy> {
        let api = api
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let client = toxiproxy_rust::client::Client::new(api.as_str());
        let v = guarded("version", || client.version())?;
        anyhow::ensure!(!v.trim().is_empty(), "fault proxy at {api} gave no version");
        Ok(FaultProxy {
            api,
            client,
            http,
            listen: BTreeMap::new(),
            identity: ProxyIdentity::from_version_body(&v),
        })
    }

    /// Whether the API answers.
    pub fn alive(&self) -> bool {
        self.client.is_running()
    }

    /// Creates one proxy per role. `spec` gives, per role, the listen address to ask for (e.g.
    /// `127.0.0.1:0`), the upstream, and how to map the listen address the server reports to
    /// the address the clients should use.
    pub fn create(
        &mut self,
        spec: &[(Role, String, String)],
        to_client_addr: &AddrMap<'_>,
    ) -> Result<()> {
        use toxiproxy_rust::proxy::ProxyPack;
        let packs: Vec<ProxyPack> = spec
            .iter()
            .map(|(r, listen, upstream)| {
                ProxyPack::new(proxy_name(*r), listen.clone(), upstream.clone())
            })
            .collect();
        let created = guarded("populate", || self.client.populate(packs))?;
        for (role, _, _) in spec {
            let name = proxy_name(*role);
            let p = created
                .iter()
                .find(|p| p.proxy_pack.name == name)
                .with_context(|| format!("fault proxy did not create proxy `{name}`"))?;
            let addr = to_client_addr(*role, &p.proxy_pack.listen)?;
            self.listen.insert(*role, addr);
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.api, path.trim_start_matches('/'))
    }

    /// Adds a toxic to a role's proxy.
    pub fn add_toxic(&self, role: Role, toxic: &Toxic) -> Result<()> {
        let r = self
            .http
            .post(self.url(&format!("proxies/{}/toxics", proxy_name(role))))
            .json(toxic)
            .send()
            .context("fault proxy: add toxic")?;
        check_status(r, "add toxic")
    }

    /// Removes a toxic (a missing one is not an error: healing is idempotent).
    pub fn remove_toxic(&self, role: Role, name: &str) -> Result<()> {
        let r = self
            .http
            .delete(self.url(&format!("proxies/{}/toxics/{name}", proxy_name(role))))
            .send()
            .context("fault proxy: remove toxic")?;
        if r.status().as_u16() == 404 {
            return Ok(());
        }
        check_status(r, "remove toxic")
    }

    /// Enables or disables a role's proxy (disabled: connections are refused and closed).
    pub fn set_enabled(&self, role: Role, enabled: bool) -> Result<()> {
        let name = proxy_name(role);
        let proxy = guarded("find proxy", || self.client.find_proxy(&name))?;
        if enabled {
            guarded("enable", || proxy.enable())
        } else {
            guarded("disable", || proxy.disable())
        }
    }

    /// Points a role's proxy at another upstream (`host:port`) with Toxiproxy's
    /// `POST /proxies/{name}`; the proxy server closes the connections it had (clients reconnect
    /// to the new upstream).
    pub fn set_upstream(&self, role: Role, upstream: &str) -> Result<()> {
        let r = self
            .http
            .post(self.url(&format!("proxies/{}", proxy_name(role))))
            .json(&serde_json::json!({ "upstream": upstream }))
            .send()
            .context("fault proxy: set upstream")?;
        check_status(r, "set upstream")
    }

    /// A role's proxy's upstream (`host:port`).
    pub fn upstream(&self, role: Role) -> Result<String> {
        let r = self
            .http
            .get(self.url(&format!("proxies/{}", proxy_name(role))))
            .send()
            .context("fault proxy: get proxy")?;
        anyhow::ensure!(
            r.status().is_success(),
            "fault proxy: get proxy: {}",
            r.status()
        );
        let v: serde_json::Value = r.json()?;
        Ok(v["upstream"].as_str().unwrap_or_default().to_string())
    }

    /// The toxics currently on a role's proxy.
    pub fn toxics(&self, role: Role) -> Result<Vec<Toxic>> {
        let r = self
            .http
            .get(self.url(&format!("proxies/{}/toxics", proxy_name(role))))
            .send()
            .context("fault proxy: list toxics")?;
        anyhow::ensure!(
            r.status().is_success(),
            "fault proxy: list toxics: {}",
            r.status()
        );
        Ok(r.json()?)
    }

    /// Enables every proxy and removes every toxic.
    pub fn reset(&self) -> Result<()> {
        guarded("reset", || self.client.reset())
    }

    /// Deletes the proxies cachecheck created (for shared servers).
    pub fn delete_all(&self) -> Result<()> {
        for role in self.listen.keys() {
            let _ = self
                .http
                .delete(self.url(&format!("proxies/{}", proxy_name(*role))))
                .send();
        }
        Ok(())
    }
}

fn check_status(r: reqwest::blocking::Response, what: &str) -> Result<()> {
    let status = r.status();
    if status.is_success() {
        return Ok(());
    }
    let body = r.text().unwrap_or_default();
    anyhow::bail!("fault proxy: {what}: {status}: {}", body.trim())
}

/// The proxy name of a role on the fault proxy (`cachecheck-<role>`).
pub fn proxy_name(r: Role) -> String {
    format!("cachecheck-{}", r.as_str())
}

#[cfg(test)]
mod tests {
    use super::ProxyIdentity;

    #[test]
    fn identity_from_the_version_answer() {
        let real = ProxyIdentity::from_version_body("{\"version\": \"2.12.0\"}\n");
        assert_eq!(
            (real.name.as_str(), real.version.as_str()),
            ("toxiproxy", "2.12.0")
        );
        let ours = ProxyIdentity::from_version_body("{\"version\": \"2.12.0+cachecheck\"}");
        assert_eq!(ours.name, "builtin");
        assert_eq!(ProxyIdentity::from_version_body("2.1.4\n").version, "2.1.4");
    }
}
