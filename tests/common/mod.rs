//! What several end-to-end tests share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The host-trainer release binary, built once per test binary (the root package cannot
/// name another package's binary with `CARGO_BIN_EXE_`).
pub fn host_trainer_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(root)
            .args(["build", "--quiet", "--release", "-p", "host-trainer"])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building host-trainer failed");
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("release")
            .join("host-trainer")
    })
}
