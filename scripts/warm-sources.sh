#!/usr/bin/env bash
# Content-addressed freshness for a clean clone built on the persistent target directory.
#
# Cargo rebuilds a crate when one of its source files is newer than the crate's last build.
# Every file of a fresh clone is new, so CI on a clone of a commit the target directory has
# already built recompiled every crate of the workspace and relinked the node, for nothing.
# This script lets a clone skip that work by content, never by trusting timestamps:
#
#   begin    before `make build`: hash every tracked file of this tree
#   end      after `make build` succeeded: if no tracked file changed while it ran, record
#            those hashes with a digest of the target directory's build fingerprints
#   restore  in a fresh clone, before its build (`.ci/run`): only if the target directory's
#            fingerprints are exactly as the recorded build left them (nothing built since,
#            in any profile), give each file whose content equals the recorded one an old
#            timestamp, so cargo takes the crates built from that content as fresh; a file
#            that differs keeps its new timestamp and its crates rebuild. If the clone's
#            commit is the recorded one, `.git/HEAD` and its ref get an old timestamp too:
#            the node's build script, which embeds the commit, watches them
#   reset    after the clone's run: every tracked file back to the current time, so a later
#            build in the clone (another profile, say) trusts nothing
#
# What it does not guard against: two builds of different trees running at once on the one
# target directory between `begin` and `end` (the recorded fingerprints would then include
# the other tree's crates). Nothing here runs two builds at once.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}"
state_dir="$target_dir/warm-sources"
manifest="$state_dir/manifest"
# One pending record per tree, so builds of two trees never read each other's.
pending="$state_dir/pending-$(printf '%s' "$root" | sha256sum | cut -c1-16)"
# Older than any build on this machine: a file given this time is never newer than a crate.
old_time=@1000000000

log() { printf 'warm-sources: %s\n' "$*" >&2; }

# The commit checked out, and the files naming it that the node's build script watches.
head_commit() {
	git -C "$root" rev-parse HEAD
}
head_files() {
	local git_dir
	git_dir=$(git -C "$root" rev-parse --absolute-git-dir)
	echo "$git_dir/HEAD"
	local ref
	ref=$(git -C "$root" symbolic-ref -q HEAD || true)
	if [ -n "$ref" ] && [ -f "$git_dir/$ref" ]; then echo "$git_dir/$ref"; fi
	if [ -f "$git_dir/packed-refs" ]; then echo "$git_dir/packed-refs"; fi
}

# The hashes of every tracked file, as `sha256sum` prints them, paths relative to the root.
source_hashes() {
	git -C "$root" ls-files -z | (cd "$root" && xargs -0 sha256sum)
}

# A digest of every build fingerprint cargo keeps in the target directory (each rebuilt crate
# rewrites its own), with the runtime's Wasm blobs, whose build is a nested cargo's.
target_digest() {
	{
		find "$target_dir" -type d -name .fingerprint -prune -print0 |
			xargs -0 -r -I{} find {} -type f -printf '%p %T@\n'
		find "$target_dir/release/wbuild" -maxdepth 2 -name '*.wasm' -printf '%p %T@\n' 2>/dev/null || true
	} | LC_ALL=C sort | sha256sum | cut -d' ' -f1
}

if ! git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	log "not a git checkout: nothing to record or restore"
	exit 0
fi
mkdir -p "$state_dir"

case "${1:-}" in
begin)
	{
		head_commit
		source_hashes
	} >"$pending"
	;;
end)
	if [ ! -f "$pending" ]; then
		log "no record was begun for this tree"
		exit 0
	fi
	if { head_commit; source_hashes; } | cmp -s - "$pending"; then
		{
			target_digest
			cat "$pending"
		} >"$manifest.new"
		mv "$manifest.new" "$manifest"
	else
		rm -f "$manifest"
		log "sources changed during the build: no record kept"
	fi
	rm -f "$pending"
	;;
restore)
	if [ ! -f "$manifest" ]; then
		log "no recorded build: every crate of the clone rebuilds"
		exit 0
	fi
	if [ "$(head -n1 "$manifest")" != "$(target_digest)" ]; then
		log "the target directory changed since the recorded build: every crate of the clone rebuilds"
		exit 0
	fi
	matching=$(mktemp)
	trap 'rm -f "$matching"' EXIT
	if [ "$(sed -n 2p "$manifest")" = "$(head_commit)" ]; then
		head_files | tr '\n' '\0' | xargs -0 -r touch -m -d "$old_time"
	fi
	# Lines of the current tree's hashes that the record holds verbatim: same path, same content.
	tail -n +3 "$manifest" | LC_ALL=C sort >"$matching.recorded"
	source_hashes | LC_ALL=C sort | LC_ALL=C comm -12 - "$matching.recorded" | cut -c67- >"$matching"
	rm -f "$matching.recorded"
	(cd "$root" && tr '\n' '\0' <"$matching" | xargs -0 -r touch -m -d "$old_time")
	log "$(wc -l <"$matching") of $(git -C "$root" ls-files | wc -l) files as the recorded build saw them"
	;;
reset)
	git -C "$root" ls-files -z | (cd "$root" && xargs -0 -r touch -m)
	;;
*)
	echo "usage: $0 begin|end|restore|reset" >&2
	exit 2
	;;
esac
