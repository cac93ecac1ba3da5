//! Programs the tests need from the system, installed from Debian packages:
//! `cargo xtask test` must pass on a machine that has only a Rust toolchain.
//!
//! [`ensure`] takes `(binary, package)` pairs. Missing binaries are installed
//! with `apt-get` when we are root and it is there; otherwise it stops, before
//! anything is built, with the one command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::run;

/// Makes sure every `binary` is installed; `package` is the Debian package
/// that provides it. `purpose` says who needs them, for the messages.
pub fn ensure(purpose: &str, needed: &[(&str, &str)]) -> Result<()> {
    let missing = missing_packages(needed, |binary| find(binary).is_some());
    match decide(purpose, &missing, is_root(), find("apt-get").is_some()) {
        Action::Nothing => Ok(()),
        Action::Stop(message) => bail!(message),
        Action::Install(packages) => {
            println!("{purpose} need {}: installing them", packages.join(" "));
            let apt_get = |args: &[&str]| {
                let mut cmd = Command::new("apt-get");
                cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
                run(&mut cmd)
            };
            apt_get(&["update", "-q"])?;
            apt_get(
                &[
                    &["install", "-y", "-q", "--no-install-recommends"],
                    &packages[..],
                ]
                .concat(),
            )?;
            let still = missing_packages(needed, |binary| find(binary).is_some());
            if !still.is_empty() {
                bail!(
                    "installed {} but {} still cannot be found",
                    packages.join(" "),
                    binaries_of(needed, &still).join(", ")
                );
            }
            Ok(())
        }
    }
}

#[derive(Debug, PartialEq)]
enum Action<'a> {
    Nothing,
    Install(Vec<&'a str>),
    Stop(String),
}

/// The packages to install for the binaries that are not there, each once
/// (several binaries may come from one package), in the order given.
fn missing_packages<'a>(
    needed: &[(&str, &'a str)],
    present: impl Fn(&str) -> bool,
) -> Vec<&'a str> {
    let mut packages = Vec::new();
    for &(binary, package) in needed {
        if !present(binary) && !packages.contains(&package) {
            packages.push(package);
        }
    }
    packages
}

fn decide<'a>(purpose: &str, missing: &[&'a str], root: bool, apt_get: bool) -> Action<'a> {
    if missing.is_empty() {
        return Action::Nothing;
    }
    if root && apt_get {
        return Action::Install(missing.to_vec());
    }
    let packages = missing.join(" ");
    let command = format!("sudo apt-get install {packages}");
    Action::Stop(if apt_get {
        format!(
            "{purpose} need {packages}, not installed here. Install with\n\n    {command}\n\nand run this again."
        )
    } else {
        format!(
            "{purpose} need {packages}, not installed here, and there is no apt-get to install them. On Debian or Ubuntu:\n\n    {command}\n\nelsewhere, install the equivalent packages, then run this again."
        )
    })
}

fn binaries_of<'a>(needed: &[(&'a str, &str)], packages: &[&str]) -> Vec<&'a str> {
    needed
        .iter()
        .filter(|(_, package)| packages.contains(package))
        .map(|&(binary, _)| binary)
        .collect()
}

/// `binary` on the PATH.
fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(binary))
        .find(|file| is_executable(file))
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROWSER: &[(&str, &str)] = &[
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
    ];

    #[test]
    fn nothing_missing_nothing_to_do() {
        let missing = missing_packages(BROWSER, |_| true);
        assert!(missing.is_empty());
        assert_eq!(
            decide("the browser tests", &missing, false, false),
            Action::Nothing
        );
    }

    #[test]
    fn only_the_missing_binaries_packages() {
        assert_eq!(
            missing_packages(BROWSER, |b| b == "chromium"),
            ["chromium-driver"]
        );
        assert_eq!(
            missing_packages(BROWSER, |_| false),
            ["chromium", "chromium-driver"]
        );
    }

    #[test]
    fn a_package_with_several_binaries_is_named_once() {
        let postgres = [("initdb", "postgresql"), ("pg_ctl", "postgresql")];
        assert_eq!(missing_packages(&postgres, |_| false), ["postgresql"]);
    }

    #[test]
    fn root_with_apt_get_installs() {
        assert_eq!(
            decide(
                "the browser tests",
                &["chromium", "chromium-driver"],
                true,
                true
            ),
            Action::Install(vec!["chromium", "chromium-driver"])
        );
    }

    #[test]
    fn not_root_stops_with_the_command() {
        let Action::Stop(message) = decide(
            "the browser tests",
            &["chromium", "chromium-driver"],
            false,
            true,
        ) else {
            panic!("expected to stop");
        };
        assert!(
            message.contains("sudo apt-get install chromium chromium-driver"),
            "{message}"
        );
        assert!(message.starts_with("the browser tests need"), "{message}");
    }

    #[test]
    fn no_apt_get_stops_even_as_root() {
        let Action::Stop(message) = decide("the browser tests", &["chromium-driver"], true, false)
        else {
            panic!("expected to stop");
        };
        assert!(
            message.contains("sudo apt-get install chromium-driver"),
            "{message}"
        );
        assert!(message.contains("no apt-get"), "{message}");
    }
}
