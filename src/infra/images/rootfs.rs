//! The first stage of the base image: one tar stream (for `docker import`) holding the files of
//! every package, unpacked from the `.deb`s here, with /usr merged (`bin`, `sbin`, `lib`,
//! `lib64` are links into /usr, as Debian 12 installs it), the packages themselves in
//! `/var/cache/cachecheck/` (numbered in install order) and the second stage's script
//! (`docker/base/install.sh`), which runs dpkg on them in a container.
//!
//! Documentation, man pages, locales and info pages are left out here and by dpkg later
//! (`/etc/dpkg/dpkg.cfg.d/01cachecheck-nodoc`), except each package's copyright file.

use anyhow::{Context, Result};
use std::collections::HashSet;
use std::io::{Read, Write};

/// The top-level directories that are links into /usr.
const MERGED: [&str; 4] = ["bin", "sbin", "lib", "lib64"];

const NODOC: &str = "\
path-exclude=/usr/share/man/*
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/locale/*
path-exclude=/usr/share/info/*
";

const APT_CONF: &str = "APT::Install-Recommends \"false\";\nAcquire::Languages \"none\";\n";

/// Keeps services from starting while packages are installed in a container.
const POLICY_RC_D: &str =
    "#!/bin/sh\n# cachecheck images: no service starts at install time.\nexit 101\n";

/// A path of a package's data archive (`./usr/bin/x`, `./bin/x`) as it lies in a merged-/usr
/// tree (`usr/bin/x`); "" for the root.
pub fn merged_path(path: &str) -> String {
    let p = path.trim_start_matches("./").trim_start_matches('/');
    let first = p.split('/').next().unwrap_or("");
    if MERGED.contains(&first) {
        format!("usr/{p}")
    } else {
        p.to_string()
    }
}

/// Whether dpkg would leave `path` out (see [`NODOC`]).
pub fn excluded(path: &str) -> bool {
    let doc = path.starts_with("usr/share/doc/") && !path.ends_with("/copyright");
    doc || ["usr/share/man/", "usr/share/locale/", "usr/share/info/"]
        .iter()
        .any(|d| path.starts_with(d))
}

/// Writes a tar stream without repeating a path (`docker import` refuses duplicates).
struct Tree<W: Write> {
    tar: tar::Builder<W>,
    seen: HashSet<String>,
}

impl<W: Write> Tree<W> {
    fn dir(&mut self, path: &str, mode: u32) -> Result<()> {
        if !self.seen.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_size(0);
        self.tar
            .append_data(&mut h, format!("{path}/"), std::io::empty())?;
        Ok(())
    }

    fn file(&mut self, path: &str, data: &[u8], mode: u32) -> Result<()> {
        if !self.seen.insert(path.to_string()) {
            return Ok(());
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        self.tar.append_data(&mut h, path, data)?;
        Ok(())
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.seen.insert(path.to_string());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        self.tar.append_link(&mut h, path, target)?;
        Ok(())
    }

    /// Copies one package's files, /usr merged and docs left out.
    fn unpack(&mut self, deb: &[u8]) -> Result<()> {
        let mut ar = ar::Archive::new(deb);
        while let Some(entry) = ar.next_entry() {
            let mut entry = entry?;
            let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
            let Some(kind) = name.strip_prefix("data.tar") else {
                continue;
            };
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            let reader: Box<dyn Read> = match kind {
                ".xz" => Box::new(liblzma::read::XzDecoder::new(&data[..])),
                ".gz" => Box::new(flate2::read::GzDecoder::new(&data[..])),
                "" => Box::new(&data[..]),
                other => anyhow::bail!("unsupported package compression data.tar{other}"),
            };
            return self.copy(tar::Archive::new(reader));
        }
        anyhow::bail!("no data.tar member in the package")
    }

    fn copy<R: Read>(&mut self, mut archive: tar::Archive<R>) -> Result<()> {
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = merged_path(&entry.path()?.to_string_lossy());
            let path = path.trim_end_matches('/').to_string();
            if path.is_empty() || MERGED.contains(&path.as_str()) || excluded(&path) {
                continue;
            }
            if !self.seen.insert(path.clone()) {
                continue;
            }
            let mut h = entry.header().clone();
            match h.entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry.link_name()?.context("a link without a target")?;
                    let target = target.to_string_lossy().into_owned();
                    // A hard link names a path of the archive; a symlink's target stays as is
                    // (absolute ones resolve through the /usr links).
                    let target = if h.entry_type() == tar::EntryType::Link {
                        merged_path(&target)
                    } else {
                        target
                    };
                    self.tar.append_link(&mut h, &path, target)?;
                }
                tar::EntryType::Directory => {
                    self.tar
                        .append_data(&mut h, format!("{path}/"), std::io::empty())?;
                }
                _ => {
                    self.tar.append_data(&mut h, &path, &mut entry)?;
                }
            }
        }
        Ok(())
    }
}

/// Writes the first stage: the merged-/usr skeleton, apt and dpkg settings, `sources_list`,
/// every package's files and the packages themselves (`debs`: name and bytes, in install
/// order), and the second stage's script.
pub fn write<W: Write>(
    out: W,
    arch: &str,
    sources_list: &str,
    debs: &[(String, Vec<u8>)],
) -> Result<W> {
    let mut t = Tree {
        tar: tar::Builder::new(out),
        seen: HashSet::new(),
    };
    t.dir("usr", 0o755)?;
    for d in MERGED {
        t.dir(&format!("usr/{d}"), 0o755)?;
        t.symlink(d, &format!("usr/{d}"))?;
    }
    for d in [
        "etc",
        "etc/apt",
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "etc/dpkg",
        "etc/dpkg/dpkg.cfg.d",
        "var",
        "var/cache",
        "var/cache/apt",
        "var/cache/cachecheck",
        "var/lib",
        "var/lib/apt",
        "var/lib/apt/lists",
        "var/lib/apt/lists/partial",
        "var/lib/dpkg",
        "var/lib/dpkg/alternatives",
        "var/lib/dpkg/info",
        "var/lib/dpkg/triggers",
        "var/lib/dpkg/updates",
        "var/log",
        "var/log/apt",
    ] {
        t.dir(d, 0o755)?;
    }
    t.dir("tmp", 0o1777)?;
    t.file("var/lib/dpkg/status", b"", 0o644)?;
    t.file("var/lib/dpkg/arch", format!("{arch}\n").as_bytes(), 0o644)?;
    t.file(
        "etc/dpkg/dpkg.cfg.d/01cachecheck-nodoc",
        NODOC.as_bytes(),
        0o644,
    )?;
    t.file(
        "etc/apt/apt.conf.d/01cachecheck",
        APT_CONF.as_bytes(),
        0o644,
    )?;
    t.file("etc/apt/sources.list", sources_list.as_bytes(), 0o644)?;
    t.file("usr/sbin/policy-rc.d", POLICY_RC_D.as_bytes(), 0o755)?;
    t.file(
        "var/cache/cachecheck/install.sh",
        super::catalog::BASE_INSTALL,
        0o755,
    )?;
    for (name, deb) in debs {
        t.unpack(deb)
            .with_context(|| format!("cannot unpack the package {name}"))?;
    }
    for (i, (name, deb)) in debs.iter().enumerate() {
        t.file(
            &format!("var/cache/cachecheck/{i:03}-{name}.deb"),
            deb,
            0o644,
        )?;
    }
    Ok(t.tar.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_land_in_a_merged_usr_tree() {
        assert_eq!(merged_path("./bin/bash"), "usr/bin/bash");
        assert_eq!(
            merged_path("./lib64/ld-linux-x86-64.so.2"),
            "usr/lib64/ld-linux-x86-64.so.2"
        );
        assert_eq!(merged_path("./usr/bin/env"), "usr/bin/env");
        assert_eq!(merged_path("./binutils/x"), "binutils/x");
        assert_eq!(merged_path("./etc/passwd"), "etc/passwd");
        assert_eq!(merged_path("./"), "");
    }

    #[test]
    fn docs_are_left_out_but_copyrights() {
        assert!(excluded("usr/share/doc/bash/README"));
        assert!(!excluded("usr/share/doc/bash/copyright"));
        assert!(excluded("usr/share/man/man1/bash.1.gz"));
        assert!(excluded("usr/share/locale/de/LC_MESSAGES/dpkg.mo"));
        assert!(!excluded("usr/share/dpkg/cputable"));
    }

    /// A .deb (ar: debian-binary, control.tar.xz, data.tar.xz) with the given entries.
    fn deb(entries: &[(&str, tar::EntryType, &str)]) -> Vec<u8> {
        let mut data = tar::Builder::new(Vec::new());
        for (path, kind, content) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_mode(0o755);
            h.set_uid(0);
            match kind {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    h.set_size(0);
                    data.append_link(&mut h, path, content).unwrap();
                }
                _ => {
                    h.set_size(content.len() as u64);
                    data.append_data(&mut h, path, content.as_bytes()).unwrap();
                }
            }
        }
        let data = data.into_inner().unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&data).unwrap();
        let data = xz.finish().unwrap();
        let mut ar = ar::Builder::new(Vec::new());
        for (name, body) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar.xz", &b""[..]),
            ("data.tar.xz", &data[..]),
        ] {
            let h = ar::Header::new(name.as_bytes().to_vec(), body.len() as u64);
            ar.append(&h, body).unwrap();
        }
        ar.into_inner().unwrap()
    }

    #[test]
    fn writes_one_tree_without_duplicates() {
        use tar::EntryType::{Directory, Link, Regular, Symlink};
        let a = deb(&[
            ("./", Directory, ""),
            ("./bin/", Directory, ""),
            ("./bin/dash", Regular, "dash"),
            ("./bin/sh", Symlink, "dash"),
            ("./usr/share/doc/dash/changelog.gz", Regular, "log"),
            ("./usr/share/doc/dash/copyright", Regular, "c"),
        ]);
        let b = deb(&[
            ("./", Directory, ""),
            ("./usr/", Directory, ""),
            ("./usr/bin/", Directory, ""),
            ("./usr/bin/gzip", Regular, "gz"),
            ("./bin/gunzip", Link, "./usr/bin/gzip"),
        ]);
        let debs = vec![("dash".to_string(), a), ("gzip".to_string(), b)];
        let tar = write(Vec::new(), "amd64", "deb x y main\n", &debs).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let mut paths = Vec::new();
        let mut links = std::collections::HashMap::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let p = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            if let Some(l) = e.link_name().unwrap() {
                links.insert(p.clone(), l.to_string_lossy().into_owned());
            }
            paths.push(p);
        }
        let unique: HashSet<&String> = paths.iter().collect();
        assert_eq!(unique.len(), paths.len(), "duplicates in {paths:?}");
        for p in [
            "usr/bin/dash",
            "usr/bin/gzip",
            "usr/share/doc/dash/copyright",
            "etc/apt/sources.list",
            "var/lib/dpkg/status",
            "var/cache/cachecheck/install.sh",
            "var/cache/cachecheck/000-dash.deb",
            "var/cache/cachecheck/001-gzip.deb",
        ] {
            assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.ends_with("changelog.gz")));
        assert_eq!(links["bin"], "usr/bin");
        assert_eq!(links["usr/bin/sh"], "dash");
        assert_eq!(links["usr/bin/gunzip"], "usr/bin/gzip");
    }
}
