//! `cachecheck images build|list|remove`: the local Docker images of `--infra docker`, made
//! here without a registry (see [`crate::infra::images`]). `run --infra docker` builds the
//! missing ones itself; these commands do it ahead, show what is there, and clean up.

use crate::exit::EXIT_OK;
use crate::infra::compose::{check_engine, docker, DOCKER_TIMEOUT};
use crate::infra::images::build::{self, present, When};
use crate::infra::images::catalog::{self, Local};
use crate::infra::images::ui::Ui;
use crate::infra::InfraError;
use crate::runtime::runtime;
use anyhow::Result;
use std::time::Instant;

#[derive(Debug, clap::Subcommand)]
pub enum ImagesCommand {
    /// Build the local images (those built from the same recipe are kept).
    ///
    /// Default: base, mariadb, redis and one fault proxy: toxiproxy, around the
    /// toxiproxy-server binary found in $CACHECHECK_TOXIPROXY, on PATH or in
    /// ../shared/toxiproxy/bin, else proxy, the built-in cachecheck proxy-server.
    Build(BuildArgs),
    /// List the local images: what each holds, its size, when it was built.
    List(TagArgs),
    /// Remove local images (default: all of the tag).
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// The images' tag (default: $CACHECHECK_IMAGE_TAG, else `local`).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Which images: base, mariadb, redis, toxiproxy, proxy (default: see above).
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub names: Vec<Local>,
    /// Rebuild images that exist.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub tag: TagArgs,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// Which images (default: all of them).
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub names: Vec<Local>,
    #[command(flatten)]
    pub tag: TagArgs,
}

fn parse_name(s: &str) -> Result<Local, String> {
    Local::parse(s).ok_or_else(|| {
        let names: Vec<&str> = catalog::ALL.iter().map(|l| l.name()).collect();
        format!("not an image name (one of {})", names.join(", "))
    })
}

impl TagArgs {
    fn tag(&self) -> Result<String> {
        let tag = self.tag.clone().unwrap_or_else(catalog::tag);
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            && !tag.starts_with(['.', '-']);
        anyhow::ensure!(
            ok,
            InfraError::Unreachable(format!(
                "image tag `{tag}`: not a Docker tag (fix: letters, digits, `_`, `.` and `-`, at most 128)"
            ))
        );
        Ok(tag)
    }
}

pub fn run(cmd: ImagesCommand) -> Result<u8> {
    let rt = runtime()?;
    rt.block_on(async {
        check_engine().await?;
        match cmd {
            ImagesCommand::Build(a) => build_images(a).await,
            ImagesCommand::List(a) => list(&a.tag()?).await,
            ImagesCommand::Remove(a) => remove(&a).await,
        }
    })
}

async fn build_images(a: BuildArgs) -> Result<u8> {
    let tag = a.tag.tag()?;
    let toxiproxy = catalog::find_toxiproxy()?;
    let wanted = if a.names.is_empty() {
        let proxy = if toxiproxy.is_some() {
            Local::Toxiproxy
        } else {
            Local::Proxy
        };
        vec![Local::Base, Local::Mariadb, Local::Redis, proxy]
    } else {
        a.names.clone()
    };
    let ui = Ui::new();
    if wanted.contains(&Local::Toxiproxy) {
        if let Some(t) = &toxiproxy {
            ui.say(&format!(
                "images: the fault proxy is Toxiproxy {} ({})",
                t.version,
                t.path.display()
            ));
        }
    } else if a.names.is_empty() {
        ui.say(&format!(
            "images: no toxiproxy-server found ({}, PATH, ../shared/toxiproxy/bin): the fault proxy is the built-in cachecheck proxy-server",
            catalog::TOXIPROXY_ENV
        ));
    }
    let when = if a.force { When::Always } else { When::Stale };
    let t0 = Instant::now();
    let built = build::build(&wanted, &tag, when, toxiproxy.as_ref(), &ui)
        .await
        .map_err(|e| InfraError::Unreachable(format!("{e:#}")))?;
    if built.is_empty() {
        let names: Vec<String> = wanted.iter().map(|l| l.image(&tag)).collect();
        println!(
            "images: {} exist, built from the same recipe (--force rebuilds them)",
            names.join(", ")
        );
    } else {
        let names: Vec<String> = built
            .iter()
            .map(|b| format!("{} ({:.0} s)", b.image, b.secs))
            .collect();
        println!(
            "images: built {} in {}",
            names.join(", "),
            build::duration(t0.elapsed())
        );
    }
    Ok(EXIT_OK)
}

async fn list(tag: &str) -> Result<u8> {
    let mut rows = vec![[
        "IMAGE".to_string(),
        "SIZE".into(),
        "BUILT".into(),
        "WHAT".into(),
    ]];
    for l in catalog::ALL {
        let image = l.image(tag);
        rows.push(match present(&image).await {
            Some(p) => [
                image,
                format!("{:.0} MB", p.size as f64 / 1e6),
                p.created
                    .chars()
                    .take(16)
                    .collect::<String>()
                    .replace('T', " "),
                if p.about.is_empty() {
                    l.about().to_string()
                } else {
                    p.about
                },
            ],
            None => [image, "-".into(), "not built".into(), l.about().to_string()],
        });
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for r in &rows {
        println!(
            "{:<w0$}  {:>w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    Ok(EXIT_OK)
}

async fn remove(a: &RemoveArgs) -> Result<u8> {
    let tag = a.tag.tag()?;
    // Children before the base they are built on.
    let mut names: Vec<Local> = if a.names.is_empty() {
        catalog::ALL.to_vec()
    } else {
        a.names.clone()
    };
    names.sort_by_key(|l| std::cmp::Reverse(*l));
    names.dedup();
    for l in names {
        let image = l.image(&tag);
        if present(&image).await.is_none() {
            println!("images: {image}: not built");
            continue;
        }
        docker(&["image", "rm", &image], DOCKER_TIMEOUT)
            .await
            .map_err(|e| {
                InfraError::Unreachable(format!(
                    "cannot remove {image}: {e:#} (fix: stop what uses it, see `docker ps -a --filter ancestor={image}`)"
                ))
            })?;
        println!("images: removed {image}");
    }
    Ok(EXIT_OK)
}
