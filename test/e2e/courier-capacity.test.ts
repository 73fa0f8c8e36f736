/**
 * A courier with room for two cylinders carries two one-cylinder orders at once, through the gateway
 * with every service running: the second order is assigned while the first is on the road.
 */
import { ALL_SERVICES } from "../../lib/infra/config";
import {
	createCustomer,
	createProduct,
	createSupplier,
	login,
	Market,
	orderBody,
	startMarket,
	waitForStatus,
} from "../helpers/market";
import { waitFor } from "../helpers/broker";

jest.setTimeout(40_000);

let m: Market;
beforeAll(async () => {
	m = await startMarket({ DISPATCH_RETRY_MS: "500" }, [...ALL_SERVICES]);
});
afterAll(() => m?.stop());

test("a courier with capacity 2 takes a second order while the first is in transit", async () => {
	const city = { lat: -12.97, lng: -38.5 };
	const supplier = await createSupplier(m, { location: city });
	const product = await createProduct(m, supplier.token, { stock: 20 });
	const email = `cap2-${Date.now().toString(36)}@test.local`;
	await m.broker.call("users.create", {
		email,
		password: "courier-pass-1",
		name: "Dois",
		role: "courier",
		status: "active",
	});
	const token = await login(m.api, email, "courier-pass-1");
	const me = await m.api.post(
		"/api/couriers",
		{ vehicle: { type: "motorcycle", plate: "ABC1D23" }, capacity: 2 },
		{ token },
	);
	expect(me.status).toBe(201);
	const courierId = me.body.id as string;
	const report = (lat: number) =>
		m.api.put(`/api/couriers/${courierId}/location`, { lat, lng: city.lng, at: new Date().toISOString() }, { token });
	expect((await report(city.lat + 0.005)).status).toBe(202);
	expect((await m.api.put(`/api/couriers/${courierId}/status`, { status: "available" }, { token })).status).toBe(200);

	const place = async () => {
		const customer = await createCustomer(m);
		const home = { lat: city.lat - 0.01, lng: city.lng };
		const res = await m.api.post(
			"/api/orders",
			orderBody(supplier.id, product.id, {
				deliveryAddress: { street: "Rua A", number: "1", city: "Salvador", ...home },
			}),
			{ token: customer.token },
		);
		expect(res.status).toBe(201);
		await waitForStatus(m, res.body.id, customer.token, "confirmed");
		return { id: res.body.id as string, customer };
	};
	const courierOf = (o: { id: string; customer: { token: string } }) =>
		waitFor(async () => (await m.api.get(`/api/orders/${o.id}`, { token: o.customer.token })).body.courierId, 8000);

	const first = await place();
	expect(await courierOf(first)).toBe(courierId);
	const moved = await m.api.put(`/api/orders/${first.id}/status`, { status: "in_transit" }, { token });
	expect(moved.status).toBe(200);
	expect((await report(city.lat)).status).toBe(202);

	const second = await place();
	expect(await courierOf(second)).toBe(courierId);
	const view = await m.api.get(`/api/couriers/${courierId}`, { token });
	expect(view.body).toMatchObject({ status: "busy", load: 2 });
});
