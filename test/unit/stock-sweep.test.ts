/**
 * The reservation sweep: the rule (lib/domain/stock.ts sweepAction) and the ledger's pass over every
 * open reservation (lib/infra/stock-ledger.ts), on an in-memory SQLite store with no broker.
 */
import type { Product, StockReservation } from "../../lib/contracts/products";
import type { OrderStatus } from "../../lib/domain/order-status";
import { ORPHAN_GRACE_MS, STUCK_RESERVING_MS, sweepAction } from "../../lib/domain/stock";
import { StockLedger } from "../../lib/infra/stock-ledger";
import { SqliteStore } from "../../lib/infra/store/sqlite";

const NOW = new Date("2026-01-10T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const inFuture = new Date(NOW.getTime() + 15 * 60_000).toISOString();

describe("sweepAction", () => {
	const reserved = (ageMs: number, expiresAt = inFuture) =>
		({ state: "reserved", createdAt: ago(ageMs), expiresAt }) as const;

	it("releases a reservation whose order is gone, once the grace period is over", () => {
		expect(sweepAction(reserved(ORPHAN_GRACE_MS + 1), undefined, NOW)).toBe("release");
		// Younger: the order may be being stored right now.
		expect(sweepAction(reserved(ORPHAN_GRACE_MS - 1000), undefined, NOW)).toBe("keep");
	});

	it("releases for a cancelled order and commits for a delivered one, whatever the expiry", () => {
		expect(sweepAction(reserved(1000), "cancelled", NOW)).toBe("release");
		expect(sweepAction(reserved(1000), "delivered", NOW)).toBe("commit");
	});

	it("keeps the stock of open orders until the expiry, then commits a confirmed order and releases the rest", () => {
		for (const status of ["created", "confirmed", "in_transit"] as OrderStatus[])
			expect(sweepAction(reserved(ORPHAN_GRACE_MS * 10), status, NOW)).toBe("keep");
		expect(sweepAction(reserved(ORPHAN_GRACE_MS * 10, ago(1)), "confirmed", NOW)).toBe("commit");
		expect(sweepAction(reserved(ORPHAN_GRACE_MS * 10, ago(1)), "in_transit", NOW)).toBe("commit");
		expect(sweepAction(reserved(ORPHAN_GRACE_MS * 10, ago(1)), "created", NOW)).toBe("release");
	});

	it("undoes a reserve interrupted half-way after STUCK_RESERVING_MS", () => {
		const reserving = (ageMs: number) => ({ state: "reserving", createdAt: ago(ageMs), expiresAt: inFuture }) as const;
		expect(sweepAction(reserving(STUCK_RESERVING_MS + 1), undefined, NOW)).toBe("release");
		expect(sweepAction(reserving(1000), undefined, NOW)).toBe("keep");
	});

	it("leaves finished reservations alone", () => {
		for (const state of ["released", "committed"] as const)
			expect(sweepAction({ state, createdAt: ago(ORPHAN_GRACE_MS * 10), expiresAt: ago(1) }, undefined, NOW)).toBe(
				"keep",
			);
	});
});

describe("StockLedger.sweep", () => {
	let store: SqliteStore;

	beforeEach(() => {
		store = new SqliteStore("products", ":memory:");
	});
	afterEach(async () => {
		await store.close();
	});

	/** A product holding `orders` one unit each (as reserves leave it), and their reservation records. */
	async function setUp(orders: { id: string; ageMs: number }[]) {
		const products = await store.collection<Product>("products");
		const reservations = await store.collection<StockReservation>("reservations");
		const holds = Object.fromEntries(orders.map((o) => [o.id, 1]));
		await products.insert({
			_id: "p1",
			supplierId: "s1",
			type: "P13",
			priceCents: 11000,
			depositCents: 15000,
			stock: 10,
			reserved: orders.length,
			holds,
			createdAt: ago(0),
			updatedAt: ago(0),
		} as unknown as Product);
		for (const o of orders)
			await reservations.insert({
				_id: o.id,
				orderId: o.id,
				supplierId: "s1",
				items: [{ productId: "p1", quantity: 1 }],
				state: "reserved",
				expiresAt: new Date(Date.now() + 15 * 60_000).toISOString(),
				supplier: {} as StockReservation["supplier"],
				distanceKm: null,
				products: [],
				createdAt: new Date(Date.now() - o.ageMs).toISOString(),
				updatedAt: new Date(Date.now() - o.ageMs).toISOString(),
			});
		const ledger = new StockLedger({
			findProduct: (id) => products.findById(id),
			findProducts: () => products.find({}),
			compareAndSet: (_ctx, query, update) => products.updateOne(query, update),
			reservations,
		});
		return { products, reservations, ledger };
	}

	it("pages through every open reservation and releases those with no order after the grace period", async () => {
		const old = ORPHAN_GRACE_MS + 5000;
		// More than one page (500) of orderless reservations, plus some with a live order and some too young.
		const orphans = Array.from({ length: 1100 }, (_, i) => ({
			id: `orphan-${String(i).padStart(4, "0")}`,
			ageMs: old,
		}));
		const live = Array.from({ length: 30 }, (_, i) => ({ id: `live-${i}`, ageMs: old }));
		const young = Array.from({ length: 20 }, (_, i) => ({ id: `young-${i}`, ageMs: 1000 }));
		const cancelled = [{ id: "cancelled-1", ageMs: 2000 }];
		const { products, reservations, ledger } = await setUp([...orphans, ...live, ...young, ...cancelled]);
		const asked: number[] = [];
		const statuses = async (ids: string[]) => {
			asked.push(ids.length);
			const known = new Map<string, OrderStatus>();
			for (const id of ids) {
				if (id.startsWith("live-")) known.set(id, "created");
				if (id.startsWith("cancelled-")) known.set(id, "cancelled");
			}
			return known;
		};
		const repaired: string[] = [];
		const result = await ledger.sweep(statuses, (r) => repaired.push(r.reservation.orderId));

		expect(result).toEqual({ released: 1101, committed: 0 });
		expect(asked.length).toBeGreaterThan(1); // more than one page
		expect(Math.max(...asked)).toBeLessThanOrEqual(1000); // orders.statusesFor takes at most 1000 ids
		expect(new Set(repaired).size).toBe(1101);
		const product = (await products.findById("p1"))!;
		expect(product.reserved).toBe(50);
		expect(product.stock).toBe(10 + 1101);
		expect(await reservations.count({ state: "reserved" })).toBe(50);
		expect(await reservations.count({ state: "released", settled: true })).toBe(1101);
		expect(await ledger.drift()).toEqual({ reservedUnits: 50, openReservationUnits: 50 });

		// A second pass finds nothing left to do.
		expect(await ledger.sweep(statuses, () => undefined)).toEqual({ released: 0, committed: 0 });
	});

	it("decides nothing that needs an order's status when orders does not answer", async () => {
		const { ledger, reservations } = await setUp([{ id: "o1", ageMs: ORPHAN_GRACE_MS * 2 }]);
		expect(
			await ledger.sweep(
				async () => null,
				() => undefined,
			),
		).toEqual({ released: 0, committed: 0 });
		expect(await reservations.count({ state: "reserved" })).toBe(1);
	});
});
