//! Which image each docker service runs (see [`super::docker`] for the order of choices), and
//! making sure the engine has it: pulled if missing, else one line naming the fix.

use super::compose::{docker, image_exists};
use super::docker::service_name;
use super::{InfraConfig, InfraError, Service};
use anyhow::Result;
use std::collections::BTreeMap;
use std::time::Duration;

/// One service's image choice.
struct ImageSpec {
    service: Service,
    env: &'static str,
    official: &'static str,
    local: &'static str,
}

const IMAGES: [ImageSpec; 3] = [
    ImageSpec {
        service: Service::Db,
        env: "CACHECHECK_DB_IMAGE",
        official: "mysql:8",
        local: "cachecheck/mariadb:local",
    },
    ImageSpec {
        service: Service::Redis,
        env: "CACHECHECK_REDIS_IMAGE",
        official: "redis:7",
        local: "cachecheck/redis:local",
    },
    ImageSpec {
        service: Service::Proxy,
        env: "CACHECHECK_PROXY_IMAGE",
        official: "ghcr.io/shopify/toxiproxy",
        local: "cachecheck/proxy:local",
    },
];

/// Chooses every service's image (in the order [`super::docker`] gives) and makes sure the
/// engine has it. A proxy image of `none` leaves the proxy out.
pub async fn choose_images(cfg: &InfraConfig) -> Result<BTreeMap<Service, String>> {
    let mut out = BTreeMap::new();
    for spec in &IMAGES {
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
        let (image, source) = match given {
            Some((v, _)) if spec.service == Service::Proxy && v == "none" => continue,
            Some(g) => g,
            None if image_exists(spec.official).await => (spec.official.to_string(), "".into()),
            None if image_exists(spec.local).await => (spec.local.to_string(), "".into()),
            None => (spec.official.to_string(), "".into()),
        };
        ensure_image(&image, &source, spec).await?;
        out.insert(spec.service, image);
    }
    Ok(out)
}

/// Pulls `image` if the engine lacks it; a failure is one line naming the fix.
async fn ensure_image(image: &str, source: &str, spec: &ImageSpec) -> Result<()> {
    if image_exists(image).await {
        return Ok(());
    }
    let pulled = docker(&["pull", "--quiet", image], Duration::from_secs(600)).await;
    match pulled {
        Ok(_) => Ok(()),
        Err(e) => {
            let origin = if source.is_empty() {
                "default".to_string()
            } else {
                format!("from {source}")
            };
            let or_none = if spec.service == Service::Proxy {
                format!(", or {}=none to run without a fault proxy", spec.env)
            } else {
                String::new()
            };
            Err(InfraError::Unreachable(format!(
                "the {} image {image} ({origin}) is not in the Docker engine and cannot be pulled: {e:#} (fix: build the local images with scripts/build-images.sh, or set {} to an image the engine has{or_none})",
                service_name(spec.service),
                spec.env
            ))
            .into())
        }
    }
}
