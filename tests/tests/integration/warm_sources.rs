//! `scripts/warm-sources.sh`, with which a CI checkout reuses the crates the persistent target
//! directory built from the same content, played on a scratch repository and target directory.
//! The attack on a build cache is a stale result passed off as fresh: the script must give a
//! file the recorded build's freshness only when its content is the one that build saw, and
//! only while nothing has been built since.

use std::{
	fs,
	path::{Path, PathBuf},
	process::Command,
	time::{Duration, SystemTime},
};

/// The timestamp the script gives a file whose content the recorded build saw.
fn recorded_time() -> SystemTime {
	SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000)
}

/// Whether `path` carries the recorded build's freshness.
fn is_fresh(path: &Path) -> bool {
	fs::metadata(path).and_then(|meta| meta.modified()).expect("the file exists") == recorded_time()
}

/// Runs `git` with `args` in `dir`; it must succeed.
fn git(dir: &Path, args: &[&str]) {
	let status = Command::new("git")
		.args(["-c", "user.name=Verity", "-c", "user.email=ci@verity.invalid"])
		.args(args)
		.current_dir(dir)
		.status()
		.expect("git runs");
	assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// A scratch repository holding the script and two source files, a target directory holding
/// one crate's build fingerprint, and a place for checkouts.
struct Scratch {
	_dir: tempfile::TempDir,
	origin: PathBuf,
	target: PathBuf,
	checkouts: PathBuf,
}

impl Scratch {
	fn new() -> Self {
		let dir = tempfile::tempdir().expect("a scratch directory");
		let origin = dir.path().join("origin");
		let target = dir.path().join("target");
		let checkouts = dir.path().join("checkouts");
		fs::create_dir_all(origin.join("scripts")).unwrap();
		fs::create_dir_all(target.join("release/.fingerprint/crate-0123")).unwrap();
		fs::create_dir_all(&checkouts).unwrap();
		fs::copy(
			verity_tests::repository().join("scripts/warm-sources.sh"),
			origin.join("scripts/warm-sources.sh"),
		)
		.expect("the script is in the repository");
		fs::write(origin.join("a.rs"), "fn a() {}\n").unwrap();
		fs::write(origin.join("b.rs"), "fn b() {}\n").unwrap();
		fs::write(target.join("release/.fingerprint/crate-0123/lib-crate"), "0123").unwrap();
		git(&origin, &["init", "--quiet"]);
		git(&origin, &["add", "."]);
		git(&origin, &["commit", "--quiet", "-m", "first"]);
		Self { _dir: dir, origin, target, checkouts }
	}

	/// Runs the script's `step` in the tree `root`; it must succeed. Returns what it printed.
	fn run(&self, root: &Path, step: &str) -> String {
		let output = Command::new("bash")
			.arg(root.join("scripts/warm-sources.sh"))
			.arg(step)
			.env("CARGO_TARGET_DIR", &self.target)
			.output()
			.expect("bash runs");
		assert!(output.status.success(), "{step}: {output:?}");
		String::from_utf8_lossy(&output.stderr).into_owned()
	}

	/// A build of the origin's tree as `make build` records it.
	fn record_a_build(&self) {
		self.run(&self.origin, "begin");
		self.run(&self.origin, "end");
	}

	/// A fresh clone of the origin's HEAD named `name`, every file of it new.
	fn checkout(&self, name: &str) -> PathBuf {
		let path = self.checkouts.join(name);
		let status = Command::new("git")
			.args(["clone", "--quiet"])
			.arg(&self.origin)
			.arg(&path)
			.status()
			.expect("git runs");
		assert!(status.success());
		path
	}
}

#[test]
fn a_checkout_regains_freshness_only_for_the_content_the_recorded_build_saw() {
	let scratch = Scratch::new();
	scratch.record_a_build();

	// Same commit, same content: every file and the git HEAD the node watches are fresh.
	let same = scratch.checkout("same");
	assert!(!is_fresh(&same.join("a.rs")), "a clone's files start new");
	let said = scratch.run(&same, "restore");
	assert!(said.contains("3 of 3 files"), "{said}");
	assert!(is_fresh(&same.join("a.rs")) && is_fresh(&same.join("b.rs")));
	assert!(is_fresh(&same.join(".git/HEAD")), "the recorded commit's HEAD is fresh");

	// A later commit changed b.rs: b.rs stays new (its crates rebuild), a.rs is fresh, and the
	// commit the node's version names is not the recorded one, so HEAD stays new.
	fs::write(scratch.origin.join("b.rs"), "fn b() { let _changed = 1; }\n").unwrap();
	git(&scratch.origin, &["commit", "--quiet", "-am", "second"]);
	let later = scratch.checkout("later");
	let said = scratch.run(&later, "restore");
	assert!(said.contains("2 of 3 files"), "{said}");
	assert!(is_fresh(&later.join("a.rs")));
	assert!(!is_fresh(&later.join("b.rs")), "changed content is never made fresh");
	assert!(!is_fresh(&later.join(".git/HEAD")), "another commit's HEAD stays new");

	// After the run every file is new again: a later build there trusts nothing.
	scratch.run(&later, "reset");
	assert!(!is_fresh(&later.join("a.rs")));
}

#[test]
fn anything_built_since_the_record_voids_it() {
	let scratch = Scratch::new();
	scratch.record_a_build();

	// Another build (any profile, any tree) rewrote a crate's fingerprint after the record:
	// the crates may no longer be the ones built from the recorded content.
	let fingerprint = scratch.target.join("release/.fingerprint/crate-0123/lib-crate");
	let file = fs::File::options().write(true).open(&fingerprint).unwrap();
	file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
	let checkout = scratch.checkout("after-another-build");
	let said = scratch.run(&checkout, "restore");
	assert!(said.contains("changed since the recorded build"), "{said}");
	assert!(!is_fresh(&checkout.join("a.rs")));
	assert!(!is_fresh(&checkout.join(".git/HEAD")));

	// A new crate built since (a new fingerprint directory) voids it too.
	scratch.record_a_build();
	fs::create_dir_all(scratch.target.join("debug/.fingerprint/crate-4567")).unwrap();
	fs::write(scratch.target.join("debug/.fingerprint/crate-4567/lib-crate"), "4567").unwrap();
	let checkout = scratch.checkout("after-a-debug-build");
	let said = scratch.run(&checkout, "restore");
	assert!(said.contains("changed since the recorded build"), "{said}");
	assert!(!is_fresh(&checkout.join("a.rs")));
}

#[test]
fn a_file_changed_while_the_build_ran_leaves_no_record() {
	let scratch = Scratch::new();
	scratch.run(&scratch.origin, "begin");
	// Edited mid-build: cargo may have compiled either version, so nothing can be vouched for.
	fs::write(scratch.origin.join("a.rs"), "fn a() { let _edited = 1; }\n").unwrap();
	let said = scratch.run(&scratch.origin, "end");
	assert!(said.contains("sources changed during the build"), "{said}");
	let checkout = scratch.checkout("after-an-edit");
	let said = scratch.run(&checkout, "restore");
	assert!(said.contains("no recorded build"), "{said}");
	assert!(!is_fresh(&checkout.join("a.rs")) && !is_fresh(&checkout.join("b.rs")));
}
