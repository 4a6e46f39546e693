// Shared by the build scripts of every crate that links libtorch (`include!`d, not a crate).
//
// torch-sys sets no rpath on final binaries (../shared/STACK.md §3), so without this every binary
// and test binary would need LD_LIBRARY_PATH. We embed `$LIBTORCH/lib` (set by .cargo/config.toml
// to the `.libtorch` link that scripts/setup.sh creates) as a RUNPATH instead.

fn embed_torch_rpath() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    let dir = match std::env::var("LIBTORCH") {
        Ok(root) => format!("{root}/lib"),
        Err(_) => {
            let py = if std::env::var_os("VIRTUAL_ENV").is_some() { "python" } else { "python3" };
            let out = std::process::Command::new(py)
                .args(["-c", "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))"])
                .output();
            match out {
                Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
                _ => {
                    println!("cargo:warning=libtorch not found: run `make setup` (scripts/setup.sh) first");
                    return;
                }
            }
        }
    };
    if !std::path::Path::new(&dir).is_dir() {
        println!("cargo:warning=libtorch directory {dir} is missing: run `make setup` (scripts/setup.sh) first");
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
}
