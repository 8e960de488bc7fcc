//! Gives `libscuttle_c.so` a SONAME, so programs linked against it record `libscuttle_c.so`
//! (found through their rpath or `LD_LIBRARY_PATH`) rather than the path it was linked from.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libscuttle_c.so");
    }
}
