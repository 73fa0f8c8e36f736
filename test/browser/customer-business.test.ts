/**
 * The customer's business screens in Chromium (issues 17 and 18), against the whole platform and
 * the geocoder stand-in: the checkout sends a phone for the courier (prefilled from the account)
 * and "CPF na nota" (check digits refused in the browser, nothing placed); a P13 at a supplier
 * accredited for Gás do Povo is paid with a voucher, and the same voucher again is refused in
 * words; a supplier not accredited offers no voucher; the reorder reminder's link and a delivered
 * order's "Pedir de novo" open #/reorder/<id>, which shows what will be ordered and places it with
 * one tap; reorder reminders are turned off on #/preferences (the API holds it); a review posted
 * through the API is listed on the supplier's reviews page, reached from the offer's rating.
 * Each main screen is checked at phone and desktop size (overflow, axe, touch targets).
 */
import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { ALL_SERVICES } from "../../lib/infra/config";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { availableCourier } from "../helpers/delivered";
import { GeoStub, startGeoStub } from "../helpers/geo-stub";
import { adminToken, createProduct, createSupplier, Market, startMarket } from "../helpers/market";
import {
	Browser,
	checkScreen,
	describeWithChromium,
	DESKTOP,
	expectClean,
	launchBrowser,
	pageWidths,
	PHONE,
	signedInPage,
} from "./harness";

jest.setTimeout(120_000);

const SHOP_AT = { lat: -23.56, lng: -46.64 };
const PHONE_NUMBER = "(11) 98765-4321";
const CPF_OK = "390.533.447-05";
const BENEFICIARY = "529.982.247-25";

describeWithChromium("the customer's checkout extras, reorder, preferences and reviews", () => {
	let m: Market;
	let geo: GeoStub;
	let browser: Browser;
	let base: string;
	let page: Page;
	let customer: { id: string; email: string; token: string };
	let accredited: { id: string; token: string };
	let plain: { id: string; token: string };
	let accreditedProduct: { id: string };
	let plainProduct: { id: string };
	let courier: { id: string; token: string; email: string };
	let firstOrder: { id: string; handoverCode?: string };
	const voucherCode = `GDP-${String(Date.now()).slice(-8)}`;

	beforeAll(async () => {
		geo = await startGeoStub();
		m = await startMarket(
			{
				DISPATCH_RETRY_MS: "500",
				GEOCODER_URL: geo.url,
				CEP_URL: geo.url,
				MAP_TILE_URL: "http://127.0.0.1:9/{z}/{x}/{y}.png",
			},
			[...ALL_SERVICES],
		);
		base = gatewayUrl(m.broker);
		const admin = await adminToken(m.api);
		accredited = await createSupplier(m, { businessName: "Gás do Bairro", location: SHOP_AT });
		accreditedProduct = await createProduct(m, accredited.token, { type: "P13", priceCents: 11_000, stock: 50 });
		courier = await availableCourier(m, accredited.id, SHOP_AT);
		const put = await m.api.put(
			`/api/vouchers/accreditations/${accredited.id}`,
			{ accredited: true },
			{ token: admin },
		);
		expect(put.status).toBe(200);
		plain = await createSupplier(m, { businessName: "Gás Central", location: { lat: -23.552, lng: -46.634 } });
		plainProduct = await createProduct(m, plain.token, { type: "P13", priceCents: 12_500, stock: 50 });

		// A customer who registered with a phone: the checkout offers it for the courier.
		const email = `cliente-biz-${Date.now().toString(36)}@test.local`;
		const reg = await m.api.post("/api/users", {
			email,
			password: "customer-pass-1",
			name: "Joana Cliente",
			phone: PHONE_NUMBER,
		});
		expect([200, 201]).toContain(reg.status);
		const session = (await m.api.post("/api/auth/login", { email, password: "customer-pass-1" })).body;
		customer = { id: session.user.id, email, token: session.token };
		browser = await launchBrowser({ geolocation: { latitude: SHOP_AT.lat, longitude: SHOP_AT.lng } });
		page = await signedInPage(browser.context, base, session);
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
		await geo?.close();
	});

	const myOrders = async () =>
		(await m.api.get("/api/orders?pageSize=50", { token: customer.token })).body.rows as { id: string }[];

	/** The shop, the address by CEP and number (the stub's Praça da Sé), the offers compared. */
	async function compare() {
		await page.setViewportSize(PHONE);
		await page.goto(`${base}/#/shop`);
		await page.waitForSelector("#search-form");
		await page.fill("#addr-cep", "01001000");
		await page.waitForSelector("#addr-pin:has-text('Praça da Sé')");
		await page.fill("#addr-number", "1");
		await page.press("#addr-number", "Tab");
		await page.waitForSelector("#addr-pin:has-text('Praça da Sé, 1')");
		await page.click("#search-form button[type=submit]");
		await page.waitForSelector(`.offer[data-product-id="${accreditedProduct.id}"]`);
	}

	async function choose(productId: string) {
		await page.locator(`.offer[data-product-id="${productId}"] button.choose`).click();
		await page.waitForSelector("#checkout-form");
	}

	/** Overflow and axe on the screen as it is now (the checkout opens only after choosing an offer). */
	async function expectCleanHere(name: string) {
		const problems: string[] = [];
		for (const size of [PHONE, DESKTOP]) {
			await page.setViewportSize(size);
			await page.waitForTimeout(200);
			const { scrollWidth, innerWidth } = await pageWidths(page);
			if (scrollWidth > innerWidth) problems.push(`${size.width}: page is ${scrollWidth} px wide`);
			const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
			for (const v of axe.violations.filter((x) => x.impact === "serious" || x.impact === "critical"))
				problems.push(`${size.width}: axe ${v.id} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
		}
		await page.setViewportSize(PHONE);
		expect({ screen: name, problems }).toEqual({ screen: name, problems: [] });
	}

	test("a checkout with the courier's phone and CPF na nota reaches the order; the courier sees the phone", async () => {
		await compare();
		await choose(accreditedProduct.id);
		// Prefilled from the account's phone; the customer types a CPF for the receipt and pays cash.
		expect(await page.inputValue("#checkout-form [name=phone]")).toBe(PHONE_NUMBER);
		await page.fill("#checkout-form [name=cpf]", CPF_OK);
		await page.check("#checkout-form input[name=paymentMethod][value=cash]");
		await page.click("#checkout-form button[type=submit]");
		await page.waitForURL(/#\/orders\/[^/]+$/);
		const orderId = page.url().split("/").pop()!;
		const order = (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body;
		expect(order.deliveryAddress.phone).toBe(PHONE_NUMBER);
		expect(String(order.cpf).replace(/\D/g, "")).toBe("39053344705");
		expect(order.paymentMethod).toBe("cash");
		firstOrder = order;

		// The supplier's courier gets it and sees the phone to call.
		await waitFor(
			async () => (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body.courierId === courier.id,
			10_000,
		);
		const session = (await m.api.post("/api/auth/login", { email: courier.email, password: "courier-pass-1" })).body;
		const courierPage = await signedInPage(browser.context, base, session);
		await courierPage.goto(`${base}/#/courier`);
		const phone = courierPage.locator(`#order-${orderId} a.phone`);
		await phone.waitFor({ timeout: 10_000 });
		expect(await phone.textContent()).toBe(PHONE_NUMBER);
		expect(await phone.getAttribute("href")).toBe("tel:11987654321");
		await courierPage.close();
	});

	test("an invalid CPF na nota is shown at the field and nothing is placed", async () => {
		const before = (await myOrders()).length;
		await compare();
		await choose(accreditedProduct.id);
		await page.fill("#checkout-form [name=cpf]", "390.533.447-06");
		await page.check("#checkout-form input[name=paymentMethod][value=cash]");
		await page.click("#checkout-form button[type=submit]");
		const error = page.locator("#checkout-form .form-error:not([hidden])");
		await error.waitFor();
		expect(await error.textContent()).toContain("CPF na nota inválido");
		expect(await page.getAttribute("#checkout-form [name=cpf]", "class")).toContain("invalid");
		expect(page.url()).toMatch(/#\/shop$/);
		await page.waitForTimeout(300);
		expect((await myOrders()).length).toBe(before);
	});

	test("Gás do Povo pays a P13 at an accredited supplier; the same voucher again is refused in words", async () => {
		// A supplier not accredited offers no voucher.
		await compare();
		await choose(plainProduct.id);
		await page.waitForTimeout(500);
		expect(await page.locator("#checkout-form input[name=paymentMethod][value=voucher]").count()).toBe(0);

		await choose(accreditedProduct.id);
		const voucher = page.locator("#checkout-form input[name=paymentMethod][value=voucher]");
		await voucher.waitFor();
		await voucher.check();
		await page.waitForSelector("#voucher-fields:not([hidden])");
		// A wrong check digit is caught before anything is claimed.
		await page.fill("#checkout-form [name=voucherCpf]", "529.982.247-24");
		await page.fill("#checkout-form [name=voucherCode]", voucherCode);
		await page.click("#checkout-form button[type=submit]");
		await page.waitForSelector("#checkout-form .form-error:not([hidden])");
		expect(await page.getAttribute("#checkout-form [name=voucherCpf]", "class")).toContain("invalid");
		await expectCleanHere("checkout-voucher");

		await page.fill("#checkout-form [name=voucherCpf]", BENEFICIARY);
		await page.click("#checkout-form button[type=submit]");
		await page.waitForURL(/#\/orders\/[^/]+$/);
		const orderId = page.url().split("/").pop()!;
		await waitFor(async () => {
			const o = (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body;
			return (
				o.paymentMethod === "voucher" &&
				["authorized", "captured"].includes(o.paymentStatus) &&
				["confirmed", "in_transit"].includes(o.status)
			);
		}, 10_000);
		await page.waitForSelector(".order-detail:has-text('Vale Gás do Povo')");

		// The same voucher again: refused, in words, nothing placed.
		const before = (await myOrders()).length;
		await compare();
		await choose(accreditedProduct.id);
		await page.locator("#checkout-form input[name=paymentMethod][value=voucher]").check();
		await page.fill("#checkout-form [name=voucherCpf]", BENEFICIARY);
		await page.fill("#checkout-form [name=voucherCode]", voucherCode);
		await page.click("#checkout-form button[type=submit]");
		const error = page.locator("#checkout-form .form-error:not([hidden])");
		await error.waitFor();
		expect(await error.textContent()).toContain("este vale já foi usado");
		expect((await myOrders()).length).toBe(before);
	});

	test("the reorder reminder and a delivered order link to #/reorder/<id>, which places the same order in one tap", async () => {
		// The courier delivers the first order.
		const code = (await m.api.get(`/api/orders/${firstOrder.id}`, { token: customer.token })).body.handoverCode;
		expect(
			(await m.api.put(`/api/orders/${firstOrder.id}/status`, { status: "in_transit" }, { token: courier.token }))
				.status,
		).toBe(200);
		expect(
			(
				await m.api.put(
					`/api/orders/${firstOrder.id}/status`,
					{ status: "delivered", handoverCode: code },
					{ token: courier.token },
				)
			).status,
		).toBe(200);
		// Analytics learns of the delivery; its reminder job runs as if the cylinder were running out.
		await waitFor(
			async () => (await m.api.get("/api/reorders/estimates", { token: customer.token })).body.length > 0,
			10_000,
		);
		const analytics = m.broker.getLocalService("analytics") as unknown as {
			sendDueReminders(now: Date): Promise<number>;
		};
		expect(await analytics.sendDueReminders(new Date(Date.now() + 200 * 86_400_000))).toBeGreaterThan(0);

		await waitFor(async () => {
			const res = await m.api.get("/api/notifications?pageSize=50", { token: customer.token });
			return res.body.rows.some((n: { template: string }) => n.template === "reorder_reminder");
		}, 10_000);
		await page.goto(`${base}/#/notifications`);
		const link = page.locator(`#notifications-list a.button[href="#/reorder/${firstOrder.id}"]`);
		await link.waitFor({ timeout: 10_000 });
		expect(await link.textContent()).toBe("Pedir de novo");
		expectClean("notifications", await checkScreen(page, base, "notifications", "/notifications", "#preferences-link"));

		// The delivered order's page has "Pedir de novo" too.
		await page.goto(`${base}/#/orders/${firstOrder.id}`);
		await page.waitForSelector(`#reorder-link[href="#/reorder/${firstOrder.id}"]`);

		await page.goto(`${base}/#/notifications`);
		await page.locator(`#notifications-list a.button[href="#/reorder/${firstOrder.id}"]`).click();
		await page.waitForSelector("#reorder-preview");
		expect(await page.getAttribute("#reorder-preview", "data-supplier-id")).toBe(accredited.id);
		expect(await page.textContent("#reorder-supplier")).toContain("Gás do Bairro");
		expect(await page.textContent("#reorder-supplier")).toContain("mesma revenda");
		expect(await page.textContent(".reorder-items")).toContain("1× P13");
		expect(await page.isChecked("#reorder-form input[name=paymentMethod][value=cash]")).toBe(true);
		expectClean("reorder", await checkScreen(page, base, "reorder", `/reorder/${firstOrder.id}`, "#reorder-preview"));
		const before = (await myOrders()).length;
		await page.click("#place-reorder");
		await page.waitForURL((url) => /#\/orders\/[^/]+$/.test(url.hash) && !url.hash.endsWith(firstOrder.id));
		const newId = page.url().split("/").pop()!;
		const placed = (await m.api.get(`/api/orders/${newId}`, { token: customer.token })).body;
		expect(placed).toMatchObject({ supplierId: accredited.id, paymentMethod: "cash" });
		expect(placed.items).toEqual([expect.objectContaining({ productId: accreditedProduct.id, quantity: 1 })]);
		expect(placed.deliveryAddress.phone).toBe(PHONE_NUMBER);
		expect((await myOrders()).length).toBe(before + 1);
	});

	test("reorder reminders are turned off on #/preferences and the API holds it", async () => {
		await page.goto(`${base}/#/notifications`);
		await page.click("#preferences-link");
		await page.waitForSelector("fieldset[data-kind=reorder_reminder]");
		for (const channel of ["inapp", "email", "push"]) {
			const box = page.locator(`input[name="reorder_reminder:${channel}"]`);
			expect(await box.isChecked()).toBe(true);
			await box.uncheck();
			await page.waitForSelector(`input[name="reorder_reminder:${channel}"]:not(:checked):not([disabled])`);
			await page.waitForSelector("#preferences-status:has-text('Preferência salva')");
		}
		const prefs = (await m.api.get("/api/notification-preferences", { token: customer.token })).body;
		expect(prefs.kinds.reorder_reminder).toMatchObject({ inapp: false, email: false, push: false });
		expect(prefs.kinds.order_delivered).toMatchObject({ inapp: true, email: true });
		// Reloaded, the screen shows what is stored.
		await page.reload();
		await page.waitForSelector("fieldset[data-kind=reorder_reminder]");
		expect(await page.isChecked('input[name="reorder_reminder:inapp"]')).toBe(false);
		expectClean("preferences", await checkScreen(page, base, "preferences", "/preferences", "#preferences-list"));
	});

	test("a review posted through the API is listed on the supplier's reviews page, reached from the offer", async () => {
		const posted = await m.api.post(
			"/api/reviews",
			{ orderId: firstOrder.id, supplierRating: 5, comment: "Entregou rapidinho, muito educado" },
			{ token: customer.token },
		);
		expect(posted.status).toBe(201);
		await waitFor(async () => {
			const res = await m.api.get(`/api/suppliers/${accredited.id}/reviews`);
			return res.body.summary && res.body.summary.count === 1;
		}, 5000);
		await compare();
		const rating = page.locator(`.offer[data-product-id="${accreditedProduct.id}"] a.rating`);
		await waitFor(async () => {
			if (!(await rating.textContent())!.includes("★ 5 (1)")) await page.click("#search-form button[type=submit]");
			return (await rating.textContent())!.includes("★ 5 (1)");
		}, 10_000);
		await expectCleanHere("shop-offers");
		await rating.click();
		await page.waitForURL(new RegExp(`#/suppliers/${accredited.id}/reviews$`));
		await page.waitForSelector("#reviews-list .review");
		expect(await page.textContent("#reviews-list")).toContain("Entregou rapidinho, muito educado");
		expect(await page.textContent("#supplier-reviews h2")).toContain("Gás do Bairro");
		expect(await page.textContent("#review-summary")).toContain("★ 5");
		expectClean(
			"supplier-reviews",
			await checkScreen(page, base, "supplier-reviews", `/suppliers/${accredited.id}/reviews`, "#reviews-list .review"),
		);
		// A customer checks the shop and a delivered order's page at both sizes too.
		expectClean("shop", await checkScreen(page, base, "shop", "/shop", "#search-form"));
		expectClean(
			"order-delivered",
			await checkScreen(page, base, "order-delivered", `/orders/${firstOrder.id}`, "#reorder-link"),
		);
	});
});
