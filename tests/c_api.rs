//! Drives the C test programs in `tests/c/` from `cargo test` (STYLE.md items 21, 22).
//!
//! Every `tests/c/test_*.c` is compiled with the strict flags against the generated
//! header and linked with the static library of the same profile, then run; a program
//! that exits non-zero fails its test with its output. `tests/c/test_cpp.cpp` proves
//! the header works from C++ (it includes it twice). With `VALGRIND` set (to a
//! valgrind binary, or `1` for `valgrind` on the PATH) every program runs under
//! memcheck, and `valgrind_detects_a_leak` proves that this wiring can fail.
//!
//! Cargo does not put the static library where `cargo build` does when it builds
//! integration tests (cargo#8311), so run `cargo build && cargo test` (same profile
//! for both); the harness finds `librcgc.a` next to the test binary's `deps/`
//! directory (which follows `CARGO_TARGET_DIR`) and fails loudly when it is missing
//! or older than `src/`.
//!
//! The harness also checks properties of the sources that the C tests rely on: the
//! committed header is the one the build generates (`header_is_current`), every name
//! it makes public has the `rcgc_`/`RCGC_` prefix (`header_names_are_prefixed`), and
//! every exported function catches panics at the boundary
//! (`every_export_is_behind_the_panic_boundary`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Flags for every C test program (STYLE.md item 21).
const C_FLAGS: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"];
/// Flags for the C++ translation unit.
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"];
/// System libraries a Rust static library needs.
const LINK_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];
/// Memcheck options: only definite leaks and real errors fail a program.
const VALGRIND_FLAGS: &[&str] = &[
    "--error-exitcode=1",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--show-leak-kinds=definite",
    "-q",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn c_dir() -> PathBuf {
    manifest_dir().join("tests").join("c")
}

/// `target/<profile>` (or `$CARGO_TARGET_DIR/<profile>`), from this test binary's
/// own path `target/<profile>/deps/c_api-HASH`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let deps = exe.parent().expect("the test binary lives in a directory");
    assert_eq!(
        deps.file_name().and_then(|n| n.to_str()),
        Some("deps"),
        "expected the test binary {} to live in target/<profile>/deps/",
        exe.display()
    );
    deps.parent().expect("deps/ has a parent directory").to_path_buf()
}

/// The newest modification time of any file under `dir`, with that file's path.
fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for entry in fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        let candidate = if path.is_dir() {
            newest_file(&path)
        } else {
            fs::metadata(&path).and_then(|m| m.modified()).ok().map(|t| (t, path))
        };
        if let Some(c) = candidate {
            if newest.as_ref().is_none_or(|n| c.0 > n.0) {
                newest = Some(c);
            }
        }
    }
    newest
}

/// The static library of this profile; panics with instructions when it is missing
/// or older than the sources (a stale library would test old code).
///
/// `cargo build` writes `target/<profile>/librcgc.a`. `cargo test` also compiles the
/// library with all its crate types into `target/<profile>/deps/librcgc.a` (no hash
/// in that name) but does not copy it up (cargo#8311); it is the one built for
/// this very test run, e.g. with `--features stress-gc`. The newer of the two wins.
fn static_lib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let profile = profile_dir();
        let profile_name = profile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let build_cmd = match profile_name.as_str() {
            "debug" => "cargo build".to_string(),
            "release" => "cargo build --release".to_string(),
            other => format!("cargo build --profile {other}"),
        };
        let candidates = [profile.join("librcgc.a"), profile.join("deps").join("librcgc.a")];
        let found = candidates
            .iter()
            .filter_map(|p| fs::metadata(p).and_then(|m| m.modified()).ok().map(|t| (t, p)))
            .max_by_key(|(t, _)| *t);
        let Some((lib_time, lib)) = found else {
            panic!(
                "\n\nThe static library {} is missing.\n\
                 cargo test does not build it there (cargo#8311): run `{build_cmd}` first, \
                 then `cargo test` with the same profile and target directory.\n",
                candidates[0].display()
            )
        };
        for dir in ["src", "build.rs", "cbindgen.toml"] {
            let path = manifest_dir().join(dir);
            let newest = if path.is_dir() {
                newest_file(&path)
            } else {
                fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .map(|t| (t, path.clone()))
            };
            if let Some((t, file)) = newest {
                assert!(
                    t <= lib_time,
                    "\n\nThe static library {} is older than {}: run `{build_cmd}` first, \
                     then `cargo test` with the same profile and target directory (cargo#8311).\n",
                    lib.display(),
                    file.display()
                );
            }
        }
        lib.clone()
    })
}

/// Where compiled test programs go: `target/<profile>/c-tests/`.
fn out_dir() -> PathBuf {
    let dir = profile_dir().join("c-tests");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The valgrind binary to run programs under, if `VALGRIND` asks for one.
fn valgrind() -> Option<OsString> {
    let v = std::env::var_os("VALGRIND")?;
    if v.is_empty() || v == "0" {
        None
    } else if v == "1" {
        Some("valgrind".into())
    } else {
        Some(v)
    }
}

fn show(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_command(cmd: &mut Command, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"))
}

/// Compiles one C or C++ source into `out_dir()` and returns the binary's path.
fn compile(source: &Path, link_rcgc: bool) -> PathBuf {
    let is_cxx = source.extension().is_some_and(|e| e == "cpp");
    let stem = source.file_stem().expect("source has a name").to_owned();
    compile_with(
        source,
        if is_cxx { CXX_FLAGS } else { C_FLAGS },
        &out_dir().join(stem),
        link_rcgc,
    )
}

/// Compiles `source` with `flags` (C or C++ by its extension) into `exe`.
fn compile_with(source: &Path, flags: &[&str], exe: &Path, link_rcgc: bool) -> PathBuf {
    let is_cxx = source.extension().is_some_and(|e| e == "cpp");
    let mut cmd = Command::new(if is_cxx { "c++" } else { "cc" });
    cmd.current_dir(manifest_dir())
        .args(flags)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-I")
        .arg(c_dir())
        .arg(source)
        .arg("-o")
        .arg(exe);
    if link_rcgc {
        cmd.arg(static_lib()).args(LINK_LIBS);
    }
    let output = run_command(&mut cmd, "the C compiler");
    assert!(
        output.status.success(),
        "compiling {} failed:\n{cmd:?}\n{}",
        source.display(),
        show(&output)
    );
    exe.to_path_buf()
}

/// Runs a program (under valgrind if asked), with `RCGC_UNDER_VALGRIND=1` then, and
/// `RCGC_STRESS_GC=1` when the library is built with the `stress-gc` feature.
fn run_program(exe: &Path) -> Output {
    let mut cmd = match valgrind() {
        Some(vg) => {
            let mut c = Command::new(vg);
            c.args(VALGRIND_FLAGS).arg(exe).env("RCGC_UNDER_VALGRIND", "1");
            c
        }
        None => Command::new(exe),
    };
    cmd.current_dir(manifest_dir());
    if cfg!(feature = "stress-gc") {
        // Collections on every tracked allocation change the generation counts.
        cmd.env("RCGC_STRESS_GC", "1");
    }
    run_command(&mut cmd, "a C test program")
}

/// Compiles, links and runs `tests/c/<file>`, failing with its output if it fails.
fn run_c_test(file: &str) {
    let source = c_dir().join(file);
    assert!(
        source.is_file(),
        "{} does not exist: remove its c_test! entry or add the file",
        source.display()
    );
    let exe = compile(&source, true);
    let output = run_program(&exe);
    let under = if valgrind().is_some() { " under valgrind" } else { "" };
    assert!(output.status.success(), "{file} failed{under}:\n{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let closing = stdout.lines().rev().find(|l| !l.trim().is_empty());
    // Shown with --nocapture; cargo keeps it otherwise.
    println!("{file}{under}: {}", closing.unwrap_or("(no output)"));
}

/// Every `tests/c/test_*.c` and `tests/c/test_*.cpp`, sorted.
fn discovered_c_tests() -> BTreeSet<String> {
    fs::read_dir(c_dir())
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", c_dir().display()))
        .map(|e| {
            e.expect("readable directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.starts_with("test_") && (n.ends_with(".c") || n.ends_with(".cpp")))
        .collect()
}

macro_rules! c_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_c_test($file);
            }
        )*
        /// The files that have a `#[test]` above.
        const C_TEST_FILES: &[&str] = &[$($file),*];
    };
}

// One #[test] per program, so they run in parallel and fail by name.
// `every_c_test_has_a_rust_test` fails if a file in tests/c/ is missing here.
c_tests! {
    c_test_api => "test_api.c",
    c_test_errors => "test_errors.c",
    c_test_counts => "test_counts.c",
    c_test_collect => "test_collect.c",
    c_test_finalize => "test_finalize.c",
    c_test_deep => "test_deep.c",
    c_test_random => "test_random.c",
    c_test_checked => "test_checked.c",
    c_test_gc_module => "test_gc_module.c",
    c_test_weakref => "test_weakref.c",
    c_test_debug => "test_debug.c",
    c_test_graph => "test_graph.c",
    c_test_inline => "test_inline.c",
    c_test_refs => "test_refs.c",
    cpp_test => "test_cpp.cpp",
}

/// The header's static inline functions also compile as C99 (what the rest of
/// the header needs): test_inline.c built with -std=c99 and run.
#[test]
fn c_test_inline_c99() {
    let flags: Vec<&str> = C_FLAGS
        .iter()
        .map(|f| if f.starts_with("-std=") { "-std=c99" } else { f })
        .collect();
    let exe = compile_with(
        &c_dir().join("test_inline.c"),
        &flags,
        &out_dir().join("test_inline_c99"),
        true,
    );
    let output = run_program(&exe);
    assert!(
        output.status.success(),
        "test_inline.c (-std=c99) failed:\n{}",
        show(&output)
    );
}

#[test]
fn every_c_test_has_a_rust_test() {
    let listed: BTreeSet<String> = C_TEST_FILES.iter().map(|s| s.to_string()).collect();
    let unlisted: Vec<_> = discovered_c_tests().difference(&listed).cloned().collect();
    assert!(
        unlisted.is_empty(),
        "these C tests have no #[test]; add them to c_tests! in tests/c_api.rs: {unlisted:?}"
    );
}

/// STYLE.md item 22: the memcheck wiring must be able to fail.
#[test]
fn valgrind_detects_a_leak() {
    let Some(vg) = valgrind() else {
        println!("VALGRIND is not set: skipping valgrind_detects_a_leak");
        return;
    };
    let dir = out_dir();
    let source = dir.join("leak_64_bytes.c");
    fs::write(
        &source,
        "#include <stdio.h>\n#include <stdlib.h>\n\n\
         static void *volatile lost;\n\n\
         int main(void) {\n  lost = malloc(64);\n  if (!lost) return 2;\n  \
         lost = NULL; /* the only pointer to the block is gone: a definite leak */\n  \
         puts(\"leaked 64 bytes\");\n  return 0;\n}\n",
    )
    .expect("write the leaking program");
    let exe = compile(&source, false);

    let plain = run_command(&mut Command::new(&exe), "the leaking program");
    assert!(
        plain.status.success(),
        "the leaking program must succeed without valgrind:\n{}",
        show(&plain)
    );

    let output = run_program(&exe);
    assert!(
        !output.status.success(),
        "valgrind {vg:?} with {VALGRIND_FLAGS:?} did not fail on a definite 64-byte leak:\n{}",
        show(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("definitely lost"),
        "valgrind failed but did not report the leak:\n{}",
        show(&output)
    );
    println!("valgrind reports the 64-byte leak and exits {}", output.status);
}

/// The committed `include/rcgc.h` must equal what the build just generated.
#[test]
fn header_is_current() {
    let dir = manifest_dir();
    let header = dir.join("include").join("rcgc.h");
    assert!(
        header.is_file(),
        "{} is missing: the build script generates it",
        header.display()
    );
    let git = |args: &[&str]| Command::new("git").current_dir(&dir).args(args).output();
    match git(&["rev-parse", "--is-inside-work-tree"]) {
        Err(e) => {
            println!("note: git is not available ({e}); skipping header_is_current");
            return;
        }
        Ok(o) if !o.status.success() => {
            println!(
                "note: {} is not a git work tree; skipping header_is_current",
                dir.display()
            );
            return;
        }
        Ok(_) => {}
    }
    let tracked = git(&["ls-files", "--error-unmatch", "--", "include/rcgc.h"]).expect("git runs");
    assert!(
        tracked.status.success(),
        "include/rcgc.h is not committed: `git add include/rcgc.h`"
    );
    let diff = git(&["diff", "--exit-code", "--", "include/rcgc.h"]).expect("git runs");
    assert!(
        diff.status.success(),
        "include/rcgc.h differs from the committed copy: the build regenerated it, so \
         commit the new header (or revert the source change):\n{}",
        show(&diff)
    );
}

/// Replaces comments with spaces (keeping newlines), leaving string and char
/// literals intact, so code in comments is not mistaken for code.
fn strip_rust_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, c: u8| out.push(if c == b'\n' { b'\n' } else { b' ' });
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        blank(&mut out, b[i]);
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // Raw string r"..." / r#"..."#: copy it verbatim.
                let start = i;
                i += 1;
                let mut hashes = 0;
                while b.get(i) == Some(&b'#') {
                    hashes += 1;
                    i += 1;
                }
                if b.get(i) != Some(&b'"') {
                    out.extend_from_slice(&b[start..i]);
                    continue;
                }
                i += 1;
                while i < b.len() {
                    if b[i] == b'"' && b[i + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
                        i += 1 + hashes;
                        break;
                    }
                    i += 1;
                }
                out.extend_from_slice(&b[start..i.min(b.len())]);
            }
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.extend_from_slice(&b[start..i.min(b.len())]);
            }
            b'\'' => {
                // A char literal ('x', '\n', '"') or a lifetime ('a).
                let start = i;
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if b.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
                out.extend_from_slice(&b[start..i.min(b.len())]);
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("comment stripping keeps UTF-8 (non-ASCII only inside comments/strings)")
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every `extern "C" fn rcgc_*` definition in `code` (comments stripped), with
/// the text of its body after the opening brace.
fn exported_fns(code: &str) -> Vec<(String, &str)> {
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(pos) = code[search..].find("extern \"C") {
        let at = search + pos;
        search = at + 1;
        // The ABI string: "C" or "C-unwind".
        let after_abi = match code[at + 8..].find('"') {
            Some(p) => at + 8 + p + 1,
            None => break,
        };
        let rest = code[after_abi..].trim_start();
        let Some(rest) = rest.strip_prefix("fn") else { continue };
        if !rest.starts_with(char::is_whitespace) {
            continue;
        }
        let rest = rest.trim_start();
        if !rest.starts_with("rcgc_") {
            continue;
        }
        let name_len = rest.bytes().take_while(|&c| is_ident_byte(c)).count();
        let name = rest[..name_len].to_string();
        // The body opens at the first brace after the signature (signatures hold no braces);
        // a `;` first means a declaration, not a definition.
        let sig = &rest[name_len..];
        match sig.find(['{', ';']) {
            Some(p) if sig.as_bytes()[p] == b'{' => found.push((name, &sig[p + 1..])),
            _ => {}
        }
    }
    found
}

/// Does `body` (the text after a function's opening brace) start with
/// `ffi_boundary!("<name>",`?
fn starts_with_boundary(body: &str, name: &str) -> bool {
    let body = body.trim_start();
    let body = body
        .strip_prefix("crate::")
        .or_else(|| body.strip_prefix("$crate::"))
        .unwrap_or(body);
    let Some(rest) = body.strip_prefix("ffi_boundary!") else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix('(') else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix(&format!("\"{name}\"")) else {
        return false;
    };
    rest.trim_start().starts_with(',')
}

/// Replaces C comments with a space (the header has no string literals holding `/*` or `//`).
fn strip_c_comments(header: &str) -> String {
    let mut code = String::with_capacity(header.len());
    let mut rest = header;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |p| &r[p + 2..]);
            code.push(' ');
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |p| &r[p..]);
        } else {
            let c = rest.chars().next().expect("non-empty");
            code.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    code
}

/// Functions a C header defines itself (`static inline`), so the library need not.
fn header_inline_functions(header: &str) -> BTreeSet<String> {
    let code = strip_c_comments(header);
    code.split("static inline")
        .skip(1)
        .filter_map(|def| {
            let signature = &def[..def.find('(')?];
            let start = signature.rfind(|c: char| !is_ident_byte(c as u8)).map_or(0, |p| p + 1);
            Some(signature[start..].to_string())
        })
        .collect()
}

/// Function names declared in a C header (comments stripped): `rcgc_x(` not after `*`.
fn header_functions(header: &str) -> BTreeSet<String> {
    let code = strip_c_comments(header);
    let b = code.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while let Some(p) = code[i..].find("rcgc_") {
        let start = i + p;
        let end = start + b[start..].iter().take_while(|&&c| is_ident_byte(c)).count();
        i = end.max(start + 1);
        if start > 0 && is_ident_byte(b[start - 1]) {
            continue;
        }
        let before = code[..start].trim_end();
        if before.ends_with('*') && before[..before.len() - 1].trim_end().ends_with('(') {
            continue; // (*rcgc_fn_type)(...): a function pointer typedef
        }
        if code[end..].trim_start().starts_with('(') {
            names.insert(code[start..end].to_string());
        }
    }
    names
}

/// Every name a C header makes public: macros, typedefs, struct/enum tags, enum
/// constants, functions (not struct fields or parameter names).
fn header_public_names(header: &str) -> BTreeSet<String> {
    let idents = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_string)
            .collect()
    };
    let mut names = BTreeSet::new();
    let mut code = String::new();
    for line in strip_c_comments(header).lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix('#') {
            if let Some(def) = rest.trim_start().strip_prefix("define") {
                if let Some(name) = idents(def).into_iter().next() {
                    names.insert(name);
                }
            }
        } else {
            code.push_str(line);
            code.push('\n');
        }
    }
    let code = code.replace("extern \"C\" {", " ");
    // Split the top level into statements ending with `;`, keeping brace bodies apart.
    let mut depth = 0usize;
    let (mut head, mut body, mut tail) = (String::new(), String::new(), String::new());
    let mut seen_body = false;
    for c in code.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    seen_body = true;
                    continue;
                }
            }
            '}' if depth == 0 => continue, // the closing brace of extern "C"
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let words = idents(&head);
                    let is_type = words.iter().any(|w| matches!(w.as_str(), "struct" | "enum" | "union"));
                    if let (false, Some(p)) = (is_type, head.find('(')) {
                        // A function definition (the header's static inline functions).
                        names.extend(idents(&head[..p]).pop());
                        head.clear();
                        body.clear();
                        seen_body = false;
                    }
                    continue;
                }
            }
            ';' if depth == 0 => {
                let decl = if seen_body { &tail } else { &head };
                let words = idents(&head);
                for pair in words.windows(2) {
                    if matches!(pair[0].as_str(), "struct" | "enum" | "union") {
                        names.insert(pair[1].clone());
                    }
                }
                if seen_body && words.iter().any(|w| w == "enum") {
                    for item in body.split(',') {
                        if let Some(constant) = idents(item).into_iter().next() {
                            names.insert(constant);
                        }
                    }
                }
                let declared = if let Some(p) = decl.find("(*") {
                    idents(&decl[p + 2..]).into_iter().next()
                } else if let Some(p) = decl.find('(') {
                    idents(&decl[..p]).pop()
                } else {
                    idents(decl).pop()
                };
                names.extend(declared);
                head.clear();
                body.clear();
                tail.clear();
                seen_body = false;
                continue;
            }
            _ => {}
        }
        if depth > 0 {
            body.push(c);
        } else if seen_body {
            tail.push(c);
        } else {
            head.push(c);
        }
    }
    names
}

/// API.md: every public symbol starts with `rcgc_` (types, functions) or `RCGC_`
/// (constants, enum values).
#[test]
fn header_names_are_prefixed() {
    let header_path = manifest_dir().join("include").join("rcgc.h");
    let header = fs::read_to_string(&header_path)
        .unwrap_or_else(|e| panic!("read {}: {e} (the build generates it)", header_path.display()));
    let names = header_public_names(&header);
    assert!(
        names.contains("rcgc_collect") && names.contains("RCGC_OK"),
        "the scanner found {names:?}"
    );
    let bad: Vec<_> = names
        .iter()
        .filter(|n| !(n.starts_with("rcgc_") || n.starts_with("RCGC_")))
        .collect();
    assert!(
        bad.is_empty(),
        "include/rcgc.h makes public names without the rcgc_/RCGC_ prefix: {bad:?}"
    );
    println!("{} public names in include/rcgc.h, all prefixed", names.len());
}

/// Every exported function catches panics (ffi_boundary!) and every function in the
/// header is defined in src/ffi/.
#[test]
fn every_export_is_behind_the_panic_boundary() {
    let ffi_dir = manifest_dir().join("src").join("ffi");
    let mut files: Vec<PathBuf> = fs::read_dir(&ffi_dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", ffi_dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut defined = BTreeSet::new();
    let mut offenders = Vec::new();
    for file in &files {
        let src = fs::read_to_string(file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
        let code = strip_rust_comments(&src);
        for (name, body) in exported_fns(&code) {
            if !starts_with_boundary(body, &name) {
                let shown: String = body.trim_start().chars().take(60).collect();
                offenders.push(format!(
                    "{}: {name} does not start with ffi_boundary!(\"{name}\", ...); it starts with: {}",
                    file.display(),
                    shown.replace('\n', " ")
                ));
            }
            if !defined.insert(name.clone()) {
                offenders.push(format!("{}: {name} is defined more than once", file.display()));
            }
        }
    }
    assert!(
        !defined.is_empty(),
        "found no extern \"C\" fn rcgc_* in {}",
        ffi_dir.display()
    );

    let header_path = manifest_dir().join("include").join("rcgc.h");
    let header = fs::read_to_string(&header_path)
        .unwrap_or_else(|e| panic!("read {}: {e} (the build generates it)", header_path.display()));
    let inline = header_inline_functions(&header);
    let declared: BTreeSet<String> = header_functions(&header).difference(&inline).cloned().collect();
    assert!(
        !declared.is_empty(),
        "found no rcgc_* functions in {}",
        header_path.display()
    );
    for name in declared.difference(&defined) {
        offenders.push(format!(
            "{name} is declared in include/rcgc.h but not defined in src/ffi/"
        ));
    }
    assert!(
        offenders.is_empty(),
        "{} problem(s):\n  {}",
        offenders.len(),
        offenders.join("\n  ")
    );
    println!(
        "{} exported functions, all behind ffi_boundary!; {} header functions, all defined; \
         {} static inline in the header",
        defined.len(),
        declared.len(),
        inline.len()
    );
}

/// The scanners above are themselves tested, so a broken scanner cannot pass everything.
#[test]
fn the_source_scanners_work() {
    let src = r#"
        /// extern "C" fn rcgc_in_a_doc_comment() { nothing }
        // extern "C" fn rcgc_in_a_comment() {}
        /* extern "C" fn rcgc_in_a_block /* nested */ comment() {} */
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn rcgc_good(heap: *mut rcgc_heap, f: Option<unsafe extern "C" fn(*mut c_void)>) -> rcgc_result {
            // a comment first is fine
            ffi_boundary!("rcgc_good", { let s = "extern \"C\" fn rcgc_in_a_string() {}"; let c = '"'; Ok(()) })
        }
        #[unsafe(no_mangle)]
        pub extern "C" fn rcgc_bad() -> usize { let x = 1; ffi_boundary!("rcgc_bad", { x }) }
        #[unsafe(no_mangle)]
        pub extern "C" fn rcgc_misnamed<'a>() { ffi_boundary!("rcgc_other", {}) }
        unsafe extern "C" { fn rcgc_declared_only(); }
    "#;
    let code = strip_rust_comments(src);
    let fns = exported_fns(&code);
    let names: Vec<&str> = fns.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["rcgc_good", "rcgc_bad", "rcgc_misnamed"]);
    let ok: Vec<bool> = fns.iter().map(|(n, b)| starts_with_boundary(b, n)).collect();
    assert_eq!(ok, [true, false, false]);

    let header = "/* rcgc_in_comment(x) */\ntypedef void (*rcgc_visit_fn)(void *referent, void *ctx);\n\
                  RCGC_MUST_USE rcgc_result rcgc_collect(rcgc_heap *heap, int generation);\n\
                  const char *rcgc_last_error(void);\n// rcgc_line_comment(void);\n\
                  void rcgc_set_misuse_handler(rcgc_heap *heap, rcgc_misuse_fn fn, void *ctx);\n";
    let declared: Vec<String> = header_functions(header).into_iter().collect();
    assert_eq!(declared, ["rcgc_collect", "rcgc_last_error", "rcgc_set_misuse_handler"]);
    let header = "void rcgc_decref(void *obj);\n/* static inline void rcgc_commented(void) {} */\n\
                  static inline void rcgc_decref_fast(void *obj) {\n  if (obj) { rcgc_decref(obj); }\n}\n\
                  static inline int *rcgc_head(void *obj) { return (int *)obj; }\n";
    let inline: Vec<String> = header_inline_functions(header).into_iter().collect();
    assert_eq!(inline, ["rcgc_decref_fast", "rcgc_head"]);

    let header = "#ifndef RCGC_H\n#define RCGC_H\n#include <stddef.h>\n#define GENERATIONS 3\n\
                  typedef enum rcgc_result { RCGC_OK = 0, /* c */ RCGC_ERR_X = 1, } rcgc_result;\n\
                  typedef struct rcgc_heap rcgc_heap;\n\
                  typedef struct stats { size_t struct_size; size_t live; } stats_t;\n\
                  typedef void (*visit_fn)(void *referent, void *ctx);\n\
                  enum plain { A, B = 2 };\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\
                  RCGC_MUST_USE\nenum rcgc_result rcgc_collect(struct rcgc_heap *heap,\n  int generation);\n\
                  const char *helper_name(int code);\n#ifdef __cplusplus\n}  // extern \"C\"\n#endif\n#endif\n\
                  typedef struct rcgc_head { unsigned refcnt; } rcgc_head;\n\
                  static inline void inline_helper(void *obj) {\n  if (obj) { rcgc_collect(obj, 0); }\n}\n\
                  static inline rcgc_head *rcgc_head_of(void *obj) { return obj; }\n";
    let names: Vec<String> = header_public_names(header).into_iter().collect();
    assert_eq!(
        names,
        [
            "A",
            "B",
            "GENERATIONS",
            "RCGC_ERR_X",
            "RCGC_H",
            "RCGC_OK",
            "helper_name",
            "inline_helper",
            "plain",
            "rcgc_collect",
            "rcgc_head",
            "rcgc_head_of",
            "rcgc_heap",
            "rcgc_result",
            "stats",
            "stats_t",
            "visit_fn"
        ]
    );
}
