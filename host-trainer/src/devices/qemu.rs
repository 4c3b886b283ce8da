//! The firmware in QEMU, its UART on a local TCP socket.
//!
//! The emulated board's flags have one home, `firmware/scripts/qemu-board.args` (one
//! argument a line): `scripts/qemu-run.sh` (Cargo's runner, for `cargo run` in firmware/)
//! reads it at run time, and this module compiles it in, so the two can never describe
//! different boards. What differs is only how each is used: the runner adds
//! `-icount shift=0` (instruction counts for the self-test), `-nographic` and a server
//! socket; `device-eval` adds `-display none` and connects QEMU to its own listener.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use super::link::{READ_POLL, REPLY_TIMEOUT};

/// The board's QEMU flags, shared with `firmware/scripts/qemu-run.sh`.
const BOARD_ARGS: &str = include_str!("../../../firmware/scripts/qemu-board.args");

/// The QEMU command line that runs `elf` in serve mode with its UART connected, as a
/// client, to `127.0.0.1:port`.
pub fn command(elf: &Path, port: u16) -> Command {
    serve_command(elf, &format!("tcp:127.0.0.1:{port}"))
}

/// The QEMU command line that runs `elf` in serve mode with its UART on `serial`, in
/// QEMU's `-serial` syntax (`tcp:HOST:PORT`, or `pty`: a pseudo-terminal that stands in
/// for a board's USB serial port, named on QEMU's stderr).
pub fn serve_command(elf: &Path, serial: &str) -> Command {
    let mut cmd = Command::new("qemu-system-arm");
    cmd.args(BOARD_ARGS.lines().filter(|l| !l.trim().is_empty()))
        .args(["-display", "none"])
        .args(["-serial", serial])
        .args([
            "-semihosting-config",
            "enable=on,target=native,arg=mnist-firmware,arg=serve",
        ])
        .arg("-kernel")
        .arg(elf);
    cmd
}

/// The firmware running in QEMU; QEMU is killed when this is dropped.
pub struct Qemu {
    child: Child,
}

impl Qemu {
    /// Starts `elf` on mps2-an386 in serve mode, its UART connected to a socket on
    /// 127.0.0.1 that only this process listens on, and returns the connected stream
    /// (reads time out after [`READ_POLL`], for [`Link`](super::link::Link)'s deadline).
    ///
    /// # Errors
    /// The ELF is missing, QEMU cannot start or exits early, or it does not connect in time.
    pub fn start(elf: &Path) -> anyhow::Result<(Self, TcpStream)> {
        ensure!(
            elf.is_file(),
            "no firmware at {} (build it: cd firmware && cargo build --release)",
            nn_data::read::show(elf)
        );
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .context("opening a local socket for QEMU")?;
        let port = listener.local_addr()?.port();
        let child = command(elf, port)
            // The defmt log (binary, over semihosting); firmware/README.md shows how to read it.
            .stdout(Stdio::null())
            // QEMU's own complaints would break the one-line error; how it ended is reported.
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .context("starting qemu-system-arm (install it: apt-get install qemu-system-arm)")?;
        let mut qemu = Self { child };
        listener.set_nonblocking(true)?;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Some(status) = qemu.child.try_wait()? {
                        bail!("QEMU exited before connecting its UART ({status})");
                    }
                    ensure!(
                        Instant::now() < deadline,
                        "QEMU did not connect its UART within {REPLY_TIMEOUT:?}"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e).context("waiting for QEMU to connect"),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(READ_POLL))?;
        stream.set_write_timeout(Some(REPLY_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok((qemu, stream))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        // QEMU serves forever; ending it is the only way to stop, and an error here means
        // it has already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_holds_the_shared_board_flags() {
        let cmd = super::command(std::path::Path::new("fw.elf"), 4444);
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        let joined = args.join(" ");
        assert!(
            joined.starts_with("-machine mps2-an386 -cpu cortex-m4 -monitor none"),
            "{joined}"
        );
        assert!(joined.contains("-serial tcp:127.0.0.1:4444"), "{joined}");
        assert!(joined.ends_with("-kernel fw.elf"), "{joined}");
    }
}
