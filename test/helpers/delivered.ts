/**
 * A delivered order through HTTP, for the after-sale features (reviews, receipts, proof of
 * delivery): a shop, a customer, an available courier of the shop, and the order moved by the
 * courier to in_transit and delivered with the customer's handover code.
 */
import { waitFor } from "./broker";
import { createCustomer, createProduct, createSupplier, login, Market, orderBody, waitForStatus } from "./market";
import type { SupplierOptions } from "./market";

let n = 0;

/** An active courier of `supplierId` with a profile at `at`, available. */
export async function availableCourier(m: Market, supplierId: string, at: { lat: number; lng: number }) {
	const email = `pod-courier-${Date.now().toString(36)}-${++n}@test.local`;
	const user = (await m.broker.call("users.create", {
		email,
		password: "courier-pass-1",
		name: `Entregador ${n}`,
		role: "courier",
		status: "active",
		supplierId,
	})) as { id: string };
	const token = await login(m.api, email, "courier-pass-1");
	const vehicle = { vehicle: { type: "motorcycle", plate: "abc1d23" }, capacity: 4 };
	expect((await m.api.post("/api/couriers", vehicle, { token })).status).toBe(201);
	const where = { ...at, accuracy: 5, at: new Date().toISOString() };
	expect((await m.api.put(`/api/couriers/${user.id}/location`, where, { token })).status).toBe(202);
	expect((await m.api.put(`/api/couriers/${user.id}/status`, { status: "available" }, { token })).status).toBe(200);
	return { id: user.id, token, email };
}

export interface Shop {
	supplier: Awaited<ReturnType<typeof createSupplier>>;
	product: { id: string };
	courier: { id: string; token: string; email: string };
}

/** A supplier in São Paulo with stock and an available courier of its own. */
export async function shopWithCourier(
	m: Market,
	product: Record<string, unknown> = {},
	opts: SupplierOptions = {},
): Promise<Shop> {
	const at = { lat: -23.56, lng: -46.64 };
	const supplier = await createSupplier(m, { location: at, ...opts });
	return {
		supplier,
		product: await createProduct(m, supplier.token, { stock: 50, ...product }),
		courier: await availableCourier(m, supplier.id, at),
	};
}

type Customer = Awaited<ReturnType<typeof createCustomer>>;

/** An order of `shop` placed by `customer` (a new one by default), taken to in_transit by the shop's courier. */
export async function orderInTransit(m: Market, shop: Shop, extra: Record<string, unknown> = {}, who?: Customer) {
	const customer = who ?? (await createCustomer(m));
	const placed = await m.api.post("/api/orders", orderBody(shop.supplier.id, shop.product.id, extra), {
		token: customer.token,
	});
	expect(placed.status).toBe(201);
	const order = placed.body as { id: string; handoverCode: string };
	await waitForStatus(m, order.id, customer.token, "confirmed");
	await waitFor(
		async () => (await m.api.get(`/api/orders/${order.id}`, { token: customer.token })).body.courierId,
		5000,
	);
	const moved = await m.api.put(
		`/api/orders/${order.id}/status`,
		{ status: "in_transit" },
		{ token: shop.courier.token },
	);
	expect(moved.status).toBe(200);
	return { customer, order };
}

/** The same, delivered with the handover code. */
export async function deliveredOrder(m: Market, shop: Shop, extra: Record<string, unknown> = {}, who?: Customer) {
	const { customer, order } = await orderInTransit(m, shop, extra, who);
	const res = await m.api.put(
		`/api/orders/${order.id}/status`,
		{ status: "delivered", handoverCode: order.handoverCode },
		{ token: shop.courier.token },
	);
	expect(res.status).toBe(200);
	return { customer, order };
}
