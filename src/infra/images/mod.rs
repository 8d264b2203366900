//! Which image each docker service runs (see [`super::docker`] for the order of choices), and
//! making sure the engine has it: pulled if missing, else built here from Debian's packages
//! ([`build`]), so that one `cachecheck run --infra docker` goes from an engine without images
//! to a result.
//!
//! * [`catalog`]: the local images (`cachecheck/<name>:<tag>`), their recipes, the Toxiproxy
//!   binary;
//! * [`build`]: building them ([`base`]: the Debian base from [`debian`]'s packages and
//!   [`rootfs`]'s first stage; [`stream`]: the docker commands' output; [`ui`]: what the build
//!   shows).

pub mod base;
pub mod build;
pub mod catalog;
pub mod debian;
pub mod rootfs;
pub mod stream;
pub mod ui;

use super::compose::service_name;
use super::compose::{docker, image_exists};
use super::{InfraConfig, InfraError, Service};
use anyhow::Result;
use catalog::Local;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One service's image choice.
struct ImageSpec {
    service: Service,
    env: &'static str,
    official: &'static str,
}

const IMAGES: [ImageSpec; 3] = [
    ImageSpec {
        service: Service::Db,
        env: "CACHECHECK_DB_IMAGE",
        official: "mysql:8",
    },
    ImageSpec {
        service: Service::Redis,
        env: "CACHECHECK_REDIS_IMAGE",
        official: "redis:7",
    },
    ImageSpec {
        service: Service::Proxy,
        env: "CACHECHECK_PROXY_IMAGE",
        official: "ghcr.io/shopify/toxiproxy",
    },
];

impl ImageSpec {
    /// The local images that can stand for the official one, in order of preference.
    fn locals(&self) -> &'static [Local] {
        match self.service {
            Service::Db => &[Local::Mariadb],
            Service::Redis => &[Local::Redis],
            Service::Proxy => &[Local::Toxiproxy, Local::Proxy],
        }
    }
}

/// What one service runs.
enum Choice {
    Image(String),
    Build(Missing),
    /// No fault proxy (`none`).
    Nothing,
}

/// Chooses every service's image (in the order [`super::docker`] gives) and makes sure the
/// engine has it, building the local images that are missing. A proxy image of `none` leaves
/// the proxy out. The services are looked at together, so that pulls that time out do it at
/// once.
pub async fn choose_images(cfg: &InfraConfig) -> Result<BTreeMap<Service, String>> {
    let tag = catalog::tag();
    let choices = futures_util::future::join_all(IMAGES.iter().map(|s| choose(s, cfg, &tag))).await;
    let mut out = BTreeMap::new();
    let mut to_build: Vec<Missing> = Vec::new();
    for (spec, choice) in IMAGES.iter().zip(choices) {
        match choice? {
            Choice::Image(image) => {
                out.insert(spec.service, image);
            }
            Choice::Build(m) => to_build.push(m),
            Choice::Nothing => {}
        }
    }
    if !to_build.is_empty() {
        for (service, image) in auto_build(&to_build).await? {
            out.insert(service, image);
        }
    }
    Ok(out)
}

async fn choose(spec: &ImageSpec, cfg: &InfraConfig, tag: &str) -> Result<Choice> {
    let from_cfg = match spec.service {
        Service::Db => cfg.db_image.clone(),
        Service::Redis => cfg.redis_image.clone(),
        Service::Proxy => cfg.proxy_image.clone(),
    };
    let given = std::env::var(spec.env)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| (v, format!("${}", spec.env)))
        .or_else(|| {
            let field = format!("infra.{}_image", service_name(spec.service));
            from_cfg.map(|v| (v, field))
        });
    match given {
        Some((v, _)) if spec.service == Service::Proxy && v == "none" => Ok(Choice::Nothing),
        Some((image, source)) => {
            if image_exists(&image).await {
                Ok(Choice::Image(image))
            } else if let Some((local, local_tag)) = Local::of_image(&image) {
                Ok(Choice::Build(Missing {
                    service: spec.service,
                    local,
                    tag: local_tag,
                    subject: format!("{image} (from {source})"),
                    reason: "is not in the engine".into(),
                    detail: None,
                }))
            } else {
                pull(&image)
                    .await
                    .map_err(|e| not_pullable(&image, &format!("from {source}"), spec, &e))?;
                Ok(Choice::Image(image))
            }
        }
        None => {
            if let Some(image) = present_default(spec, tag).await {
                return Ok(Choice::Image(image));
            }
            match pull(spec.official).await {
                Ok(()) => Ok(Choice::Image(spec.official.to_string())),
                Err(e) => Ok(Choice::Build(Missing {
                    service: spec.service,
                    local: default_local(spec)?,
                    tag: tag.to_string(),
                    subject: spec.official.to_string(),
                    reason: "is not in the engine and cannot be pulled".into(),
                    detail: Some(e),
                })),
            }
        }
    }
}

/// The official image if the engine has it, else a local one it has.
async fn present_default(spec: &ImageSpec, tag: &str) -> Option<String> {
    if image_exists(spec.official).await {
        return Some(spec.official.to_string());
    }
    for l in spec.locals() {
        let image = l.image(tag);
        if image_exists(&image).await {
            return Some(image);
        }
    }
    None
}

/// The local image to build for a service: for the proxy, the real Toxiproxy when a binary is
/// found, else the built-in server.
fn default_local(spec: &ImageSpec) -> Result<Local> {
    Ok(match spec.service {
        Service::Proxy if catalog::find_toxiproxy()?.is_none() => Local::Proxy,
        _ => spec.locals()[0],
    })
}

/// A service whose image is missing and will be built.
struct Missing {
    service: Service,
    local: Local,
    tag: String,
    /// What is missing, e.g. `mysql:8`, and why it is not used.
    subject: String,
    reason: String,
    /// What `docker pull` said.
    detail: Option<String>,
}

/// `a, b and c` for a list of names.
fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why the images are built: the missing ones grouped by reason, e.g. `mysql:8, redis:7 and
/// ghcr.io/shopify/toxiproxy are not in the engine and cannot be pulled (...)`, with what
/// the first failed pull said.
fn why(missing: &[Missing]) -> String {
    // (reason, subjects, the first detail)
    let mut groups: Vec<(&str, Vec<&str>, Option<&str>)> = Vec::new();
    for m in missing {
        match groups.iter_mut().find(|(r, _, _)| *r == m.reason) {
            Some((_, subjects, detail)) => {
                subjects.push(&m.subject);
                *detail = detail.or(m.detail.as_deref());
            }
            None => groups.push((&m.reason, vec![&m.subject], m.detail.as_deref())),
        }
    }
    groups
        .iter()
        .map(|(reason, subjects, detail)| {
            let reason = if subjects.len() > 1 {
                reason.replacen("is ", "are ", 1)
            } else {
                reason.to_string()
            };
            let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
            format!("{} {reason}{detail}", and_list(subjects))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds the missing local images (saying so once, with progress and the time it took) and
/// returns each service's image.
async fn auto_build(missing: &[Missing]) -> Result<Vec<(Service, String)>> {
    let toxiproxy = if missing.iter().any(|m| m.local == Local::Toxiproxy) {
        catalog::find_toxiproxy()?
    } else {
        None
    };
    let images: Vec<String> = missing.iter().map(|m| m.local.image(&m.tag)).collect();
    let images: Vec<&str> = images.iter().map(String::as_str).collect();
    let proxy_note = match &toxiproxy {
        Some(t) => format!(
            " (the proxy around Toxiproxy {} from {})",
            t.version,
            t.path.display()
        ),
        None => String::new(),
    };
    let ui = ui::Ui::new();
    ui.say(&format!(
        "cachecheck: {}; building the local images {}{proxy_note} from Debian's packages, once (a few minutes; `cachecheck images build` does it ahead)",
        why(missing),
        and_list(&images),
    ));
    let t0 = Instant::now();
    // One build per tag (an image named in the environment may carry another tag).
    let mut tags: Vec<&str> = missing.iter().map(|m| m.tag.as_str()).collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let wanted: Vec<Local> = missing
            .iter()
            .filter(|m| m.tag == tag)
            .map(|m| m.local)
            .collect();
        build::build(&wanted, tag, build::When::Missing, toxiproxy.as_ref(), &ui)
            .await
            .map_err(|e| InfraError::Unreachable(format!("{e:#}")))?;
    }
    ui.say(&format!(
        "cachecheck: built the local images in {} (`cachecheck images list` shows them)",
        build::duration(t0.elapsed())
    ));
    Ok(missing
        .iter()
        .map(|m| (m.service, m.local.image(&m.tag)))
        .collect())
}

/// Pulls `image`; the error is docker's last line.
async fn pull(image: &str) -> Result<(), String> {
    docker(&["pull", "--quiet", image], Duration::from_secs(600))
        .await
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

/// An image named by the user that is neither in the engine nor pullable: one line naming the
/// fix.
fn not_pullable(image: &str, origin: &str, spec: &ImageSpec, e: &str) -> anyhow::Error {
    let or_none = if spec.service == Service::Proxy {
        format!(", or {}=none to run without a fault proxy", spec.env)
    } else {
        String::new()
    };
    InfraError::Unreachable(format!(
        "the {} image {image} ({origin}) is not in the Docker engine and cannot be pulled: {e} (fix: set {} to an image the engine has, or unset it to use the local images that cachecheck builds{or_none})",
        service_name(spec.service),
        spec.env
    ))
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_groups_what_is_missing() {
        let m = |subject: &str, reason: &str, detail: Option<&str>| Missing {
            service: Service::Db,
            local: Local::Mariadb,
            tag: "local".into(),
            subject: subject.into(),
            reason: reason.into(),
            detail: detail.map(str::to_string),
        };
        let pull = "is not in the engine and cannot be pulled";
        let got = why(&[
            m(
                "mysql:8",
                pull,
                Some("lookup registry-1.docker.io: no such host"),
            ),
            m("redis:7", pull, Some("lookup ghcr.io: no such host")),
            m(
                "cachecheck/proxy:it (from $CACHECHECK_PROXY_IMAGE)",
                "is not in the engine",
                None,
            ),
        ]);
        assert_eq!(
            got,
            "mysql:8 and redis:7 are not in the engine and cannot be pulled (lookup registry-1.docker.io: no such host); cachecheck/proxy:it (from $CACHECHECK_PROXY_IMAGE) is not in the engine"
        );
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
    }
}
