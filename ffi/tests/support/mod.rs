//! Finding the built library and generating its bindings, for the tests and the benchmark.

use std::path::{Path, PathBuf};

use uniffi::{GenerateOptions, TargetLanguage};

/// The shared library cargo built for this run, beside the test or bench binary.
pub fn library() -> PathBuf {
    let name = format!(
        "{}reguide_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let exe = std::env::current_exe().expect("the running binary");
    let deps = exe.parent().expect("deps");
    [deps.join(&name), deps.join("..").join(&name)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} was not built beside {}", deps.display()))
}

/// Generates the bindings of `languages` into `out` from the built library.
pub fn generate(languages: Vec<TargetLanguage>, out: &Path) {
    let utf8 = |p: &Path| camino::Utf8PathBuf::from_path_buf(p.to_path_buf()).expect("UTF-8");
    uniffi::generate(GenerateOptions {
        languages,
        source: utf8(&library()),
        out_dir: utf8(out),
        config_override: None,
        format: false,
        crate_filter: None,
        metadata_no_deps: true,
    })
    .expect("generate the bindings");
}

/// The generated Python module with the library beside it, as a shell would ship them.
pub fn python_package() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    generate(vec![TargetLanguage::Python], dir.path());
    let lib = library();
    std::fs::copy(&lib, dir.path().join(lib.file_name().expect("name"))).expect("copy");
    dir
}
