//! Unit tests of the inference pallet on the mock runtime.

mod models;
