//! `verity explorer`: the web explorer over HTTP. It serves the page (its files are compiled
//! into this program), the polkadot-js bundle and the WebAssembly verifier that `make build`
//! writes into the target directory, and the local store's artifacts by id (with CORS, as
//! executors serve them), so the page can re-run any result. The page itself talks to the
//! node's RPC from the browser.

use crate::CliError;
use axum::{
	extract::{Path, State},
	http::header::{CACHE_CONTROL, CONTENT_TYPE},
	response::{IntoResponse, Response},
	routing::get,
	Router,
};
use std::{path::PathBuf, sync::Arc};
use verity_executor::ModelStore;

/// The page's own files.
const PAGE: [(&str, &str, &str); 4] = [
	("/", "text/html; charset=utf-8", include_str!("../../explorer/index.html")),
	("/app.js", "text/javascript", include_str!("../../explorer/app.js")),
	("/style.css", "text/css", include_str!("../../explorer/style.css")),
	("/verifier.mjs", "text/javascript", include_str!("../../verifier/js/verifier.mjs")),
];

/// What the server holds: the built assets and the store.
struct Served {
	/// `polkadot.js`, the bundle of the page's libraries.
	bundle: Vec<u8>,
	/// The WebAssembly verifier.
	verifier: Vec<u8>,
	/// `config.json`: the node the page connects to.
	config: String,
	/// The artifacts.
	store: ModelStore,
}

/// Where `make build` writes the bundle and the verifier: the target directory this program
/// was built into (or `$CARGO_TARGET_DIR`).
fn assets_dir() -> PathBuf {
	std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
		let exe = std::env::current_exe().unwrap_or_default();
		exe.parent().and_then(|dir| dir.parent()).map(PathBuf::from).unwrap_or_default()
	})
}

/// Serve the explorer on `listen` for the node at `node_url`, artifacts from `store`.
pub async fn serve(
	listen: &str,
	node_url: &str,
	assets: Option<PathBuf>,
	store: ModelStore,
) -> Result<(), CliError> {
	let assets = assets.unwrap_or_else(assets_dir);
	let read = |path: PathBuf| {
		std::fs::read(&path).map_err(|error| {
			CliError::new(format!(
				"cannot read {} ({error}); `make build` writes it (or pass --assets)",
				path.display()
			))
		})
	};
	let served = Arc::new(Served {
		bundle: read(assets.join("explorer/polkadot.js"))?,
		verifier: read(
			assets.join("verifier-wasm/wasm32-unknown-unknown/release/verity_verifier.wasm"),
		)?,
		config: serde_json::json!({ "node": node_url }).to_string(),
		store,
	});
	let mut router = Router::new();
	for (path, content_type, body) in PAGE {
		router =
			router.route(path, get(move || async move { ([(CONTENT_TYPE, content_type)], body) }));
	}
	let router = router
		.route("/polkadot.js", get(bundle))
		.route("/verifier.wasm", get(verifier))
		.route("/config.json", get(config))
		.route("/v1/artifacts/{id}", get(artifact))
		.with_state(served);
	let listener = tokio::net::TcpListener::bind(listen)
		.await
		.map_err(|error| CliError::new(format!("cannot listen on {listen}: {error}")))?;
	let address = listener.local_addr().map_err(|error| CliError::new(error.to_string()))?;
	println!("explorer: http://{address}/ (node {node_url})");
	axum::serve(listener, router)
		.await
		.map_err(|error| CliError::new(error.to_string()))
}

async fn bundle(State(served): State<Arc<Served>>) -> Response {
	([(CONTENT_TYPE, "text/javascript")], served.bundle.clone()).into_response()
}

async fn verifier(State(served): State<Arc<Served>>) -> Response {
	([(CONTENT_TYPE, "application/wasm")], served.verifier.clone()).into_response()
}

async fn config(State(served): State<Arc<Served>>) -> Response {
	([(CONTENT_TYPE, "application/json"), (CACHE_CONTROL, "no-store")], served.config.clone())
		.into_response()
}

/// An artifact from the store by id, to any origin, as executors serve it.
async fn artifact(State(served): State<Arc<Served>>, Path(id): Path<String>) -> Response {
	verity_executor::server::artifact_response(served.store.clone(), &id).await
}
