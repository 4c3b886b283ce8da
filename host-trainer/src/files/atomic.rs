//! Writing a file so that a crash, `kill -9`, SIGINT or SIGTERM leaves either the old file or
//! the new one, never half of either, and never replaces what is not a regular file.
//!
//! - [`write()`]: temporary file `.<name>.tmp<PID>` in the same directory, fsync, rename over
//!   the target, fsync the directory. It refuses a target that exists and is not a regular
//!   file (a device, a FIFO, a directory: as root, `--out /dev/null` would otherwise replace
//!   `/dev/null`), and removes temporaries of its own naming left by dead processes.
//! - [`check_writable`]: the same refusals, and a probe file, before a long run starts, so a
//!   bad `--out` or `--metrics` fails in the first second rather than after an epoch.
//! - [`clean_up_on_signals`]: SIGINT and SIGTERM wait for a write in progress to finish
//!   (a few milliseconds), so no temporary outlives the process.
//! - [`lock`]: an advisory lock beside an output, held for a run, so two runs on one
//!   `--out` cannot silently replace each other's model.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, bail};

use nn_data::read::show;

/// Held from the creation of a temporary file to its rename (or removal): the signal
/// thread takes it before exiting, so a signal never strands a temporary.
static WRITING: Mutex<()> = Mutex::new(());

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory
/// (a rename is only atomic within one file system), fsynced, then renamed over `path`,
/// then the directory fsynced so the rename itself survives a power cut.
/// Creates the parent directory if needed.
///
/// # Errors
/// `path` ends in a separator, names an existing file that is not a regular file, or an
/// I/O step fails (the temporary is removed then).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    refuse_non_regular(path)?;
    fs::create_dir_all(dir)?;
    remove_stale_temporaries(dir, name);
    let tmp = dir.join(temporary_name(name, std::process::id()));
    let _writing = WRITING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // Not every platform lets a directory be opened and synced; the rename is done.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Checks, before any work, that [`write()`] will be able to write `path`: not ending in a
/// separator, not an existing non-regular file, its directory creatable and writable (a
/// probe temporary is created and removed). `flag` names the option in the error.
///
/// # Errors
/// One line naming `flag`, the path and the problem.
pub fn check_writable(path: &Path, flag: &str) -> anyhow::Result<()> {
    let context = || format!("{flag} {}", show(path));
    let (dir, name) = split(path).with_context(context)?;
    refuse_non_regular(path).with_context(context)?;
    fs::create_dir_all(dir)
        .with_context(|| format!("{flag} {}: creating its directory", show(path)))?;
    let probe = dir.join(temporary_name(name, std::process::id()));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .with_context(|| format!("{flag} {}: cannot write in {}", show(path), show(dir)))?;
    let _ = fs::remove_file(&probe);
    Ok(())
}

/// Refuses two options naming one file (e.g. `--metrics` equal to `--out`, or `import`'s
/// input equal to its `--out`): the write would replace the other. Every command that
/// writes checks each output against its other files through this one function.
///
/// # Errors
/// One line naming both flags.
pub fn check_distinct(a: (&str, &Path), b: (&str, &Path)) -> anyhow::Result<()> {
    if same_file(a.1, b.1) {
        bail!(
            "{} and {} both name {}; give them different files",
            a.0,
            b.0,
            show(a.1)
        );
    }
    Ok(())
}

/// Whether two paths name the same file: the same device and inode when both exist
/// (through symlinks, hard links, `./` and `..`), else equal once their directories are
/// resolved (the file to be written does not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (fs::metadata(a), fs::metadata(b)) {
            return (x.dev(), x.ino()) == (y.dev(), y.ino());
        }
    }
    let resolve = |p: &Path| -> Option<PathBuf> {
        let (dir, name) = split(p).ok()?;
        Some(fs::canonicalize(dir).ok()?.join(name))
    };
    match (resolve(a), resolve(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// An advisory lock for the run that writes `path` (its checkpoint included), on the lock
/// file `.<name>.lock` beside it. Held until the returned file is dropped; the lock file
/// itself stays, empty, so that a later run locks the same inode.
///
/// # Errors
/// Another process holds the lock (one line naming `flag` and the path), or the lock file
/// cannot be created.
pub fn lock(path: &Path, flag: &str) -> anyhow::Result<File> {
    let context = || format!("{flag} {}", show(path));
    let (dir, name) = split(path).with_context(context)?;
    let mut lock_name = OsString::from(".");
    lock_name.push(name);
    lock_name.push(".lock");
    let lock_path = dir.join(lock_name);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("{flag} {}: creating {}", show(path), show(&lock_path)))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "{flag} {}: another run is writing it (it holds {}); wait for it or choose another {flag}",
            show(path),
            show(&lock_path)
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{flag} {}: locking {}", show(path), show(&lock_path)))
        }
    }
}

/// From now on, SIGINT and SIGTERM end the process only between writes: a write in
/// progress finishes (or fails and removes its temporary) first. Then one line goes to
/// stderr and the process exits with 128 + the signal number, as a shell reports it.
///
/// Call it before starting threads (they inherit the blocked signals) and after starting
/// child processes that should still see the signals.
pub fn clean_up_on_signals() {
    #[cfg(unix)]
    unix_signals::install();
}

#[cfg(unix)]
mod unix_signals {
    use std::io::Write;

    pub fn install() {
        // Safety: `sigset_t` is plain data that `sigemptyset` initialises; the calls only
        // read and write the set and this thread's signal mask.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return;
            }
            set
        };
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut signal: libc::c_int = 0;
                // Safety: `set` is an initialised signal set and `signal` a valid out-pointer.
                while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
                let _writing = super::WRITING
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let name = if signal == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "error: interrupted by {name}; files already written (the last checkpoint) are kept"
                );
                std::process::exit(128 + signal);
            });
        if spawned.is_err() {
            // No thread to take them: let the signals act as before.
            // Safety: as above.
            unsafe {
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            }
        }
    }
}

/// `path`'s directory (`.` when it has none) and file name.
fn split(path: &Path) -> io::Result<(&Path, &std::ffi::OsStr)> {
    let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_owned());
    // `Path::file_name` reads "dir/" as "dir": a trailing separator means a directory.
    if path.as_os_str().as_encoded_bytes().ends_with(b"/")
        || path
            .as_os_str()
            .as_encoded_bytes()
            .ends_with(std::path::MAIN_SEPARATOR_STR.as_bytes())
    {
        return Err(invalid(
            "ends in a path separator, so it names a directory, not a file",
        ));
    }
    let name = path
        .file_name()
        .ok_or_else(|| invalid("has no file name"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// An existing `path` must be a regular file (following symlinks): a rename would replace a
/// device node, a FIFO or a socket with a regular file.
fn refuse_non_regular(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "exists and is {}; refusing to replace it with a regular file",
                kind_name(&meta.file_type())
            ),
        )),
        _ => Ok(()),
    }
}

fn kind_name(kind: &fs::FileType) -> &'static str {
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// `.<name>.tmp<pid>`.
fn temporary_name(name: &std::ffi::OsStr, pid: u32) -> OsString {
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp{pid}"));
    tmp
}

/// Removes `.<name>.tmp<PID>` files in `dir` whose process is gone (left by `kill -9` or a
/// power cut). Best effort: a failure leaves them for the next run.
fn remove_stale_temporaries(dir: &Path, name: &std::ffi::OsStr) {
    let prefix = temporary_name(name, 0);
    let prefix = prefix.as_encoded_bytes();
    let prefix = &prefix[..prefix.len() - 1];
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .as_encoded_bytes()
            .strip_prefix(prefix)
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|rest| rest.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists (on other platforms than Unix: assumed so, nothing removed).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // Safety: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("m.bin");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(names(path.parent().unwrap()), ["m.bin"]);
    }

    #[test]
    fn refuses_to_replace_a_directory_or_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let err = write(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        #[cfg(unix)]
        {
            let err = check_writable(Path::new("/dev/null"), "--out").unwrap_err();
            assert_eq!(
                format!("{err:#}"),
                "--out /dev/null: exists and is a device; refusing to replace it with a regular file"
            );
        }
    }

    #[test]
    fn a_trailing_slash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = format!("{}/out/", dir.path().display());
        let err = check_writable(Path::new(&path), "--out").unwrap_err();
        assert!(
            format!("{err:#}").contains("ends in a path separator"),
            "{err:#}"
        );
        assert!(!dir.path().join("out").exists());
    }

    #[test]
    fn stale_temporaries_of_dead_processes_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::new("m.nnm");
        // PID 2^22 + 1 is above Linux's pid_max limit: never a live process.
        let dead = dir.path().join(temporary_name(name, (1 << 22) + 1));
        let live = dir.path().join(temporary_name(name, 1));
        let other = dir.path().join(".other.nnm.tmp5");
        for p in [&dead, &live, &other] {
            fs::write(p, b"x").unwrap();
        }
        write(&dir.path().join("m.nnm"), b"model").unwrap();
        assert!(!dead.exists());
        assert!(live.exists(), "PID 1 is alive");
        assert!(
            other.exists(),
            "another file's temporaries are not ours to judge"
        );
    }

    #[test]
    fn the_second_lock_on_one_output_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.nnm");
        let held = lock(&path, "--out").unwrap();
        let err = lock(&path, "--out").unwrap_err();
        assert!(
            format!("{err:#}").contains("another run is writing it"),
            "{err:#}"
        );
        drop(held);
        lock(&path, "--out").unwrap();
    }

    #[test]
    fn one_file_under_two_names_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("m.json");
        let b = dir.path().join(".").join("m.json");
        assert!(check_distinct(("--out", &a), ("--metrics", &b)).is_err());
        let c = dir.path().join("n.json");
        assert!(check_distinct(("--out", &a), ("--metrics", &c)).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn one_existing_file_through_a_symlink_or_a_hard_link_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("m.nnm");
        fs::write(&real, b"model").unwrap();
        let link = dir.path().join("link.nnm");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let hard = dir.path().join("hard.nnm");
        fs::hard_link(&real, &hard).unwrap();
        let nested = dir.path().join("sub");
        fs::create_dir(&nested).unwrap();
        let dotted = nested.join("..").join("m.nnm");
        for other in [&link, &hard, &dotted] {
            let e = check_distinct(("MODEL", &real), ("--out", other)).unwrap_err();
            assert!(
                e.to_string().starts_with("MODEL and --out both name"),
                "{e}"
            );
        }
        let other = dir.path().join("other.nnm");
        fs::write(&other, b"model").unwrap();
        assert!(check_distinct(("MODEL", &real), ("--out", &other)).is_ok());
    }
}
