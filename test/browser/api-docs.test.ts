/**
 * The API reference page (/api/docs) in headless Chromium: Swagger UI loads from the gateway alone
 * (no request leaves it), reads /api/openapi.json and shows the operations, without script errors.
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped loudly without it, failed under REQUIRE_INFRA=1.
 */
import fs from "fs";
import os from "os";
import path from "path";
import { ServiceBroker } from "moleculer";
import { gatewayUrl, startBroker } from "../helpers/broker";

jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const present = fs.existsSync(CHROMIUM);
if (!present && process.env.REQUIRE_INFRA === "1")
	test("requires chromium", () => {
		throw new Error(`REQUIRE_INFRA=1 but ${CHROMIUM} is missing (apt-get install -y chromium)`);
	});
else if (!present)
	console.warn(`\n!!! SKIPPING the API reference page test: ${CHROMIUM} is missing (apt-get install -y chromium).\n`);

(present ? describe : describe.skip)("API reference page in a browser", () => {
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = await startBroker({ services: ["api", "users"] });
	});
	afterAll(() => broker.stop());

	test("Swagger UI shows the operations of /api/openapi.json, served by the gateway only", async () => {
		const base = gatewayUrl(broker);
		const { chromium } = await import("playwright-core");
		const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-apidocs-"));
		const context = await chromium.launchPersistentContext(userDataDir, {
			executablePath: CHROMIUM,
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
		});
		try {
			const page = await context.newPage();
			const problems: string[] = [];
			const foreign: string[] = [];
			page.on("pageerror", (err) => problems.push(err.message));
			page.on("request", (req) => {
				if (!req.url().startsWith(base) && !req.url().startsWith("data:")) foreign.push(req.url());
			});
			page.on("response", (res) => res.status() >= 400 && problems.push(`${res.status()} ${res.url()}`));
			await page.goto(`${base}/api/docs`);
			await page.waitForSelector(".opblock", { timeout: 15_000 });
			expect(await page.locator(".opblock").count()).toBeGreaterThan(10);
			expect(await page.locator(".info .title").innerText()).toMatch(/GasRápido API/);
			expect(await page.getByText("/api/auth/login", { exact: true }).count()).toBeGreaterThan(0);
			await page.screenshot({ path: path.join(os.tmpdir(), "gasrapido-api-docs.png") });
			expect(problems).toEqual([]);
			expect(foreign).toEqual([]);
		} finally {
			await context.close();
			fs.rmSync(userDataDir, { recursive: true, force: true });
		}
	});
});
