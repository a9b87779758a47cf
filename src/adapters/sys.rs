//! The only place lango starts processes (`nft`, `ip`, the dnsmasq init script). `Runner` takes
//! a program and an argument vector, never a shell string, so no guest- or owner-supplied text
//! can become a command. `SystemRunner` is the real one; the nft bench has a runner that enters
//! a network namespace. Also the only way lango writes a file: `write_atomic` (and `write_secret`).

use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// What a finished process left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub(crate) fn success(&self) -> bool {
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

/// The mode a new file gets from `write_atomic`: readable by all, as `uci commit` leaves a file.
pub(crate) const NEW_FILE_MODE: u32 = 0o644;
/// The mode `write_secret` gives a new file: root only.
pub(crate) const SECRET_MODE: u32 = 0o600;

/// Writes a file atomically, the one way lango writes a file: a reader (dnsmasq, `uci`, the
/// next start) sees the old or the new content, never half of it, also across a power cut.
///
/// A temporary file is made in the same directory (so the rename cannot cross file systems)
/// with the final mode already set, filled, fsynced and renamed over `path`; then the directory
/// is fsynced, so the rename itself is on flash. The new file keeps the mode and, where the
/// process may set it (root), the owner and group of the file it replaces: a 0600
/// `/etc/config/lango` stays 0600 after the owner page saves it. A file that did not exist gets
/// `NEW_FILE_MODE`. A symbolic link stays a link; the file it points to is replaced. On an
/// error before the rename the temporary file is removed and `path` is untouched; an error
/// fsyncing the directory comes after the rename (the new content is in place, maybe not yet on
/// flash).
pub(crate) fn write_atomic(path: &Path, content: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, content, NEW_FILE_MODE)
}

/// `write_atomic` for a secret (a token, a key): a new file gets `SECRET_MODE`, and a file it
/// replaces keeps its mode within `SECRET_MODE` (group and other bits cleared), so it is never
/// readable by anyone but its owner, not even for a moment.
pub(crate) fn write_secret(path: &Path, content: &[u8]) -> io::Result<()> {
    write_file(path, content, SECRET_MODE, SECRET_MODE)
}

/// `write_atomic` with the mode a new file gets (a file it replaces keeps its own).
pub(crate) fn write_atomic_mode(path: &Path, content: &[u8], new_mode: u32) -> io::Result<()> {
    write_file(path, content, new_mode, 0o7777)
}

/// Writes through a temporary file; the mode is the old file's (or `new_mode`), within `mask`.
fn write_file(path: &Path, content: &[u8], new_mode: u32, mask: u32) -> io::Result<()> {
    // A symbolic link stays one: the file it points to is the one replaced.
    let target;
    let path = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            target = std::fs::canonicalize(path)?;
            target.as_path()
        }
        _ => path,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let old = match std::fs::metadata(path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mode = old.as_ref().map_or(new_mode, |m| m.mode()) & mask & 0o7777;
    // Unique per process and call, so two writers of one file never share a temporary file.
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        // Created with no permissions for others; the exact mode is set before any content.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o700)
            .open(&tmp)?;
        if let Some(old) = &old {
            match std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid())) {
                Ok(()) => {}
                // Not root: the file stays the writer's, as it would with any editor.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
                Err(e) => return Err(e),
            }
        }
        // After the chown, which clears set-id bits; `mode` also undoes the umask.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lango-sys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_content_and_keeps_the_mode() {
        let dir = scratch("keep");
        let path = dir.join("lango");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&path, b"new content").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new content");
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        write_atomic_mode(&path, b"again", 0o600).unwrap();
        assert_eq!(
            mode(&path),
            0o664,
            "the old file's mode wins over the new-file mode"
        );
        assert_eq!(entries(&dir), ["lango"], "no temporary file is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_file_gets_the_mode_the_caller_chose() {
        let dir = scratch("new");
        write_atomic(&dir.join("plain"), b"a").unwrap();
        assert_eq!(mode(&dir.join("plain")), NEW_FILE_MODE);
        write_atomic_mode(&dir.join("group"), b"b", 0o640).unwrap();
        assert_eq!(mode(&dir.join("group")), 0o640);
        write_secret(&dir.join("token"), b"c").unwrap();
        assert_eq!(mode(&dir.join("token")), SECRET_MODE);
        assert_eq!(std::fs::read_to_string(dir.join("token")).unwrap(), "c");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_never_keeps_bits_for_others() {
        let dir = scratch("secret");
        let path = dir.join("token");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_stays_and_its_target_is_replaced() {
        let dir = scratch("link");
        let target = dir.join("real");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
        write_atomic(&dir.join("link"), b"new").unwrap();
        let link = std::fs::symlink_metadata(dir.join("link")).unwrap();
        assert!(link.file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(mode(&target), 0o600);
        assert_eq!(entries(&dir), ["link", "real"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keeps_the_owner_when_root() {
        let dir = scratch("owner");
        let path = dir.join("lango");
        std::fs::write(&path, "old").unwrap();
        if std::os::unix::fs::chown(&path, Some(65534), Some(65534)).is_err() {
            // Not root: only root may give a file away, and only root's writes keep owners.
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        write_atomic(&path, b"new").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_error_leaves_the_old_file_and_no_temporary_file() {
        let dir = scratch("error");
        // A directory where the file should be: the rename fails after the temporary file
        // was written.
        let path = dir.join("taken");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), "x").unwrap();
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(entries(&dir), ["taken"]);
        assert!(write_atomic(&dir.join("missing").join("file"), b"new").is_err());
        assert_eq!(entries(&dir), ["taken"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
