//! The Pico firmware in rp2040js, the RP2040 emulator: `firmware/scripts/rp2040js/run.mjs`
//! (Node) runs the ELF in serve mode with the emulated UART0 on its stdin and stdout.
//!
//! The script's stdout is read by a thread into a channel, so that [`Pipe`]'s reads time
//! out after [`READ_POLL`] as [`Link`](super::link::Link) expects of a serial port. Its stderr (the
//! decoded defmt log, rp2040js's warnings) is kept, the last [`LOG_TAIL`] bytes of it, for
//! the error message when the emulator stops, and watched for the line that says the
//! firmware serves: the boot self-test (100 inferences, 65 M emulated cycles) takes
//! seconds of host time, more on a loaded machine, so [`Rp2040js::start`] waits for it
//! (up to [`BOOT_TIMEOUT`]) before the first request's deadline starts.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, ensure};

use super::link::READ_POLL;

/// Where `cargo build-pico` (in firmware/) puts the ELF, relative to the repository root.
pub const DEFAULT_ELF: &str = "firmware/target/pico/thumbv6m-none-eabi/release/mnist-firmware";

/// Bytes of the emulator's log kept for an error message.
pub const LOG_TAIL: usize = 2048;
/// How long the boot self-test may take before the firmware serves (~2 s of CPU on a
/// quiet machine here).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// What the firmware logs when it starts serving (`app::serve`).
const SERVING: &[u8] = b"serving requests";

/// The Node script, found from this crate's sources so that any working directory works.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../firmware/scripts/rp2040js/run.mjs")
}

/// The command that runs `elf` in rp2040js, serving UART0 on stdin/stdout.
pub fn command(elf: &Path) -> Command {
    let mut cmd = Command::new("node");
    cmd.arg(script()).arg(elf).arg("serve");
    cmd
}

/// The firmware running in rp2040js; the emulator is killed when this is dropped.
pub struct Rp2040js {
    child: Child,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Rp2040js {
    /// Starts `elf` in rp2040js in serve mode, waits until the firmware serves, and returns
    /// the pipe to its UART0.
    ///
    /// # Errors
    /// The ELF or the script is missing, Node cannot start, or the firmware does not serve
    /// within [`BOOT_TIMEOUT`].
    pub fn start(elf: &Path) -> anyhow::Result<(Self, Pipe)> {
        ensure!(
            elf.is_file(),
            "no firmware at {} (build it: cd firmware && cargo build-pico)",
            nn_data::read::show(elf)
        );
        let script = script();
        ensure!(
            script.is_file(),
            "the rp2040js runner {} is missing",
            nn_data::read::show(&script)
        );
        let mut child = command(elf)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting node (install it: apt-get install nodejs npm; then npm ci in firmware/scripts/rp2040js)")?;
        let (Some(stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            anyhow::bail!("node started without the pipes asked for");
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends when the script closes its stdout (or the receiver is gone).
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        let (serving_tx, serving) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                let Ok(mut log) = sink.lock() else { break };
                log.extend_from_slice(&buf[..n]);
                if log.windows(SERVING.len()).any(|w| w == SERVING) {
                    // Only the first send is awaited; later ones find no receiver.
                    let _ = serving_tx.send(());
                }
                let excess = log.len().saturating_sub(LOG_TAIL);
                log.drain(..excess);
            }
        });
        let mut emulator = Self { child, log };
        match serving.recv_timeout(BOOT_TIMEOUT) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => anyhow::bail!(
                "the firmware did not start serving within {BOOT_TIMEOUT:?}\n{}",
                emulator.describe()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                // Its stderr closed: the script is ending; let it, for its status.
                let _ = emulator.child.wait();
                anyhow::bail!(
                    "rp2040js ended before the firmware served\n{}",
                    emulator.describe()
                )
            }
        }
        let pipe = Pipe {
            stdin,
            rx,
            pending: Vec::new(),
            consumed: 0,
        };
        Ok((emulator, pipe))
    }

    /// How the emulator ended, if it has, and the end of its log: for an error message.
    pub fn describe(&mut self) -> String {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("rp2040js exited ({status})"),
            _ => "rp2040js still running".into(),
        };
        let log = self
            .log
            .lock()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        if log.trim().is_empty() {
            status
        } else {
            format!("{status}; its log ends:\n{}", log.trim_end())
        }
    }
}

impl Drop for Rp2040js {
    fn drop(&mut self) {
        // The firmware serves forever; an error here means the emulator has already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// UART0 of the emulated Pico: writes go to the script's stdin, reads come from its
/// stdout and time out after [`READ_POLL`] with [`io::ErrorKind::TimedOut`].
pub struct Pipe {
    stdin: ChildStdin,
    rx: Receiver<Vec<u8>>,
    pending: Vec<u8>,
    consumed: usize,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.consumed == self.pending.len() {
            match self.rx.recv_timeout(READ_POLL) {
                Ok(chunk) => {
                    self.pending = chunk;
                    self.consumed = 0;
                }
                Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::TimedOut.into()),
                // The script closed its stdout: end of stream.
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len() - self.consumed);
        buf[..n].copy_from_slice(&self.pending[self.consumed..self.consumed + n]);
        self.consumed += n;
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stdin.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stdin.flush()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_runs_the_repository_script_in_serve_mode() {
        let cmd = super::command(std::path::Path::new("fw.elf"));
        assert_eq!(cmd.get_program(), "node");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy()).collect();
        assert!(
            args[0].ends_with("firmware/scripts/rp2040js/run.mjs"),
            "{args:?}"
        );
        assert_eq!(args[1..], ["fw.elf", "serve"]);
        assert!(super::script().is_file());
    }
}
