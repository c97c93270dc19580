//! Embeds the email templates (`mail-templates/<language>/<kind>.toml`) in the binary, so that
//! the server runs from its one file. A translation that is missing is simply not listed; the
//! server falls back to English and a test names what is untranslated.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it is compiled: a build script compiled for another
    // checkout of this crate (a shared target folder) must still read this one's templates.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest_dir).join("mail-templates");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    for language in std::fs::read_dir(&root).expect("mail-templates exists") {
        let language = language.expect("readable folder");
        println!("cargo:rerun-if-changed={}", language.path().display());
        if !language.path().is_dir() {
            continue;
        }
        let code = language.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(language.path()).expect("readable folder") {
            let path = file.expect("readable file").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let kind = path
                    .file_stem()
                    .expect("a file name")
                    .to_string_lossy()
                    .into_owned();
                files.push((code.clone(), kind, path));
            }
        }
    }
    files.sort();
    let mut out = String::from("/// (language, kind, contents) of every template file.\n");
    out.push_str("pub static FILES: &[(&str, &str, &str)] = &[\n");
    for (code, kind, path) in &files {
        writeln!(
            out,
            "    ({code:?}, {kind:?}, include_str!({:?})),",
            path.display()
        )
        .expect("writing to a string");
    }
    out.push_str("];\n");
    let target =
        Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("mail_templates.rs");
    std::fs::write(target, out).expect("writing the template list");
}
