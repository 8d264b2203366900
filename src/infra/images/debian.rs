//! Debian's packages for the base image, fetched from a Debian mirror with no tool but this
//! binary: the suite's index (`InRelease`, then `main/binary-<arch>/Packages.gz`), the set of
//! packages the base needs (every `Essential: yes` package, apt, and what they depend on), and
//! the `.deb` files themselves.
//!
//! Trust: the index's signature is checked with the host's `gpgv` and Debian's archive keyring
//! when both are installed (any Debian host has them); otherwise `InRelease` is fetched over
//! https (an `http://` mirror is asked on `https://`). Every file below `InRelease` is checked
//! against the SHA256 it lists, so the packages are the ones Debian signed. Inside the images,
//! apt checks the signatures itself (the base carries debian-archive-keyring), so the
//! sources there stay plain http, as in Debian's own images.
//!
//! Dependencies are resolved the way apt does for a fresh system in the common case: the first
//! alternative that is a real package (or one of the roots), else the highest-priority package
//! providing it. A suite carries one version of each package, so version constraints are not
//! checked. The result matches what mmdebstrap's `essential` variant selects (64 packages for
//! bookworm with `ca-certificates`).

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::Read;

/// Where the packages come from.
#[derive(Debug, Clone)]
pub struct Source {
    /// e.g. `https://deb.debian.org/debian`.
    pub mirror: String,
    /// e.g. `https://deb.debian.org/debian-security` (for the image's sources.list only).
    pub security_mirror: String,
    /// e.g. `bookworm`.
    pub suite: String,
    /// Debian's name of the architecture, e.g. `amd64`.
    pub arch: String,
}

impl Source {
    /// From `CACHECHECK_DEBIAN_MIRROR`, `CACHECHECK_DEBIAN_SECURITY_MIRROR` and
    /// `CACHECHECK_DEBIAN_SUITE` (defaults: deb.debian.org, bookworm).
    pub fn from_env(arch: &str) -> Source {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
                .trim_end_matches('/')
                .to_string()
        };
        Source {
            mirror: var("CACHECHECK_DEBIAN_MIRROR", "http://deb.debian.org/debian"),
            security_mirror: var(
                "CACHECHECK_DEBIAN_SECURITY_MIRROR",
                "http://deb.debian.org/debian-security",
            ),
            suite: var("CACHECHECK_DEBIAN_SUITE", "bookworm"),
            arch: arch.to_string(),
        }
    }

    /// The image's `/etc/apt/sources.list`: the suite, its updates and its security updates.
    pub fn sources_list(&self) -> String {
        format!(
            "deb {m} {s} main\ndeb {m} {s}-updates main\ndeb {sec} {s}-security main\n",
            m = self.mirror,
            s = self.suite,
            sec = self.security_mirror
        )
    }
}

/// Debian's architecture name of a Docker engine's (`docker info` `.Architecture`).
pub fn debian_arch(engine_arch: &str) -> Option<&'static str> {
    match engine_arch {
        "x86_64" | "amd64" => Some("amd64"),
        "aarch64" | "arm64" => Some("arm64"),
        _ => None,
    }
}

/// One binary package of the index.
#[derive(Debug, Clone, Default)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// Path below the mirror, e.g. `pool/main/d/dash/dash_0.5.12-2_amd64.deb`.
    pub filename: String,
    pub sha256: String,
    pub size: u64,
    essential: bool,
    /// 0 required, 1 important, 2 standard, 3 anything else.
    priority: u8,
    /// Pre-Depends then Depends: each a list of alternatives.
    depends: Vec<Vec<String>>,
    provides: Vec<String>,
}

/// A suite's binary packages.
#[derive(Debug, Default)]
pub struct Index {
    packages: HashMap<String, Package>,
    providers: HashMap<String, Vec<String>>,
}

/// The package name of a dependency (`libc6 (>= 2.34)`, `perl:any`).
fn dep_name(s: &str) -> String {
    let s = s.trim();
    let s = s.split([' ', '(']).next().unwrap_or(s);
    s.split(':').next().unwrap_or(s).to_string()
}

impl Index {
    /// Parses a `Packages` file.
    pub fn parse(text: &str) -> Index {
        let mut index = Index::default();
        for para in text.split("\n\n") {
            let mut p = Package::default();
            for line in para.lines() {
                if line.starts_with([' ', '\t']) {
                    continue;
                }
                let Some((k, v)) = line.split_once(':') else {
                    continue;
                };
                let v = v.trim();
                match k {
                    "Package" => p.name = v.to_string(),
                    "Version" => p.version = v.to_string(),
                    "Filename" => p.filename = v.to_string(),
                    "SHA256" => p.sha256 = v.to_string(),
                    "Size" => p.size = v.parse().unwrap_or(0),
                    "Essential" => p.essential = v == "yes",
                    "Priority" => {
                        p.priority = match v {
                            "required" => 0,
                            "important" => 1,
                            "standard" => 2,
                            _ => 3,
                        }
                    }
                    "Pre-Depends" | "Depends" => {
                        let alts = v
                            .split(',')
                            .filter(|d| !d.trim().is_empty())
                            .map(|d| d.split('|').map(dep_name).collect());
                        // Pre-Depends come first in a paragraph's field order anyway.
                        p.depends.extend(alts);
                    }
                    "Provides" => {
                        p.provides = v.split(',').map(dep_name).collect();
                    }
                    _ => {}
                }
            }
            if p.name.is_empty() {
                continue;
            }
            for v in &p.provides {
                index
                    .providers
                    .entry(v.clone())
                    .or_default()
                    .push(p.name.clone());
            }
            index.packages.insert(p.name.clone(), p);
        }
        index
    }

    pub fn get(&self, name: &str) -> Option<&Package> {
        self.packages.get(name)
    }

    /// The package that satisfies one dependency's alternatives.
    fn choose(&self, alts: &[String], roots: &HashSet<&str>) -> Option<&Package> {
        alts.iter()
            .find(|a| roots.contains(a.as_str()))
            .or_else(|| alts.iter().find(|a| self.packages.contains_key(*a)))
            .and_then(|a| self.packages.get(a))
            .or_else(|| {
                alts.iter()
                    .filter_map(|a| self.providers.get(a))
                    .flatten()
                    .filter_map(|n| self.packages.get(n))
                    .min_by_key(|p| (p.priority, p.name.clone()))
            })
    }

    /// Every `Essential: yes` package, the `include`d ones, and what they depend on, each
    /// after its dependencies (cycles broken where they close).
    pub fn resolve(&self, include: &[&str]) -> Result<Vec<&Package>> {
        let mut roots: Vec<&str> = self
            .packages
            .values()
            .filter(|p| p.essential)
            .map(|p| p.name.as_str())
            .collect();
        roots.sort_unstable();
        for name in include {
            anyhow::ensure!(
                self.packages.contains_key(*name),
                "package {name} is not in the index"
            );
            roots.push(name);
        }
        let root_set: HashSet<&str> = roots.iter().copied().collect();
        let mut seen = HashSet::new();
        let mut order = Vec::new();
        for r in &roots {
            self.visit(r, &root_set, &mut seen, &mut order)?;
        }
        Ok(order)
    }

    fn visit<'a>(
        &'a self,
        name: &str,
        roots: &HashSet<&str>,
        seen: &mut HashSet<String>,
        order: &mut Vec<&'a Package>,
    ) -> Result<()> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        let p = self
            .packages
            .get(name)
            .with_context(|| format!("package {name} is not in the index"))?;
        for alts in &p.depends {
            let dep = self.choose(alts, roots).with_context(|| {
                format!(
                    "{name} depends on {}, which nothing provides",
                    alts.join(" | ")
                )
            })?;
            self.visit(&dep.name, roots, seen, order)?;
        }
        order.push(p);
        Ok(())
    }
}

/// An HTTP client for the mirror (5 min per file: the biggest .deb of the base is 1.5 MB, the
/// index 12 MB).
pub fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(30))
        .timeout(std::time::Duration::from_secs(300))
        .user_agent(concat!("cachecheck/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// GETs `url` whole; `on_bytes` hears of every chunk received. A failure names the fix.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>> {
    get_raw(client, url, on_bytes).await.map_err(|cause| {
        anyhow::anyhow!(
            "cannot fetch {url}: {cause} (fix: check the network, or set CACHECHECK_DEBIAN_MIRROR to a reachable Debian mirror)"
        )
    })
}

/// [`get`], failing with the innermost cause only.
async fn get_raw(
    client: &reqwest::Client,
    url: &str,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Vec<u8>, String> {
    let fetch = async {
        let mut resp = client.get(url).send().await?.error_for_status()?;
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = resp.chunk().await? {
            on_bytes(chunk.len() as u64);
            body.extend_from_slice(&chunk);
        }
        anyhow::Ok(body)
    };
    fetch.await.map_err(|e| e.root_cause().to_string())
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// The host's gpgv, when it and Debian's keyring are installed.
fn gpgv() -> Option<std::path::PathBuf> {
    super::super::process::find_binary(&["gpgv"])
        .filter(|_| std::path::Path::new(KEYRING).is_file())
}

/// Fetches `InRelease` and returns its content once trusted: its signature checked by gpgv,
/// else fetched over https.
async fn trusted_release(client: &reqwest::Client, src: &Source) -> Result<String> {
    let url = format!("{}/dists/{}/InRelease", src.mirror, src.suite);
    let Some(gpgv) = gpgv() else {
        let https = match url.strip_prefix("http://") {
            Some(rest) => format!("https://{rest}"),
            None => url,
        };
        let body = get_raw(client, &https, &|_| {}).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot fetch Debian's index securely: gpgv or {KEYRING} is missing here to check its signature, and {https} failed: {e} (fix: apt-get install gpgv debian-archive-keyring, or set CACHECHECK_DEBIAN_MIRROR to an https mirror)"
            )
        })?;
        return Ok(String::from_utf8_lossy(&body).into_owned());
    };
    let body = get(client, &url, &|_| {}).await?;
    let mut file = tempfile::NamedTempFile::new()?;
    std::io::Write::write_all(&mut file, &body)?;
    let out = std::process::Command::new(gpgv)
        .args(["--keyring", KEYRING, "--output", "-"])
        .arg(file.path())
        .output()
        .context("cannot run gpgv")?;
    anyhow::ensure!(
        out.status.success(),
        "the signature of {url} does not verify with {KEYRING}: {}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("gpgv failed")
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The SHA256 and size `InRelease` lists for `path`.
fn release_entry(release: &str, path: &str) -> Option<(String, u64)> {
    let section = release.split("\nSHA256:").nth(1)?;
    section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == path).then(|| (f[0].to_string(), f[1].parse().unwrap_or(0)))
        })
}

/// Fetches and checks the suite's index.
pub async fn fetch_index(client: &reqwest::Client, src: &Source) -> Result<Index> {
    let base = format!("{}/dists/{}", src.mirror, src.suite);
    let release = trusted_release(client, src).await?;
    let path = format!("main/binary-{}/Packages.gz", src.arch);
    let (sha, _) = release_entry(&release, &path)
        .with_context(|| format!("{base}/InRelease lists no {path}"))?;
    let gz = get(client, &format!("{base}/{path}"), &|_| {}).await?;
    anyhow::ensure!(
        sha256_hex(&gz) == sha,
        "{base}/{path} does not match the SHA256 in InRelease"
    );
    tokio::task::spawn_blocking(move || {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .context("cannot decompress Packages.gz")?;
        Ok(Index::parse(&text))
    })
    .await?
}

/// Downloads the packages (4 at a time), each checked against the index's SHA256.
pub async fn download(
    client: &reqwest::Client,
    src: &Source,
    packages: &[&Package],
    on_bytes: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Vec<u8>>> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(packages.iter().map(|p| async move {
        let url = format!("{}/{}", src.mirror, p.filename);
        let deb = get(client, &url, on_bytes).await?;
        anyhow::ensure!(
            sha256_hex(&deb) == p.sha256,
            "{url} does not match the SHA256 in the index"
        );
        Ok(deb)
    }))
    .buffered(4)
    .try_collect()
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKAGES: &str = "\
Package: base-files
Essential: yes
Priority: required
Pre-Depends: awk
Depends: libc6 (>= 2.34)
Version: 12.4
Filename: pool/main/b/base-files/base-files_12.4_amd64.deb
Size: 70000
SHA256: aa

Package: libc6
Priority: optional
Depends: libgcc-s1
Version: 2.36
Filename: pool/main/g/glibc/libc6_2.36_amd64.deb
SHA256: bb

Package: libgcc-s1
Depends: libc6 (>= 2.35), gcc-12-base (= 12.2.0-14)
Version: 12.2.0

Package: gcc-12-base
Version: 12.2.0

Package: gawk
Priority: optional
Provides: awk

Package: mawk
Priority: required
Provides: awk

Package: init-system-helpers
Essential: yes
Depends: usrmerge | usr-is-merged, perl:any

Package: usrmerge
Depends: perl

Package: usr-is-merged

Package: perl

Package: apt
Depends: gpgv | gpgv2, libc6
";

    fn names(pkgs: &[&Package]) -> Vec<String> {
        pkgs.iter().map(|p| p.name.clone()).collect()
    }

    #[test]
    fn resolves_essential_closure_dependencies_first() {
        let index = Index::parse(PACKAGES);
        let got = names(&index.resolve(&["usr-is-merged"]).unwrap());
        // awk: the required provider (mawk), not the first by name (gawk); usr-is-merged: the
        // root, not the first alternative (usrmerge, which would pull in perl's users).
        assert_eq!(
            got,
            [
                "mawk",
                "gcc-12-base",
                "libgcc-s1",
                "libc6",
                "base-files",
                "usr-is-merged",
                "perl",
                "init-system-helpers"
            ]
        );
        let p = index.get("base-files").unwrap();
        assert_eq!((p.size, p.sha256.as_str()), (70000, "aa"));
    }

    #[test]
    fn an_unsatisfiable_dependency_names_it() {
        let index = Index::parse(PACKAGES);
        let e = index.resolve(&["apt"]).unwrap_err().to_string();
        assert!(e.contains("apt depends on gpgv | gpgv2"), "{e}");
        let e = index.resolve(&["no-such"]).unwrap_err().to_string();
        assert!(e.contains("no-such is not in the index"), "{e}");
    }

    #[test]
    fn finds_a_file_in_the_release_sha256_list() {
        let release = "Suite: bookworm\nMD5Sum:\n 00 5 main/binary-amd64/Packages.gz\nSHA256:\n 1f 12 main/binary-amd64/Packages\n 9e 34 main/binary-amd64/Packages.gz\nNotAfter: x\n";
        assert_eq!(
            release_entry(release, "main/binary-amd64/Packages.gz"),
            Some(("9e".to_string(), 34))
        );
        assert_eq!(
            release_entry(release, "main/binary-arm64/Packages.gz"),
            None
        );
    }
}
