//! The data directory is private to the user the host runs as: it holds the
//! database (sessions, sealed credentials, pulled records), the encryption
//! key and compiled connector code the host later runs. The directory is
//! made 0700 whatever mode it had, which alone keeps other users out; its
//! files are made 0600 and its directories 0700 as well, so a copy or a
//! loosened parent does not expose them. sled and the compile cache create
//! files later with the process umask (the `switchyard` binary sets 077, so
//! those are private too).

use std::fs::{self, DirBuilder, Permissions};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and missing parents) with mode 0700, or makes an existing
/// one 0700.
pub fn create_private(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // Independent of the umask, and tightens a directory that existed.
    fs::set_permissions(dir, Permissions::from_mode(0o700))
}

/// Makes every directory under `dir` 0700 and every file 0600. Symbolic
/// links are left alone (and not followed).
pub fn tighten(dir: &Path) -> std::io::Result<()> {
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path)?;
        let mode = if meta.is_dir() {
            for entry in fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
            0o700
        } else if meta.is_file() {
            0o600
        } else {
            continue;
        };
        if meta.permissions().mode() & 0o777 != mode {
            fs::set_permissions(&path, Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_open_directory_and_its_files_are_closed() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir_all(data.join("db/blobs")).unwrap();
        fs::write(data.join("db/conf"), "x").unwrap();
        fs::write(data.join("db/blobs/1"), "x").unwrap();
        fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(data.join("db/conf"), Permissions::from_mode(0o644)).unwrap();
        let outside = root.path().join("outside");
        fs::write(&outside, "x").unwrap();
        fs::set_permissions(&outside, Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();

        create_private(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        tighten(&data).unwrap();
        assert_eq!(mode(&data.join("db")), 0o700);
        assert_eq!(mode(&data.join("db/blobs")), 0o700);
        assert_eq!(mode(&data.join("db/conf")), 0o600);
        assert_eq!(mode(&data.join("db/blobs/1")), 0o600);
        assert_eq!(mode(&outside), 0o644, "a link's target is not touched");
    }

    #[test]
    fn a_new_directory_is_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("a/b");
        create_private(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
    }
}
