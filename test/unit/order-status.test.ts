import {
	canTransition,
	checkTransition,
	historyEntry,
	isFinal,
	MAX_HANDOVER_FAILURES,
	OrderParties,
	timestampField,
} from "../../lib/domain/order-status";

const order = (status: OrderParties["status"], extra: Partial<OrderParties> = {}): OrderParties => ({
	status,
	customerId: "cust",
	supplierId: "sup",
	courierId: "cour",
	handoverCode: "1234",
	...extra,
});
const customer = { id: "cust", role: "customer" as const };
const otherCustomer = { id: "other", role: "customer" as const };
const supplier = { id: "sup", role: "supplier" as const };
const courier = { id: "cour", role: "courier" as const };
const otherCourier = { id: "c2", role: "courier" as const };
const admin = { id: "adm", role: "admin" as const };
const system = { id: "system", role: "system" as const };

describe("order status machine", () => {
	it("allows exactly the documented moves", () => {
		expect(canTransition("created", "confirmed")).toBe(true);
		expect(canTransition("confirmed", "in_transit")).toBe(true);
		expect(canTransition("in_transit", "delivered")).toBe(true);
		expect(canTransition("created", "cancelled")).toBe(true);
		expect(canTransition("confirmed", "cancelled")).toBe(true);
		expect(canTransition("in_transit", "cancelled")).toBe(false);
		expect(canTransition("created", "delivered")).toBe(false);
		expect(canTransition("delivered", "cancelled")).toBe(false);
		expect(canTransition("cancelled", "confirmed")).toBe(false);
		expect(isFinal("delivered")).toBe(true);
		expect(isFinal("confirmed")).toBe(false);
	});

	it("rejects moves the machine does not have with 409, whoever asks", () => {
		expect(checkTransition(order("delivered"), "cancelled", admin)).toMatchObject({
			type: "INVALID_TRANSITION",
		});
		expect(checkTransition(order("created"), "in_transit", admin)).toMatchObject({ type: "INVALID_TRANSITION" });
		expect(checkTransition(order("cancelled"), "cancelled", customer)).toMatchObject({ type: "INVALID_TRANSITION" });
	});

	it("confirms only through the saga or an admin", () => {
		expect(checkTransition(order("created"), "confirmed", system)).toBeNull();
		expect(checkTransition(order("created"), "confirmed", admin)).toBeNull();
		expect(checkTransition(order("created"), "confirmed", supplier)).toMatchObject({ type: "FORBIDDEN" });
		expect(checkTransition(order("created"), "confirmed", customer)).toMatchObject({ type: "FORBIDDEN" });
	});

	it("lets the assigned courier, the order's supplier (handing it to that courier) or an admin start the delivery", () => {
		expect(checkTransition(order("confirmed"), "in_transit", courier)).toBeNull();
		expect(checkTransition(order("confirmed"), "in_transit", admin)).toBeNull();
		expect(checkTransition(order("confirmed"), "in_transit", supplier)).toBeNull();
		expect(checkTransition(order("confirmed"), "in_transit", otherCourier)).toMatchObject({ type: "FORBIDDEN" });
		expect(checkTransition(order("confirmed", { courierId: null }), "in_transit", courier)).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(order("confirmed"), "in_transit", { id: "s2", role: "supplier" })).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(order("confirmed"), "in_transit", customer)).toMatchObject({ type: "FORBIDDEN" });
	});

	it("refuses the supplier's handover while no courier is assigned (409), and before payment", () => {
		expect(checkTransition(order("confirmed", { courierId: null }), "in_transit", supplier)).toEqual({
			type: "INVALID_TRANSITION",
			message: "The order has no courier yet to hand it to",
		});
		expect(checkTransition(order("created"), "in_transit", supplier)).toMatchObject({ type: "INVALID_TRANSITION" });
	});

	it("needs the right handover code from the courier to deliver", () => {
		expect(checkTransition(order("in_transit"), "delivered", courier, { handoverCode: "1234" })).toBeNull();
		expect(checkTransition(order("in_transit"), "delivered", courier, { handoverCode: "9999" })).toMatchObject({
			type: "WRONG_HANDOVER_CODE",
		});
		expect(checkTransition(order("in_transit"), "delivered", courier)).toMatchObject({
			type: "HANDOVER_CODE_REQUIRED",
		});
		expect(checkTransition(order("in_transit"), "delivered", otherCourier, { handoverCode: "1234" })).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(order("in_transit"), "delivered", admin)).toBeNull();
		expect(checkTransition(order("in_transit"), "delivered", customer)).toMatchObject({ type: "FORBIDDEN" });
	});

	it("locks the courier out after too many wrong handover codes; an admin still delivers", () => {
		expect(MAX_HANDOVER_FAILURES).toBe(5);
		const almost = order("in_transit", { handoverFailures: MAX_HANDOVER_FAILURES - 1 });
		expect(checkTransition(almost, "delivered", courier, { handoverCode: "1234" })).toBeNull();
		const locked = order("in_transit", { handoverFailures: MAX_HANDOVER_FAILURES });
		expect(checkTransition(locked, "delivered", courier, { handoverCode: "1234" })).toMatchObject({
			type: "HANDOVER_LOCKED",
		});
		expect(checkTransition(locked, "delivered", courier, { handoverCode: "9999" })).toMatchObject({
			type: "HANDOVER_LOCKED",
		});
		expect(checkTransition(locked, "delivered", otherCourier, { handoverCode: "1234" })).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(locked, "delivered", admin)).toBeNull();
	});

	it("cancels by the order's parties, with a reason when it is not the customer", () => {
		expect(checkTransition(order("created"), "cancelled", customer)).toBeNull();
		expect(checkTransition(order("confirmed"), "cancelled", customer)).toBeNull();
		expect(checkTransition(order("created"), "cancelled", otherCustomer)).toMatchObject({ type: "FORBIDDEN" });
		expect(checkTransition(order("created"), "cancelled", supplier)).toMatchObject({
			type: "REASON_REQUIRED",
		});
		expect(checkTransition(order("created"), "cancelled", supplier, { reason: "no truck" })).toBeNull();
		expect(
			checkTransition(order("created"), "cancelled", { id: "s2", role: "supplier" }, { reason: "x" }),
		).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(order("created"), "cancelled", admin, { reason: "   " })).toMatchObject({
			type: "REASON_REQUIRED",
		});
		expect(checkTransition(order("created"), "cancelled", courier, { reason: "x" })).toMatchObject({
			type: "FORBIDDEN",
		});
		expect(checkTransition(order("created"), "cancelled", system, { reason: "payment_failed" })).toBeNull();
	});

	it("builds history entries and timestamp names", () => {
		expect(historyEntry("cancelled", customer, "2024-01-01T00:00:00.000Z", { reason: "changed mind" })).toEqual({
			status: "cancelled",
			at: "2024-01-01T00:00:00.000Z",
			by: "cust",
			role: "customer",
			reason: "changed mind",
		});
		expect(historyEntry("confirmed", system, "t")).not.toHaveProperty("reason");
		expect(timestampField("in_transit")).toBe("inTransitAt");
	});
});

describe("delivery promises", () => {
	const { scheduledSlotProblem, promisedBy } = require("../../lib/domain/order-status");
	const now = new Date("2024-06-03T12:00:00.000Z");

	it("accepts a future slot of reasonable length and refuses the others", () => {
		expect(scheduledSlotProblem({ from: "2024-06-03T14:00:00Z", to: "2024-06-03T16:00:00Z" }, now)).toBeNull();
		expect(scheduledSlotProblem({ from: "2024-06-03T10:00:00Z", to: "2024-06-03T11:00:00Z" }, now)).toMatch(/future/);
		expect(scheduledSlotProblem({ from: "2024-06-03T16:00:00Z", to: "2024-06-03T14:00:00Z" }, now)).toMatch(
			/end after/,
		);
		expect(scheduledSlotProblem({ from: "2024-06-03T14:00:00Z", to: "2024-06-03T14:10:00Z" }, now)).toMatch(/between/);
		expect(scheduledSlotProblem({ from: "2024-06-20T14:00:00Z", to: "2024-06-20T15:00:00Z" }, now)).toMatch(/7 days/);
		expect(scheduledSlotProblem({ from: "tomorrow", to: "later" }, now)).toMatch(/ISO/);
	});

	it("promises the slot's end, or an hour after confirmation", () => {
		expect(promisedBy("2024-06-03T12:00:00.000Z")).toBe("2024-06-03T13:00:00.000Z");
		expect(promisedBy("2024-06-03T12:00:00.000Z", { from: "2024-06-03T14:00:00Z", to: "2024-06-03T16:00:00Z" })).toBe(
			"2024-06-03T16:00:00.000Z",
		);
	});
});
