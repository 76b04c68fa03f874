// Drive the explorer in headless Chromium (Debian's, through playwright-core) for the
// explorer's integration test:
//   node drive.mjs <explorer URL> <request id> <screenshot directory>
// Waits for the request to appear on the home page and finalize, verifies it in the browser,
// then verifies it again with a tampered output; saves a screenshot of each stage and prints
// one JSON object with what the page showed.

import { chromium } from "playwright-core";

const [base, requestId, shots] = process.argv.slice(2);
if (!shots) {
	console.error("usage: drive.mjs <explorer URL> <request id> <screenshot directory>");
	process.exit(2);
}
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
	args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const errors = [];
page.on("pageerror", (error) => errors.push(error.message));

const row = `#requests tr[data-request="${requestId}"]`;
await page.goto(`${base}/`);
await page.waitForSelector(row, { timeout: 60_000 });
const appeared = await page.$eval(`${row} td:nth-child(3)`, (cell) => cell.textContent);
await page.screenshot({ path: `${shots}/home-new-request.png`, fullPage: true });
await page.waitForSelector(`${row} .status-Finalized`, { timeout: 180_000 });
await page.screenshot({ path: `${shots}/home-finalized.png`, fullPage: true });
const models = await page.$$eval("#models tr", (rows) => rows.slice(1).map((r) => r.cells[0].textContent.trim()));
const executors = await page.$$eval("#executors tr", (rows) => rows.length - 1);

/** Open the request page (with `query`), verify in the browser, and read the checks. */
async function verify(query, shot) {
	await page.goto(`${base}/${query}#/request/${requestId}`);
	await page.waitForSelector("#verify:not([disabled])", { timeout: 60_000 });
	await page.click("#verify");
	await page.waitForSelector("#verdict.pass, #verdict.fail", { timeout: 300_000 });
	const checks = await page.$$eval("#checks li", (items) => items.map((item) => ({
		name: item.dataset.check, passed: item.classList.contains("pass"), text: item.textContent,
	})));
	const verdict = await page.$eval("#verdict", (v) => ({
		passed: v.classList.contains("pass"), text: v.textContent, milliseconds: Number(v.dataset.milliseconds),
	}));
	const rendered = await page.$$eval("canvas, .bars, .generated, #view table", (nodes) => nodes.length);
	await page.screenshot({ path: `${shots}/${shot}`, fullPage: true });
	return { checks, verdict, rendered };
}

const honest = await verify("", "verified.png");
const tampered = await verify("?tampered", "tampered.png");
console.log(JSON.stringify({ appeared, models, executors, honest, tampered, errors }));
await browser.close();
