//! A proxy's toxics: one chain per direction, and the live links they apply to
//! (Toxiproxy's `ToxicCollection`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

use super::error::ApiError;
use super::link::{End, Link};
use super::stub::Sockets;
use super::toxics::{new_toxic, Direction, ToxicWrapper};

/// A link: the connection's id and its direction.
pub type LinkKey = (u64, Direction);

/// Toxics and links of one proxy. Every change happens under one lock, and completes on every
/// live link before the lock is released, so links always match the chains.
pub struct ToxicCollection {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Per direction (indexed by [`Direction::index`]): the noop head, then the toxics in the
    /// order they were added.
    chains: [Vec<Arc<ToxicWrapper>>; 2],
    links: HashMap<LinkKey, Arc<Link>>,
}

impl Inner {
    fn find(&self, name: &str) -> Option<(Direction, usize)> {
        Direction::ALL.into_iter().find_map(|direction| {
            let chain = &self.chains[direction.index()];
            let index = chain.iter().skip(1).position(|toxic| toxic.name == name)?;
            Some((direction, index + 1))
        })
    }

    fn links(&self, direction: Direction) -> Vec<Arc<Link>> {
        self.links
            .iter()
            .filter(|((_, d), _)| *d == direction)
            .map(|(_, l)| l.clone())
            .collect()
    }
}

/// Body of `POST /proxies/{proxy}/toxics`.
#[derive(Deserialize)]
struct CreateInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    stream: Option<String>,
    toxicity: Option<f32>,
    attributes: Option<Value>,
}

/// Body of `POST|PATCH /proxies/{proxy}/toxics/{toxic}`: only these two fields change.
#[derive(Deserialize)]
struct UpdateInput {
    toxicity: Option<f32>,
    attributes: Option<Value>,
}

/// The attributes object of a request; `null` members leave a field as it was (as Go does).
fn attributes_map(attributes: Option<Value>) -> Result<Map<String, Value>, ApiError> {
    match attributes {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        Some(other) => Err(ApiError::bad_request_body().join(format!(
            "json: cannot unmarshal {other} into field attributes"
        ))),
    }
}

/// Runs `op` on every link at once and waits for all (Toxiproxy uses a goroutine per link).
async fn each_link<F, Fut>(links: Vec<Arc<Link>>, op: F)
where
    F: Fn(Arc<Link>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut set = JoinSet::new();
    for link in links {
        set.spawn(op(link));
    }
    while set.join_next().await.is_some() {}
}

impl Default for ToxicCollection {
    fn default() -> Self {
        let chains = Direction::ALL.map(|direction| vec![Arc::new(ToxicWrapper::head(direction))]);
        ToxicCollection {
            inner: Mutex::new(Inner {
                chains,
                links: HashMap::new(),
            }),
        }
    }
}

impl ToxicCollection {
    /// Active toxics, upstream ones first, each chain in order.
    pub async fn list(&self) -> Vec<Arc<ToxicWrapper>> {
        let inner = self.inner.lock().await;
        inner
            .chains
            .iter()
            .flat_map(|chain| chain.iter().skip(1).cloned())
            .collect()
    }

    pub async fn get(&self, name: &str) -> Result<Arc<ToxicWrapper>, ApiError> {
        let inner = self.inner.lock().await;
        let (direction, index) = inner.find(name).ok_or_else(ApiError::toxic_not_found)?;
        Ok(inner.chains[direction.index()][index].clone())
    }

    /// Adds a toxic from its JSON and applies it to open connections.
    pub async fn add_json(&self, body: &[u8]) -> Result<Arc<ToxicWrapper>, ApiError> {
        let input: CreateInput =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request_body().join(e))?;
        let stream = input.stream.unwrap_or_else(|| "downstream".into());
        let direction = Direction::parse(&stream).ok_or_else(ApiError::invalid_stream)?;
        let kind = input.kind.unwrap_or_default();
        let name = input
            .name
            .filter(|n| !n.is_empty())
            .unwrap_or(format!("{kind}_{stream}"));
        let attributes = attributes_map(input.attributes)?;
        let built = new_toxic(&kind, attributes).ok_or_else(ApiError::invalid_toxic_type)?;
        let mut inner = self.inner.lock().await;
        if inner.find(&name).is_some() {
            return Err(ApiError::toxic_already_exists());
        }
        let toxic = built.map_err(|e| ApiError::bad_request_body().join(e))?;
        let wrapper = Arc::new(ToxicWrapper {
            name,
            kind,
            stream,
            direction,
            toxicity: input.toxicity.unwrap_or(1.0),
            toxic,
        });
        let chain = &mut inner.chains[direction.index()];
        let last = chain.last().cloned().expect("chain has its head");
        chain.push(wrapper.clone());
        let added = wrapper.clone();
        each_link(inner.links(direction), move |link| {
            let (added, last) = (added.clone(), last.clone());
            async move { link.add_toxic(added, last).await }
        })
        .await;
        Ok(wrapper)
    }

    /// Changes a toxic's attributes and toxicity from JSON; open connections follow.
    pub async fn update_json(
        &self,
        name: &str,
        body: &[u8],
    ) -> Result<Arc<ToxicWrapper>, ApiError> {
        let mut inner = self.inner.lock().await;
        let (direction, index) = inner.find(name).ok_or_else(ApiError::toxic_not_found)?;
        let input: UpdateInput =
            serde_json::from_slice(body).map_err(|e| ApiError::bad_request_body().join(e))?;
        let current = inner.chains[direction.index()][index].clone();
        let mut attributes = match current.toxic.attributes() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        attributes.extend(attributes_map(input.attributes)?);
        let toxic = new_toxic(&current.kind, attributes)
            .ok_or_else(ApiError::invalid_toxic_type)?
            .map_err(|e| ApiError::bad_request_body().join(e))?;
        let updated = Arc::new(ToxicWrapper {
            toxicity: input.toxicity.unwrap_or(current.toxicity),
            toxic,
            ..(*current).clone()
        });
        inner.chains[direction.index()][index] = updated.clone();
        let toxic = updated.clone();
        each_link(inner.links(direction), move |link| {
            let toxic = toxic.clone();
            async move { link.update_toxic(index, toxic).await }
        })
        .await;
        Ok(updated)
    }

    /// Removes a toxic; open connections go on without it.
    pub async fn remove(&self, name: &str) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let (direction, index) = inner.find(name).ok_or_else(ApiError::toxic_not_found)?;
        Self::remove_at(&mut inner, direction, index).await;
        Ok(())
    }

    /// Removes every toxic, upstream and downstream.
    pub async fn reset(&self) {
        let mut inner = self.inner.lock().await;
        for direction in Direction::ALL {
            while inner.chains[direction.index()].len() > 1 {
                Self::remove_at(&mut inner, direction, 1).await;
            }
        }
    }

    async fn remove_at(inner: &mut Inner, direction: Direction, index: usize) {
        let chain = &mut inner.chains[direction.index()];
        let removed = chain.remove(index);
        let previous = chain[index - 1].clone();
        each_link(inner.links(direction), move |link| {
            let (removed, previous) = (removed.clone(), previous.clone());
            async move {
                link.remove_toxic(index, removed.toxic.as_ref(), previous)
                    .await
            }
        })
        .await;
    }

    /// Starts a link with the current chain of its direction; the handle ends with its writer.
    pub async fn start_link(
        &self,
        key: LinkKey,
        source: End,
        dest: End,
        sockets: Arc<Sockets>,
    ) -> JoinHandle<()> {
        let mut inner = self.inner.lock().await;
        let (link, writer) = Link::start(&inner.chains[key.1.index()], source, dest, sockets);
        inner.links.insert(key, link);
        writer
    }

    pub async fn remove_link(&self, key: LinkKey) {
        self.inner.lock().await.links.remove(&key);
    }
}
