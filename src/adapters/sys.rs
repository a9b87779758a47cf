//! The only place lango starts processes (`nft`, `ip`, the dnsmasq init script). `Runner` takes
//! a program and an argument vector, never a shell string, so no guest- or owner-supplied text
//! can become a command. `SystemRunner` is the real one; the nft bench uses a runner that enters a network namespace.

use std::io::Write;
use std::process::{Command, Stdio};

/// What a finished process left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == 0
    }
}

pub trait Runner: Send + Sync {
    /// Runs `program` with `args`, feeding `stdin` (if any) and waiting for it to exit.
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> std::io::Result<Output>;
}

pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> std::io::Result<Output> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Write from a helper thread: a large script could fill the pipe while the child
            // is blocked writing its own output.
            let input = input.to_string();
            let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
            let output = child.wait_with_output()?;
            writer
                .join()
                .map_err(|_| std::io::Error::other("stdin writer panicked"))??;
            return Ok(convert(output));
        }
        Ok(convert(child.wait_with_output()?))
    }
}

fn convert(output: std::process::Output) -> Output {
    Output {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Writes a file atomically: a temporary file in the same directory, fsync, rename. A reader
/// (dnsmasq) sees the old or the new content, never half of it.
pub fn write_atomic(path: &std::path::Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(content)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
