//! Records the compiler version and the git commit in the build, for result files'
//! `environment` (`KVBENCH_RUSTC_VERSION`, `KVBENCH_GIT_COMMIT`).

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KVBENCH_RUSTC_VERSION={version}");

    let commit = output("git", &["rev-parse", "--short=12", "HEAD"]).map(|c| {
        let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
        if dirty {
            format!("{c}-dirty")
        } else {
            c
        }
    });
    println!(
        "cargo:rustc-env=KVBENCH_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    // Rebuild when HEAD moves (a commit, a checkout); the dirty flag is as of that build.
    for p in ["HEAD", "logs/HEAD", "index"] {
        if let Some(path) = output("git", &["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
