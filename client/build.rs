//! The client's calls, events and storage reads are generated from `metadata.scale` by a
//! procedural macro, which cargo does not see reading it: rebuild the client when it changes.

fn main() {
	println!("cargo:rerun-if-changed=metadata.scale");
}
