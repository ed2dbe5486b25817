//! Records the compiler version, so a plugin's build info can name the rustc
//! that built it (the host shows it when a plugin loads or is refused).

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = std::process::Command::new(&rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map_or_else(|| "rustc (unknown version)".to_owned(), |text| text.trim().to_owned());
    println!("cargo:rustc-env=SIGLEARN_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
