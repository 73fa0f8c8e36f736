/**
 * The web app in a real browser (headless Chromium through playwright-core) against the whole
 * platform started in-process: a customer registers and signs in through the UI, compares prices,
 * orders with the test card and sees the order confirmed; a courier sets up, goes available,
 * reports a location, gets the order, starts the delivery and closes it with the customer's
 * handover code while the customer's page follows it live (SSE); an admin sees the figures.
 *
 * Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped loudly without it, failed under REQUIRE_INFRA=1.
 */
import fs from "fs";
import path from "path";
import type { BrowserContext, Page } from "playwright-core";
import { ADMIN, gatewayUrl, waitFor } from "../helpers/broker";
import { createProduct, createSupplier, HOME, login, Market, startMarket } from "../helpers/market";
import { ALL_SERVICES } from "../../lib/infra/config";
import { Browser, describeWithChromium, launchBrowser, openNav, SCREENSHOT_DIR } from "./harness";
import { GeoStub, startGeoStub } from "../helpers/geo-stub";

jest.setTimeout(60_000);

const screenshot = (page: Page, name: string) =>
	page.screenshot({ path: path.join(SCREENSHOT_DIR, `webapp-${name}.png`), fullPage: true });

describeWithChromium("web app in a browser", () => {
	let m: Market;
	let context: BrowserContext;
	let base: string;
	let browser: Browser;
	let supplier: { id: string; token: string };
	const customer = {
		name: "Ana Cliente",
		email: `ana-${Date.now().toString(36)}@test.local`,
		password: "ana-password-1",
	};
	let customerPage: Page;
	let orderId = "";
	let geo: GeoStub;

	beforeAll(async () => {
		geo = await startGeoStub();
		m = await startMarket(
			{
				DISPATCH_RETRY_MS: "500",
				TRACK_HEARTBEAT_MS: "1000",
				NOTIFY_RETRY_BASE_MS: "20",
				GEOCODER_URL: geo.url,
				CEP_URL: geo.url,
				// Tiles that cannot load (nothing listens there): the pages work without them.
				MAP_TILE_URL: "http://127.0.0.1:9/{z}/{x}/{y}.png",
			},
			[...ALL_SERVICES],
		);
		base = gatewayUrl(m.broker);
		supplier = await createSupplier(m, { businessName: "Gás Bom Centro", location: { lat: -23.56, lng: -46.64 } });
		await createProduct(m, supplier.token, { type: "P13", priceCents: 11000, depositCents: 15000, stock: 10 });

		fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
		browser = await launchBrowser({ geolocation: { latitude: HOME.lat, longitude: HOME.lng } });
		context = browser.context;
		customerPage = await context.newPage();
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
		await geo?.close();
	});

	test("a customer registers, is refused a wrong password, and signs in", async () => {
		const page = customerPage;
		await page.goto(`${base}/#/register`);
		await page.fill("#register-form [name=name]", customer.name);
		await page.fill("#register-form [name=email]", customer.email);
		await page.fill("#register-form [name=password]", "short");
		await page.click("#register-form button[type=submit]");
		// The server's 422 is shown beside the password field, and nothing was created.
		await page.waitForSelector("#register-form .form-error:not([hidden])");
		expect(await page.getAttribute("#register-form [name=password]", "class")).toContain("invalid");
		expect((await m.api.post("/api/auth/login", { email: customer.email, password: "short" })).status).toBe(401);

		await page.fill("#register-form [name=password]", customer.password);
		await page.click("#register-form button[type=submit]");
		await page.waitForURL(/#\/shop$/);
		expect(await page.textContent(".who")).toContain(customer.name);

		await page.click("#logout");
		await page.waitForURL(/#\/login$/);
		expect(await page.evaluate("sessionStorage.length")).toBe(0);
		await page.fill("#login-form [name=email]", customer.email);
		await page.fill("#login-form [name=password]", "wrong-password-1");
		await page.click("#login-form button[type=submit]");
		await page.waitForSelector("#login-form .form-error:not([hidden])");
		expect(await page.textContent("#login-form .form-error")).toContain("E-mail ou senha incorretos");

		await page.fill("#login-form [name=password]", customer.password);
		await page.click("#login-form button[type=submit]");
		await page.waitForURL(/#\/shop$/);
	});

	test("the customer compares prices, orders with the test card and sees the order confirmed", async () => {
		const page = customerPage;
		// No coordinates typed: the device's position, named by the geocoder, shown on the map.
		await page.click("#search-form button:has-text('localização')");
		await page.waitForSelector("#addr-pin:has-text('Praça da Sé')");
		expect(await page.inputValue("#search-form [name=city]")).toBe("São Paulo");
		await page.waitForSelector("#addr-map .leaflet-marker-icon");
		await page.selectOption("#search-form [name=type]", "P13");
		await page.click("#search-form button[type=submit]");
		const offer = page.locator(".offer", { hasText: "Gás Bom Centro" });
		await offer.waitFor();
		// Intl's BRL format puts a no-break space after "R$".
		expect((await offer.textContent())!.replace(/\s/g, " ")).toContain("R$ 110,00");
		await screenshot(page, "offers");
		await offer.locator("button.choose").click();

		expect(await page.textContent("#checkout-address")).toContain("Praça da Sé");
		await page.fill("#checkout-form [name=cardNumber]", "4242 4242 4242 4242");
		await page.fill(
			"#checkout-form [name=expiry]",
			`12/${String((new Date().getUTCFullYear() + 1) % 100).padStart(2, "0")}`,
		);
		await page.fill("#checkout-form [name=cvc]", "123");
		// An impossible quantity: the server's field error shows at the quantity, no order is stored.
		await page.fill("#checkout-form [name=quantity]", "99");
		await page.click("#checkout-form button[type=submit]");
		await page.waitForSelector("#checkout-form .form-error:not([hidden])");
		expect(await page.getAttribute("#checkout-form [name=quantity]", "class")).toContain("invalid");
		const token = await login(m.api, customer.email, customer.password);
		expect((await m.api.get("/api/orders?withTotal=true", { token })).body.total).toBe(0);

		await page.fill("#checkout-form [name=quantity]", "1");
		const [orderRequest] = await Promise.all([
			page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/api/orders")),
			page.click("#checkout-form button[type=submit]"),
		]);
		expect(orderRequest.headers()["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
		await page.waitForURL(/#\/orders\/[^/]+$/);
		orderId = decodeURIComponent(page.url().split("/orders/")[1]);
		await page.waitForSelector("#order-status .badge-confirmed", { timeout: 10_000 });
		expect(await page.textContent("#order-status")).toContain("Confirmado");
		expect(await page.textContent("#handover-code")).toMatch(/^\d{6}$/);
		expect(await page.textContent("#history")).toContain("Criado");

		const stored = await m.api.get(`/api/orders/${orderId}`, { token });
		expect(stored.body).toMatchObject({
			status: "confirmed",
			paymentMethod: "card",
			totalCents: 11000 + stored.body.totals.deliveryFeeCents,
		});
		await screenshot(page, "order");

		await openNav(page, "/orders");
		await page.waitForSelector(`#orders-list tr[data-order-id="${orderId}"]`);
	});

	test("a courier takes the order and delivers it with the handover code while the customer watches", async () => {
		const courier = { email: `moto-${Date.now().toString(36)}@test.local`, password: "courier-pass-1" };
		await m.broker.call("users.create", { ...courier, name: "Carlos Moto", role: "courier", status: "active" });
		await customerPage.goto(`${base}/#/orders/${orderId}`);
		const handoverCode = (await customerPage.textContent("#handover-code"))!.trim();

		const page = await context.newPage();
		await page.goto(`${base}/#/login`);
		await page.fill("#login-form [name=email]", courier.email);
		await page.fill("#login-form [name=password]", courier.password);
		await page.click("#login-form button[type=submit]");
		await page.waitForSelector("#courier-profile-form");
		await page.fill("#courier-profile-form [name=plate]", "ABC1D23");
		await page.click("#courier-profile-form button[type=submit]");

		await page.fill("#location-form [name=lat]", "-23.5600");
		await page.fill("#location-form [name=lng]", "-46.6400");
		await page.click("#location-form button[type=submit]");
		await page.waitForSelector("#location-log:has-text('Posição enviada')");
		await page.click("#toggle-status");
		await page.waitForSelector("#courier-status .badge-available, #courier-status .badge-busy");

		await waitFor(async () => {
			if ((await page.locator(`.assigned[data-order-id="${orderId}"]`).count()) > 0) return true;
			await page.reload();
			await page.waitForSelector("#assigned-orders > *");
			return false;
		}, 10_000);
		// The customer's page learns of the courier from the live stream.
		await customerPage.waitForSelector("#courier-live:has-text('Entregador')", { timeout: 5000 });

		await screenshot(page, "courier");
		await page.click("#start-delivery button[type=submit]");
		await page.waitForSelector(`.assigned[data-order-id="${orderId}"] .badge-in_transit`);
		await customerPage.waitForSelector("#order-status .badge-in_transit", { timeout: 5000 });

		const wrong = handoverCode === "0000" ? "1111" : "0000";
		await page.fill("#deliver-form [name=handoverCode]", wrong);
		await page.click("#deliver-form button[type=submit]");
		await page.waitForSelector("#deliver-form .form-error:not([hidden])");
		expect(await page.textContent("#deliver-form .form-error")).toContain("O código de entrega não confere");

		await page.fill("#deliver-form [name=handoverCode]", handoverCode);
		await page.click("#deliver-form button[type=submit]");
		await page.waitForSelector("#assigned-orders .empty");
		await customerPage.waitForSelector("#order-status .badge-delivered", { timeout: 5000 });
		await page.close();

		// The customer was told along the way; reading marks the notifications read.
		await customerPage.click("#nav a[href='#/notifications']");
		await customerPage.waitForSelector("#notifications-list li.unread");
		expect(Number(await customerPage.textContent("#unread-badge"))).toBeGreaterThan(0);
		await customerPage.click("#mark-all-read");
		await customerPage.waitForSelector("#notifications-list li.read");
		expect(await customerPage.locator("#notifications-list li.unread").count()).toBe(0);
		await customerPage.waitForSelector("#unread-badge", { state: "hidden" });
	});

	test("an expired access token is renewed once with the refresh token; the user stays signed in", async () => {
		const saved = process.env.JWT_EXPIRES_IN;
		process.env.JWT_EXPIRES_IN = "2s";
		const page = await context.newPage();
		try {
			await page.goto(`${base}/#/login`);
			await page.fill("#login-form [name=email]", customer.email);
			await page.fill("#login-form [name=password]", customer.password);
			await page.click("#login-form button[type=submit]");
			await page.waitForURL(/#\/shop$/);
			const session = () =>
				page.evaluate(`JSON.parse(sessionStorage.getItem("gasrapido.session") || "null")`) as Promise<{
					token: string;
					refreshToken: string;
				}>;
			const before = await session();
			expect(before.refreshToken).toEqual(expect.any(String));
			await new Promise((r) => setTimeout(r, 3000));
			// Two requests at once with the expired token: one refresh serves both (a refresh token works once).
			// A string, so that the TypeScript transform leaves the browser's dynamic import alone.
			const answers = await page.evaluate(`(async () => {
				const http = await import("/http.js");
				const [a, b] = await Promise.all([http.get("/api/notifications"), http.get("/api/orders")]);
				return [Array.isArray(a.rows), Array.isArray(b.rows)];
			})()`);
			expect(answers).toEqual([true, true]);
			const after = await session();
			expect(after.token).not.toBe(before.token);
			expect(after.refreshToken).not.toBe(before.refreshToken);
		} finally {
			if (saved === undefined) delete process.env.JWT_EXPIRES_IN;
			else process.env.JWT_EXPIRES_IN = saved;
			await page.close();
		}
	});

	test("an admin invites a supplier, who registers with the link and uploads a document the admin approves", async () => {
		const admin = await context.newPage();
		await admin.goto(`${base}/#/login`);
		await admin.fill("#login-form [name=email]", ADMIN.email);
		await admin.fill("#login-form [name=password]", ADMIN.password);
		await admin.click("#login-form button[type=submit]");
		await admin.waitForURL(/#\/admin\/verification$/);

		// The day's order is in the metrics (analytics counts from the event stream: reload until it is).
		await openNav(admin, "/metrics");
		await waitFor(async () => {
			await admin.locator("#metrics-table tr.totals").waitFor();
			if (((await admin.locator("#metrics-table tr.totals td").first().textContent()) || "").trim() === "1")
				return true;
			await admin.reload();
			return false;
		}, 8000);
		await screenshot(admin, "metrics");

		const email = `revenda-${Date.now().toString(36)}@test.local`;
		await openNav(admin, "/invites");
		await admin.fill("#invite-form [name=email]", email);
		await admin.selectOption("#invite-form [name=role]", "supplier");
		await admin.click("#invite-form button[type=submit]");
		const link = (await admin.locator(".invite-link").textContent())!;
		expect(link).toMatch(/#\/register\?invite=[A-Za-z0-9_-]{16,}$/);
		await admin.waitForSelector("#invites-list tr .badge-pending");

		const page = await context.newPage();
		await page.goto(link);
		expect(await page.textContent(".invite-info")).toContain("Revendedor");
		expect(await page.textContent(".invite-info")).toContain("Administrator");
		await page.fill("#register-form [name=name]", "João Revenda");
		await page.fill("#register-form [name=email]", email);
		await page.fill("#register-form [name=password]", "supplier-pass-1");
		await page.fill("#register-form [name=businessName]", "Gás do João");
		await page.fill("#register-form [name=cep]", "01310-100");
		await page.click("#biz-cep-search");
		await page.waitForSelector("#biz-pin:has-text('Avenida Paulista')");
		await page.click("#register-form button[type=submit]");
		// A new supplier lands on its verification, not on an empty orders page.
		await page.waitForURL(/#\/verification$/);
		expect(await page.textContent(".who")).toContain("Revendedor");
		await page.waitForSelector("#verification-status .badge-awaiting_documents");
		await page.selectOption("#upload-form [name=type]", "company_registration");
		await page.fill("#upload-form [name=cnpj]", "11.222.333/0001-00");
		await page.setInputFiles("#upload-form [name=file]", {
			name: "cnpj.pdf",
			mimeType: "application/pdf",
			buffer: Buffer.from("%PDF-1.4\n% GasRápido test\n"),
		});
		await page.click("#upload-form button[type=submit]");
		// A CNPJ with wrong check digits is refused at its field.
		await page.waitForSelector("#upload-form .field-error");
		expect(await page.getAttribute("#upload-form [name=cnpj]", "class")).toContain("invalid");
		await page.fill("#upload-form [name=cnpj]", "11.222.333/0001-81");
		await page.click("#upload-form button[type=submit]");
		await page.waitForSelector("li[data-type=company_registration] .badge-pending_review");

		await openNav(admin, "/admin/verification");
		// The queue names the business and its e-mail, labels the fields and formats the CNPJ.
		const card = admin.locator("#review-queue article", { hasText: "11.222.333/0001-81" });
		await card.locator(".user-line:has-text('Gás do João')").waitFor();
		expect(await card.textContent()).toContain(email);
		expect(await card.locator("dl.facts dt").first().textContent()).toBe("CNPJ");
		expect(await card.locator("dl.facts").textContent()).not.toContain("cnpj");
		// The document itself, shown in place.
		await card.locator("button.show-document").click();
		await card.locator("iframe.doc-preview").waitFor();
		await card.locator(".approve-form button").click();
		await admin.waitForSelector("#review-queue .empty");

		await page.reload();
		await page.waitForSelector("li[data-type=company_registration] .badge-approved");
		await screenshot(page, "verification");
		await Promise.all([admin.close(), page.close()]);
	});
});
