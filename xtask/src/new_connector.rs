//! `cargo xtask new-connector`: a connector skeleton from
//! `xtask/templates/connector/` that pulls, pushes, maps both ways and finds
//! matches for upserts, with native tests, and builds for `wasm32-wasip2`.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{components_dir, host_triple};

/// `cargo xtask new-connector NAME`: generates the connector and says what
/// to run next.
pub fn run(root: &Path, name: &str) -> Result<()> {
    generate(root, name)?;
    let component = components_dir(root)
        .unwrap_or_else(|_| root.join("connectors/target/wasm32-wasip2/release"))
        .join(format!("{}.wasm", name.replace('-', "_")));
    println!(
        "Created connectors/{name}.\n\nNext:\n  cd connectors && cargo test -p {name} --target {}\n  cargo xtask build-connectors   # builds {} and copies it to ./data/connectors/{name}.wasm\n\nA running host picks it up within a second; see docs/connector-guide.md.",
        host_triple().unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into()),
        component.display()
    );
    Ok(())
}

/// Writes `connectors/<name>/` from the templates under `root` and adds it
/// to the connectors workspace.
fn generate(root: &Path, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name.as_bytes()[0].is_ascii_lowercase();
    if !valid || ["sdk", "testing", "target"].contains(&name) {
        bail!(
            "a connector name is lowercase letters, digits and dashes, starting with a letter (and not sdk, testing or target); got {name:?}"
        );
    }
    let dir = root.join("connectors").join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let display_name: String = name
        .split('-')
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let templates = root.join("xtask/templates/connector");
    for (template, target) in [
        ("Cargo.toml.tmpl", "Cargo.toml"),
        ("src/lib.rs.tmpl", "src/lib.rs"),
        ("README.md.tmpl", "README.md"),
        ("fake_api.py.tmpl", "fake_api.py"),
    ] {
        let text = std::fs::read_to_string(templates.join(template))
            .with_context(|| format!("reading template {template}"))?;
        let text = text
            .replace("{{name}}", name)
            .replace("{{crate_name}}", name)
            .replace("{{display_name}}", &display_name);
        let path = dir.join(target);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    add_workspace_member(&root.join("connectors/Cargo.toml"), name)
}

/// Adds `name` to the `members` list of the connectors workspace.
fn add_workspace_member(manifest: &Path, name: &str) -> Result<()> {
    let text = std::fs::read_to_string(manifest)?;
    let start = text
        .find("members = [")
        .context("connectors/Cargo.toml has no `members = [` line")?;
    let end = start
        + text[start..]
            .find(']')
            .context("connectors/Cargo.toml: unterminated members list")?;
    let list = &text[start + "members = [".len()..end];
    if list.split(',').any(|m| m.trim().trim_matches('"') == name) {
        return Ok(());
    }
    let separator = if list.trim().is_empty() { "" } else { ", " };
    let updated = format!(
        "{}{separator}\"{name}\"{}",
        text[..end].trim_end(),
        &text[end..]
    );
    std::fs::write(manifest, updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::{cargo, project_root, run, target_dir};

    /// Generates a connector into a scratch copy of the connectors
    /// workspace (the SDK, the WIT and the templates linked; the workspace
    /// manifest and lock copied, with the SDK as the only member), runs the
    /// generated tests natively and builds the component. The first run
    /// compiles the SDK's dependencies for both targets, into
    /// `connectors/target/scaffold-test`, so later runs are quick.
    #[test]
    fn the_scaffold_builds_for_wasm_and_its_tests_pass() -> Result<()> {
        let root = project_root();
        let scratch =
            std::env::temp_dir().join(format!("switchyard-scaffold-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(scratch.join("connectors/.cargo"))?;
        fs::create_dir_all(scratch.join("xtask"))?;
        symlink(root.join("wit"), scratch.join("wit"))?;
        symlink(root.join("connectors/sdk"), scratch.join("connectors/sdk"))?;
        symlink(
            root.join("xtask/templates"),
            scratch.join("xtask/templates"),
        )?;
        for file in [".cargo/config.toml", "Cargo.lock"] {
            fs::copy(
                root.join("connectors").join(file),
                scratch.join("connectors").join(file),
            )?;
        }
        let manifest = fs::read_to_string(root.join("connectors/Cargo.toml"))?;
        let start = manifest
            .find("members = [")
            .context("connectors/Cargo.toml has no members list")?;
        let end = start
            + manifest[start..]
                .find(']')
                .context("unterminated members list")?;
        let manifest = format!(
            "{}members = [\"sdk\"]{}",
            &manifest[..start],
            &manifest[end + 1..]
        );
        fs::write(scratch.join("connectors/Cargo.toml"), manifest)?;

        generate(&scratch, "acme-crm")?;
        // The fake of the skeleton's API comes with it, named, and is valid Python.
        let fake = scratch.join("connectors/acme-crm/fake_api.py");
        assert!(fs::read_to_string(&fake)?.contains("Acme Crm fake API"));
        run(std::process::Command::new("python3")
            .args(["-m", "py_compile"])
            .arg(&fake))?;
        let members = fs::read_to_string(scratch.join("connectors/Cargo.toml"))?;
        assert!(
            members.contains(r#"members = ["sdk", "acme-crm"]"#),
            "{members}"
        );
        assert!(generate(&scratch, "acme-crm").is_err(), "generated twice");

        let target = target_dir(&root.join("connectors"))?.join("scaffold-test");
        let workspace = scratch.join("connectors");
        run(cargo()
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target)
            .args(["test", "-p", "acme-crm", "--target", &host_triple()?]))?;
        run(cargo()
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--release", "-p", "acme-crm"])
            .args(["--target", "wasm32-wasip2"]))?;
        let component = target.join("wasm32-wasip2/release/acme_crm.wasm");
        assert!(component.exists(), "{} is missing", component.display());
        fs::remove_dir_all(&scratch)?;
        Ok(())
    }

    #[test]
    fn names_are_checked() {
        let root = std::env::temp_dir();
        for bad in ["", "Acme", "-acme", "acme-", "9acme", "sdk", "a_b"] {
            assert!(generate(&root, bad).is_err(), "{bad:?}");
        }
    }
}
