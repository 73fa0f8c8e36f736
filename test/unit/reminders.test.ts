/** Run-out estimates and notification preferences (lib/domain/reminders.ts). */
import {
	cylindersByType,
	estimateRunOut,
	isMuted,
	MAX_DAYS,
	reorderChoice,
	setMuted,
	withDelivery,
} from "../../lib/domain/reminders";

const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000).toISOString();

describe("estimateRunOut", () => {
	test("no history: the type's default (P13 ≈ 50 days), reminded 3 days before", () => {
		const e = estimateRunOut("P13", [{ orderId: "a", at: day(0), quantity: 1 }])!;
		expect(e).toEqual({ daysPerCylinder: 50, runOutAt: day(50), remindAt: day(47), basis: "default" });
		expect(estimateRunOut("P45", [{ orderId: "a", at: day(0), quantity: 1 }])!.runOutAt).toBe(day(60));
		expect(estimateRunOut("P13", [])).toBeNull();
	});
	test("history: the mean days one cylinder lasted, times the latest quantity", () => {
		const e = estimateRunOut("P13", [
			{ orderId: "a", at: day(0), quantity: 1 },
			{ orderId: "b", at: day(40), quantity: 2 }, // one lasted 40 days
			{ orderId: "c", at: day(120), quantity: 1 }, // two lasted 80: 40 each
		])!;
		expect(e).toMatchObject({ basis: "history", daysPerCylinder: 40, runOutAt: day(160), remindAt: day(157) });
	});
	test("clamped: a double order the next day does not make the estimate one day", () => {
		const e = estimateRunOut("P13", [
			{ orderId: "a", at: day(0), quantity: 1 },
			{ orderId: "b", at: day(1), quantity: 1 },
		])!;
		expect(e.daysPerCylinder).toBe(7);
		const long = estimateRunOut("P13", [
			{ orderId: "a", at: day(0), quantity: 1 },
			{ orderId: "b", at: day(400), quantity: 1 },
		])!;
		expect(long.daysPerCylinder).toBe(MAX_DAYS);
	});
	test("order of input does not matter; the same order is kept once", () => {
		const h = withDelivery(withDelivery([], { orderId: "b", at: day(30), quantity: 1 }), {
			orderId: "a",
			at: day(0),
			quantity: 1,
		});
		expect(withDelivery(h, { orderId: "a", at: day(0), quantity: 1 })).toBe(h);
		expect(h.map((d) => d.orderId)).toEqual(["a", "b"]);
		expect(estimateRunOut("P13", h)!.daysPerCylinder).toBe(30);
	});
	test("cylinders per type in an order", () => {
		expect([
			...cylindersByType([
				{ type: "P13", quantity: 1 },
				{ type: "P13", quantity: 2 },
				{ type: "water", quantity: 1 },
				{ quantity: 3 },
			]),
		]).toEqual([
			["P13", 3],
			["water", 1],
		]);
	});
});

describe("preferences", () => {
	test("a kind is turned off per channel, or on every channel with *", () => {
		let muted = setMuted([], "reorder_reminder", "email", false);
		expect(isMuted(muted, "reorder_reminder", "email")).toBe(true);
		expect(isMuted(muted, "reorder_reminder", "push")).toBe(false);
		expect(isMuted(muted, "order_delivered", "email")).toBe(false);
		muted = setMuted(muted, "reorder_reminder", "*", false);
		expect(isMuted(muted, "reorder_reminder", "push")).toBe(true);
		muted = setMuted(setMuted(muted, "reorder_reminder", "*", true), "reorder_reminder", "email", true);
		expect(muted).toEqual([]);
		expect(isMuted(undefined, "x", "email")).toBe(false);
	});
});

describe("reorderChoice", () => {
	const offer = (id: string, supplier: string, type: string, priceCents: number) => ({
		id,
		type,
		priceCents,
		supplier: { id: supplier },
	});
	const last = { supplierId: "s1", items: [{ productId: "old", type: "P13", quantity: 2, exchange: true }] };
	test("the same supplier when it still offers the type (its current product)", () => {
		expect(reorderChoice(last, [offer("cheap", "s2", "P13", 9000), offer("p13b", "s1", "P13", 11000)])).toEqual({
			supplierId: "s1",
			sameSupplier: true,
			items: [{ productId: "p13b", quantity: 2, exchange: true }],
		});
	});
	test("else the cheapest supplier offering every type; null when none does", () => {
		expect(reorderChoice(last, [offer("a", "s3", "P13", 12000), offer("b", "s2", "P13", 9000)])).toMatchObject({
			supplierId: "s2",
			sameSupplier: false,
		});
		const both = { supplierId: "s1", items: [...last.items, { productId: "w", type: "water", quantity: 1 }] };
		expect(
			reorderChoice(both, [
				offer("b", "s2", "P13", 9000),
				offer("c", "s3", "P13", 9500),
				offer("d", "s3", "water", 900),
			]),
		).toMatchObject({ supplierId: "s3" });
		expect(reorderChoice(last, [offer("x", "s2", "P45", 1)])).toBeNull();
	});
});
