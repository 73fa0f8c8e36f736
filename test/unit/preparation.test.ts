/** The supplier's preparation stages of a confirmed order (lib/domain/preparation.ts). */
import {
	isSameStage,
	nextStage,
	PREPARATION_STAGES,
	preparationEvent,
	preparationFields,
	preparationProblem,
	PreparedOrder,
} from "../../lib/domain/preparation";

const order = (extra: Partial<PreparedOrder> = {}): PreparedOrder => ({
	_id: "o1",
	status: "confirmed",
	customerId: "cust",
	supplierId: "sup",
	courierId: null,
	...extra,
});
const supplier = { id: "sup", role: "supplier" as const };
const otherSupplier = { id: "sup-2", role: "supplier" as const };
const customer = { id: "cust", role: "customer" as const };
const courier = { id: "cour", role: "courier" as const };
const admin = { id: "adm", role: "admin" as const };

describe("preparation stages", () => {
	it("go accepted → preparing → ready, and nothing after ready", () => {
		expect(PREPARATION_STAGES).toEqual(["accepted", "preparing", "ready"]);
		expect(nextStage(undefined)).toBe("accepted");
		expect(nextStage(null)).toBe("accepted");
		expect(nextStage("accepted")).toBe("preparing");
		expect(nextStage("preparing")).toBe("ready");
		expect(nextStage("ready")).toBeNull();
	});

	it("move forward for the order's supplier or an admin, a stage may be skipped", () => {
		expect(preparationProblem(order(), "accepted", supplier)).toBeNull();
		expect(preparationProblem(order({ preparation: "accepted" }), "preparing", supplier)).toBeNull();
		expect(preparationProblem(order({ preparation: "preparing" }), "ready", supplier)).toBeNull();
		expect(preparationProblem(order(), "ready", supplier)).toBeNull();
		expect(preparationProblem(order({ preparation: "accepted" }), "ready", admin)).toBeNull();
	});

	it("the same stage again is no problem and changes nothing", () => {
		const accepted = order({ preparation: "accepted" });
		expect(preparationProblem(accepted, "accepted", supplier)).toBeNull();
		expect(isSameStage(accepted, "accepted")).toBe(true);
		expect(isSameStage(accepted, "preparing")).toBe(false);
		expect(isSameStage(order(), "accepted")).toBe(false);
	});

	it("never go back (409)", () => {
		expect(preparationProblem(order({ preparation: "ready" }), "preparing", supplier)).toEqual({
			type: "INVALID_TRANSITION",
			message: "The preparation only moves forward",
		});
		expect(preparationProblem(order({ preparation: "preparing" }), "accepted", admin)).toMatchObject({
			type: "INVALID_TRANSITION",
		});
	});

	it("only while the order is confirmed (409)", () => {
		for (const status of ["created", "in_transit", "delivered", "cancelled"] as const)
			expect(preparationProblem(order({ status }), "accepted", supplier)).toEqual({
				type: "INVALID_TRANSITION",
				message: `This order is ${status}`,
			});
		// Even the stage it already has: the order left the preparation.
		expect(preparationProblem(order({ status: "in_transit", preparation: "ready" }), "ready", supplier)).toMatchObject({
			type: "INVALID_TRANSITION",
		});
	});

	it("belong to the order's supplier: its customer, courier or another supplier are refused (403) first", () => {
		for (const actor of [customer, courier, otherSupplier, { id: "system", role: "system" as const }])
			expect(preparationProblem(order({ courierId: "cour" }), "accepted", actor)).toEqual({
				type: "FORBIDDEN",
				message: "Only the order's supplier (or an admin) can prepare it",
			});
		expect(preparationProblem(order({ status: "created" }), "accepted", customer)).toMatchObject({
			type: "FORBIDDEN",
		});
	});

	it("set the stage with its time, and tell the customer in order.preparation", () => {
		const now = "2026-12-02T15:00:00.000Z";
		expect(preparationFields("accepted", now)).toEqual({ preparation: "accepted", acceptedAt: now, updatedAt: now });
		expect(preparationFields("preparing", now)).toMatchObject({ preparingAt: now });
		expect(preparationFields("ready", now)).toMatchObject({ readyAt: now });
		expect(preparationEvent(order({ courierId: "cour" }), "ready", now)).toEqual({
			orderId: "o1",
			customerId: "cust",
			supplierId: "sup",
			courierId: "cour",
			stage: "ready",
			at: now,
		});
		expect(preparationEvent(order(), "accepted", now).courierId).toBeNull();
	});
});
