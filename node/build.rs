//! Embeds the git commit in the node's version string, and reruns when the commit changes.
//!
//! The SDK's `rerun_if_git_head_changed` names the git files by their full paths and names
//! none on a detached `HEAD`; cargo then reruns the script on a path change or on any change
//! among the package's files. Here the files are named as git gives them relative to this
//! package, so a build made in one checkout serves another of the same commit, and a detached
//! `HEAD` (a CI checkout's) is watched too.

use std::process::Command;
use substrate_build_script_utils::generate_cargo_keys;

fn main() {
	generate_cargo_keys();
	println!("cargo:rerun-if-changed=build.rs");
	for file in files_naming_the_commit() {
		println!("cargo:rerun-if-changed={file}");
	}
}

/// The git files that change when the checked-out commit does: `HEAD`, the branch it names
/// (if any) and the packed refs, each only if it exists. None outside a git checkout.
fn files_naming_the_commit() -> Vec<String> {
	let git = |args: &[&str]| -> Option<String> {
		let output = Command::new("git").args(args).output().ok()?;
		output
			.status
			.success()
			.then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
	};
	let mut names = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
	names.extend(git(&["symbolic-ref", "-q", "HEAD"]));
	names
		.iter()
		.filter_map(|name| git(&["rev-parse", "--git-path", name]))
		.filter(|path| std::path::Path::new(path).exists())
		.collect()
}
