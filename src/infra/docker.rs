//! Docker infrastructure: the database, Redis and the fault proxy as a compose project of their
//! own (`docker/compose.yml`), ports published on 127.0.0.1 only, torn down at the end.
//!
//! Images, per service, in this order: the environment (`CACHECHECK_DB_IMAGE`,
//! `CACHECHECK_REDIS_IMAGE`, `CACHECHECK_PROXY_IMAGE`), the workload (`[infra] db_image`,
//! `redis_image`, `proxy_image`), else the official image (`mysql:8`, `redis:7`,
//! `ghcr.io/shopify/toxiproxy`) when the engine has it, else the local image when it has that
//! (`cachecheck/mariadb:local`, ...; for the proxy `cachecheck/toxiproxy:local`, the real
//! Toxiproxy, before `cachecheck/proxy:local`, the built-in one), else the official one,
//! pulled, else the local one, built here ([`super::images`]). `none` as the proxy image
//! starts no fault proxy.
//!
//! A start-up that fails is retried on new ports when a port was taken meanwhile, and once
//! more when compose's reason is a transient one ([`super::compose::transient`]).
//!
//! Host ports are picked free per run and passed to compose, so they stay the same when a
//! container is killed and started again. Per-role proxies: the proxy container publishes
//! [`PROXY_SLOTS`] ports; [`DockerInfra::proxy_listen`] maps slot `i` to the listen address a
//! proxy created through the REST API must use inside the container and the host address the
//! clients connect to. Upstreams are service names on the project's network
//! ([`DockerInfra::proxy_upstream`]: `db:3306`, `redis:6379`).
//!
//! Read replicas (`[infra] db_replicas = N`, MariaDB images only): compose services
//! `db-replica-1..N` from a second compose file ([`super::compose::replicas_yml`]), on the
//! primary's image, each published on a port of its own; the proxy container then publishes
//! [`REPLICA_SLOTS`] more ports, for the `db-replica` and `replication` proxies. The replicas
//! reach the primary through the `replication` proxy at `proxy:<container port>`
//! ([`DockerInfra::in_network`]); replication is set up by [`crate::run::replication`].
//!
//! Faults: kill and restart (`docker kill` / `docker start`), pause and resume
//! (`docker pause` / `unpause`), partition and heal (`docker network disconnect` / `connect`).

use super::compose::service_name;
use super::compose::{docker, is_transient, ComposeTool, Project, DOCKER_TIMEOUT};
use super::images::choose_images;
use super::process::free_port;
use super::{DbEndpoint, Endpoints, InfraConfig, Service};
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Number of per-role proxy ports the proxy container publishes (one per [`super::Role`]).
pub const PROXY_SLOTS: usize = 6;
/// Container port of proxy slot 0 (slot `i` is `PROXY_BASE_PORT + i`).
pub const PROXY_BASE_PORT: u16 = 21000;
/// Proxy slots added with replicas (roles `db-replica` and `replication`).
pub const REPLICA_SLOTS: usize = 2;
/// How long the stack may take to answer after `up` (the official MySQL image initialises its
/// data directory on first start).
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// The running compose project. Dropping it without [`DockerInfra::stop`] still removes the
/// project (blocking), so an error or a cancelled start leaves nothing behind.
pub struct DockerInfra {
    pub endpoints: Endpoints,
    project: Project,
    /// Image per service (no proxy entry when the proxy is off).
    pub images: BTreeMap<Service, String>,
    containers: BTreeMap<Service, String>,
    network: String,
    proxy_ports: Vec<u16>,
    paused: BTreeSet<Service>,
    partitioned: BTreeSet<Service>,
    /// `--keep`: [`DockerInfra::stop`] leaves the project running.
    keep: bool,
    /// Whether the project still has to be removed (false after stop, or when kept).
    armed: bool,
    pub db_version: String,
    pub redis_version: String,
    pub proxy_version: Option<String>,
    /// Read replicas (`[infra] db_replicas`), answering; replication set up by the run.
    pub replicas: Vec<super::replicas::Replica>,
    /// How long the stack with its replicas took to answer.
    pub replicas_started_in: Option<Duration>,
}

impl DockerInfra {
    /// Starts the project and waits until every service answers from the host.
    pub async fn start(cfg: &InfraConfig, run_dir: &Path) -> Result<DockerInfra> {
        let tool = ComposeTool::detect().await?;
        for name in tokio::task::spawn_blocking(super::compose::remove_dead_projects).await? {
            eprintln!("cachecheck: removed the containers of a run that died: project {name}");
        }
        let images = choose_images(cfg).await?;
        super::process::retry_on_port_clash(|| async {
            match Self::start_once(cfg, run_dir, tool, images.clone()).await {
                Err(e) if is_transient(&e) => {
                    tracing::warn!("docker start-up failed: {e:#}; trying once more");
                    Self::start_once(cfg, run_dir, tool, images.clone()).await
                }
                r => r,
            }
        })
        .await
    }

    async fn start_once(
        cfg: &InfraConfig,
        run_dir: &Path,
        tool: ComposeTool,
        images: BTreeMap<Service, String>,
    ) -> Result<DockerInfra> {
        let n_replicas = cfg.db_replicas as usize;
        let slots = PROXY_SLOTS + if n_replicas > 0 { REPLICA_SLOTS } else { 0 };
        let ports: Vec<u16> = (0..3 + slots + n_replicas)
            .map(|_| free_port())
            .collect::<Result<_>>()?;
        let (proxy_ports, replica_ports) = ports[3..].split_at(slots);
        let mut vars = vec![
            (
                "CACHECHECK_DB_IMAGE".to_string(),
                images[&Service::Db].clone(),
            ),
            (
                "CACHECHECK_REDIS_IMAGE".into(),
                images[&Service::Redis].clone(),
            ),
            (
                "CACHECHECK_PROXY_IMAGE".into(),
                images
                    .get(&Service::Proxy)
                    .cloned()
                    .unwrap_or("none".into()),
            ),
            ("CACHECHECK_DB_PORT".into(), ports[0].to_string()),
            ("CACHECHECK_REDIS_PORT".into(), ports[1].to_string()),
            ("CACHECHECK_PROXY_API_PORT".into(), ports[2].to_string()),
            (
                "CACHECHECK_OWNER_PID".into(),
                std::process::id().to_string(),
            ),
            ("CACHECHECK_KEEP".into(), u8::from(cfg.keep).to_string()),
            // Compose v1 gives up on an engine call after 60 s, which a loaded machine exceeds.
            (
                "COMPOSE_HTTP_TIMEOUT".into(),
                std::env::var("COMPOSE_HTTP_TIMEOUT").unwrap_or_else(|_| "180".into()),
            ),
        ];
        for (i, p) in proxy_ports.iter().enumerate() {
            vars.push((format!("CACHECHECK_PROXY_PORT_{i}"), p.to_string()));
        }
        for (i, p) in replica_ports.iter().enumerate() {
            vars.push((
                format!("CACHECHECK_DB_REPLICA_PORT_{}", i + 1),
                p.to_string(),
            ));
        }
        let extra = (n_replicas > 0)
            .then(|| super::compose::replicas_yml(n_replicas, PROXY_SLOTS, REPLICA_SLOTS));
        let project = Project::create_with(tool, run_dir, vars, extra.as_deref())?;
        let with_proxy = images.contains_key(&Service::Proxy);
        let endpoints = Endpoints {
            db: DbEndpoint {
                host: "127.0.0.1".into(),
                port: ports[0],
                user: "root".into(),
                password: None,
                database: "cachecheck".into(),
                tls: None,
            },
            redis_host: "127.0.0.1".into(),
            redis_port: ports[1],
            toxiproxy_api: with_proxy.then(|| format!("http://127.0.0.1:{}", ports[2])),
            redis_access: Default::default(),
        };
        let mut infra = DockerInfra {
            endpoints,
            project,
            images,
            containers: BTreeMap::new(),
            network: String::new(),
            proxy_ports: proxy_ports.to_vec(),
            paused: BTreeSet::new(),
            partitioned: BTreeSet::new(),
            keep: cfg.keep,
            armed: true,
            db_version: String::new(),
            redis_version: String::new(),
            proxy_version: None,
            replicas: Vec::new(),
            replicas_started_in: None,
        };
        let replica_ports = replica_ports.to_vec();
        match infra.bring_up(with_proxy, &replica_ports, run_dir).await {
            Ok(()) => Ok(infra),
            Err(e) => {
                let _ = infra.project.down().await;
                infra.armed = false;
                Err(e)
            }
        }
    }

    async fn bring_up(
        &mut self,
        with_proxy: bool,
        replica_ports: &[u16],
        run_dir: &Path,
    ) -> Result<()> {
        let t0 = Instant::now();
        let mut services: Vec<String> = vec!["db".into(), "redis".into()];
        if with_proxy {
            services.push("proxy".into());
        }
        services.extend((1..=replica_ports.len()).map(super::compose::replica_service));
        let refs: Vec<&str> = services.iter().map(String::as_str).collect();
        self.project.up(&refs, START_TIMEOUT).await?;
        let mut replica_ids = BTreeMap::new();
        for (svc, id) in self.project.containers().await? {
            let s = match svc.as_str() {
                "db" => Service::Db,
                "redis" => Service::Redis,
                "proxy" => Service::Proxy,
                other => {
                    if let Some(n) = other.strip_prefix("db-replica-") {
                        replica_ids.insert(n.parse::<usize>().unwrap_or(0), id);
                    }
                    continue;
                }
            };
            self.containers.insert(s, id);
        }
        let db = self.container(Service::Db)?.to_string();
        let nets = docker(
            &[
                "inspect",
                "--format",
                "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                &db,
            ],
            DOCKER_TIMEOUT,
        )
        .await?;
        self.network = nets
            .split_whitespace()
            .next()
            .context("the database container is on no network")?
            .to_string();
        let deadline = Instant::now() + START_TIMEOUT;
        for s in [Service::Db, Service::Redis, Service::Proxy] {
            if s != Service::Proxy || with_proxy {
                self.wait_service(s, deadline).await?;
            }
        }
        if !replica_ports.is_empty() {
            self.start_replicas(replica_ports, replica_ids, run_dir, deadline)
                .await?;
            self.replicas_started_in = Some(t0.elapsed());
        }
        Ok(())
    }

    /// Makes the replica containers [`super::replicas::Replica`]s and waits until each answers.
    async fn start_replicas(
        &mut self,
        ports: &[u16],
        mut ids: BTreeMap<usize, String>,
        run_dir: &Path,
        deadline: Instant,
    ) -> Result<()> {
        if !self.db_version.contains("MariaDB") {
            return Err(super::InfraError::Unreachable(format!(
                "db_replicas on docker need a MariaDB image, not {} ({}) (fix: CACHECHECK_DB_IMAGE=mariadb:11 or cachecheck/mariadb:local, or remove db_replicas)",
                self.images[&Service::Db],
                self.db_version
            ))
            .into());
        }
        for (i, port) in ports.iter().enumerate() {
            let index = i + 1;
            let id = ids.remove(&index).with_context(|| {
                format!(
                    "no db-replica-{index} container in project {}",
                    self.project.name
                )
            })?;
            let endpoint = super::DbEndpoint {
                port: *port,
                ..self.endpoints.db.clone()
            };
            let dir = run_dir.join(format!("replica-{index}"));
            let mut r = super::replicas::in_container(index, id.clone(), endpoint, dir);
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = r.wait_answering(left).await {
                let logs = docker_logs(&id).await;
                return Err(e.context(format!("db-replica-{index}: {logs}")));
            }
            self.replicas.push(r);
        }
        Ok(())
    }

    /// Where a container of the project reaches what the host reaches at `host_port`: a proxy
    /// slot's published port is `proxy:<its container port>`; anything else is the primary
    /// (`db:3306`). For the replicas' `CHANGE MASTER`.
    pub fn in_network(&self, host_port: u16) -> (String, u16) {
        match self.proxy_ports.iter().position(|p| *p == host_port) {
            Some(i) => ("proxy".into(), PROXY_BASE_PORT + i as u16),
            None => ("db".into(), 3306),
        }
    }

    /// The upstream of the `db-replica` proxy, as the proxy container reaches the first replica.
    pub fn replica_upstream(&self) -> Option<String> {
        (!self.replicas.is_empty()).then(|| format!("{}:3306", super::compose::replica_service(1)))
    }

    /// The project's name (`cachecheck-<pid>-<random>`).
    pub fn project_name(&self) -> &str {
        &self.project.name
    }

    /// The name of the project's network (for `docker network` commands).
    pub fn network(&self) -> &str {
        &self.network
    }

    /// Which Compose runs the project.
    pub fn compose_tool(&self) -> ComposeTool {
        self.project.tool
    }

    fn container(&self, s: Service) -> Result<&str> {
        self.containers
            .get(&s)
            .map(String::as_str)
            .with_context(|| {
                format!(
                    "no {} container in project {}",
                    service_name(s),
                    self.project.name
                )
            })
    }

    /// Waits until `s` answers its protocol from the host; fails early if its container exits.
    async fn wait_service(&mut self, s: Service, deadline: Instant) -> Result<()> {
        let id = self.container(s)?.to_string();
        let mut last_state = Instant::now() - Duration::from_secs(1);
        loop {
            let probe = match s {
                Service::Db => super::db_version(&self.endpoints.db).await,
                Service::Redis => super::redis_version(&self.endpoints.redis_url()).await,
                Service::Proxy => {
                    let api = self.endpoints.toxiproxy_api.clone().unwrap_or_default();
                    super::proxy_version(&api).await
                }
            };
            let last_err = match probe {
                Ok(v) => {
                    match s {
                        Service::Db => self.db_version = v,
                        Service::Redis => self.redis_version = v,
                        Service::Proxy => self.proxy_version = Some(v),
                    }
                    return Ok(());
                }
                Err(e) => format!("{e:#}"),
            };
            if last_state.elapsed() >= Duration::from_millis(500) {
                last_state = Instant::now();
                let state = docker(
                    &["inspect", "--format", "{{.State.Status}}", &id],
                    DOCKER_TIMEOUT,
                )
                .await?;
                let state = state.trim();
                if state == "exited" || state == "dead" {
                    let logs = docker_logs(&id).await;
                    anyhow::bail!(
                        "the {} container ({}) exited during start-up: {logs}",
                        service_name(s),
                        self.images.get(&s).map(String::as_str).unwrap_or("?")
                    );
                }
            }
            if Instant::now() >= deadline {
                anyhow::bail!(
                    "the {} container did not answer within {} s: {last_err}",
                    service_name(s),
                    START_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Proxy slot `i` (0..[`PROXY_SLOTS`]): the address a proxy created through the REST API
    /// must listen on inside the proxy container (`0.0.0.0:2100i`) and the host address
    /// clients connect to (`127.0.0.1:<published port>`). None without a proxy or past the
    /// last slot.
    pub fn proxy_listen(&self, i: usize) -> Option<(String, SocketAddr)> {
        self.endpoints.toxiproxy_api.as_ref()?;
        let host = *self.proxy_ports.get(i)?;
        Some((
            format!("0.0.0.0:{}", PROXY_BASE_PORT + i as u16),
            SocketAddr::from(([127, 0, 0, 1], host)),
        ))
    }

    /// The upstream address of a proxy in front of `s`, as the proxy container reaches it.
    pub fn proxy_upstream(&self, s: Service) -> Option<String> {
        match s {
            Service::Db => Some("db:3306".into()),
            Service::Redis => Some("redis:6379".into()),
            Service::Proxy => None,
        }
    }

    /// Fault: `docker kill` (SIGKILL). Redis loses its data; the database recovers on restart.
    pub async fn kill(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        if self.paused.remove(&s) {
            let _ = docker(&["unpause", &id], DOCKER_TIMEOUT).await;
        }
        docker(&["kill", &id], DOCKER_TIMEOUT).await.map(drop)
    }

    /// Starts `s` again (killing it first if it still runs) on the same host port and waits
    /// until it answers.
    pub async fn restart(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        let running = docker(
            &["inspect", "--format", "{{.State.Running}}", &id],
            DOCKER_TIMEOUT,
        )
        .await?;
        if running.trim() == "true" {
            self.kill(s).await?;
        }
        docker(&["start", &id], DOCKER_TIMEOUT).await?;
        self.wait_service(s, Instant::now() + Duration::from_secs(120))
            .await
    }

    /// Fault: `docker pause` (the cgroup freezer: the service stops answering, connections stay
    /// open).
    pub async fn pause(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        docker(&["pause", &id], DOCKER_TIMEOUT).await?;
        self.paused.insert(s);
        Ok(())
    }

    /// `docker unpause`.
    pub async fn resume(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        docker(&["unpause", &id], DOCKER_TIMEOUT).await?;
        self.paused.remove(&s);
        Ok(())
    }

    /// Fault: cuts `s` off the project's network (`docker network disconnect`): neither the
    /// other containers nor the host (its published port) reach it until [`Self::heal`].
    pub async fn partition(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        docker(
            &["network", "disconnect", "--force", &self.network, &id],
            DOCKER_TIMEOUT,
        )
        .await?;
        self.partitioned.insert(s);
        Ok(())
    }

    /// Reconnects a partitioned service under its service name.
    pub async fn heal(&mut self, s: Service) -> Result<()> {
        let id = self.container(s)?.to_string();
        docker(
            &[
                "network",
                "connect",
                "--alias",
                service_name(s),
                &self.network,
                &id,
            ],
            DOCKER_TIMEOUT,
        )
        .await?;
        self.partitioned.remove(&s);
        Ok(())
    }

    /// One line: what runs where.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "docker project {} ({}): {} ({}) on 127.0.0.1:{}, redis {} ({}) on 127.0.0.1:{}",
            self.project.name,
            self.project.tool.name(),
            self.db_version,
            self.images[&Service::Db],
            self.endpoints.db.port,
            self.redis_version,
            self.images[&Service::Redis],
            self.endpoints.redis_port,
        );
        match (&self.endpoints.toxiproxy_api, &self.proxy_version) {
            (Some(api), v) => s.push_str(&format!(
                ", fault proxy {} ({}) at {api}",
                proxy_name(v.as_deref().unwrap_or("?")),
                self.images[&Service::Proxy]
            )),
            (None, _) => s.push_str(", no fault proxy"),
        }
        s + &super::replicas::describe(&self.replicas, self.replicas_started_in)
    }

    /// With `--keep`: how to reach and remove the project that [`Self::stop`] leaves running.
    pub fn kept(&self) -> Option<String> {
        self.keep.then(|| {
            let mut s = format!(
                "stack left running (--keep): database mysql://root@127.0.0.1:{}/{}, redis {}",
                self.endpoints.db.port,
                self.endpoints.db.database,
                self.endpoints.redis_url()
            );
            if let Some(api) = &self.endpoints.toxiproxy_api {
                s.push_str(&format!(", toxiproxy {api}"));
            }
            s.push_str(&format!("; stop it with: {}", self.project.down_command()));
            s
        })
    }

    /// Removes the project (containers, network, volumes), unless `--keep` asked to leave it.
    pub async fn stop(mut self) {
        self.armed = false;
        if self.keep {
            return;
        }
        for s in std::mem::take(&mut self.paused) {
            if let Ok(id) = self.container(s) {
                let _ = docker(&["unpause", id], DOCKER_TIMEOUT).await;
            }
        }
        if let Err(e) = self.project.down().await {
            tracing::warn!("cannot remove docker project {}: {e:#}", self.project.name);
            self.project.down_blocking();
        }
    }
}

impl Drop for DockerInfra {
    fn drop(&mut self) {
        if self.armed {
            for s in &self.paused {
                if let Some(id) = self.containers.get(s) {
                    let _ = std::process::Command::new("docker")
                        .args(["unpause", id])
                        .output();
                }
            }
            self.project.down_blocking();
        }
    }
}

/// Which fault proxy answers with `version` on `GET /version`: the built-in server says
/// `2.12.0+cachecheck`, Toxiproxy itself a plain version.
fn proxy_name(version: &str) -> String {
    if version.contains("+cachecheck") {
        format!("cachecheck proxy-server {version}")
    } else {
        format!("Toxiproxy {version}")
    }
}

/// The last lines a container printed, on one line.
async fn docker_logs(id: &str) -> String {
    let mut c = tokio::process::Command::new("docker");
    c.args(["logs", "--tail", "5", id]).kill_on_drop(true);
    match tokio::time::timeout(DOCKER_TIMEOUT, c.output()).await {
        Ok(Ok(o)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        }
        _ => "(no logs)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_up_line_names_the_proxy_server() {
        assert_eq!(proxy_name("2.12.0"), "Toxiproxy 2.12.0");
        assert_eq!(
            proxy_name(crate::proxy_server::api::VERSION),
            format!(
                "cachecheck proxy-server {}",
                crate::proxy_server::api::VERSION
            )
        );
    }
}
