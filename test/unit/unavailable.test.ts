import { Errors } from "moleculer";
import { isTemporarilyUnavailable, serviceUnavailable } from "../../lib/infra/unavailable";

const up = { started: true, stopping: false };

describe("gateway: temporarily unavailable → 503 with Retry-After", () => {
	it("a service with no live instance, or not registered (yet), is unavailable whatever the node's state", () => {
		const notFound = new Errors.ServiceNotFoundError({ action: "products.reserveStock" });
		const notAvailable = new Errors.ServiceNotAvailableError({ action: "orders.create", nodeID: "n1" });
		for (const err of [notFound, notAvailable, new Errors.RequestRejectedError({ action: "a", nodeID: "n" })])
			expect(isTemporarilyUnavailable(err, up, true)).toBe(true);
		expect(serviceUnavailable(notFound)).toMatchObject({
			name: "ServiceUnavailableError",
			code: 503,
			type: "SERVICE_UNAVAILABLE",
			data: { action: "products.reserveStock" },
		});
	});

	it("a route not found is unavailable while the node starts or stops, and a 404 once it runs", () => {
		const routeNotFound = Object.assign(new Error("Not found"), { name: "NotFoundError", code: 404 });
		expect(isTemporarilyUnavailable(routeNotFound, { started: false }, true)).toBe(true);
		expect(isTemporarilyUnavailable(routeNotFound, { started: true, stopping: true }, true)).toBe(true);
		expect(isTemporarilyUnavailable(routeNotFound, up, false)).toBe(true);
		expect(isTemporarilyUnavailable(routeNotFound, up, true)).toBe(false);
	});

	it("client errors and our own 404s stay what they are", () => {
		const ours = new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");
		expect(isTemporarilyUnavailable(ours, { started: false }, false)).toBe(false);
		expect(isTemporarilyUnavailable(new Errors.MoleculerClientError("no", 409, "CONFLICT"), up, true)).toBe(false);
		expect(isTemporarilyUnavailable(null, up, true)).toBe(false);
	});
});
