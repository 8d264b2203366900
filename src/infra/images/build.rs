//! Building the local images: which need building (missing, or made from another recipe),
//! the base first ([`super::base`]), then the others at once with `docker build` (the legacy
//! builder, which needs no BuildKit plugin) from contexts assembled here, each checked by
//! running it once. One build per tag at a time across processes (a lock file), and the
//! images a rebuild replaces are removed.
//!
//! Every image carries labels: `cachecheck.image` (its name), `cachecheck.recipe` (the SHA256
//! of its context and its base's id, so a changed Dockerfile or binary shows) and
//! `cachecheck.about` (what it holds, for `cachecheck images list`).

use super::catalog::{self, Local, Toxiproxy};
use super::ui::{Task, Ui};
use crate::infra::compose::{docker, DOCKER_TIMEOUT};
use crate::infra::InfraError;
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Which images a build makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Only the missing ones (what `run` does before it starts a stack).
    Missing,
    /// Missing ones and those made from another recipe (`cachecheck images build`).
    Stale,
    /// All of them (`--force`).
    Always,
}

/// What the engine has of one image.
#[derive(Debug, Clone, Default)]
pub struct Present {
    pub id: String,
    pub recipe: String,
    pub about: String,
    pub size: u64,
    pub created: String,
}

/// Inspects `image`; None when the engine lacks it.
pub async fn present(image: &str) -> Option<Present> {
    let format = "{{.Id}}\t{{index .Config.Labels \"cachecheck.recipe\"}}\t{{.Size}}\t{{.Created}}\t{{index .Config.Labels \"cachecheck.about\"}}";
    let out = docker(
        &["image", "inspect", "--format", format, image],
        DOCKER_TIMEOUT,
    )
    .await
    .ok()?;
    let f: Vec<&str> = out.trim_end().splitn(5, '\t').collect();
    let label = |s: &str| if s == "<no value>" { "" } else { s }.to_string();
    Some(Present {
        id: f.first()?.to_string(),
        recipe: label(f.get(1).copied().unwrap_or("")),
        size: f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0),
        created: f.get(3).copied().unwrap_or("").to_string(),
        about: label(f.get(4).copied().unwrap_or("")),
    })
}

/// One image built.
#[derive(Debug, Clone)]
pub struct Built {
    pub image: String,
    pub secs: f64,
}

/// Builds `wanted` (and the base when one of them needs it) with tag `tag`. The proxy images
/// take `toxiproxy` (the real server's binary) and this binary respectively.
pub async fn build(
    wanted: &[Local],
    tag: &str,
    when: When,
    toxiproxy: Option<&Toxiproxy>,
    ui: &Ui,
) -> Result<Vec<Built>> {
    let _lock = lock(tag, ui).await?;
    let base_image = Local::Base.image(tag);
    let mut old = Vec::new();
    let mut built = Vec::new();
    let base_recipe = base_recipe()?;
    let base = present(&base_image).await;
    let children: Vec<Local> = wanted
        .iter()
        .copied()
        .filter(|l| *l != Local::Base)
        .collect();
    let base_needed = match (&base, when) {
        (None, _) => wanted.contains(&Local::Base) || !children.is_empty(),
        (Some(_), When::Always) => wanted.contains(&Local::Base),
        (Some(b), When::Stale) => b.recipe != base_recipe && wanted.contains(&Local::Base),
        (Some(_), When::Missing) => false,
    };
    if base_needed {
        let t0 = Instant::now();
        let task = ui.task("base");
        let labels = labels(Local::Base, &base_recipe, &base_about().await);
        super::base::build(&base_image, &labels, &task)
            .await
            .with_context(|| format!("building {base_image}"))?;
        task.finish(&done(&base_image, t0).await);
        built.push(Built {
            image: base_image.clone(),
            secs: t0.elapsed().as_secs_f64(),
        });
        old.extend(base.map(|b| b.id));
    }
    let base_id = present(&base_image)
        .await
        .with_context(|| format!("{base_image} is missing"))?
        .id;
    let jobs = children.iter().map(|&l| {
        let base_id = base_id.clone();
        async move {
            let ctx = context(l, toxiproxy)?;
            let recipe = recipe(&ctx.tar, &base_id);
            let image = l.image(tag);
            let have = present(&image).await;
            let needed = match (&have, when) {
                (None, _) | (Some(_), When::Always) => true,
                (Some(h), When::Stale) => h.recipe != recipe,
                (Some(_), When::Missing) => false,
            };
            if !needed {
                return Ok(None);
            }
            let t0 = Instant::now();
            let task = ui.task(l.name());
            child(l, tag, &ctx, &recipe, &task)
                .await
                .with_context(|| format!("building {image}"))?;
            task.finish(&done(&image, t0).await);
            anyhow::Ok(Some((
                Built {
                    image,
                    secs: t0.elapsed().as_secs_f64(),
                },
                have.map(|h| h.id),
            )))
        }
    });
    for r in futures_util::future::join_all(jobs).await {
        if let Some((b, replaced)) = r? {
            built.push(b);
            old.extend(replaced);
        }
    }
    // Images a rebuild replaced, now untagged; the base after its old children.
    for id in old.iter().rev() {
        let _ = docker(&["image", "rm", id], DOCKER_TIMEOUT).await;
    }
    Ok(built)
}

async fn done(image: &str, t0: Instant) -> String {
    let size = present(image).await.map(|p| p.size).unwrap_or(0);
    format!(
        "built {image} in {} ({:.0} MB)",
        duration(t0.elapsed()),
        size as f64 / 1e6
    )
}

/// `2 min 41 s`, `38 s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s >= 60 {
        format!("{} min {} s", s / 60, s % 60)
    } else {
        format!("{:.0} s", d.as_secs_f64().max(1.0))
    }
}

fn labels(l: Local, recipe: &str, about: &str) -> Vec<(String, String)> {
    vec![
        ("cachecheck.image".into(), l.name().into()),
        ("cachecheck.recipe".into(), recipe.into()),
        ("cachecheck.about".into(), about.into()),
    ]
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The base's recipe: its packages, its sources and its second stage.
fn base_recipe() -> Result<String> {
    let src = super::debian::Source::from_env("-");
    let mut h = Sha256::new();
    h.update(super::base::PACKAGES.join(",").as_bytes());
    h.update(src.sources_list().as_bytes());
    h.update(catalog::BASE_INSTALL);
    Ok(hex(h.finalize()))
}

async fn base_about() -> String {
    match super::base::source().await {
        Ok(s) => format!(
            "Debian {} ({}): essential packages, apt, ca-certificates, libssl3 from {}",
            s.suite, s.arch, s.mirror
        ),
        Err(_) => catalog::Local::Base.about().to_string(),
    }
}

fn recipe(context: &[u8], base_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(context);
    h.update(base_id.as_bytes());
    hex(h.finalize())
}

/// A `docker build` context and what the image holds.
struct BuildContext {
    tar: Vec<u8>,
    about: String,
}

/// The context of a child image: its files from `docker/` and, for the proxies, the binary.
fn context(l: Local, toxiproxy: Option<&Toxiproxy>) -> Result<BuildContext> {
    let mut files: Vec<(String, Vec<u8>, u32)> = l
        .files()
        .iter()
        .map(|(n, b, m)| (n.to_string(), b.to_vec(), *m))
        .collect();
    let about = match l {
        Local::Toxiproxy => {
            let t = toxiproxy.with_context(|| {
                "no toxiproxy-server found for cachecheck/toxiproxy (fix: set CACHECHECK_TOXIPROXY=/path/to/toxiproxy-server or put it on PATH, or build the built-in proxy: cachecheck images build proxy)"
            })?;
            let bin = std::fs::read(&t.path)
                .with_context(|| format!("cannot read {}", t.path.display()))?;
            files.push(("toxiproxy-server".into(), bin, 0o755));
            format!("Toxiproxy {} ({})", t.version, t.path.display())
        }
        Local::Proxy => {
            let exe = std::env::current_exe().context("cannot find the cachecheck binary")?;
            files.push(("cachecheck".into(), stripped(&exe)?, 0o755));
            format!(
                "cachecheck proxy-server {} ({})",
                crate::proxy_server::api::VERSION,
                exe.display()
            )
        }
        _ => l.about().to_string(),
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        tar.append_data(&mut h, name, &data[..])?;
    }
    Ok(BuildContext {
        tar: tar.into_inner()?,
        about,
    })
}

/// The binary without its debug information (the host's `strip`, when installed), else as is.
fn stripped(exe: &std::path::Path) -> Result<Vec<u8>> {
    if let Some(strip) = crate::infra::process::find_binary(&["strip"]) {
        let out = tempfile::NamedTempFile::new()?;
        let ok = std::process::Command::new(strip)
            .arg("-o")
            .arg(out.path())
            .arg(exe)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(std::fs::read(out.path())?);
        }
    }
    std::fs::read(exe).with_context(|| format!("cannot read {}", exe.display()))
}

/// `docker build` of a child image, then a check that it runs.
async fn child(l: Local, tag: &str, ctx: &BuildContext, recipe: &str, task: &Task) -> Result<()> {
    let image = l.image(tag);
    let mut c = std::process::Command::new("docker");
    c.env("DOCKER_BUILDKIT", "0")
        .args(["build", "--force-rm", "--build-arg"])
        .arg(format!("BASE={}", Local::Base.image(tag)))
        .args(["-t", &image]);
    for (k, v) in labels(l, recipe, &ctx.about) {
        c.arg("--label").arg(format!("{k}={v}"));
    }
    c.arg("-");
    task.stage(&format!("docker build: {}", ctx.about), 0);
    let on_line = |line: &str| {
        // "Step 3/8 : RUN apt-get update ..."
        if let Some((step, what)) = line.strip_prefix("Step ").and_then(|r| r.split_once(" : ")) {
            if let Some((i, n)) = step.split_once('/') {
                let (i, n) = (i.parse().unwrap_or(0), n.parse().unwrap_or(0));
                task.set_len(n);
                task.set(i);
            }
            task.detail(&what.chars().take(60).collect::<String>());
        } else if line.starts_with("Setting up ") || line.starts_with("Get:") {
            task.detail(line);
        }
    };
    super::stream::run(c, Some(&ctx.tar), &on_line).await?;
    let check: &[&str] = match l {
        Local::Proxy => &["cachecheck", "proxy-server", "--help"],
        Local::Toxiproxy => &["/toxiproxy", "-version"],
        Local::Mariadb => &["mariadbd", "--version"],
        Local::Redis => &["redis-server", "--version"],
        Local::Base => &["true"],
    };
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        check[0],
        &image,
    ];
    args.extend_from_slice(&check[1..]);
    if let Err(e) = docker(&args, Duration::from_secs(60)).await {
        let _ = docker(&["image", "rm", "-f", &image], DOCKER_TIMEOUT).await;
        return Err(InfraError::Unreachable(format!(
            "`{}` does not run in {image}, image removed: {e:#}{}",
            check.join(" "),
            if l == Local::Proxy {
                " (fix: this cachecheck binary needs a newer glibc than the base's: build it on Debian 12, set CACHECHECK_DEBIAN_SUITE to a newer suite, or use the real Toxiproxy with CACHECHECK_TOXIPROXY)"
            } else {
                ""
            }
        ))
        .into());
    }
    Ok(())
}

/// Takes the build lock of `tag` (a file in the temporary directory), waiting for another
/// process that holds it.
async fn lock(tag: &str, ui: &Ui) -> Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = std::env::temp_dir().join(format!("cachecheck-images-{tag}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock(2) on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(file);
    }
    ui.say(&format!(
        "cachecheck: waiting for another cachecheck building the {tag} images ({})",
        path.display()
    ));
    tokio::task::spawn_blocking(move || {
        // SAFETY: as above, blocking until the other process is done.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(file)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_minutes_and_seconds() {
        assert_eq!(duration(Duration::from_secs(161)), "2 min 41 s");
        assert_eq!(duration(Duration::from_millis(38_400)), "38 s");
        assert_eq!(duration(Duration::from_millis(200)), "1 s");
    }

    #[test]
    fn a_context_changes_with_its_binary() {
        let t = |path: &str| Toxiproxy {
            path: path.into(),
            version: "2.12.0".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"two").unwrap();
        let ca = context(Local::Toxiproxy, Some(&t(a.to_str().unwrap()))).unwrap();
        let cb = context(Local::Toxiproxy, Some(&t(b.to_str().unwrap()))).unwrap();
        assert_ne!(recipe(&ca.tar, "base"), recipe(&cb.tar, "base"));
        assert_eq!(recipe(&ca.tar, "base"), recipe(&ca.tar, "base"));
        assert_ne!(recipe(&ca.tar, "base"), recipe(&ca.tar, "other base"));
        assert!(ca.about.starts_with("Toxiproxy 2.12.0"));
        let e = context(Local::Toxiproxy, None).err().unwrap().to_string();
        assert!(e.contains("CACHECHECK_TOXIPROXY"), "{e}");
    }
}
