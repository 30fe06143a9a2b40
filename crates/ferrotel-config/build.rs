//! Records the compiler's version for the `process` resource detector's
//! `process.runtime.version`: a Rust program's runtime is what rustc built into it.

fn main() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned));
    if let Some(version) = version {
        println!("cargo:rustc-env=FERROTEL_RUSTC_VERSION={version}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
