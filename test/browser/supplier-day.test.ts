/**
 * The supplier's day (#/today) in a real browser, on a phone and on a desktop: an order comes in
 * with no courier on duty; the supplier accepts it, prepares it and marks it ready (each step moves
 * its card to the next lane, recorded on the order, and the customer is told: their order page and
 * notifications); "Entregar ao entregador" stays disabled until the supplier's own courier comes on
 * duty and is assigned (the periodic refresh shows their name and plate), then hands the order
 * over (in transit, by the supplier). A cancel without a reason is refused in place. The supplier's
 * couriers (#/my-couriers) show status, load/capacity and the orders carried. The harness checks
 * both screens (overflow, axe, touch targets, console).
 */
import type { Page } from "playwright-core";
import { ALL_SERVICES } from "../../lib/infra/config";
import { gatewayUrl, waitFor } from "../helpers/broker";
import { availableCourier } from "../helpers/delivered";
import { createProduct, createSupplier, Market, orderBody, startMarket, waitForStatus } from "../helpers/market";
import {
	Browser,
	checkScreen,
	describeWithChromium,
	DESKTOP,
	expectClean,
	launchBrowser,
	PHONE,
	signedInPage,
} from "./harness";

jest.setTimeout(150_000);

describeWithChromium("the supplier's day view", () => {
	let m: Market;
	let browser: Browser;
	let base: string;
	let supplierPage: Page;
	let customerPage: Page;
	let supplier: { id: string; email: string; token: string };
	let productId: string;
	let customer: { id: string; token: string; refreshToken: string; user: { id: string } };
	let courier: { id: string; token: string } | null = null;
	const city = { lat: -8.01, lng: -34.85 }; // Olinda

	const session = async (email: string, password: string) =>
		(await m.api.post("/api/auth/login", { email, password })).body;

	beforeAll(async () => {
		m = await startMarket({ DISPATCH_RETRY_MS: "500", MAP_TILE_URL: "http://127.0.0.1:9/{z}/{x}/{y}.png" }, [
			...ALL_SERVICES,
		]);
		base = gatewayUrl(m.broker);
		supplier = await createSupplier(m, { businessName: "Gás Olinda", location: city });
		productId = (await createProduct(m, supplier.token, { stock: 20 })).id;
		const email = `maria-${Date.now().toString(36)}@test.local`;
		expect(
			(await m.api.post("/api/users", { email, password: "customer-pass-1", name: "Maria da Silva" })).status,
		).toBe(201);
		customer = await session(email, "customer-pass-1");
		customer.id = customer.user.id;
		browser = await launchBrowser();
		supplierPage = await signedInPage(browser.context, base, await session(supplier.email, "supplier-pass-1"));
		customerPage = await signedInPage(browser.context, base, customer);
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
	});

	/** An order of the customer, paid (confirmed); its id. */
	async function place(street: string): Promise<string> {
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, productId, {
				deliveryAddress: { street, number: "10", city: "Olinda", lat: city.lat - 0.01, lng: city.lng },
			}),
			{ token: customer.token },
		);
		expect(res.status).toBe(201);
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		return res.body.id as string;
	}

	const orderOf = async (id: string) => (await m.api.get(`/api/orders/${id}`, { token: supplier.token })).body;
	const card = (id: string) => supplierPage.locator(`#day-${id}`);
	const inLane = (lane: string, id: string, extra = "") =>
		supplierPage.waitForSelector(`#lane-${lane} #day-${id}${extra}`, { timeout: 8000 });

	/** Clicks the card's next-step button and waits for the card in `lane`. */
	async function step(id: string, label: string, lane: string, extra = "") {
		const button = card(id).locator("button.next-step");
		expect((await button.textContent())?.trim()).toBe(label);
		await button.click();
		await inLane(lane, id, extra);
	}

	/** The customer got the message about this order (its reference is in the text). */
	async function customerNotified(id: string, text: string) {
		const ref = `#${id.slice(-6).toUpperCase()}`;
		await waitFor(async () => {
			const res = await m.api.get("/api/notifications?pageSize=100", { token: customer.token });
			return res.body.rows.some((n: { body: string }) => n.body.includes(text) && n.body.includes(ref));
		}, 8000);
	}

	test("on a phone: accept, prepare, ready, then hand over once the courier is assigned; the customer sees it", async () => {
		await supplierPage.setViewportSize(PHONE);
		const id = await place("Rua do Amparo");
		await supplierPage.goto(`${base}/#/today`);
		await inLane("new", id);
		const text = (await card(id).textContent()) || "";
		expect(text).toContain("Rua do Amparo, 10");
		expect(text).toContain("1× P13");
		expect(text).toContain("Maria");
		expect(text).not.toContain("Silva");
		expect(text).toContain("Aguardando um entregador");
		expect(text).not.toMatch(/-8\.0\d{3}/);

		await step(id, "Aceitar", "new", "[data-stage='accepted']");
		await customerNotified(id, "A revenda aceitou seu pedido");
		await step(id, "Preparar", "preparing");
		expect((await orderOf(id)).preparation).toBe("preparing");
		await customerNotified(id, "A revenda está preparando seu pedido");
		await customerPage.setViewportSize(PHONE);
		await customerPage.goto(`${base}/#/orders/${id}`);
		expect(await customerPage.textContent("#order-preparation")).toContain("A revenda está preparando o pedido");
		expect(await customerPage.textContent("#history")).toContain("Em preparo");
		await customerPage.goto(`${base}/#/notifications`);
		await customerPage.locator("#notifications-list", { hasText: "A revenda está preparando seu pedido" }).waitFor();

		await step(id, "Pronto", "ready");
		const handover = card(id).locator("button.handover");
		expect(await handover.textContent()).toBe("Entregar ao entregador");
		expect(await handover.isDisabled()).toBe(true);
		expect(await card(id).textContent()).toContain("Disponível quando um entregador for designado");

		// The supplier's own courier comes on duty: dispatch assigns them, the next refresh shows who.
		courier = await availableCourier(m, supplier.id, city);
		await waitFor(async () => (await orderOf(id)).courierId === courier!.id, 8000);
		await supplierPage.waitForSelector(`#day-${id} button.handover:not([disabled])`, { timeout: 15_000 });
		expect((await card(id).locator(".courier").textContent())?.toUpperCase()).toContain("ABC1D23");
		await handover.click();
		await inLane("on-the-way", id);
		const moved = await orderOf(id);
		expect(moved.status).toBe("in_transit");
		expect(moved.history[moved.history.length - 1]).toMatchObject({ status: "in_transit", by: supplier.id });
		await customerPage.goto(`${base}/#/orders/${id}`);
		await customerPage.waitForSelector("#order-status .badge-in_transit");

		expectClean("supplier-day", await checkScreen(supplierPage, base, "supplier-day", "/today", "#day-lanes .lane"));
	});

	test("on a desktop: the four steps with a courier already assigned; a cancel needs a reason", async () => {
		await supplierPage.setViewportSize(DESKTOP);
		const id = await place("Rua de São Bento");
		await waitFor(async () => (await orderOf(id)).courierId === courier!.id, 8000);
		const doomed = await place("Rua do Sol");
		// The page is still on #/today (the screen check): come back to it afresh.
		await supplierPage.goto(`${base}/#/orders`);
		await supplierPage.goto(`${base}/#/today`);
		await inLane("new", id);
		expect(await card(id).locator(".courier").textContent()).toMatch(/Entregador \d+ · placa abc1d23/i);
		await step(id, "Aceitar", "new", "[data-stage='accepted']");
		await step(id, "Preparar", "preparing");
		await step(id, "Pronto", "ready");
		await customerNotified(id, "está pronto e aguarda o entregador");
		const handover = card(id).locator("button.handover");
		expect(await handover.isDisabled()).toBe(false);
		await handover.click();
		await inLane("on-the-way", id);
		expect((await orderOf(id)).status).toBe("in_transit");

		// Cancelling without a reason is refused in place; with one, the card goes to today's finished lane.
		await card(doomed).locator("details.cancel summary").click();
		await card(doomed).locator(".cancel-form button[type=submit]").click();
		await supplierPage.waitForSelector(`#day-${doomed} .cancel-form .form-error:not([hidden])`);
		expect((await orderOf(doomed)).status).toBe("confirmed");
		await card(doomed).locator(".cancel-form input[name=reason]").fill("Sem botijão P13 hoje");
		await card(doomed).locator(".cancel-form button[type=submit]").click();
		await inLane("done", doomed);
		expect(await card(doomed).textContent()).toContain("Sem botijão P13 hoje");
		expect(await orderOf(doomed)).toMatchObject({ status: "cancelled", cancelReason: "Sem botijão P13 hoje" });

		// Someone else's order cannot be moved from here: the API refuses another supplier.
		const other = await createSupplier(m);
		const foreign = await m.api.put(`/api/orders/${id}/preparation`, { stage: "ready" }, { token: other.token });
		expect(foreign.status).toBe(403);
	});

	test("my couriers: status, load and capacity, the orders carried, and the invite link", async () => {
		await supplierPage.setViewportSize(PHONE);
		await supplierPage.goto(`${base}/#/my-couriers`);
		const row = supplierPage.locator(`#my-couriers tr[data-courier-id="${courier!.id}"]`);
		await row.waitFor();
		expect(await row.locator(".name").textContent()).toMatch(/^Entregador \d+$/);
		expect(await row.locator(".badge").textContent()).toBe("Em entrega");
		expect(await row.locator(".load").textContent()).toBe("2/4 botijões");
		expect(await row.locator(".current-orders a").count()).toBe(2);
		expect(await supplierPage.getAttribute("#invite-courier", "href")).toBe("#/invites");
		expectClean(
			"supplier-couriers",
			await checkScreen(supplierPage, base, "supplier-couriers", "/my-couriers", "#my-couriers tr[data-courier-id]"),
		);
	});
});
