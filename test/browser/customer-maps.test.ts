/**
 * The customer's address, map and checkout in Chromium (playwright-core), against the platform and
 * a local stand-in for the geocoder (test/helpers/geo-stub.ts), with map tiles that cannot load:
 * the address comes from the CEP and number, the pin is dragged and named again (reverse geocoding),
 * a closed supplier is listed apart and ordered for a slot, a declined card is shown in words and
 * the order is paid again by PIX within the retry window. No coordinates are typed.
 */
import fs from "fs";
import os from "os";
import path from "path";
import type { BrowserContext, Page } from "playwright-core";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { GeoStub, startGeoStub } from "../helpers/geo-stub";
import { openNav } from "./harness";
import { createCustomer, createProduct, createSupplier, localHhmm, Market, startMarket } from "../helpers/market";

jest.setTimeout(90_000);
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const available = fs.existsSync(CHROMIUM);
if (!available && process.env.REQUIRE_INFRA !== "1")
	console.warn(`\n!!! SKIPPING customer maps: ${CHROMIUM} is missing\n`);

(available || process.env.REQUIRE_INFRA === "1" ? describe : describe.skip)(
	"customer address, map and checkout",
	() => {
		let m: Market;
		let geo: GeoStub;
		let context: BrowserContext;
		let page: Page;
		let userDataDir: string;
		const problems: string[] = [];
		let night: { id: string; email: string; token: string };

		beforeAll(async () => {
			geo = await startGeoStub();
			m = await startMarket({
				GEOCODER_URL: geo.url,
				CEP_URL: geo.url,
				MAP_TILE_URL: "http://127.0.0.1:9/{z}/{x}/{y}.png",
				PAYMENT_RETRY_GRACE_MS: "600000",
			});
			const open = await createSupplier(m, {
				businessName: "Gás Sempre Aberto",
				location: { lat: -23.552, lng: -46.634 },
			});
			await createProduct(m, open.token, { priceCents: 11500 });
			const closed = (night = await createSupplier(m, {
				businessName: "Gás Noturno",
				location: { lat: -23.553, lng: -46.635 },
				openingHours: { open: localHhmm(2), close: localHhmm(6) },
			}));
			await createProduct(m, closed.token, { priceCents: 10500 });
			const customer = await createCustomer(m);

			const { chromium } = await import("playwright-core");
			userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-maps-"));
			context = await chromium.launchPersistentContext(userDataDir, {
				executablePath: CHROMIUM,
				headless: true,
				args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
				viewport: { width: 390, height: 844 },
				locale: "pt-BR",
			});
			context.setDefaultTimeout(8000);
			page = await context.newPage();
			page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
			page.on("response", (res) => {
				if (res.status() >= 400 && !new URL(res.url()).pathname.startsWith("/api/"))
					problems.push(`${res.status()} ${res.url()}`);
			});
			const base = gatewayUrl(m.broker);
			await page.goto(`${base}/#/login`);
			await page.fill("#login-form [name=email]", customer.email);
			await page.fill("#login-form [name=password]", "customer-pass-1");
			await page.click("#login-form button[type=submit]");
			await page.waitForURL(/#\/shop$/);
		});

		afterAll(async () => {
			await context?.close().catch(() => undefined);
			if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
			await m?.stop();
			await geo?.close();
		});

		afterEach(() => expect(problems.splice(0)).toEqual([]));

		test("CEP and number fill the street; the dragged pin is named again; closed suppliers are apart", async () => {
			// Nothing typed yet: the catalog is not asked, the customer is told what is missing.
			await page.click("#search-form button[type=submit]");
			await page.waitForSelector("#search-form .form-error:not([hidden])");
			expect(await page.locator(".offer").count()).toBe(0);

			await page.fill("#addr-cep", "01001000");
			await page.waitForSelector("#addr-pin:has-text('Praça da Sé')");
			expect(await page.inputValue("#addr-city")).toBe("São Paulo");
			expect(await page.inputValue("#addr-district")).toBe("Sé");
			await page.fill("#addr-number", "1");
			await page.press("#addr-number", "Tab");
			await page.waitForSelector("#addr-pin:has-text('Praça da Sé, 1')");

			const marker = page.locator("#addr-map .leaflet-marker-icon");
			await marker.waitFor();
			const box = (await marker.boundingBox())!;
			const before = geo.requests.filter((r) => r.startsWith("/reverse")).length;
			await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
			await page.mouse.down();
			await page.mouse.move(box.x + box.width / 2 + 25, box.y + box.height / 2 + 15, { steps: 5 });
			await page.mouse.up();
			await waitFor(async () => geo.requests.filter((r) => r.startsWith("/reverse")).length > before, 5000);
			await page.click("#search-form button[type=submit]");
			await page.waitForSelector(".offer[data-open=true]:has-text('Gás Sempre Aberto')");
			const closed = page.locator("#offers-closed .offer", { hasText: "Gás Noturno" });
			await closed.waitFor();
			expect(await closed.textContent()).toMatch(/Fechada agora · abre (hoje|amanhã) às \d\d:\d\d/);
			await page.screenshot({ path: path.join(os.tmpdir(), "gasrapido-customer-offers.png"), fullPage: true });
		});

		test("a closed supplier is scheduled; a declined card is explained and paid again by PIX", async () => {
			await page.locator("#offers-closed .offer", { hasText: "Gás Noturno" }).locator("button.schedule").click();
			expect(await page.isChecked("#checkout-form input[name=when][value=later]")).toBe(true);
			expect(await page.isDisabled("#checkout-form input[name=when][value=now]")).toBe(true);
			expect(await page.locator("#f-slot option").count()).toBeGreaterThan(0);
			await page.fill("#checkout-form [name=cardNumber]", "4000 0000 0000 0002");
			await page.fill("#checkout-form [name=expiry]", `12/${String((new Date().getUTCFullYear() + 1) % 100)}`);
			await page.fill("#checkout-form [name=cvc]", "123");
			await page.click("#checkout-form button[type=submit]");
			await page.waitForURL(/#\/orders\/[^/]+$/);
			// The decline in words, with the way to pay again (no "payment_failed: card_declined").
			await page.waitForSelector("#retry-payment", { timeout: 10_000 });
			expect(await page.textContent("#retry-payment")).toContain("o banco recusou o cartão");
			expect(await page.textContent("main")).not.toContain("card_declined");
			expect(await page.textContent(".order-detail")).toContain("Agendado");
			await page.click("#retry-pix button[type=submit]");
			await page.waitForSelector(".pix code", { timeout: 10_000 }).catch(async (err) => {
				throw new Error(`${err.message}; page says: ${await page.textContent(".order-detail")}`);
			});
			expect(await page.locator("#retry-payment").count()).toBe(0);
			const width = await page.evaluate("document.documentElement.scrollWidth");
			expect(width).toBeLessThanOrEqual(390);
			await page.screenshot({ path: path.join(os.tmpdir(), "gasrapido-customer-retry.png"), fullPage: true });
		});

		test("the supplier opens 24 h from its profile page and the catalog shows it open at once", async () => {
			const sup = await context.newPage();
			await sup.goto(`${gatewayUrl(m.broker)}/#/login`);
			await sup.fill("#login-form [name=email]", night.email);
			await sup.fill("#login-form [name=password]", "supplier-pass-1");
			await sup.click("#login-form button[type=submit]");
			await sup.waitForURL(/#\/today$/); // the supplier starts on its day view
			await openNav(sup, "/profile");
			await sup.waitForSelector("#supplier-profile-form #biz-map .leaflet-marker-icon");
			await sup.fill("#supplier-profile-form [name=open]", "00:00");
			await sup.fill("#supplier-profile-form [name=close]", "23:59");
			await sup.click("#supplier-profile-form button[type=submit]");
			await sup.waitForSelector("#profile-saved:has-text('Salvo')");
			await waitFor(async () => {
				const res = await m.api.get(`/api/products?lat=-23.5505&lng=-46.6333&supplierId=${night.id}`);
				return res.body.rows.length === 1;
			}, 5000);
			await sup.close();
		});
	},
);
