//! Gives the shared library the SONAME it is installed under: `libscuttle.so.MAJOR`
//! (`make -C bindings/c install` copies `libscuttle_c.so` to `libscuttle.so.MAJOR.MINOR.PATCH`
//! with the `libscuttle.so.MAJOR` and `libscuttle.so` links). Programs linked against it record
//! that name, so a later compatible release replaces the file without relinking them.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libscuttle.so.{major}");
    }
}
