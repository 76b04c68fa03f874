//! The pallet's invariants, checked by `try-runtime` and at the end of every unit test.

use crate::{Config, Models, Pallet};
use frame_support::ensure;
use sp_runtime::TryRuntimeError;

impl<T: Config> Pallet<T> {
	/// Check every invariant of the pallet's storage.
	///
	/// - Version links are mutual: `a.successor == Some(b)` exactly when
	///   `b.metadata.predecessor == Some(a)`.
	pub fn do_try_state() -> Result<(), TryRuntimeError> {
		for (model_id, model) in Models::<T>::iter() {
			if let Some(successor_id) = model.successor {
				let successor = Models::<T>::get(successor_id)
					.ok_or("a model's successor is not registered")?;
				ensure!(
					successor.metadata.predecessor == Some(model_id),
					"a model's successor does not name it as predecessor"
				);
			}
			if let Some(predecessor_id) = model.metadata.predecessor {
				let predecessor = Models::<T>::get(predecessor_id)
					.ok_or("a model's predecessor is not registered")?;
				ensure!(
					predecessor.successor == Some(model_id),
					"a model's predecessor does not name it as successor"
				);
			}
		}
		Ok(())
	}
}
