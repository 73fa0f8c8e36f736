/**
 * Gás do Povo on a broker: the vouchers service with payments, a fake products service (products.get)
 * and a fake orders service (takePaymentToken). Claims refused for each rule (CPF check digits, code,
 * accreditation, P13, eligibility); an order paid with a voucher is authorized once per voucher; a
 * cancelled order releases it; the redemption report counts what the programme owes.
 */
import { ServiceBroker } from "moleculer";
import type { Ctx } from "../../lib/contracts/common";
import type { PaymentView } from "../../lib/contracts/payments";
import { parseCsv } from "../../lib/domain/csv";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { eventPublisher } from "../helpers/events";

const admin = { meta: { user: { id: "admin-1", role: "admin", mfa: true } } };
const customer = (id: string) => ({ meta: { user: { id, role: "customer" } } });
const supplier = (id: string) => ({ meta: { user: { id, role: "supplier" } } });
const BENEFICIARY = "529.982.247-25";
const OTHER_BENEFICIARY = "11144477735";
const NOT_BENEFICIARY = "390.533.447-05";

const PRODUCTS: Record<string, { type: string; supplierId: string }> = {
	"p13-s1": { type: "P13", supplierId: "s1" },
	"p45-s1": { type: "P45", supplierId: "s1" },
	"p13-s2": { type: "P13", supplierId: "s2" },
};
const tokens = new Map<string, string>();
/** What orders.statusesFor answers reconciliation, per order id (tests that need it fill it). */
const orderRows = new Map<string, object>();
const fakes = [
	{
		name: "products",
		actions: {
			get(ctx: Ctx<{ id: string }>) {
				const p = PRODUCTS[ctx.params.id];
				if (!p) throw Object.assign(new Error("not found"), { code: 404 });
				return { id: ctx.params.id, ...p };
			},
		},
	},
	{
		name: "orders",
		actions: {
			takePaymentToken(ctx: Ctx<{ orderId: string }>) {
				const paymentToken = tokens.get(ctx.params.orderId) ?? null;
				tokens.delete(ctx.params.orderId);
				return { paymentToken };
			},
			statusesFor: (ctx: Ctx<{ orderIds: string[] }>) =>
				ctx.params.orderIds.map((id) => orderRows.get(id)).filter(Boolean),
			changedSince: () => [],
		},
	},
];

describe("vouchers (Gás do Povo)", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder();
	let n = 0;
	const code = () => `GDP-${String(10_000_001 + n++).padStart(8, "0")}`;
	const claim = (params: object, who = "cu1") =>
		broker.call<{ paymentToken: string; voucherId: string; cpf: string }, object>(
			"vouchers.claim",
			params,
			customer(who),
		);
	const publish = (type: string, data: object) => broker.call("probe.publish", { type, data });
	const paymentOf = (orderId: string) =>
		broker.call<{ rows: PaymentView[] }, object>("payments.list", { orderId }, admin).then((r) => r.rows[0]);
	/** An order paid with the claim's token, as orders would publish it. */
	async function orderWithVoucher(orderId: string, token: string, extra: object = {}) {
		tokens.set(orderId, token);
		await publish("order.created", {
			orderId,
			customerId: "cu1",
			supplierId: "s1",
			totalCents: 11_000,
			paymentMethod: "voucher",
			items: [{ productId: "p13-s1", type: "P13", quantity: 1, exchange: true }],
			deliveryLocation: { lat: 0, lng: 0 },
			scheduledSlot: null,
			hasPaymentToken: true,
			...extra,
		});
		return waitFor(async () => {
			const p = await paymentOf(orderId);
			return p && p.status !== "new" && p.status !== "processing" ? p : undefined;
		});
	}

	beforeAll(async () => {
		broker = await startBroker({
			services: ["vouchers", "payments"],
			extraServices: [...fakes, recorder.schema, eventPublisher("probe")],
			env: { RECONCILE_INTERVAL_MS: "0", GAS_DO_POVO_MAX_CENTS: "12000" },
		});
		await broker.call("vouchers.setAccreditation", { supplierId: "s1", accredited: true }, admin);
	});
	afterAll(() => broker.stop());

	test("admins accredit suppliers; the change is an event", async () => {
		expect(await broker.call("vouchers.getAccreditation", { supplierId: "s1" })).toEqual({
			supplierId: "s1",
			accredited: true,
		});
		expect(await broker.call("vouchers.getAccreditation", { supplierId: "s2" })).toEqual({
			supplierId: "s2",
			accredited: false,
		});
		await waitFor(() => recorder.ofType("voucher.accreditation_changed").length > 0);
		expect(recorder.ofType("voucher.accreditation_changed")[0].data).toEqual({
			supplierId: "s1",
			accredited: true,
			changedBy: "admin-1",
		});
	});

	test.each([
		["a CPF with wrong check digits", { cpf: "529.982.247-26" }, "invalid_cpf"],
		["a repeated-digit CPF", { cpf: "111.111.111-11" }, "invalid_cpf"],
		["a malformed code", { code: "ABC-1" }, "invalid_code"],
		["a supplier not accredited", { supplierId: "s2", productId: "p13-s2" }, "not_accredited"],
		["a product that is not a P13", { productId: "p45-s1" }, "not_p13"],
		["another supplier's product", { productId: "p13-s2" }, "not_p13"],
		["an unknown product", { productId: "nope" }, "not_p13"],
		["a CPF that is no beneficiary", { cpf: NOT_BENEFICIARY }, "not_beneficiary"],
		["an expired voucher", { code: "GDP-12340000" }, "voucher_expired"],
	])("a claim with %s is refused (422)", async (_what, change, reason) => {
		const params = { supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY, code: code(), ...change };
		await expect(claim(params)).rejects.toMatchObject({ code: 422, data: { reason } });
	});

	test("params are validated", async () => {
		await expect(claim({ supplierId: "s1", productId: "p13-s1", cpf: "abc", code: code() })).rejects.toMatchObject({
			code: 422,
		});
		await expect(claim({ supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY })).rejects.toMatchObject({
			code: 422,
		});
	});

	test("a voucher pays one order: authorized once, never for a second order; the CPF stays masked", async () => {
		const c = code();
		const claimed = await claim({ supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY, code: c.toLowerCase() });
		expect(claimed).toMatchObject({ voucherId: c, cpf: "***.982.247-**" });
		const paid = await orderWithVoucher("ov-1", claimed.paymentToken);
		expect(paid).toMatchObject({ status: "authorized", method: "voucher" });
		await waitFor(() => recorder.ofType("voucher.redeemed").some((e) => e.data.orderId === "ov-1"));
		const redeemed = recorder.ofType("voucher.redeemed").find((e) => e.data.orderId === "ov-1");
		expect(redeemed.data).toEqual({
			voucherId: c,
			orderId: "ov-1",
			customerId: "cu1",
			supplierId: "s1",
			amountCents: 11_000,
		});
		expect(JSON.stringify(recorder.seen)).not.toContain("52998224725");

		// redeemed: no new claim; the same token cannot pay another order
		await expect(claim({ supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY, code: c })).rejects.toMatchObject({
			code: 409,
		});
		const second = await orderWithVoucher("ov-2", claimed.paymentToken);
		expect(second).toMatchObject({ status: "failed", failureReason: "voucher_already_redeemed" });
		// the redeem call itself is idempotent for its order
		expect(
			await broker.call("vouchers.redeem", {
				token: claimed.paymentToken,
				orderId: "ov-1",
				paymentId: "x",
				customerId: "cu1",
				supplierId: "s1",
				amountCents: 11_000,
			}),
		).toEqual({ ok: true, voucherId: c });
	});

	test("redeem refuses another customer, another supplier, an amount above the programme's, an unknown token", async () => {
		const claimed = await claim({ supplierId: "s1", productId: "p13-s1", cpf: OTHER_BENEFICIARY, code: code() });
		const base = {
			token: claimed.paymentToken,
			orderId: "ov-x",
			paymentId: "p",
			customerId: "cu1",
			supplierId: "s1",
			amountCents: 11_000,
		};
		expect(await broker.call("vouchers.redeem", { ...base, customerId: "cu2" })).toEqual({
			ok: false,
			reason: "wrong_customer",
		});
		expect(await broker.call("vouchers.redeem", { ...base, supplierId: "s2" })).toEqual({
			ok: false,
			reason: "wrong_supplier",
		});
		expect(await broker.call("vouchers.redeem", { ...base, amountCents: 12_001 })).toEqual({
			ok: false,
			reason: "amount_exceeded",
		});
		expect(await broker.call("vouchers.redeem", { ...base, token: "gdp_unknown" })).toEqual({
			ok: false,
			reason: "claim_unknown",
		});
		// a claim in progress blocks a second claimer until it expires
		await expect(
			claim({ supplierId: "s1", productId: "p13-s1", cpf: OTHER_BENEFICIARY, code: claimed.voucherId }, "cu2"),
		).rejects.toMatchObject({ code: 409, data: { reason: "claimed_elsewhere" } });
	});

	test("a cancelled order releases its voucher, which may be claimed again; the payment is voided", async () => {
		const c = code();
		const claimed = await claim({ supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY, code: c });
		await orderWithVoucher("ov-3", claimed.paymentToken);
		await publish("order.cancelled", {
			orderId: "ov-3",
			customerId: "cu1",
			supplierId: "s1",
			courierId: null,
			reason: "changed my mind",
			cancelledBy: "cu1",
			wasPaid: false,
			paymentMethod: "voucher",
		});
		await waitFor(() => recorder.ofType("voucher.released").some((e) => e.data.orderId === "ov-3"));
		expect(recorder.ofType("voucher.released").find((e) => e.data.orderId === "ov-3").data).toEqual({
			voucherId: c,
			orderId: "ov-3",
			supplierId: "s1",
			reason: "changed my mind",
		});
		await waitFor(async () => (await paymentOf("ov-3")).status === "voided");
		const again = await claim({ supplierId: "s1", productId: "p13-s1", cpf: BENEFICIARY, code: c });
		expect(again.paymentToken).not.toBe(claimed.paymentToken);
		expect(await orderWithVoucher("ov-4", again.paymentToken)).toMatchObject({ status: "authorized" });
	});

	test("the redemption report: a supplier's vouchers, released ones listed but not owed; JSON and CSV; own only", async () => {
		const report = await broker.call<
			{
				rows: { orderId: string; status: string }[];
				totals: { redeemed: number; released: number; reimbursableCents: number };
			},
			object
		>("vouchers.redemptions", {}, supplier("s1"));
		expect(report.rows.map((r) => `${r.orderId}:${r.status}`)).toEqual(["ov-1:redeemed", "ov-4:redeemed"]);
		expect(report.totals).toEqual({ redeemed: 2, released: 0, reimbursableCents: 22_000 });
		const csv = parseCsv(await broker.call<string, object>("vouchers.redemptions", { format: "csv" }, supplier("s1")));
		expect(csv[0]).toEqual(["redeemed_at", "voucher", "order", "beneficiary_cpf", "status", "amount_cents"]);
		expect(csv).toHaveLength(3);
		expect(csv[1][3]).toBe("***.982.247-**");
		await expect(broker.call("vouchers.redemptions", { supplierId: "s1" }, supplier("s2"))).rejects.toMatchObject({
			code: 403,
		});
		await expect(broker.call("vouchers.redemptions", {}, admin)).rejects.toMatchObject({ code: 422 });
		expect(await broker.call("vouchers.redemptions", { supplierId: "s2" }, admin)).toMatchObject({ rows: [] });
	});

	test("a crash after the voucher was redeemed, before payments recorded it: reconciliation authorizes, the voucher is used once", async () => {
		const c = code();
		const claimed = await claim({ supplierId: "s1", productId: "p13-s1", cpf: OTHER_BENEFICIARY, code: c });
		const paid = await orderWithVoucher("ov-crash", claimed.paymentToken);
		expect(paid).toMatchObject({ status: "authorized" });
		// As if the process died after vouchers.redeem answered and before the outcome was written:
		// the payment is still `processing` with the token it was charging.
		const payments = broker.getLocalService("payments") as unknown as {
			compareAndSet(ctx: null, q: object, u: object): Promise<unknown>;
		};
		const longAgo = new Date(Date.now() - 3_600_000).toISOString();
		await payments.compareAndSet(
			null,
			{ _id: paid!.id },
			{
				$set: { status: "processing", processingSince: longAgo, pendingToken: claimed.paymentToken },
				$unset: { providerRef: 1 },
			},
		);
		const now = new Date().toISOString();
		orderRows.set("ov-crash", {
			orderId: "ov-crash",
			status: "created",
			customerId: "cu1",
			supplierId: "s1",
			totalCents: 11_000,
			paymentMethod: "voucher",
			wasPaid: false,
			createdAt: longAgo,
			updatedAt: now,
		});
		const report = await broker.call<{ repairs: { kind: string; orderId: string }[] }, object>("payments.reconcile", {
			graceMs: 0,
		});
		expect(report.repairs).toContainEqual(
			expect.objectContaining({ kind: "processing_recharged", orderId: "ov-crash" }),
		);
		expect(await paymentOf("ov-crash")).toMatchObject({ status: "authorized", method: "voucher" });
		// redeemed once: one voucher.redeemed (the first redemption's; the repair's redeem answers from the record)
		const redeemedFor = () => recorder.ofType("voucher.redeemed").filter((e) => e.data.orderId === "ov-crash");
		await waitFor(() => redeemedFor().length > 0);
		await new Promise((r) => setTimeout(r, 200));
		expect(redeemedFor()).toHaveLength(1);
		await expect(
			claim({ supplierId: "s1", productId: "p13-s1", cpf: OTHER_BENEFICIARY, code: c }),
		).rejects.toMatchObject({
			code: 409,
		});
		orderRows.delete("ov-crash");
	});
});
