/**
 * The marketplace's business through the gateway: an admin sets a supplier's commission and
 * accredits it for Gás do Povo; a customer claims a voucher and orders a P13 with it; a courier
 * delivers; the delivered order is on the ledger (commission, courier fee, supplier net); the
 * supplier and the courier download their statements; an admin runs a payout twice (paid once);
 * the supplier's redemption report shows the voucher; the customer reorders with one tap and turns
 * reorder reminders off. Roles that may not do these get 403.
 */
import { ADMIN, waitFor } from "../helpers/broker";
import { parseCsv } from "../../lib/domain/csv";
import {
	adminToken,
	createCustomer,
	createProduct,
	createSupplier,
	login,
	Market,
	MARKET_SERVICES,
	orderBody,
	startMarket,
	waitForStatus,
} from "../helpers/market";

const SHOP = { lat: -23.56, lng: -46.64 };
const HOME = { lat: -23.55, lng: -46.64 }; // about 1.1 km north

describe("commissions, vouchers and payouts over HTTP", () => {
	let m: Market;
	let admin: string;

	beforeAll(async () => {
		m = await startMarket({ COMMISSION_BPS: "1000", COURIER_FEE_BASE_CENTS: "500", COURIER_FEE_PER_KM_CENTS: "150" }, [
			...MARKET_SERVICES,
			"couriers",
			"analytics",
			"vouchers",
			"notifications",
		]);
		admin = await adminToken(m.api);
	});
	afterAll(() => m.stop());

	it("runs a voucher order from claim to payout", async () => {
		expect(ADMIN.email).toBeTruthy();
		const supplier = await createSupplier(m, { location: SHOP });
		const product = await createProduct(m, supplier.token, { type: "P13", priceCents: 11_000, depositCents: 0 });
		const customer = await createCustomer(m);

		// The admin's settings; nobody else may change them.
		expect(
			(await m.api.put(`/api/ledger/commissions/${supplier.id}`, { commissionBps: 1500 }, { token: supplier.token }))
				.status,
		).toBe(403);
		expect(
			(await m.api.put(`/api/ledger/commissions/${supplier.id}`, { commissionBps: "lots" }, { token: admin })).status,
		).toBe(422);
		const rate = await m.api.put(`/api/ledger/commissions/${supplier.id}`, { commissionBps: 1500 }, { token: admin });
		expect(rate.status).toBe(200);
		expect((await m.api.get(`/api/ledger/commissions/${supplier.id}`, { token: supplier.token })).body).toMatchObject({
			commissionBps: 1500,
		});
		expect(
			(await m.api.put(`/api/vouchers/accreditations/${supplier.id}`, { accredited: true }, { token: customer.token }))
				.status,
		).toBe(403);
		expect(
			(await m.api.put(`/api/vouchers/accreditations/${supplier.id}`, { accredited: true }, { token: admin })).status,
		).toBe(200);

		// A courier waiting at the shop.
		const courierEmail = `courier-biz-${Date.now().toString(36)}@test.local`;
		const courierUser = (await m.broker.call("users.create", {
			email: courierEmail,
			password: "courier-pass-1",
			name: "Courier Biz",
			role: "courier",
			status: "active",
		})) as { id: string };
		const courier = { id: courierUser.id, token: await login(m.api, courierEmail, "courier-pass-1") };
		expect(
			(
				await m.api.post(
					"/api/couriers",
					{ vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: 4 },
					{ token: courier.token },
				)
			).status,
		).toBe(201);
		expect(
			(
				await m.api.put(
					`/api/couriers/${courier.id}/location`,
					{ ...SHOP, accuracy: 5, at: new Date().toISOString() },
					{ token: courier.token },
				)
			).status,
		).toBe(202);
		expect(
			(await m.api.put(`/api/couriers/${courier.id}/status`, { status: "available" }, { token: courier.token })).status,
		).toBe(200);

		// The voucher: refused with a bad CPF, claimed with a beneficiary's.
		const claimBody = {
			supplierId: supplier.id,
			productId: product.id,
			cpf: "529.982.247-25",
			code: `GDP-${String(Date.now()).slice(-8)}`,
		};
		const bad = await m.api.post(
			"/api/vouchers/claims",
			{ ...claimBody, cpf: "529.982.247-24" },
			{ token: customer.token },
		);
		expect(bad.status).toBe(422);
		expect(bad.body.data).toMatchObject({ reason: "invalid_cpf" });
		const claim = await m.api.post("/api/vouchers/claims", claimBody, { token: customer.token });
		expect(claim.status).toBe(201);
		expect(
			(
				await m.api.post(
					"/api/orders",
					orderBody(supplier.id, product.id, { paymentMethod: "voucher", paymentToken: undefined }),
					{ token: customer.token },
				)
			).status,
		).toBe(422);

		const placed = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, {
				paymentMethod: "voucher",
				paymentToken: claim.body.paymentToken,
				deliveryAddress: { street: "Rua A", number: "1", city: "São Paulo", ...HOME },
			}),
			{ token: customer.token },
		);
		expect(placed.status).toBe(201);
		const orderId = placed.body.id as string;
		await waitForStatus(m, orderId, customer.token, "confirmed");
		await waitFor(
			async () => (await m.api.get(`/api/orders/${orderId}`, { token: customer.token })).body.courierId === courier.id,
			8000,
		);
		expect(
			(await m.api.put(`/api/orders/${orderId}/status`, { status: "in_transit" }, { token: courier.token })).status,
		).toBe(200);
		const done = await m.api.put(
			`/api/orders/${orderId}/status`,
			{ status: "delivered", handoverCode: placed.body.handoverCode },
			{ token: courier.token },
		);
		expect(done.status).toBe(200);

		// The ledger: one sale entry, split at the supplier's rate, balanced.
		const entries = await waitFor(async () => {
			const res = await m.api.get(`/api/ledger/orders/${orderId}/entries`, { token: admin });
			return res.body.length ? res.body : undefined;
		});
		const sale = entries[0];
		expect(sale).toMatchObject({
			kind: "sale",
			grossCents: placed.body.totalCents,
			commissionBps: 1500,
			courierId: courier.id,
		});
		expect(sale.commissionCents).toBe(Math.floor((placed.body.totalCents * 1500 + 5000) / 10_000));
		expect(sale.courierFeeCents).toBeGreaterThan(500);
		expect(sale.grossCents).toBe(sale.commissionCents + sale.courierFeeCents + sale.supplierNetCents);
		expect((await m.api.get(`/api/ledger/orders/${orderId}/entries`, { token: supplier.token })).status).toBe(403);

		// Statements: the supplier's CSV, the courier's JSON; a customer has none.
		const day = sale.at.slice(0, 10);
		const csv = await m.api.get(`/api/ledger/statements?party=supplier&day=${day}&format=csv`, {
			token: supplier.token,
		});
		expect(csv.status).toBe(200);
		expect(csv.headers.get("content-type")).toContain("text/csv");
		const rows = parseCsv(csv.text);
		expect(rows[1][rows[0].indexOf("amount_due_cents")]).toBe(String(sale.supplierNetCents));
		const mine = await m.api.get(`/api/ledger/statements?party=courier&day=${day}`, { token: courier.token });
		expect(mine.body.totals).toMatchObject({ amountDueCents: sale.courierFeeCents, unpaidCents: sale.courierFeeCents });
		expect(
			(await m.api.get(`/api/ledger/statements?party=supplier&day=${day}`, { token: customer.token })).status,
		).toBe(403);
		expect(
			(await m.api.get(`/api/ledger/statements?party=supplier&day=2026-13-01`, { token: supplier.token })).status,
		).toBe(422);

		// The payout: paid once, audited.
		expect((await m.api.post("/api/ledger/payouts", { party: "supplier" }, { token: supplier.token })).status).toBe(
			403,
		);
		const runId = `e2e-${Date.now()}`;
		const run = await m.api.post("/api/ledger/payouts", { party: "supplier", runId }, { token: admin });
		expect(run.status).toBe(201);
		expect(run.body.lines).toContainEqual({ partyId: supplier.id, entries: 1, amountCents: sale.supplierNetCents });
		const again = await m.api.post("/api/ledger/payouts", { party: "supplier", runId }, { token: admin });
		expect(again.status).toBe(200);
		expect(again.body).toMatchObject({ alreadyRun: true, totalCents: run.body.totalCents });
		const after = await m.api.get(`/api/ledger/statements?party=supplier&day=${day}`, { token: supplier.token });
		expect(after.body.totals).toMatchObject({ unpaidCents: 0, paidCents: sale.supplierNetCents });

		// The programme owes the supplier the voucher order.
		const redemptions = await m.api.get("/api/vouchers/redemptions", { token: supplier.token });
		expect(redemptions.status).toBe(200);
		expect(redemptions.body.rows).toEqual([
			expect.objectContaining({ orderId, status: "redeemed", cpfMasked: "***.982.247-**" }),
		]);
		expect((await m.api.get("/api/vouchers/redemptions", { token: customer.token })).status).toBe(403);

		// Reorder: the estimate from the delivery, then one tap orders the same P13 at the same supplier.
		const estimates = await waitFor(async () => {
			const res = await m.api.get("/api/reorders/estimates", { token: customer.token });
			return res.body.length ? res.body : undefined;
		});
		expect(estimates[0]).toMatchObject({ cylinderType: "P13", basis: "default", lastOrderId: orderId });
		// The preview says what one tap would order, without placing it; its refusals like the POST's.
		const preview = await m.api.get(`/api/reorders/preview?orderId=${orderId}`, { token: customer.token });
		expect(preview.status).toBe(200);
		expect(preview.body).toMatchObject({ reorderOf: orderId, sameSupplier: true, supplier: { id: supplier.id } });
		expect((await m.api.get("/api/reorders/preview", { token: supplier.token })).status).toBe(403);
		expect((await m.api.get(`/api/reorders/preview?orderId=${"x".repeat(65)}`, { token: customer.token })).status).toBe(
			422,
		);
		expect((await m.api.get("/api/reorders/preview?orderId=nosuchorder1", { token: customer.token })).status).toBe(404);
		expect((await m.api.post("/api/reorders", {}, { token: supplier.token })).status).toBe(403);
		expect((await m.api.post("/api/reorders", { paymentMethod: "card" }, { token: customer.token })).status).toBe(422);
		const reorder = await m.api.post("/api/reorders", {}, { token: customer.token });
		expect(reorder.status).toBe(201);
		expect(reorder.body).toMatchObject({
			sameSupplier: true,
			reorderOf: orderId,
			order: { supplierId: supplier.id, paymentMethod: "cash" },
		});
		expect(reorder.body.order.items).toEqual([expect.objectContaining({ productId: product.id, quantity: 1 })]);

		// Preferences: reorder reminders off on every channel.
		const off = await m.api.put(
			"/api/notification-preferences",
			{ kind: "reorder_reminder", channel: "*", enabled: false },
			{ token: customer.token },
		);
		expect(off.status).toBe(200);
		expect(off.body.kinds.reorder_reminder.email).toBe(false);
		expect(
			(
				await m.api.put(
					"/api/notification-preferences",
					{ kind: "reorder_reminder", channel: "fax", enabled: false },
					{ token: customer.token },
				)
			).status,
		).toBe(422);
	}, 60_000);
});
