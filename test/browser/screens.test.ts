/**
 * Every role's screens through the harness (test/browser/harness.ts): at 390 px and at desktop
 * size, no horizontal scroll, no console error, no serious or critical axe-core violation, touch
 * targets of 44 px on the phone; a screenshot of each under test-results/screenshots/.
 * The platform runs in-process with a confirmed order assigned to a courier, so the lists have rows.
 */
import fs from "fs";
import path from "path";
import { ALL_SERVICES } from "../../lib/infra/config";
import type { Page } from "playwright-core";
import { ADMIN, gatewayUrl, waitFor } from "../helpers/broker";
import { createProduct, createSupplier, HOME, Market, orderBody, startMarket, waitForStatus } from "../helpers/market";
import {
	Browser,
	checkScreen,
	describeWithChromium,
	expectClean,
	launchBrowser,
	pageWidths,
	signedInPage,
	SMALL_PHONE,
} from "./harness";

jest.setTimeout(120_000);

type Session = { token: string; refreshToken: string; user: { id: string; role: string } };

describeWithChromium("every role's screens at 390 px and desktop", () => {
	let m: Market;
	let browser: Browser;
	let base: string;
	const sessions: Record<string, Session> = {};
	const pages: Record<string, Page> = {};
	let orderId = "";

	const signIn = async (email: string, password: string): Promise<Session> => {
		const res = await m.api.post("/api/auth/login", { email, password });
		if (res.status !== 200) throw new Error(`login ${email}: ${res.status}`);
		return res.body as Session;
	};

	beforeAll(async () => {
		m = await startMarket({ DISPATCH_RETRY_MS: "500", TRACK_HEARTBEAT_MS: "1000" }, [...ALL_SERVICES]);
		base = gatewayUrl(m.broker);
		const supplier = await createSupplier(m, {
			businessName: "Gás Bom Centro",
			location: { lat: -23.56, lng: -46.64 },
		});
		const product = await createProduct(m, supplier.token, {
			type: "P13",
			priceCents: 11000,
			stock: 4,
			lowStockThreshold: 5,
		});
		sessions.supplier = await signIn(supplier.email, "supplier-pass-1");

		const customerEmail = `ana-${Date.now().toString(36)}@test.local`;
		await m.api.post("/api/users", { email: customerEmail, password: "ana-password-1", name: "Ana Cliente" });
		sessions.customer = await signIn(customerEmail, "ana-password-1");

		const courierEmail = `moto-${Date.now().toString(36)}@test.local`;
		await m.broker.call("users.create", {
			email: courierEmail,
			password: "courier-pass-1",
			name: "Carlos Moto",
			role: "courier",
			status: "active",
		});
		sessions.courier = await signIn(courierEmail, "courier-pass-1");
		const courierId = sessions.courier.user.id;
		const token = sessions.courier.token;
		await m.api.post("/api/couriers", { vehicle: { type: "motorcycle", plate: "ABC1D23" }, capacity: 2 }, { token });
		await m.api.put(`/api/couriers/${courierId}/location`, { ...HOME, at: new Date().toISOString() }, { token });
		await m.api.put(`/api/couriers/${courierId}/status`, { status: "available" }, { token });

		const order = await m.api.post("/api/orders", orderBody(supplier.id, product.id), {
			token: sessions.customer.token,
		});
		orderId = order.body.id;
		await waitForStatus(m, orderId, sessions.customer.token, "confirmed");
		await waitFor(
			async () =>
				(await m.api.get(`/api/orders/${orderId}`, { token: sessions.customer.token })).body.courierId === courierId,
			8000,
		);
		sessions.admin = await signIn(ADMIN.email, ADMIN.password);

		browser = await launchBrowser({ geolocation: { latitude: HOME.lat, longitude: HOME.lng } });
		for (const role of Object.keys(sessions)) pages[role] = await signedInPage(browser.context, base, sessions[role]);
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
	});

	const SCREENS: [role: string, name: string, hash: () => string, ready: string][] = [
		["customer", "customer-shop", () => "/shop", "#search-form"],
		["customer", "customer-orders", () => "/orders", "#orders-list tr[data-order-id]"],
		["customer", "customer-order", () => `/orders/${orderId}`, "#order-status"],
		["customer", "customer-notifications", () => "/notifications", "#notifications-list > *"],
		["supplier", "supplier-orders", () => "/orders", "#orders-list tr[data-order-id]"],
		["supplier", "supplier-products", () => "/products", "main .card"],
		["supplier", "supplier-invites", () => "/invites", "#invite-form"],
		["supplier", "supplier-metrics", () => "/metrics", "main .card"],
		["supplier", "supplier-statement-empty", () => "/statement", "#statement-totals"],
		["courier", "courier", () => "/courier", `.assigned[data-order-id]`],
		["courier", "courier-verification", () => "/verification", "main .card"],
		["courier", "courier-earnings-empty", () => "/earnings", "#statement-totals"],
		["admin", "admin-verification", () => "/admin/verification", "#review-queue"],
		["admin", "admin-alerts", () => "/admin/alerts", "main .card"],
		["admin", "admin-orders", () => "/orders", "#orders-list tr[data-order-id]"],
		["admin", "admin-notify", () => "/admin/notify", "main form"],
		["admin", "admin-invites", () => "/invites", "#invite-form"],
		["admin", "admin-users", () => "/admin/users", "#users-list .user-card"],
		["admin", "admin-payments", () => "/admin/payments", "#payments-list .payment-card"],
		["admin", "admin-couriers", () => "/admin/couriers", "#couriers-list .courier-card a[href^='#/orders/']"],
		["admin", "admin-security", () => "/admin/security", "#mfa-start"],
		["admin", "admin-finance-empty", () => "/admin/finance", "#payouts-list > *"],
	];

	for (const [role, name, hash, ready] of SCREENS)
		test(`${name}: fits a phone, no console error, no serious axe violation`, async () => {
			expectClean(name, await checkScreen(pages[role], base, name, hash(), ready));
		});

	test("the app is installable: manifest, icons and service worker served with their types; the shell works offline", async () => {
		const manifest = await fetch(`${base}/manifest.webmanifest`);
		expect(manifest.headers.get("content-type")).toMatch(/^application\/manifest\+json/);
		const body = (await manifest.json()) as { icons: { src: string; sizes: string; type: string }[]; display: string };
		expect(body.display).toBe("standalone");
		for (const size of ["192x192", "512x512"]) {
			const icon = body.icons.find((i) => i.sizes === size && i.type === "image/png")!;
			const res = await fetch(`${base}${icon.src}`);
			expect([res.status, res.headers.get("content-type")]).toEqual([200, "image/png"]);
		}
		const sw = await fetch(`${base}/sw.js`);
		expect(sw.headers.get("content-type")).toMatch(/javascript/);

		const page = pages.courier;
		await page.goto(`${base}/#/courier`);
		expect(await page.getAttribute("link[rel=manifest]", "href")).toBe("/manifest.webmanifest");
		await page.waitForFunction("navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready", null, {
			timeout: 10_000,
		});
		await waitFor(
			() => page.evaluate("navigator.serviceWorker.ready.then((r) => !!r.active)") as Promise<boolean>,
			10_000,
		);
		// Every script and stylesheet of the app is in the shell (a view left out would not open offline).
		const worker = await (await fetch(`${base}/sw.js`)).text();
		const version = /const VERSION = "([^"]+)"/.exec(worker)![1];
		const publicDir = path.resolve(__dirname, "../../public");
		const appFiles = [
			...fs.readdirSync(publicDir).filter((f) => /\.(js|css)$/.test(f) && f !== "sw.js"),
			...fs.readdirSync(path.join(publicDir, "views")).map((f) => `views/${f}`),
		];
		for (const file of appFiles) expect(worker).toContain(`"/${file}"`);
		await waitFor(() => page.evaluate(`caches.has('${version}')`) as Promise<boolean>, 10_000);
		// Offline, the shell still opens (from the cache); the API is not cached.
		await page.reload();
		await browser.context.setOffline(true);
		try {
			await page.reload();
			await page.waitForSelector("header.top .brand");
			expect(await page.title()).toContain("GasRápido");
		} finally {
			await browser.context.setOffline(false);
		}
		browser.takeProblems(); // offline fetches of the API fail by design
	});

	test("the admin sees the couriers on a map, named by plate, following the status filter", async () => {
		const page = pages.admin;
		await page.goto(`${base}/#/admin/couriers`);
		await page.waitForSelector("#couriers-map[data-couriers]");
		expect(Number(await page.getAttribute("#couriers-map", "data-couriers"))).toBeGreaterThanOrEqual(1);
		await page.waitForFunction(
			"[...document.querySelectorAll('#couriers-map .leaflet-tooltip')].some((t) => t.textContent.includes('ABC1D23'))",
		);
		// Offline couriers (no position) are listed but not drawn: the count follows the filter.
		await page.selectOption("select[name=status]", "offline");
		await page.waitForFunction("document.querySelector('#couriers-map').dataset.couriers === '0'");
		expect(browser.takeProblems()).toEqual([]);
	});

	test("the admin reads alerts in words with a link, and enrols in MFA with a QR code", async () => {
		const page = pages.admin;
		await waitFor(async () => {
			const res = await m.api.get("/api/alerts?status=open", { token: sessions.admin.token });
			return res.body.rows.some((a: { rule: string }) => a.rule === "low_stock");
		}, 10_000);
		await page.goto(`${base}/#/admin/alerts`);
		const words = page.locator("#alerts-list .alert-words", { hasText: "Estoque baixo" });
		await words.waitFor();
		await page.waitForFunction(
			"[...document.querySelectorAll('#alerts-list .alert-words')].some((p) => p.textContent.includes('Gás Bom Centro'))",
		);
		expect(await words.first().textContent()).not.toMatch(/product [A-Za-z0-9_-]{6}/);

		await page.goto(`${base}/#/admin/security`);
		await page.click("#mfa-start");
		await page.waitForSelector("#mfa-qr");
		expect(await page.getAttribute("#mfa-qr", "src")).toMatch(/^data:image\/svg\+xml;base64,/);
		expect(await page.evaluate("document.getElementById('mfa-qr').naturalWidth")).toBeGreaterThan(0);
		expect((await page.textContent("#mfa-secret"))!.trim()).toMatch(/^[A-Z2-7]{16,}$/);
		await page.fill("#mfa-enable-form [name=code]", "000000");
		await page.click("#mfa-enable-form button[type=submit]");
		await page.waitForSelector("#mfa-enable-form .form-error:not([hidden])");
		// A wrong code is said in place; the admin stays signed in and may type it again.
		expect(page.url()).toMatch(/#\/admin\/security$/);
	});

	test("the navigation fits a 360 px phone: every link whole and reachable (behind Menu for roles with many)", async () => {
		for (const role of ["customer", "supplier", "courier", "admin"]) {
			const page = pages[role];
			const reports = await checkScreen(page, base, `${role}-nav-360`, "/notifications", "#notifications-list > *", [
				{ name: "phone-360", ...SMALL_PHONE },
			]);
			expectClean(`${role} at 360 px`, reports);
			const links = page.locator("#nav a");
			const count = await links.count();
			expect(count).toBeGreaterThanOrEqual(3);
			if (await page.locator("#menu-toggle").isVisible()) {
				expect(["supplier", "admin"]).toContain(role);
				expect(await links.first().isVisible()).toBe(false);
				await page.click("#menu-toggle");
				expect(await page.getAttribute("#menu-toggle", "aria-expanded")).toBe("true");
				expectClean(`${role} menu open at 360 px`, await checkOpenMenu(page));
			}
			for (let i = 0; i < count; i++) {
				const box = (await links.nth(i).boundingBox())!;
				expect(box.x).toBeGreaterThanOrEqual(0);
				expect(box.x + box.width).toBeLessThanOrEqual(SMALL_PHONE.width);
				expect(box.height).toBeGreaterThanOrEqual(44);
			}
			// Each link shows its whole text (nothing clipped).
			const cut = await page.$$eval("#nav a", (all) =>
				all.filter((a) => a.scrollWidth > a.clientWidth + 1).map((a) => a.textContent),
			);
			expect(cut).toEqual([]);
			// Following a link closes the menu again.
			await links.last().click();
			await page.waitForURL(/#\/notifications$/);
		}
	});

	/** The open menu measured in place (no reload, which would close it). */
	async function checkOpenMenu(page: Page) {
		const { scrollWidth, innerWidth } = await pageWidths(page);
		return [
			{ size: "menu", width: innerWidth, scrollWidth, innerWidth, violations: [], smallTargets: [], screenshot: "" },
		];
	}
});
