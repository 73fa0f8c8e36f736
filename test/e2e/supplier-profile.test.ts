/**
 * A supplier edits its profile (PUT /api/users/:id: name, hours, radius, location) and the catalog
 * follows at once: before, products only knew supplier.created, so a change answered 200 and the
 * catalog never saw it (switching to 24 h changed nothing). Now users records supplier.updated.
 */
import { waitFor } from "../helpers/broker";
import { createProduct, createSupplier, HOME, localHhmm, Market, startMarket } from "../helpers/market";

describe("supplier profile → catalog", () => {
	let m: Market;
	beforeAll(async () => {
		m = await startMarket();
	});
	afterAll(() => m.stop());

	test("hours, name, radius and location changed through the API reach the catalog", async () => {
		const closedHours = { open: localHhmm(2), close: localHhmm(4) };
		const supplier = await createSupplier(m, { businessName: "Gás da Vila", openingHours: closedHours });
		const product = await createProduct(m, supplier.token, { stock: 5 });
		const near = `/api/products?lat=${HOME.lat}&lng=${HOME.lng}&supplierId=${supplier.id}`;
		const offers = async (q = near) => (await m.api.get(q)).body.rows as { id: string; supplier: { name: string } }[];
		expect(await offers()).toEqual([]);

		const profile = {
			businessName: "Gás da Vila 24h",
			location: { lat: -23.56, lng: -46.64 },
			deliveryRadiusKm: 10,
			openingHours: { open: "00:00", close: "23:59" },
		};
		const res = await m.api.put(`/api/users/${supplier.id}`, { supplierProfile: profile }, { token: supplier.token });
		expect(res.status).toBe(200);
		await waitFor(async () => (await offers()).length === 1, 5000);
		const [offer] = await offers();
		expect(offer).toMatchObject({ id: product.id, supplier: { name: "Gás da Vila 24h" } });
		expect(m.events.seen.some((e: { type: string }) => e.type === "supplier.updated")).toBe(true);

		// Moved 30 km away with a 5 km radius: it no longer delivers at HOME.
		const moved = { ...profile, location: { lat: -23.8, lng: -46.6 }, deliveryRadiusKm: 5 };
		expect(
			(await m.api.put(`/api/users/${supplier.id}`, { supplierProfile: moved }, { token: supplier.token })).status,
		).toBe(200);
		await waitFor(async () => (await offers()).length === 0, 5000);
		const there = `/api/products?lat=-23.81&lng=-46.6&supplierId=${supplier.id}`;
		expect(await offers(there)).toHaveLength(1);
	});

	test("a supplier not yet verified has no listing: a profile change creates none", async () => {
		const email = `pending-${Date.now().toString(36)}@test.local`;
		const created = await m.api.post("/api/users", { email, password: "supplier-pass-1", name: "Nova" });
		expect(created.status).toBe(201);
		const user: { _id?: string; id: string } = await m.broker.call("users.create", {
			email: `p2-${email}`,
			password: "supplier-pass-1",
			name: "Nova Revenda",
			role: "supplier",
			status: "pending_verification",
			supplierProfile: { businessName: "Nova Revenda", location: HOME, deliveryRadiusKm: 5 },
		});
		const id = user.id || user._id!;
		const renamed: { name: string } = await m.broker.call(
			"users.update",
			{ id, name: "Nova Revenda Ltda" },
			{ meta: { user: { id, role: "supplier" } } },
		);
		expect(renamed.name).toBe("Nova Revenda Ltda");
		await new Promise((r) => setTimeout(r, 300));
		expect(await m.broker.call("products.supplierProfile", { supplierId: id })).toBeNull();
	});
});
