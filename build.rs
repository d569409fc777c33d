//! Generates `include/rcgc.h` from the Rust sources with cbindgen.
//!
//! The header is committed; `write_to_file` only touches it when its content changes,
//! and a test fails when the committed copy is stale.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    let version = |part: &str| std::env::var(format!("CARGO_PKG_VERSION_{part}")).expect("cargo sets the version");
    let after_includes = format!(
        "\n#define RCGC_VERSION_MAJOR {major}\n#define RCGC_VERSION_MINOR {minor}\n#define RCGC_VERSION_PATCH {patch}\n\
         /** The version as one number: MAJOR * 10000 + MINOR * 100 + PATCH. */\n\
         #define RCGC_VERSION_NUMBER ({major} * 10000 + {minor} * 100 + {patch})\n\n\
         #if defined(__cplusplus) && __cplusplus >= 201703L\n#define RCGC_MUST_USE [[nodiscard]]\n\
         #elif defined(__GNUC__) || defined(__clang__)\n#define RCGC_MUST_USE __attribute__((warn_unused_result))\n\
         #else\n#define RCGC_MUST_USE\n#endif\n",
        major = version("MAJOR"),
        minor = version("MINOR"),
        patch = version("PATCH"),
    );

    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_after_include(after_includes)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(crate_dir.join("include/rcgc.h"));
        }
        // Let rustc report syntax errors in the sources with proper spans.
        Err(cbindgen::Error::ParseSyntaxError { .. }) => {}
        Err(e) => panic!("cbindgen failed: {e}"),
    }
}
