//! The local images cachecheck builds itself (no registry): their names and tags, their
//! recipes (the Dockerfiles and files under `docker/`, embedded so that an installed binary
//! needs no checkout), and where the real Toxiproxy binary comes from.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The environment variable naming the tag of the local images (default [`DEFAULT_TAG`]).
pub const TAG_ENV: &str = "CACHECHECK_IMAGE_TAG";
pub const DEFAULT_TAG: &str = "local";
/// The environment variable naming the `toxiproxy-server` binary for `cachecheck/toxiproxy`.
pub const TOXIPROXY_ENV: &str = "CACHECHECK_TOXIPROXY";

/// One of the local images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Local {
    /// Debian essential + apt, bootstrapped from Debian's mirror: the others' base.
    Base,
    Mariadb,
    Redis,
    /// The real `toxiproxy-server`, laid out as in the official image.
    Toxiproxy,
    /// The built-in `cachecheck proxy-server` (the fallback without a Toxiproxy binary).
    Proxy,
}

pub const ALL: [Local; 5] = [
    Local::Base,
    Local::Mariadb,
    Local::Redis,
    Local::Toxiproxy,
    Local::Proxy,
];

impl Local {
    pub fn name(self) -> &'static str {
        match self {
            Local::Base => "base",
            Local::Mariadb => "mariadb",
            Local::Redis => "redis",
            Local::Toxiproxy => "toxiproxy",
            Local::Proxy => "proxy",
        }
    }

    pub fn parse(name: &str) -> Option<Local> {
        ALL.into_iter().find(|l| l.name() == name)
    }

    /// `cachecheck/<name>:<tag>`.
    pub fn image(self, tag: &str) -> String {
        format!("cachecheck/{}:{tag}", self.name())
    }

    /// The local image `image` names, with its tag (`cachecheck/mariadb:local` is
    /// (Mariadb, "local")).
    pub fn of_image(image: &str) -> Option<(Local, String)> {
        let rest = image.strip_prefix("cachecheck/")?;
        let (name, tag) = rest.split_once(':').unwrap_or((rest, "latest"));
        Some((Local::parse(name)?, tag.to_string()))
    }

    /// What it holds, for `images list` and the build's messages.
    pub fn about(self) -> &'static str {
        match self {
            Local::Base => "Debian essential packages and apt, bootstrapped from Debian's mirror",
            Local::Mariadb => "MariaDB from Debian",
            Local::Redis => "Redis from Debian",
            Local::Toxiproxy => "Shopify's Toxiproxy (toxiproxy-server)",
            Local::Proxy => "the built-in fault proxy (cachecheck proxy-server)",
        }
    }

    /// The files of its `docker build` context (none for the base, which is bootstrapped).
    /// Binaries ([`Recipe::binaries`]) are added beside them.
    pub fn files(self) -> &'static [(&'static str, &'static [u8], u32)] {
        const CLI: &[u8] = include_bytes!("../../../docker/proxy/toxiproxy-cli");
        match self {
            Local::Base => &[],
            Local::Mariadb => &[
                (
                    "Dockerfile",
                    include_bytes!("../../../docker/db/Dockerfile"),
                    0o644,
                ),
                (
                    "entrypoint.sh",
                    include_bytes!("../../../docker/db/entrypoint.sh"),
                    0o755,
                ),
                (
                    "init.sql",
                    include_bytes!("../../../docker/db/init.sql"),
                    0o644,
                ),
            ],
            Local::Redis => &[(
                "Dockerfile",
                include_bytes!("../../../docker/redis/Dockerfile"),
                0o644,
            )],
            Local::Toxiproxy => &[
                (
                    "Dockerfile",
                    include_bytes!("../../../docker/toxiproxy/Dockerfile"),
                    0o644,
                ),
                ("toxiproxy-cli", CLI, 0o755),
            ],
            Local::Proxy => &[
                (
                    "Dockerfile",
                    include_bytes!("../../../docker/proxy/Dockerfile"),
                    0o644,
                ),
                ("toxiproxy-cli", CLI, 0o755),
            ],
        }
    }
}

/// The second stage of the base image (run in a container of the first).
pub const BASE_INSTALL: &[u8] = include_bytes!("../../../docker/base/install.sh");

/// The tag of the local images: `$CACHECHECK_IMAGE_TAG`, else `local`.
pub fn tag() -> String {
    std::env::var(TAG_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TAG.to_string())
}

/// A real `toxiproxy-server` binary and its version.
#[derive(Debug, Clone)]
pub struct Toxiproxy {
    pub path: PathBuf,
    pub version: String,
}

/// The real Toxiproxy for `cachecheck/toxiproxy`: `$CACHECHECK_TOXIPROXY`, else
/// `toxiproxy-server` on PATH, else `../shared/toxiproxy/bin/toxiproxy-server` from the
/// current directory (a checkout beside a shared Toxiproxy build). None when there is none;
/// an error when `$CACHECHECK_TOXIPROXY` names something that does not run.
pub fn find_toxiproxy() -> Result<Option<Toxiproxy>> {
    if let Some(p) = std::env::var_os(TOXIPROXY_ENV).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        return toxiproxy_version(&path)
            .map(|version| Some(Toxiproxy { path: path.clone(), version }))
            .with_context(|| {
                format!(
                    "{TOXIPROXY_ENV}={}: not a toxiproxy-server that runs (fix: point it at Toxiproxy's toxiproxy-server binary, or unset it to use the built-in fault proxy)",
                    path.display()
                )
            });
    }
    let candidates = super::super::process::find_binary(&["toxiproxy-server"])
        .into_iter()
        .chain(
            Some(PathBuf::from("../shared/toxiproxy/bin/toxiproxy-server"))
                .filter(|p| p.is_file())
                .and_then(|p| std::fs::canonicalize(p).ok()),
        );
    for path in candidates {
        if let Ok(version) = toxiproxy_version(&path) {
            return Ok(Some(Toxiproxy { path, version }));
        }
    }
    Ok(None)
}

/// `toxiproxy-server -version` prints `toxiproxy-server version 2.12.0`.
fn toxiproxy_version(path: &Path) -> Result<String> {
    let out = std::process::Command::new(path)
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", path.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().last().unwrap_or_default();
    anyhow::ensure!(
        out.status.success() && text.contains("version") && !version.is_empty(),
        "`{} -version` printed no version",
        path.display()
    );
    Ok(version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_images_round_trip() {
        for l in ALL {
            assert_eq!(Local::parse(l.name()), Some(l));
            assert_eq!(Local::of_image(&l.image("it")), Some((l, "it".into())));
        }
        assert_eq!(
            Local::of_image("cachecheck/redis"),
            Some((Local::Redis, "latest".into()))
        );
        assert_eq!(Local::of_image("cachecheck/no-such:local"), None);
        assert_eq!(Local::of_image("mysql:8"), None);
    }

    #[test]
    fn every_recipe_but_the_base_has_a_dockerfile() {
        for l in ALL {
            let has = l.files().iter().any(|(n, _, _)| *n == "Dockerfile");
            assert_eq!(has, l != Local::Base, "{l:?}");
        }
    }
}
