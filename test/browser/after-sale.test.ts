/**
 * After-sale features in a real browser (headless Chromium through playwright-core): the catalog's
 * brand filter and best-rated sort, the customer rating a delivered order from its page and
 * downloading its receipt.
 *
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped loudly without it, failed under REQUIRE_INFRA=1.
 */
import fs from "fs";
import os from "os";
import path from "path";
import type { BrowserContext, Page } from "playwright-core";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { ALL_SERVICES } from "../../lib/infra/config";
import { Market, startMarket } from "../helpers/market";
import { GeoStub, startGeoStub } from "../helpers/geo-stub";
import { deliveredOrder, orderInTransit, Shop, shopWithCourier } from "../helpers/delivered";

jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const hasChromium = fs.existsSync(CHROMIUM);
if (!hasChromium && process.env.REQUIRE_INFRA !== "1")
	console.warn(`\n!!! SKIPPING after-sale browser tests: no ${CHROMIUM}\n`);

(hasChromium || process.env.REQUIRE_INFRA === "1" ? describe : describe.skip)("after-sale in a browser", () => {
	let m: Market;
	let context: BrowserContext;
	let page: Page;
	let base: string;
	let userDataDir: string;
	let shop: Shop;
	let geo: GeoStub;
	const problems: string[] = [];

	beforeAll(async () => {
		if (!hasChromium) throw new Error(`REQUIRE_INFRA=1 but ${CHROMIUM} is missing`);
		geo = await startGeoStub();
		m = await startMarket(
			{
				DISPATCH_RETRY_MS: "500",
				GEOCODER_URL: geo.url,
				CEP_URL: geo.url,
				// Tiles that cannot load (nothing listens there): the pages work without them.
				MAP_TILE_URL: "http://127.0.0.1:9/{z}/{x}/{y}.png",
			},
			[...ALL_SERVICES],
		);
		base = gatewayUrl(m.broker);
		shop = await shopWithCourier(m, { brand: "supergasbras" });
		const { chromium } = await import("playwright-core");
		userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-chromium-"));
		context = await chromium.launchPersistentContext(userDataDir, {
			executablePath: CHROMIUM,
			headless: true,
			args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
			viewport: { width: 420, height: 900 },
			locale: "pt-BR",
		});
		context.setDefaultTimeout(8000);
		page = await context.newPage();
		page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
	});

	afterEach(() => expect(problems.splice(0)).toEqual([]));

	afterAll(async () => {
		await context?.close().catch(() => undefined);
		if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
		await m?.stop();
		await geo?.close();
	});

	test("the customer rates a delivered order from its page, once; the catalog filters by brand and shows the rating", async () => {
		const { customer, order } = await deliveredOrder(m, shop);
		await page.goto(`${base}/#/login`);
		await page.fill("#login-form [name=email]", customer.email);
		await page.fill("#login-form [name=password]", "customer-pass-1");
		await page.click("#login-form button[type=submit]");
		await page.waitForURL(/#\/shop$/);

		await page.goto(`${base}/#/orders/${order.id}`);
		await page.waitForSelector("#rating-form");
		await page.selectOption("#rating-form [name=supplierRating]", "4");
		await page.selectOption("#rating-form [name=courierRating]", "5");
		await page.fill("#rating-form [name=comment]", "Chegou rápido");
		await page.click("#rating-form button[type=submit]");
		await page.waitForSelector("#review-given");
		expect(await page.textContent("#review-given")).toContain("Chegou rápido");
		const stored = await m.api.get(`/api/reviews/orders/${order.id}`, { token: customer.token });
		expect(stored.body).toMatchObject({ supplierRating: 4, courierRating: 5 });
		// the receipt downloads as a file named for the order
		const [file] = await Promise.all([page.waitForEvent("download"), page.click("#receipt-download")]);
		expect(file.suggestedFilename()).toBe(`recibo-${order.id}.html`);
		const saved = fs.readFileSync((await file.path())!, "utf8");
		expect(saved).toContain("Recibo de entrega");
		// reloaded, the page shows the review and no form (rated once)
		await page.reload();
		await page.waitForSelector("#review-given");
		expect(await page.locator("#rating-form").count()).toBe(0);

		await page.goto(`${base}/#/shop`);
		// The address by CEP and number (the stub's Praça da Sé, where the shop delivers); no coordinates typed.
		await page.fill("#addr-cep", "01001000");
		await page.waitForSelector("#addr-pin:has-text('Praça da Sé')");
		await page.fill("#addr-number", "1");
		await page.press("#addr-number", "Tab");
		await page.waitForSelector("#addr-pin:has-text('Praça da Sé, 1')");
		await page.selectOption("#search-form [name=brand]", "supergasbras");
		await page.selectOption("#search-form [name=sort]", "rating");
		const [request] = await Promise.all([
			page.waitForRequest((r) => r.url().includes("/api/products")),
			page.click("#search-form button[type=submit]"),
		]);
		expect(request.url()).toContain("brand=supergasbras");
		expect(request.url()).toContain("sort=rating");
		const offer = page.locator(`.offer[data-product-id="${shop.product.id}"]`);
		await waitFor(async () => {
			if ((await offer.count()) === 0) await page.click("#search-form button[type=submit]");
			return (await offer.count()) > 0 && (await offer.textContent())!.includes("★ 4 (1)");
		}, 8000);
		expect(await page.locator(".offer").count()).toBe(1);
	});

	test("the courier attaches a proof photo naming who received the cylinder", async () => {
		const { order } = await orderInTransit(m, shop);
		await page.evaluate("sessionStorage.clear()");
		await page.goto(`${base}/#/login`);
		await page.fill("#login-form [name=email]", shop.courier.email);
		await page.fill("#login-form [name=password]", "courier-pass-1");
		await page.click("#login-form button[type=submit]");
		await page.waitForURL((url) => !url.hash.startsWith("#/login"));
		await page.goto(`${base}/#/orders/${order.id}`);
		await page.waitForSelector("#proof-form");
		await page.fill("#proof-form [name=leftWith]", "Seu Jorge (porteiro)");
		const photo = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
		await page.setInputFiles("#proof-form input[type=file]", {
			name: "porta.png",
			mimeType: "image/png",
			buffer: photo,
		});
		await page.click("#proof-form button[type=submit]");
		await page.waitForSelector("#proof-done:not([hidden])");
		const proof = await m.broker.call("proofs.forOrder", { orderId: order.id });
		expect(proof).toMatchObject({ leftWith: "Seu Jorge (porteiro)" });
	});
});
