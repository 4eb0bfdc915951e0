//! A device process (`ttrt sim-device`) for the length of a test: started on a name no other
//! test uses, killed when dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct SimDevice {
    pub name: String,
    child: Child,
}

impl SimDevice {
    /// Starts `ttrt sim-device` with `args` and waits until it serves.
    pub fn start(prefix: &str, args: &[&str]) -> SimDevice {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("test-{prefix}-{}-{nanos}", std::process::id());
        let mut child = Command::new(env!("CARGO_BIN_EXE_ttrt"))
            .arg("sim-device")
            .arg(&name)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ttrt sim-device starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        // A watchdog against a hang, not a timing assertion.
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        if !line.contains("serving") {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "ttrt sim-device did not start: {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        SimDevice { name, child }
    }

    /// `shm:<name>`.
    pub fn device(&self) -> String {
        format!("shm:{}", self.name)
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Ends the device process as a crash would (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        self.kill();
    }
}
