// Verity's explorer: models, executors and recent requests from the node, live; a request's
// input and output rendered; and "verify in this browser", which re-checks a result with the
// WebAssembly verifier, the same checks `verity verify` makes.
//
// Everything comes from the node's own RPC through polkadot-js (the `inference_*` methods and
// storage decoded from the runtime's metadata); the canonical tensor encoding is decoded with
// polkadot-js's SCALE codec from a type registered below. Query parameters: `node` (the
// node's WebSocket URL), `executor` (where artifacts are fetched; the page's own server by
// default).

import {
	ApiPromise, WsProvider, cryptoWaitReady, hexToU8a, signatureVerify, u8aToHex,
} from "./polkadot.js";
import { loadVerifier } from "./verifier.mjs";

const params = new URLSearchParams(location.search);
const config = await fetch("config.json").then((r) => r.json()).catch(() => ({}));
const nodeUrl = params.get("node") ?? config.node ?? "ws://127.0.0.1:9944";
const executorUrl = (params.get("executor") ?? location.origin).replace(/\/$/, "");
const view = document.getElementById("view");

const provider = new WsProvider(nodeUrl);
const api = await ApiPromise.create({ provider, noInitWarn: true });
// The canonical tensor encoding (verity-primitives' `TensorMap`): SCALE, decoded by the codec.
api.registry.register({
	VerityDType: { _enum: ["F32", "F64", "I8", "U8", "I16", "I32", "I64", "Bool"] },
	VerityTensor: { name: "Bytes", dtype: "VerityDType", shape: "Vec<u32>", data: "Bytes" },
});
/** A call of the node's own RPC methods (`inference_*`), answered as JSON. */
const rpc = (method, ...args) => provider.send(method, args);
const chain = await api.rpc.system.chain();
document.getElementById("chain").textContent = `${chain} at ${nodeUrl}`;

let verifierPromise = null;
/** The WebAssembly verifier, loaded once on first use. */
const verifier = () => (verifierPromise ??= Promise.all([
	loadVerifier(fetch("verifier.wasm")), cryptoWaitReady(),
]).then(([loaded]) => loaded));

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const bytesText = (value) => new TextDecoder().decode(Uint8Array.from(value ?? []));
const statusName = (status) => (typeof status === "string" ? status : Object.keys(status ?? {})[0] ?? "?");
const short = (hex) => `${hex.slice(0, 10)}…${hex.slice(-6)}`;
const equalBytes = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Decode the canonical tensor encoding into `{name, dtype, shape, data}` objects. */
function tensors(bytes) {
	return api.registry.createType("Vec<VerityTensor>", bytes).map((tensor) => ({
		name: bytesText(tensor.name.toU8a(true)),
		dtype: tensor.dtype.type,
		shape: tensor.shape.map((dim) => dim.toNumber()),
		data: tensor.data.toU8a(true),
	}));
}

/** A tensor's elements as numbers. */
function values(tensor) {
	const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
	const read = {
		F32: [4, (at) => view.getFloat32(at, true)], F64: [8, (at) => view.getFloat64(at, true)],
		I8: [1, (at) => view.getInt8(at)], U8: [1, (at) => view.getUint8(at)],
		I16: [2, (at) => view.getInt16(at, true)], I32: [4, (at) => view.getInt32(at, true)],
		I64: [8, (at) => Number(view.getBigInt64(at, true))], Bool: [1, (at) => view.getUint8(at)],
	}[tensor.dtype];
	return Array.from({ length: tensor.data.length / read[0] }, (_, i) => read[1](i * read[0]));
}

/** Models by id (hex), refreshed with the home page. */
let models = new Map();
async function loadModels() {
	const page = await rpc("inference_models", null, 1000);
	models = new Map(page.map(([id, info]) => [id, info]));
	return page;
}
const modelName = (id) => bytesText(models.get(id)?.metadata?.name) || short(id);

// ---- The home page: models, executors, recent requests. ----

async function home() {
	const [modelList, executors, next] = await Promise.all([
		loadModels(),
		api.query.inference.executors.entries(),
		api.query.inference.nextRequestId(),
	]);
	const newest = next.toNumber() - 1;
	const ids = Array.from({ length: Math.min(20, newest + 1) }, (_, i) => newest - i);
	const requests = (await Promise.all(ids.map((id) => rpc("inference_request", id)))).filter(Boolean);
	view.innerHTML = `
		<h2>Models</h2>
		<table id="models"><tr><th>Name</th><th>Id</th><th>Fee per run</th><th>Redundancy</th><th>Profile</th><th>Status</th></tr>
		${modelList.map(([id, info]) => `<tr>
			<td>${escape(bytesText(info.metadata.name))} ${escape(bytesText(info.metadata.version))}</td>
			<td class="hash">${escape(id)}</td><td>${escape(info.metadata.fee_per_run)}</td>
			<td>${escape(info.metadata.redundancy)}</td>
			<td><code>${escape(bytesText(info.metadata.execution_profile))}</code></td>
			<td>${escape(statusName(info.status))}</td></tr>`).join("")}
		</table>
		<h2>Recent requests</h2>
		<table id="requests"><tr><th>Id</th><th>Model</th><th>Status</th><th>Executors</th><th>Commitments</th><th>Reveals</th></tr>
		${requests.map((r) => `<tr data-request="${r.request_id}">
			<td><a href="#/request/${r.request_id}">${r.request_id}</a></td><td>${escape(modelName(r.model_id))}</td>
			<td class="status-${escape(statusName(r.status))}">${escape(statusName(r.status))}</td>
			<td>${r.assigned.map(([account]) => `<code>${escape(short(account))}</code>`).join("<br>")}</td>
			<td>${r.commitments.length}</td><td>${r.attestations.length}</td></tr>`).join("")}
		</table>
		<h2>Executors</h2>
		<table id="executors"><tr><th>Account</th><th>Bond</th><th>Status</th><th>Counters</th><th>Models</th></tr>
		${executors.map(([key, value]) => {
			const info = value.unwrapOr(value).toJSON();
			const stats = info.stats ?? {};
			return `<tr><td><code>${escape(key.args[0].toString())}</code></td><td>${escape(info.bond)}</td>
			<td>${escape(statusName(info.status))}</td>
			<td>${Object.entries(stats).map(([k, v]) => `${escape(k)}: ${escape(v)}`).join("<br>")}</td>
			<td>${(info.models ?? []).map((id) => escape(modelName(id))).join(", ")}</td></tr>`;
		}).join("")}
		</table>`;
}

// ---- A request's page. ----

/** The rendering of one tensor, by what it holds. */
function renderTensor(tensor, model) {
	const head = `<div class="muted">${escape(tensor.name)}: ${tensor.dtype} [${tensor.shape.join(", ")}]</div>`;
	if (tensor.dtype === "U8" && (tensor.name === "text")) {
		return `${head}<div class="generated">${escape(new TextDecoder().decode(tensor.data))}</div>`;
	}
	if (tensor.dtype === "F32" && tensor.shape.length === 4 && tensor.shape[1] === 3) {
		return `${head}<canvas data-image="${escape(tensor.name)}" width="${tensor.shape[3]}" height="${tensor.shape[2]}"></canvas>`;
	}
	const numbers = values(tensor);
	if (tensor.dtype === "F32" && numbers.length <= 16) {
		const labels = /text-direction/.test(model) && numbers.length === 2 ? ["upright (0°)", "upside down (180°)"] : null;
		return `${head}<table>${numbers.map((p, i) => `<tr><td>${escape(labels?.[i] ?? i)}</td><td>${p.toFixed(6)}</td></tr>`).join("")}</table>`;
	}
	if (tensor.dtype === "I8" || (tensor.dtype === "F32" && numbers.length <= 1024)) {
		const top = Math.max(...numbers.map(Math.abs), 1e-9);
		return `${head}<div class="bars" title="${numbers.length} values">${numbers.map((v) =>
			`<span class="${v < 0 ? "negative" : ""}" style="height:${(100 * Math.abs(v)) / top}%"></span>`).join("")}</div>`;
	}
	return `${head}<code>${escape(numbers.slice(0, 24).join(", "))}${numbers.length > 24 ? ", …" : ""}</code>`;
}

/** Draw image tensors (values in [-1, 1], channels first) onto their canvases. */
function drawImages(list) {
	for (const tensor of list) {
		const canvas = view.querySelector(`canvas[data-image="${CSS.escape(tensor.name)}"]`);
		if (!canvas) continue;
		const [, , height, width] = tensor.shape;
		const numbers = values(tensor);
		const image = canvas.getContext("2d").createImageData(width, height);
		for (let i = 0; i < width * height; i++) {
			for (let c = 0; c < 3; c++) {
				image.data[4 * i + c] = Math.round(((numbers[c * width * height + i] + 1) / 2) * 255);
			}
			image.data[4 * i + 3] = 255;
		}
		canvas.getContext("2d").putImageData(image, 0, 0);
		canvas.style.width = `${width * 2}px`;
	}
}

async function requestPage(id) {
	if (!models.size) await loadModels();
	const request = await rpc("inference_request", id);
	if (!request) {
		view.innerHTML = `<p>There is no request ${escape(id)}.</p>`;
		return;
	}
	const model = modelName(request.model_id);
	const status = statusName(request.status);
	const input = request.input && request.input !== "0x" ? tensors(hexToU8a(request.input)) : [];
	const output = request.output ? tensors(hexToU8a(request.output)) : [];
	view.innerHTML = `
		<h2>Request ${escape(id)}</h2>
		<dl>
			<dt>Model</dt><dd>${escape(model)} <code>${escape(request.model_id)}</code></dd>
			<dt>Status</dt><dd id="status" class="status-${escape(status)}">${escape(status)}</dd>
			<dt>Requester</dt><dd><code>${escape(request.requester)}</code></dd>
			<dt>Redundancy</dt><dd>${escape(request.redundancy)}</dd>
			<dt>Input hash</dt><dd class="hash">${escape(request.input_hash)}</dd>
			<dt>Output hash</dt><dd class="hash">${escape(request.status?.Finalized?.output_hash ?? "—")}</dd>
			<dt>Executors</dt><dd>${request.assigned.map(([account, key]) => `<code>${escape(account)}</code> key <code>${escape(short(key))}</code>`).join("<br>")}</dd>
			<dt>Commitments</dt><dd>${request.commitments.map(([account, c]) => `<code>${escape(short(account))}</code> → <code>${escape(short(c))}</code>`).join("<br>") || "—"}</dd>
			<dt>Reveals</dt><dd>${request.attestations.map((a) => `<code>${escape(short(a.executor))}</code> → <code>${escape(short(a.output_hash))}</code>${a.matches_commitment ? "" : " (broke its commitment)"}`).join("<br>") || "—"}</dd>
			${request.rejection ? `<dt>Rejection</dt><dd>${escape(request.rejection)}</dd>` : ""}
		</dl>
		<h2>Input</h2>${input.map((t) => renderTensor(t, model)).join("") || '<p class="muted">The chain no longer holds the input.</p>'}
		<h2>Output</h2>${output.map((t) => renderTensor(t, model)).join("") || '<p class="muted">No output yet.</p>'}
		<h2>Verify in this browser</h2>
		<p><button id="verify" ${status === "Finalized" ? "" : "disabled"}>Verify in this browser</button>
		<span id="verdict"></span></p>
		<ul class="checks" id="checks"></ul>`;
	drawImages([...input, ...output]);
	view.querySelector("#verify").addEventListener("click", () => verifyInBrowser(request).catch((error) => {
		const verdict = document.getElementById("verdict");
		verdict.className = "fail";
		verdict.textContent = `verification stopped: ${error.message}`;
		document.getElementById("verify").disabled = false;
	}));
	return status;
}

/**
 * Re-check a finalized request here, showing each check as it passes or fails; named as
 * `verity verify` names them. With `?tampered` in the page's URL the output is altered first
 * (the last byte flipped), to show what a wrong result looks like.
 */
async function verifyInBrowser(request) {
	const button = document.getElementById("verify");
	const list = document.getElementById("checks");
	const verdict = document.getElementById("verdict");
	button.disabled = true;
	list.innerHTML = "";
	verdict.className = "";
	verdict.textContent = "verifying…";
	const started = performance.now();
	const results = [];
	const check = (name, passed, detail) => {
		results.push(passed);
		const item = document.createElement("li");
		item.className = passed ? "pass" : "fail";
		item.dataset.check = name;
		item.innerHTML = `<strong>${escape(name)}</strong>: ${escape(detail)}`;
		list.append(item);
	};
	const breathe = () => new Promise((resolve) => setTimeout(resolve, 0));
	const loaded = await verifier();
	const model = models.get(request.model_id);
	const modelId = hexToU8a(request.model_id);

	// 1. The model artifact is the registered one.
	let artifact = null;
	try {
		const response = await fetch(`${executorUrl}/v1/artifacts/${request.model_id}`);
		if (!response.ok) throw new Error(`${response.status} from ${executorUrl}: ${await response.text()}`);
		artifact = new Uint8Array(await response.arrayBuffer());
		const matches = equalBytes(loaded.hash(artifact), modelId);
		check("model artifact", matches, matches
			? `${artifact.length} bytes hash to the model id ${request.model_id}`
			: `the ${artifact.length} bytes served hash to ${u8aToHex(loaded.hash(artifact))}, not the model id`);
	} catch (error) {
		check("model artifact", false, `cannot fetch the artifact: ${error.message}`);
	}

	// 2. Input and output hashes.
	const input = hexToU8a(request.input ?? "0x");
	const inputHash = u8aToHex(loaded.hash(input));
	check("input hash", inputHash === request.input_hash,
		`blake2-256 of the input is ${inputHash}, the request records ${request.input_hash}`);
	const recorded = request.status.Finalized.output_hash;
	let claim;
	let outputHash;
	if (request.rejection) {
		claim = { rejection: request.rejection };
		outputHash = u8aToHex(loaded.rejectionHash(request.rejection));
	} else {
		const output = hexToU8a(request.output);
		if (params.has("tampered")) output[output.length - 1] ^= 1;
		claim = { output };
		outputHash = u8aToHex(loaded.hash(output));
	}
	check("output hash", outputHash === recorded,
		`blake2-256 of the ${request.rejection ? "rejection" : "output"} is ${outputHash}, the result records ${recorded}`);

	// 3. Every attestation's signature, by a key the chain assigned.
	const genesis = hexToU8a(await rpc("inference_genesisHash"));
	const profile = Uint8Array.from(model.metadata.execution_profile);
	let agreeing = 0;
	for (const attestation of request.attestations) {
		const payload = loaded.attestationPayload(genesis, request.request_id, modelId, profile,
			hexToU8a(request.input_hash), hexToU8a(attestation.output_hash));
		const valid = signatureVerify(payload, attestation.signature, attestation.attestation_key).isValid;
		const assigned = request.assigned.some(([account, key]) => account === attestation.executor && key === attestation.attestation_key);
		if (attestation.output_hash === recorded && attestation.matches_commitment) agreeing += 1;
		check("attestation signature", valid && assigned,
			`executor ${attestation.executor}: ${valid ? "signature verifies" : "signature does NOT verify"} over output ${attestation.output_hash}${assigned ? "" : ", but its key was not assigned to this request"}`);
	}
	const quorum = Math.floor(request.redundancy / 2) + 1;
	check("quorum", agreeing >= quorum, `${agreeing} of ${request.redundancy} attestations match the output; ${quorum} needed`);

	// 4. Re-run the model here in WebAssembly and compare bytes (a generation: re-check every
	// token in one batched pass).
	const generation = artifact && new TextDecoder().decode(artifact.subarray(0, 4)) === "GGUF";
	const name = generation ? "token re-check" : "local re-run";
	if (!artifact) {
		check(name, false, "no verified artifact to run");
	} else {
		await breathe();
		try {
			check(name, true, loaded.recheck(artifact, modelId, input, claim));
		} catch (error) {
			check(name, false, error.message);
		}
	}
	const passed = results.every(Boolean);
	const milliseconds = Math.round(performance.now() - started);
	verdict.className = passed ? "pass" : "fail";
	verdict.dataset.milliseconds = milliseconds;
	verdict.textContent = `${passed ? "verified" : "FAILED"} in ${milliseconds} ms, artifact download included`;
	button.disabled = false;
}

// ---- Routing, and live updates on every new block. ----

let rendering = Promise.resolve();
async function render() {
	const match = location.hash.match(/^#\/request\/(\d+)/);
	try {
		if (match) {
			const status = await requestPage(Number(match[1]));
			document.body.dataset.page = `request-${status}`;
		} else {
			await home();
			document.body.dataset.page = "home";
		}
	} catch (error) {
		view.innerHTML = `<p class="status-Expired">Cannot read the chain: ${escape(error.message)}</p>`;
	}
}
window.addEventListener("hashchange", () => { rendering = rendering.then(render); });
rendering = rendering.then(render);
await api.rpc.chain.subscribeNewHeads((header) => {
	document.getElementById("chain").textContent = `${chain} at ${nodeUrl}, block #${header.number.toNumber()}`;
	// The home page follows every block; a request page until its result is final.
	const page = document.body.dataset.page ?? "";
	if (page === "home" || (page.startsWith("request-") && page !== "request-Finalized" && page !== "request-Expired")) {
		rendering = rendering.then(render);
	}
});
