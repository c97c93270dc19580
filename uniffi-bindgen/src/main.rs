//! `cargo run -p uniffi-bindgen -- generate --library <libreguide_ffi> --language kotlin
//! --out-dir <folder>`: the bindings generator, at the version of UniFFI the library is built
//! with (`ffi/generate-bindings` runs it for the three languages).

fn main() {
    uniffi::uniffi_bindgen_main()
}
