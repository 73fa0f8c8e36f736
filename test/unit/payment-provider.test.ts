import {
	ChargeResult,
	IdempotencyMismatchError,
	memoryKeyStore,
	pixCopyPasteCode,
	ProviderTimeoutError,
	SimulatedProvider,
	TEST_CARDS,
	withTimeout,
} from "../../lib/infra/payment-provider";
import {
	orderWithoutPayment,
	OrderState,
	pixOutcome,
	PaymentState,
	reconciliationProblems,
	refundableCents,
	refundStatus,
} from "../../lib/domain/payments";

const provider = new SimulatedProvider();
let keys = 0;
/** A fresh idempotency key per call, unless the test gives one. */
const base = () => ({ paymentId: "pay1", orderId: "ord1", amountCents: 12345, idempotencyKey: `charge:k${++keys}` });

describe("simulated payment provider", () => {
	it("captures the success card and declines the documented ones", async () => {
		await expect(provider.charge({ ...base(), method: "card", token: TEST_CARDS.success })).resolves.toMatchObject({
			status: "captured",
		});
		await expect(provider.charge({ ...base(), method: "card", token: TEST_CARDS.declined })).resolves.toMatchObject({
			status: "declined",
			reason: "card_declined",
		});
		await expect(
			provider.charge({ ...base(), method: "card", token: TEST_CARDS.insufficientFunds }),
		).resolves.toMatchObject({
			reason: "insufficient_funds",
		});
		await expect(provider.charge({ ...base(), method: "card", token: "4111111111111111" })).resolves.toMatchObject({
			status: "declined",
			reason: "unknown_test_card",
		});
	});

	it("is deterministic: the same payment gets the same reference", async () => {
		const a = await provider.charge({ ...base(), method: "card", token: TEST_CARDS.success });
		const b = await provider.charge({ ...base(), method: "card", token: TEST_CARDS.success });
		expect(a.providerRef).toBe(b.providerRef);
	});

	it("times out on the timeout card", async () => {
		const started = Date.now();
		await expect(
			withTimeout(30, (signal) => provider.charge({ ...base(), method: "card", token: TEST_CARDS.timeout, signal })),
		).rejects.toBeInstanceOf(ProviderTimeoutError);
		expect(Date.now() - started).toBeLessThan(1000);
	});

	it("authorizes cash and leaves PIX pending with a copy-paste code", async () => {
		await expect(provider.charge({ ...base(), method: "cash" })).resolves.toMatchObject({ status: "authorized" });
		const pix = (await provider.charge({ ...base(), method: "pix" })) as Extract<ChargeResult, { status: "pending" }>;
		expect(pix.status).toBe("pending");
		expect(pix.pixCode).toMatch(/^000201.*BR\.GOV\.BCB\.PIX.*123\.45/);
		expect(pixCopyPasteCode("pay1", 12345)).toBe(pix.pixCode);
	});

	it("refunds with a reference per refund", async () => {
		const r1 = await provider.refund({
			idempotencyKey: "refund:r1",
			paymentId: "p",
			providerRef: "x",
			refundId: "r1",
			amountCents: 1,
		});
		const r2 = await provider.refund({
			idempotencyKey: "refund:r2",
			paymentId: "p",
			providerRef: "x",
			refundId: "r2",
			amountCents: 1,
		});
		expect(r1.providerRef).not.toBe(r2.providerRef);
	});

	it("never lets refunds exceed what was captured", () => {
		expect(refundableCents({ capturedCents: 1000, refundedCents: 400 })).toBe(600);
		expect(refundableCents({ capturedCents: 1000, refundedCents: 1000 })).toBe(0);
		expect(refundableCents({ capturedCents: 0, refundedCents: 0 })).toBe(0);
	});

	it("derives a payment's status from its refunded total", () => {
		expect(refundStatus(1000, 1000, "partially_refunded")).toBe("refunded");
		expect(refundStatus(1000, 400, "captured")).toBe("partially_refunded");
		expect(refundStatus(1000, 400, "refunded")).toBe("partially_refunded");
		expect(refundStatus(1000, 0, "refunded")).toBe("captured");
		expect(refundStatus(1000, 0, "captured")).toBe("captured");
	});

	it("passes a result through withTimeout when the provider answers in time", async () => {
		await expect(withTimeout(1000, async () => 42)).resolves.toBe(42);
	});
});

describe("simulated provider: idempotency keys", () => {
	const card = { paymentId: "pay9", orderId: "ord9", amountCents: 5000, method: "card" as const };

	it("never charges a key twice and returns the first outcome", async () => {
		const p = new SimulatedProvider(memoryKeyStore());
		const first = await p.charge({ ...card, idempotencyKey: "charge:pay9", token: TEST_CARDS.success });
		// The same key again, even with another card: the first outcome, no second charge.
		const again = await p.charge({ ...card, idempotencyKey: "charge:pay9", token: TEST_CARDS.declined });
		expect(again).toEqual(first);
		expect(first.status).toBe("captured");
		expect(p.executed).toBe(1);
	});

	it("answers the same outcome to concurrent requests with one key, charging once", async () => {
		const p = new SimulatedProvider(memoryKeyStore());
		const results = await Promise.all(
			[1, 2, 3].map(() => p.charge({ ...card, idempotencyKey: "charge:race", token: TEST_CARDS.success })),
		);
		expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
		expect(p.executed).toBe(1);
	});

	it("refuses a key reused for a different request", async () => {
		const p = new SimulatedProvider(memoryKeyStore());
		await p.charge({ ...card, idempotencyKey: "charge:x", token: TEST_CARDS.success });
		await expect(
			p.charge({ ...card, amountCents: 1, idempotencyKey: "charge:x", token: TEST_CARDS.success }),
		).rejects.toBeInstanceOf(IdempotencyMismatchError);
	});

	it("tells a key's outcome, and unknown for a request it never received or never answered", async () => {
		const store = memoryKeyStore();
		const p = new SimulatedProvider(store);
		await expect(p.status("charge:nobody")).resolves.toEqual({ status: "unknown" });
		const declined = await p.charge({ ...card, idempotencyKey: "charge:d", token: TEST_CARDS.declined });
		await expect(p.status("charge:d")).resolves.toEqual(declined);
		await expect(
			withTimeout(20, (signal) => p.charge({ ...card, idempotencyKey: "charge:t", token: TEST_CARDS.timeout, signal })),
		).rejects.toBeInstanceOf(ProviderTimeoutError);
		await expect(p.status("charge:t")).resolves.toEqual({ status: "unknown" });
		// A provider made again on the same store (a restart) remembers.
		const restarted = new SimulatedProvider(store);
		await expect(restarted.status("charge:d")).resolves.toEqual(declined);
		await expect(restarted.charge({ ...card, idempotencyKey: "charge:d", token: TEST_CARDS.success })).resolves.toEqual(
			declined,
		);
		expect(restarted.executed).toBe(0);
	});

	it("refunds a key once", async () => {
		const p = new SimulatedProvider(memoryKeyStore());
		const req = { idempotencyKey: "refund:r", paymentId: "p", providerRef: "x", refundId: "r", amountCents: 10 };
		const a = await p.refund(req);
		const b = await p.refund(req);
		expect(a).toEqual(b);
		expect(p.executed).toBe(1);
		await expect(p.status("refund:r")).resolves.toMatchObject({ status: "refunded", providerRef: a.providerRef });
	});
});

describe("reconciliation rules", () => {
	const now = new Date("2024-06-03T12:10:00.000Z");
	const old = "2024-06-03T12:00:00.000Z";
	const fresh = "2024-06-03T12:09:59.000Z";
	const order = (status: string, extra = {}) => ({
		orderId: "o",
		status,
		totalCents: 1000,
		paymentMethod: "card",
		updatedAt: old,
		...extra,
	});
	const payment = (status: string, extra = {}) => ({
		paymentId: "p",
		orderId: "o",
		status,
		method: "card",
		amountCents: 1000,
		capturedCents: status === "captured" ? 1000 : 0,
		refundedCents: 0,
		updatedAt: old,
		...extra,
	});
	const check = (o: OrderState | null, p: PaymentState) => reconciliationProblems(o, p, now, 60_000);

	it("finds nothing wrong when order and payment agree", () => {
		expect(check(order("confirmed"), payment("captured"))).toEqual([]);
		expect(check(order("cancelled"), payment("refunded", { capturedCents: 1000, refundedCents: 1000 }))).toEqual([]);
		expect(check(order("cancelled"), payment("failed"))).toEqual([]);
		expect(check(order("delivered", { paymentMethod: "cash" }), payment("captured", { method: "cash" }))).toEqual([]);
	});

	it("reports a confirmed order whose payment failed, and a cancelled paid order without refund", () => {
		expect(check(order("confirmed"), payment("failed"))).toEqual(["active_order_not_paid"]);
		expect(check(order("cancelled"), payment("captured"))).toEqual(["cancelled_order_not_refunded"]);
		expect(
			check(order("cancelled"), payment("partially_refunded", { capturedCents: 1000, refundedCents: 300 })),
		).toEqual(["cancelled_order_not_refunded"]);
	});

	it("waits for the grace period before reporting what the saga may still fix", () => {
		expect(check(order("cancelled"), payment("captured", { updatedAt: fresh }))).toEqual([]);
		expect(check(order("created"), payment("captured", { updatedAt: fresh }))).toEqual([]);
		expect(check(order("created"), payment("captured"))).toEqual(["paid_order_not_confirmed"]);
		expect(check(order("created"), payment("processing"))).toEqual(["payment_stuck"]);
	});

	it("reports missing orders, amount differences and uncollected cash", () => {
		expect(check(null, payment("captured"))).toEqual(["order_missing"]);
		expect(check(order("confirmed", { totalCents: 999 }), payment("captured"))).toEqual(["amount_mismatch"]);
		expect(check(order("delivered"), payment("authorized", { method: "cash" }))).toEqual(["cash_not_captured"]);
	});
});

describe("orders without a payment", () => {
	const now = new Date("2024-06-03T12:10:00.000Z");
	const order = (status: string, updatedAt: string) => ({
		orderId: "o",
		status,
		totalCents: 1,
		paymentMethod: "card",
		updatedAt,
	});

	it("flags a created order left without a payment past the grace period only", () => {
		expect(orderWithoutPayment(order("created", "2024-06-03T12:00:00.000Z"), false, now, 60_000)).toBe(true);
		expect(orderWithoutPayment(order("created", "2024-06-03T12:09:30.000Z"), false, now, 60_000)).toBe(false);
		expect(orderWithoutPayment(order("created", "2024-06-03T12:00:00.000Z"), true, now, 60_000)).toBe(false);
		expect(orderWithoutPayment(order("cancelled", "2024-06-03T12:00:00.000Z"), false, now, 60_000)).toBe(false);
	});
});

describe("PIX outcome from the charge's stored creation time", () => {
	it("is paid after the auto-confirm delay, expired after the expiry when never paid, pending in between", () => {
		expect(pixOutcome(500, 1000, 600_000)).toBe("pending");
		expect(pixOutcome(1000, 1000, 600_000)).toBe("paid");
		expect(pixOutcome(599_999, 0, 600_000)).toBe("pending");
		expect(pixOutcome(600_000, 0, 600_000)).toBe("expired");
		// A customer who would pay only after the expiry never gets to.
		expect(pixOutcome(700_000, 650_000, 600_000)).toBe("expired");
	});

	it("the simulated provider answers status(key) for a PIX from the time the key was stored, so a restart changes nothing", async () => {
		let now = Date.parse("2026-01-01T00:00:00.000Z");
		const keys = memoryKeyStore();
		const clock = () => now;
		const first = new SimulatedProvider(keys, { pixAutoConfirmMs: 0, pixExpiryMs: 60_000, now: clock });
		const req = {
			idempotencyKey: "charge:pix-1",
			paymentId: "pix-1",
			orderId: "o-1",
			amountCents: 5000,
			method: "pix" as const,
		};
		expect(await first.charge(req)).toMatchObject({ status: "pending" });
		now += 30_000;
		// "Restarted": a new provider over the same stored keys.
		const second = new SimulatedProvider(keys, { pixAutoConfirmMs: 0, pixExpiryMs: 60_000, now: clock });
		expect(await second.status("charge:pix-1")).toMatchObject({ status: "pending" });
		now += 30_000;
		expect(await second.status("charge:pix-1")).toMatchObject({ status: "declined", reason: "pix_expired" });
		const paying = new SimulatedProvider(keys, { pixAutoConfirmMs: 1000, pixExpiryMs: 120_000, now: clock });
		expect(await paying.status("charge:pix-1")).toMatchObject({ status: "captured" });
		// The same key charged again returns the first outcome and charges nothing.
		expect(await second.charge(req)).toMatchObject({ status: "pending" });
		expect(second.executed).toBe(0);
	});
});
