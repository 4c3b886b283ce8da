//! `device-eval` run as firmware/README.md shows it, from `firmware/`: the default model
//! (`firmware/models/mcu-int8.nnm`, relative to the project) is found from there, so the run
//! gets as far as the serial port. Needs neither MNIST, QEMU nor a board.

use std::path::Path;
use std::process::Command;

mod common;

#[test]
fn from_firmware_the_readme_command_finds_the_default_model() {
    let root = common::root();
    let port = "/dev/ttyACM-device-eval-paths-test";
    assert!(!Path::new(port).exists());
    let output = Command::new(common::host_trainer_binary())
        .current_dir(root.join("firmware"))
        .args(["device-eval", "--port", port])
        .output()
        .expect("the binary starts");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    // The model loaded (a missing one would stop the run before the port), then the port
    // failed, in one line.
    assert!(
        stderr.contains(&format!("opening the serial port {port:?}")),
        "{stderr}"
    );
    assert!(!stderr.contains("mcu-int8.nnm"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
