//! Where build outputs are: the cargo target directory and the product binaries.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The cargo target directory this process belongs to.
///
/// `CARGO_TARGET_DIR` if set; otherwise the nearest ancestor of the running executable that holds cargo's
/// `CACHEDIR.TAG` (`…/target/debug/deps/test-xxxx` and `…/target/debug/demo` both give `…/target`); otherwise
/// `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace_root().join(dir)
        };
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(found) = exe
            .ancestors()
            .skip(1)
            .find(|a| a.join("CACHEDIR.TAG").is_file())
    {
        return found.to_path_buf();
    }
    workspace_root().join("target")
}

/// The workspace root, as known at compile time (the parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The directory holding the product binaries: `LPA_BIN_DIR` if set; else the profile directory of the running
/// executable (`…/target/debug/deps/test-xxxx` → `…/target/debug`; a binary directly in `target/debug` uses its
/// own directory); else `<target>/debug`.
pub fn binary_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LPA_BIN_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(parent) = exe.parent()
    {
        let in_subdir = matches!(
            parent.file_name().and_then(|n| n.to_str()),
            Some("deps" | "examples")
        );
        let profile_dir = if in_subdir {
            parent.parent()
        } else {
            Some(parent)
        };
        if let Some(dir) = profile_dir
            && dir
                .parent()
                .is_some_and(|t| t.join("CACHEDIR.TAG").is_file())
        {
            return dir.to_path_buf();
        }
    }
    target_dir().join("debug")
}

/// The path of product binary `name` (e.g. `linux-patch-api-helper`), which must exist.
pub fn binary_path(name: &str) -> Result<PathBuf> {
    let dir = binary_dir();
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::BinaryNotFound {
            name: name.to_owned(),
            dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_dir_of_a_test_binary_holds_the_cargo_tag() {
        let target = target_dir();
        assert!(
            target.join("CACHEDIR.TAG").is_file(),
            "{}",
            target.display()
        );
    }

    #[test]
    fn missing_binary_error_says_how_to_build_it() {
        let err = binary_path("no-such-binary-xyz").unwrap_err().to_string();
        assert!(err.contains("no-such-binary-xyz"), "{err}");
        assert!(err.contains("cargo build --workspace --bins"), "{err}");
    }
}
