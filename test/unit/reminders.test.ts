/** Run-out estimates and notification preferences (lib/domain/reminders.ts). */
import { cylindersByType, estimateRunOut, isMuted, MAX_DAYS, setMuted, withDelivery } from "../../lib/domain/reminders";

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
