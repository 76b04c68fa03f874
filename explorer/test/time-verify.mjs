// Time "verify in this browser" on a request's page, each run in a fresh browser context (so
// the artifact and the verifier are downloaded again):
//   node time-verify.mjs <explorer URL> <request id> <runs>
// Prints each run's time as the page reports it (artifact download included) and the median.

import { chromium } from "playwright-core";

const [base, requestId, runs] = process.argv.slice(2);
const browser = await chromium.launch({
	executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
	args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const times = [];
for (let run = 0; run < Number(runs); run++) {
	const context = await browser.newContext();
	const page = await context.newPage();
	await page.goto(`${base}/#/request/${requestId}`);
	await page.waitForSelector("#verify:not([disabled])", { timeout: 60_000 });
	await page.click("#verify");
	await page.waitForSelector("#verdict.pass, #verdict.fail", { timeout: 120_000 });
	const verdict = await page.$eval("#verdict", (v) => ({ passed: v.classList.contains("pass"), ms: Number(v.dataset.milliseconds) }));
	if (!verdict.passed) throw new Error(`run ${run}: verification failed`);
	times.push(verdict.ms);
	console.log(`run ${run + 1}: verified in ${verdict.ms} ms`);
	await context.close();
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(`median ${median} ms: text-direction classifier verified in the browser within 1 s (${median <= 1000 ? "met" : "NOT met"})`);
