//! Unit tests: every call, every error, and the invariants after each test.

mod entries;
mod recall;
mod spaces;

use crate::{mock::*, Access, Event};
use frame_support::assert_ok;
use verity_primitives::{ContentKind, EntryId, SpaceId};

/// A space owned by `OWNER` with `WRITER` and `READER` granted their access.
fn space_with_grants() -> SpaceId {
	assert_ok!(Memory::create_space(RuntimeOrigin::signed(OWNER), EMBEDDER));
	let space = crate::NextSpaceId::<Test>::get() - 1;
	assert_ok!(Memory::grant(RuntimeOrigin::signed(OWNER), space, WRITER, Access::Write));
	assert_ok!(Memory::grant(RuntimeOrigin::signed(OWNER), space, READER, Access::Read));
	space
}

/// Remember `text` as `who`; returns the entry and its embedding request.
fn remember_text(who: AccountId, space: SpaceId, text: &str) -> (EntryId, u64) {
	assert_ok!(Memory::remember(
		RuntimeOrigin::signed(who),
		space,
		text.as_bytes().to_vec(),
		ContentKind::Text
	));
	match last_event() {
		Event::Remembered { entry, embedding_request: Some(request), .. } => (entry, request),
		other => panic!("expected Remembered with a request, got {other:?}"),
	}
}

/// The last event this pallet emitted.
fn last_event() -> Event<Test> {
	System::events()
		.into_iter()
		.rev()
		.find_map(|record| match record.event {
			RuntimeEvent::Memory(event) => Some(event),
			_ => None,
		})
		.expect("the pallet emitted an event")
}
