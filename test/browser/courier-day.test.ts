/**
 * A courier's day on a phone (390 px) with job offers on (DISPATCH_OFFER_MS): two orders are
 * offered one after the other; the courier declines nothing, accepts both within the time and
 * carries them at once (capacity 2), sees them in route order with the address in words, a
 * navigation link and the customer's name; the harness checks the screen (overflow, axe, targets).
 */
import type { Page } from "playwright-core";
import { ALL_SERVICES } from "../../lib/infra/config";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { createCustomer, createProduct, createSupplier, Market, orderBody, startMarket } from "../helpers/market";
import { Browser, checkScreen, describeWithChromium, expectClean, launchBrowser, signedInPage } from "./harness";

jest.setTimeout(120_000);

describeWithChromium("a courier's day with job offers", () => {
	let m: Market;
	let browser: Browser;
	let base: string;
	let page: Page;
	const city = { lat: -8.05, lng: -34.9 }; // Recife

	beforeAll(async () => {
		m = await startMarket({ DISPATCH_OFFER_MS: "30000", DISPATCH_RETRY_MS: "500" }, [...ALL_SERVICES]);
		base = gatewayUrl(m.broker);
		const email = `entrega-${Date.now().toString(36)}@test.local`;
		await m.broker.call("users.create", {
			email,
			password: "courier-pass-1",
			name: "Bia Moto",
			role: "courier",
			status: "active",
		});
		const session = (await m.api.post("/api/auth/login", { email, password: "courier-pass-1" })).body;
		const token = session.token;
		await m.api.post("/api/couriers", { vehicle: { type: "motorcycle", plate: "PEX1A23" }, capacity: 2 }, { token });
		const at = { lat: city.lat + 0.004, lng: city.lng };
		await m.api.put(`/api/couriers/${session.user.id}/location`, { ...at, at: new Date().toISOString() }, { token });
		await m.api.put(`/api/couriers/${session.user.id}/status`, { status: "available" }, { token });
		browser = await launchBrowser({ geolocation: { latitude: at.lat, longitude: at.lng } });
		page = await signedInPage(browser.context, base, session);
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
	});

	test("accepts two offers and carries both, in route order, with words, links and a phone-sized screen", async () => {
		const supplier = await createSupplier(m, { businessName: "Gás Recife", location: city });
		const product = await createProduct(m, supplier.token, { stock: 10 });
		const place = async (street: string, km: number) => {
			const customer = await createCustomer(m);
			const res = await m.api.post(
				"/api/orders",
				orderBody(supplier.id, product.id, {
					deliveryAddress: {
						street,
						number: "10",
						city: "Recife",
						phone: "+55 81 99999-0000",
						lat: city.lat - km / 111.19,
						lng: city.lng,
					},
				}),
				{ token: customer.token },
			);
			expect(res.status).toBe(201);
			return res.body.id as string;
		};
		await page.goto(`${base}/#/courier`);
		await page.waitForSelector("#courier-status");

		const far = await place("Rua da Aurora", 3);
		const offer = page.locator(`.offer-card[data-order-id="${far}"]`);
		await offer.waitFor({ timeout: 15_000 });
		expect(await offer.locator(".countdown").textContent()).toMatch(/^\d+ s$/);
		expect(await offer.textContent()).toContain("pago");
		await offer.locator("button.accept-offer").click();
		await page.waitForSelector(`.assigned[data-order-id="${far}"]`);

		const near = await place("Rua do Bom Jesus", 1);
		const second = page.locator(`.offer-card[data-order-id="${near}"]`);
		await second.waitFor({ timeout: 15_000 });
		await second.locator("button.accept-offer").click();
		await page.waitForSelector(`.assigned[data-order-id="${near}"]`);
		await waitFor(async () => (await page.locator("#offers .offer-card").count()) === 0, 5000);

		// Route: pick up once at the supplier, then the nearer customer before the farther one.
		const stops = await page.$$eval("#route li", (lis) =>
			lis.map((li) => `${li.getAttribute("data-kind")}:${li.getAttribute("data-order-id")}`),
		);
		const deliveries = stops.filter((s) => s.startsWith("delivery:"));
		expect(deliveries).toEqual([`delivery:${near}`, `delivery:${far}`]);
		expect(stops.indexOf(`pickup:${near}`)).toBeLessThan(stops.indexOf(`delivery:${near}`));

		const card = page.locator(`.assigned[data-order-id="${near}"]`);
		expect(await card.locator(".address").textContent()).toContain("Rua do Bom Jesus, 10");
		expect(await card.textContent()).toContain("Maria Cliente");
		expect(await card.locator("a.phone").getAttribute("href")).toBe("tel:+5581999990000");
		expect(await card.textContent()).not.toMatch(/-8\.0\d{3}/);
		const directions = await card.locator("a.button[href^='https://www.google.com/maps/dir/']").getAttribute("href");
		expect(directions).toContain("destination=");
		expect(await card.locator("a[href^='geo:']").count()).toBe(1);

		expectClean("courier-two-orders", await checkScreen(page, base, "courier-two-orders", "/courier", "#route"));
	});
});
