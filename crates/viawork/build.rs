//! Rebuilds the server when the browser client's files (`web/`) change, including files
//! added or removed: rust-embed compiles them into the binary, but cargo would otherwise
//! only notice edits to files it already knew.

fn main() {
    println!("cargo:rerun-if-changed=web");
}
