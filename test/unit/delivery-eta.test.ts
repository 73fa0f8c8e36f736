import { deliveryEtaMinutes, etaViaPickupMinutes, courierEtaMinutes } from "../../lib/domain/eta";
import { trackedPosition } from "../../lib/domain/couriers";

describe("one ETA for a delivery", () => {
	const courier = { lat: -23.54, lng: -46.62, speed: 12 };
	const supplier = { lat: -23.56, lng: -46.64 };
	const door = { lat: -23.5505, lng: -46.6333 };

	it("goes by the supplier until the order is picked up, then straight to the door", () => {
		const before = deliveryEtaMinutes(courier, { to: door, pickup: supplier, pickedUp: false });
		const after = deliveryEtaMinutes(courier, { to: door, pickup: supplier, pickedUp: true });
		expect(before).toBe(etaViaPickupMinutes(courier, supplier, door));
		expect(after).toBe(courierEtaMinutes(courier, door, courier.speed));
		expect(before).toBeGreaterThan(after);
	});

	it("the tracking stream shows the same minutes as the notification at assignment (via the supplier)", () => {
		const atAssignment = deliveryEtaMinutes(courier, { to: door, pickup: supplier, pickedUp: false });
		const streamed = trackedPosition(
			{ ...courier, courierId: "c1", accuracy: null, heading: null, at: new Date().toISOString() },
			door,
			supplier,
			false,
		);
		expect(streamed.etaMinutes).toBe(atAssignment);
		const inTransit = trackedPosition(
			{ ...courier, courierId: "c1", accuracy: null, heading: null, at: new Date().toISOString() },
			door,
			supplier,
			true,
		);
		expect(inTransit.etaMinutes).toBe(courierEtaMinutes(courier, door, courier.speed));
	});
});
