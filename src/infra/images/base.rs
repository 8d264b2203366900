//! `cachecheck/base`: a minimal Debian (the essential packages, apt, ca-certificates and
//! libssl3) made from Debian's packages with nothing but this binary and the Docker engine, as
//! debootstrap or mmdebstrap would, without them:
//!
//! 1. the index and the packages from Debian's mirror ([`super::debian`]);
//! 2. their files unpacked here into one tar stream, /usr merged ([`super::rootfs`]), and
//!    `docker import`ed as a first stage;
//! 3. in a container of it, dpkg installs the same packages properly (maintainer scripts,
//!    its database), then apt updates them from the suite's updates and security updates
//!    (`docker/base/install.sh`);
//! 4. that container's filesystem is exported and imported as one layer, the image.
//!
//! The first stage's image and container are removed whatever happens.

use super::debian::{self, Source};
use super::ui::Task;
use crate::infra::compose::{docker, DOCKER_TIMEOUT};
use anyhow::{Context, Result};
use std::io::Write;
use std::process::{Command, Stdio};

/// What the base holds beyond the essential packages.
pub const PACKAGES: [&str; 4] = ["usr-is-merged", "apt", "ca-certificates", "libssl3"];

/// Removes the first stage's container and image when dropped.
struct Scratch {
    image: String,
    container: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Debian's source for the engine's architecture.
pub async fn source() -> Result<Source> {
    let arch = docker(&["info", "--format", "{{.Architecture}}"], DOCKER_TIMEOUT).await?;
    let arch = arch.trim();
    let deb = debian::debian_arch(arch).with_context(|| {
        format!("the Docker engine's architecture {arch} has no local images (fix: use official images, or --infra local)")
    })?;
    Ok(Source::from_env(deb))
}

/// Builds `image` (e.g. `cachecheck/base:local`) with the given labels.
pub async fn build(image: &str, labels: &[(String, String)], task: &Task) -> Result<()> {
    let src = source().await?;
    task.stage(
        &format!("reading the index of Debian {} ({})", src.suite, src.mirror),
        0,
    );
    let client = debian::client()?;
    let index = debian::fetch_index(&client, &src).await?;
    let packages = index.resolve(&PACKAGES)?;
    let bytes: u64 = packages.iter().map(|p| p.size).sum();
    task.stage(
        &format!(
            "downloading {} packages ({:.0} MB)",
            packages.len(),
            bytes as f64 / 1e6
        ),
        bytes,
    );
    let debs = debian::download(&client, &src, &packages, &|n| task.inc(n)).await?;
    let debs: Vec<(String, Vec<u8>)> = packages.iter().map(|p| p.name.clone()).zip(debs).collect();
    let n = debs.len() as u64;
    let tag = image.rsplit(':').next().unwrap_or("local");
    let scratch = Scratch {
        image: format!("cachecheck/bootstrap:{tag}-{}", std::process::id()),
        container: format!("cachecheck-bootstrap-{tag}-{}", std::process::id()),
    };
    task.stage("unpacking them into a first stage (docker import)", 0);
    let (stage1, arch, sources) = (scratch.image.clone(), src.arch.clone(), src.sources_list());
    tokio::task::spawn_blocking(move || import_stage1(&stage1, &arch, &sources, &debs)).await??;
    task.stage("installing them with dpkg in a container", 2 * n);
    let (stage1, ctr) = (scratch.image.clone(), scratch.container.clone());
    let progress = |line: &str| {
        if line.starts_with("Unpacking ") || line.starts_with("Setting up ") {
            task.inc(1);
            task.detail(line);
        } else if line.starts_with("Get:") || line.starts_with("Hit:") {
            task.detail(line);
        }
    };
    let mut run = Command::new("docker");
    run.args([
        "run",
        "--name",
        &ctr,
        &stage1,
        "/var/cache/cachecheck/install.sh",
    ]);
    super::stream::run(run, None, &progress)
        .await
        .context("the second stage of the base image failed")?;
    task.stage("saving the image (docker export | docker import)", 0);
    let (ctr, image, labels) = (
        scratch.container.clone(),
        image.to_string(),
        labels.to_vec(),
    );
    tokio::task::spawn_blocking(move || export_import(&ctr, &image, &labels)).await??;
    drop(scratch);
    Ok(())
}

/// `docker import` of the first stage, written on the fly.
fn import_stage1(image: &str, arch: &str, sources: &str, debs: &[(String, Vec<u8>)]) -> Result<()> {
    let mut child = Command::new("docker")
        .args(["import", "--change", "CMD [\"/bin/bash\"]", "-", image])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run docker import")?;
    let stdin = child.stdin.take().context("no stdin")?;
    let written = super::rootfs::write(std::io::BufWriter::new(stdin), arch, sources, debs)
        .and_then(|mut w| Ok(w.flush()?));
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!(
            "`docker import` of the first stage failed: {}",
            last_line(&out.stderr)
        );
    }
    written
}

/// `docker export CONTAINER | docker import - IMAGE` with the labels and the default command.
fn export_import(container: &str, image: &str, labels: &[(String, String)]) -> Result<()> {
    let mut export = Command::new("docker")
        .args(["export", container])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run docker export")?;
    let mut import = Command::new("docker");
    import.args(["import", "--change", "CMD [\"/bin/bash\"]"]);
    for (k, v) in labels {
        import.args([
            "--change",
            &format!("LABEL {k}={}", serde_json::to_string(v)?),
        ]);
    }
    let import = import
        .args(["-", image])
        .stdin(export.stdout.take().context("no stdout")?)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("cannot run docker import")?;
    let exported = export.wait_with_output()?;
    anyhow::ensure!(
        exported.status.success(),
        "`docker export` failed: {}",
        last_line(&exported.stderr)
    );
    anyhow::ensure!(
        import.status.success(),
        "`docker import` failed: {}",
        last_line(&import.stderr)
    );
    Ok(())
}

fn last_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_string()
}
