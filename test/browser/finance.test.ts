/**
 * Money screens in a real browser (issue 18): the admin sets a supplier's commission (a rate the
 * API refuses is said in words and changes nothing) and accredits it for Gás do Povo; a voucher
 * order is delivered; the supplier's statement shows the entry split to the cent (gross =
 * commission + courier fee + net, the amounts the ledger holds), downloads its CSV and shows the
 * voucher to be reimbursed; the courier sees its fee; the admin runs a payout once (a dismissed
 * confirmation runs nothing; the second run pays nothing), and the supplier and courier then see
 * their entries paid. checkScreen measures each screen as a phone and a desktop.
 */
import fs from "fs";
import type { Page } from "playwright-core";
import { ALL_SERVICES } from "../../lib/infra/config";
import { parseCsv } from "../../lib/domain/csv";
import { ADMIN, gatewayUrl, waitFor } from "../helpers/broker";
import { adminToken, createCustomer, Market, startMarket } from "../helpers/market";
import { deliveredOrder, Shop, shopWithCourier } from "../helpers/delivered";
import { Browser, checkScreen, describeWithChromium, expectClean, launchBrowser, signedInPage } from "./harness";

jest.setTimeout(180_000);

/** "R$ 1.234,56" → 123456; "-R$ 0,50" → -50 (what the screen shows, read back as cents). */
function cents(text: string | null): number {
	const value = Number((text || "").replace(/\D/g, ""));
	return /[-−]/.test(text || "") ? -value : value;
}

interface Entry {
	orderId: string;
	grossCents: number;
	commissionCents: number;
	courierFeeCents: number;
	supplierNetCents: number;
	commissionBps: number;
}

describeWithChromium("commissions, statements, payouts and Gás do Povo in the web app", () => {
	let m: Market;
	let browser: Browser;
	let base: string;
	let admin: string;
	let shop: Shop;
	let entry: Entry;
	const pages: Record<"admin" | "supplier" | "courier", Page> = {} as never;

	const session = async (email: string, password: string) =>
		(await m.api.post("/api/auth/login", { email, password })).body as { token: string; user: { id: string } };

	beforeAll(async () => {
		m = await startMarket({ DISPATCH_RETRY_MS: "500", COMMISSION_BPS: "1000" }, [...ALL_SERVICES]);
		base = gatewayUrl(m.broker);
		admin = await adminToken(m.api);
		// A P13 without deposit: a Gás do Povo order must cost at most GAS_DO_POVO_MAX_CENTS.
		shop = await shopWithCourier(
			m,
			{ type: "P13", priceCents: 11_000, depositCents: 0 },
			{ businessName: "Gás Centro" },
		);
		browser = await launchBrowser();
		pages.admin = await signedInPage(browser.context, base, await session(ADMIN.email, ADMIN.password));
		pages.supplier = await signedInPage(browser.context, base, await session(shop.supplier.email, "supplier-pass-1"));
		pages.courier = await signedInPage(browser.context, base, await session(shop.courier.email, "courier-pass-1"));
	});

	afterEach(() => {
		expect(browser.takeProblems()).toEqual([]);
	});

	afterAll(async () => {
		await browser?.close();
		await m?.stop();
	});

	test("the admin sets the commission (a refused rate is said in words, nothing changes) and toggles Gás do Povo", async () => {
		const page = pages.admin;
		const supplierId = shop.supplier.id;
		const commission = async () =>
			(await m.api.get(`/api/ledger/commissions/${supplierId}`, { token: admin })).body as {
				commissionBps: number;
				isDefault: boolean;
			};
		await page.goto(`${base}/#/admin/finance?supplier=${supplierId}`);
		await page.waitForSelector("#commission-form");
		const submit = async (percent: string) => {
			await page.fill("#commission-form [name=commissionPercent]", percent);
			await page.click("#commission-form button[type=submit]");
		};
		expect(await page.inputValue("#finance-supplier")).toBe(supplierId);
		expect(await page.textContent("#commission-current")).toContain("10%");
		expect(await page.textContent("#commission-current")).toContain("padrão");

		// 60 % is more than the API allows: its words beside the field, the rate unchanged.
		await submit("60");
		await page.waitForSelector("#commission-form .form-error:not([hidden])");
		expect(await page.textContent("#commission-form .form-error")).toContain("Alguns campos não são válidos");
		expect(await page.textContent("#commission-form .field-error")).toContain("no máximo 50%");
		expect(await commission()).toMatchObject({ commissionBps: 1000, isDefault: true });
		expect(await page.textContent("#commission-current")).toContain("10%");
		// Not a number at all: said before anything is sent.
		await submit("muito");
		await page.waitForSelector("#commission-form .form-error:has-text('porcentagem')");
		expect(await commission()).toMatchObject({ commissionBps: 1000, isDefault: true });

		await submit("12,5");
		await page.waitForSelector("#commission-saved");
		expect(await page.textContent("#commission-saved")).toContain("12,5%");
		expect(await page.textContent("#commission-current")).toContain("12,5%");
		expect(await commission()).toMatchObject({ commissionBps: 1250, isDefault: false });

		// Gás do Povo: off at first; on, off, on again — each time what the API then says.
		const accredited = async () =>
			(await m.api.get(`/api/vouchers/accreditations/${supplierId}`, { token: admin })).body.accredited as boolean;
		expect(await page.isChecked("#accredited")).toBe(false);
		expect(await accredited()).toBe(false);
		for (const want of [true, false, true]) {
			await page.click("#accredited");
			await waitFor(async () => (await accredited()) === want, 5000);
			const words = want ? "Credenciada" : "Não credenciada";
			await waitFor(async () => (await page.textContent("#accreditation-state"))!.startsWith(words), 5000);
			expect(await page.isChecked("#accredited")).toBe(want);
		}

		expectClean(
			"admin-finance",
			await checkScreen(page, base, "admin-finance", `/admin/finance?supplier=${supplierId}`, "#accreditation"),
		);
	});

	test("the supplier's statement shows the delivered order split to the cent, downloads the CSV and shows the voucher; the courier sees its fee", async () => {
		// A Gás do Povo order (the supplier is accredited now), delivered by the shop's courier.
		const customer = await createCustomer(m);
		const claim = await m.api.post(
			"/api/vouchers/claims",
			{
				supplierId: shop.supplier.id,
				productId: shop.product.id,
				cpf: "529.982.247-25",
				code: `GDP-${String(Date.now()).slice(-8)}`,
			},
			{ token: customer.token },
		);
		expect(claim.status).toBe(201);
		const { order } = await deliveredOrder(
			m,
			shop,
			{ paymentMethod: "voucher", paymentToken: claim.body.paymentToken },
			customer,
		);
		const entries = await waitFor(async () => {
			const res = await m.api.get(`/api/ledger/orders/${order.id}/entries`, { token: admin });
			return res.body.length ? (res.body as Entry[]) : undefined;
		}, 8000);
		entry = entries![0];
		expect(entry.commissionBps).toBe(1250);
		expect(entry.courierFeeCents).toBeGreaterThan(0);

		const page = pages.supplier;
		await page.goto(`${base}/#/statement`);
		const row = page.locator(`#statement-table tr.entry[data-order-id="${order.id}"]`);
		await row.waitFor();
		const shown = {
			gross: cents(await row.locator(".gross").textContent()),
			commission: cents(await row.locator(".commission").textContent()),
			fee: cents(await row.locator(".fee").textContent()),
			net: cents(await row.locator(".net").textContent()),
		};
		expect(shown).toEqual({
			gross: entry.grossCents,
			commission: entry.commissionCents,
			fee: entry.courierFeeCents,
			net: entry.supplierNetCents,
		});
		expect(shown.gross).toBe(shown.commission + shown.fee + shown.net);
		expect(await row.locator(".paid-state").getAttribute("data-paid")).toBe("no");
		expect(await row.locator("a[href^='#/orders/']").getAttribute("href")).toBe(`#/orders/${order.id}`);
		expect(cents(await page.textContent("#statement-totals .total-gross"))).toBe(entry.grossCents);
		expect(cents(await page.textContent("#statement-totals .total-unpaid"))).toBe(entry.supplierNetCents);
		expect(await page.textContent("#statement-balance")).toContain("ao centavo");
		await page.waitForSelector("#supplier-notes:has-text('12,5%')");

		// The CSV is the API's, named for the supplier, with the entry's net due.
		const [file] = await Promise.all([page.waitForEvent("download"), page.click("#statement-csv")]);
		expect(file.suggestedFilename()).toBe(`supplier-statement-${shop.supplier.id}.csv`);
		const csv = parseCsv(fs.readFileSync((await file.path())!, "utf8"));
		const line = csv.find((r) => r.includes(order.id))!;
		expect(line[csv[0].indexOf("amount_due_cents")]).toBe(String(entry.supplierNetCents));
		expect(line[csv[0].indexOf("gross_cents")]).toBe(String(entry.grossCents));

		// The voucher the programme owes the supplier for.
		const voucher = page.locator(`#redemptions-table tr.redemption[data-order-id="${order.id}"]`);
		await voucher.waitFor();
		expect(await voucher.getAttribute("data-status")).toBe("redeemed");
		expect(await voucher.textContent()).toContain("***.982.247-**");
		const report = (await m.api.get("/api/vouchers/redemptions", { token: shop.supplier.token })).body;
		expect(report.totals.reimbursableCents).toBeGreaterThan(0);
		expect(cents(await page.textContent("#redemption-totals .total-reimbursable"))).toBe(
			report.totals.reimbursableCents,
		);

		expectClean(
			"supplier-statement",
			await checkScreen(page, base, "supplier-statement", "/statement", `#statement-table tr.entry`),
		);

		// A period the API refuses (ends before it starts): its words, in place.
		await page.selectOption("#statement-period", "custom");
		await page.fill("#statement-from", "2026-12-10");
		await page.fill("#statement-to", "2026-11-01");
		await page.locator("#statement-to").dispatchEvent("change");
		await page.waitForSelector("#statement .form-error:has-text('anterior')");
		expect(await page.locator("#statement-table").count()).toBe(0);

		const courierPage = pages.courier;
		await courierPage.goto(`${base}/#/earnings`);
		const mine = courierPage.locator(`#statement-table tr.entry[data-order-id="${order.id}"]`);
		await mine.waitFor();
		expect(cents(await mine.locator(".fee").textContent())).toBe(entry.courierFeeCents);
		expect(await mine.locator(".paid-state").getAttribute("data-paid")).toBe("no");
		expect(cents(await courierPage.textContent("#statement-totals .total-unpaid"))).toBe(entry.courierFeeCents);
		expectClean(
			"courier-earnings",
			await checkScreen(courierPage, base, "courier-earnings", "/earnings", `#statement-table tr.entry`),
		);
	});

	test("the admin runs the payout once: the entries are paid, a second run pays nothing, the list shows both", async () => {
		const page = pages.admin;
		await page.goto(`${base}/#/admin/finance`);
		await page.waitForSelector("#payout-run");
		const runs = async () => (await m.api.get("/api/ledger/payouts", { token: admin })).body.rows as unknown[];

		// A dismissed confirmation runs nothing.
		page.once("dialog", (d) => void d.dismiss());
		await page.click("#payout-run");
		await page.waitForTimeout(300);
		expect(await runs()).toEqual([]);

		page.once("dialog", (d) => void d.accept());
		await page.click("#payout-run");
		await page.waitForSelector("#payout-done");
		const paidLine = page.locator(`#payout-result tr.payout-line[data-party-id="${shop.supplier.id}"]`);
		expect(cents(await paidLine.locator(".amount").textContent())).toBe(entry.supplierNetCents);
		expect(await paidLine.textContent()).toContain("Gás Centro");

		page.once("dialog", (d) => void d.accept());
		await page.click("#payout-run");
		await page.waitForSelector("#payout-nothing");
		await waitFor(async () => (await page.locator("#payouts-list .payout-card").count()) === 2, 5000);
		const all = (await runs()) as { entries: number; party: string }[];
		expect(all.map((r) => r.entries).sort()).toEqual([0, 1]);

		// The couriers' run pays the fee.
		await page.selectOption("#payout-party", "courier");
		page.once("dialog", (d) => void d.accept());
		await page.click("#payout-run");
		await page.waitForSelector("#payout-done");
		expect(
			cents(await page.textContent(`#payout-result tr.payout-line[data-party-id="${shop.courier.id}"] .amount`)),
		).toBe(entry.courierFeeCents);

		// Details of a run: the entries it paid, with the order.
		await waitFor(async () => (await page.locator("#payouts-list .payout-card").count()) === 3, 5000);
		const card = page
			.locator("#payouts-list .payout-card[data-party='supplier']")
			.filter({ has: page.locator(".payout-details") });
		await card.locator(".payout-details").click();
		await card.locator(`.payout-entries a[href="#/orders/${entry.orderId}"]`).waitFor();

		const statement = await m.api.get(`/api/ledger/statements?party=supplier&partyId=${shop.supplier.id}`, {
			token: admin,
		});
		expect(statement.body.totals).toMatchObject({ unpaidCents: 0, paidCents: entry.supplierNetCents });
		expectClean(
			"admin-finance-payouts",
			await checkScreen(page, base, "admin-finance-payouts", "/admin/finance", ".payout-card"),
		);

		// The supplier and the courier now see their entries paid.
		const supplierPage = pages.supplier;
		await supplierPage.goto(`${base}/#/statement`);
		await supplierPage.reload();
		const row = supplierPage.locator(`#statement-table tr.entry[data-order-id="${entry.orderId}"]`);
		await row.waitFor();
		expect(await row.locator(".paid-state").getAttribute("data-paid")).toBe("yes");
		expect(await row.locator(".paid-state").textContent()).toBe("Pago");
		expect(cents(await supplierPage.textContent("#statement-totals .total-unpaid"))).toBe(0);
		expect(cents(await supplierPage.textContent("#statement-totals .total-paid"))).toBe(entry.supplierNetCents);

		const courierPage = pages.courier;
		await courierPage.goto(`${base}/#/earnings`);
		await courierPage.reload();
		const mine = courierPage.locator(`#statement-table tr.entry[data-order-id="${entry.orderId}"]`);
		await mine.waitFor();
		expect(await mine.locator(".paid-state").getAttribute("data-paid")).toBe("yes");
	});
});
