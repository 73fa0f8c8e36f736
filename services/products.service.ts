/**
 * Products: the catalog of cylinders each supplier sells, its stock, and the price comparison
 * customers browse (GET /api/products, public and cached).
 *
 * Records (lib/contracts/products.ts): products (main collection), `suppliers` (the catalog's read
 * model of suppliers, from supplier.created / user.*) and `reservations` (the stock an order holds,
 * `_id` = orderId, so reserve, release and commit are each idempotent per order).
 *
 * Stock never goes negative and never leaks: every stock move is a compare-and-set on the levels it
 * read (lib/domain/stock.ts does the arithmetic) that also records which order holds the units
 * (`holds`) and the inventory.updated event, in one write. A reservation expires
 * (RESERVATION_TTL_MS); the "reservation-sweep" timer (TimersMixin: once at start-up when orders is
 * up, then every RESERVATION_SWEEP_MS) releases expired ones and those of cancelled orders, and
 * commits those of confirmed or delivered orders (orders.statusesFor).
 */
import { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import { TimerJobs, TimersMixin } from "../mixins/timers.mixin";
import type { Ctx } from "../lib/contracts/common";
import type { PendingEvent } from "../lib/contracts/events";
import type {
	CreateProductParams,
	IdParams,
	ListProductsParams,
	OrderIdParams,
	Product,
	ProductDetails,
	ProductView,
	ReservationItem,
	ReservationView,
	ReserveStockParams,
	StockDrift,
	StockOutcome,
	StockReservation,
	SupplierIdParams,
	SupplierView,
	SweepResult,
	UpdateProductParams,
} from "../lib/contracts/products";
import { LIST_PARAMS, ORDER_ID, PRODUCT_FIELDS, RESERVE_PARAMS } from "../lib/contracts/products";
import * as catalog from "../lib/domain/catalog";
import { mergeItems } from "../lib/domain/stock";
import { config } from "../lib/infra/config";
import { clientError, conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { registerRepairMetric } from "../lib/infra/repairs";
import { ReservationSweep } from "../lib/infra/reservation-sweep";
import { StockLedger } from "../lib/infra/stock-ledger";
import { UniqueViolationError } from "../lib/infra/store/types";
import { SupplierListings } from "../lib/infra/supplier-listings";

/** Any action's context (methods shared by several actions). */
type AnyCtx = Ctx<object>;

interface Settings extends ServiceSettingSchema {
	rest: string;
	timeZone: string;
	reservationTtlMs: number;
	reservationSweepMs: number;
}

type OwnMethods = {
	ownProductOr404(ctx: AnyCtx, id: string): Promise<Product>;
	orderableProducts(owner: string, wanted: ReservationItem[]): Promise<Product[]>;
};

type ThisService = Service<Settings> &
	DbMethods<Product> &
	EventsMethods &
	OwnMethods & {
		ledger: StockLedger;
		suppliers: SupplierListings;
		sweep: ReservationSweep;
	};

const productEvent = (type: "product.created" | "product.updated" | "product.deleted", p: Product): PendingEvent => ({
	type,
	data: catalog.productChange(p),
});

const refusal = (p: catalog.CatalogProblem) => clientError(p.type, p.message, p.data);

const isUnique = (err: unknown) => err instanceof UniqueViolationError || (err as { code?: unknown })?.code === 409;

const ProductsService: ServiceSchema<Settings, ThisService> = {
	name: "products",
	// EventsMixin listed first: Moleculer runs the mixins' started() hooks last-listed first, and the
	// events mixin must find DbMixin's store (its outbox) when it starts, or it falls back to memory.
	mixins: [
		TimersMixin,
		EventsMixin,
		DbMixin<Product>({
			collection: "products",
			indexes: [
				{ fields: { supplierId: 1 } },
				// One live product per supplier and cylinder type.
				{ fields: { supplierType: 1 }, unique: true, sparse: true },
			],
			kinds: {
				suppliers: { indexes: [{ fields: { supplierId: 1 } }] },
				reservations: { indexes: [{ fields: { state: 1, expiresAt: 1 } }, { fields: { settled: 1 } }] },
			},
		}),
	],
	settings: {
		rest: "/",
		timeZone: catalog.DEFAULT_TIME_ZONE,
		reservationTtlMs: 15 * 60_000,
		reservationSweepMs: 60_000,
	},

	actions: {
		create: {
			rest: "POST /products",
			auth: { roles: ["supplier", "admin"] },
			params: {
				...PRODUCT_FIELDS,
				type: { type: "enum", values: catalog.CYLINDER_TYPES },
				supplierId: { type: "string", min: 1, max: 64, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<CreateProductParams>): Promise<ProductView> {
				const decided = catalog.catalogOwner(ctx.meta.user!, ctx.params.supplierId);
				if ("problem" in decided) throw refusal(decided.problem);
				await this.suppliers.activeOr403(decided.owner);
				const { supplierId: _ignored, ...fields } = ctx.params;
				const product = catalog.newProduct(fields, decided.owner, newId(), nowIso());
				try {
					await this.insertEntity(ctx, product, [productEvent("product.created", product)]);
				} catch (err) {
					if (isUnique(err)) throw conflict(`You already sell ${fields.type}; update that product instead`);
					throw err;
				}
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product._id}`;
				return catalog.productView(product);
			},
		},

		update: {
			rest: "PUT /products/:id",
			auth: { roles: ["supplier", "admin"] },
			params: {
				id: { type: "string", min: 1, max: 64 },
				name: PRODUCT_FIELDS.name,
				brand: PRODUCT_FIELDS.brand,
				priceCents: { ...PRODUCT_FIELDS.priceCents, optional: true },
				depositCents: PRODUCT_FIELDS.depositCents,
				stock: { ...PRODUCT_FIELDS.stock, optional: true },
				lowStockThreshold: PRODUCT_FIELDS.lowStockThreshold,
				active: { type: "boolean", optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<UpdateProductParams>): Promise<ProductView> {
				const { id, stock, ...changes } = ctx.params;
				const product = await this.ownProductOr404(ctx, id);
				await this.suppliers.activeOr403(product.supplierId);
				if (Object.keys(changes).length === 0 && stock === undefined)
					throw unprocessable("Nothing to change", {
						fields: ["name", "priceCents", "depositCents", "stock", "active"],
					});
				let updated = product;
				if (stock !== undefined)
					updated = (await this.ledger.move(ctx, id, null, { kind: "restock", stock })) ?? product;
				if (Object.keys(changes).length > 0 || stock !== undefined) {
					// The product.updated event goes with the last write (its data: the product after it).
					const after = { ...updated, ...changes };
					updated = await this.updateEntity(ctx, id, { $set: { ...changes, updatedAt: nowIso() } }, [
						productEvent("product.updated", after),
					]);
				}
				return catalog.productView(updated);
			},
		},

		remove: {
			rest: "DELETE /products/:id",
			auth: { roles: ["supplier", "admin"] },
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<IdParams>): Promise<ProductView> {
				const product = await this.ownProductOr404(ctx, ctx.params.id);
				const now = nowIso();
				const updated = await this.compareAndSet(
					ctx,
					{ _id: product._id, deleted: { $ne: true } },
					{ $set: { active: false, deleted: true, deletedAt: now, updatedAt: now }, $unset: { supplierType: true } },
					[productEvent("product.deleted", product)],
				);
				if (!updated) throw notFound("product", product._id);
				return catalog.productView(updated);
			},
		},

		list: {
			rest: "GET /products",
			auth: "public",
			// The cacher validates params before it answers (lib/infra/validating-cacher.ts).
			cache: {
				keys: ["type", "brand", "lat", "lng", "sort", "supplierId", "openNow", "inStock", "page", "pageSize"],
				ttl: 30,
			},
			params: LIST_PARAMS,
			async handler(this: ThisService, ctx: Ctx<ListProductsParams>) {
				const problem = catalog.listProblem(ctx.params);
				if (problem) throw unprocessable(problem.message, problem.data);
				const { type, supplierId } = ctx.params;
				const query = { active: true, ...(type ? { type } : {}), ...(supplierId ? { supplierId } : {}) };
				const [products, suppliers] = await Promise.all([this.findEntities({ query }), this.suppliers.all()]);
				return catalog.catalogPage(
					products.map(catalog.productView),
					suppliers,
					ctx.params,
					new Date(),
					this.settings.timeZone,
				);
			},
		},

		get: {
			rest: "GET /products/:id",
			auth: "public",
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<IdParams>): Promise<ProductDetails> {
				const product = await this.findEntity(ctx.params.id);
				if (!product || product.deleted) throw notFound("product", ctx.params.id);
				const s = await this.suppliers.get(product.supplierId);
				const supplier = s
					? {
							id: s.supplierId,
							name: s.name,
							rating: catalog.ratingOf(s),
							ratingCount: s.ratingCount ?? 0,
							openingHours: s.openingHours,
						}
					: null;
				return { ...catalog.productView(product), supplier };
			},
		},

		/** Internal: the catalog profile of a supplier, or null when it has none (not active for selling). */
		supplierProfile: {
			visibility: "public",
			params: { supplierId: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<SupplierIdParams>): Promise<SupplierView | null> {
				const supplier = await this.suppliers.get(ctx.params.supplierId);
				return supplier && supplier.active !== false ? catalog.supplierView(supplier) : null;
			},
		},

		/**
		 * Internal: hold stock for an order and return the prices it was taken at (the order's totals
		 * are computed from these, never from the client). Idempotent per orderId: a retry returns the
		 * existing reservation and never reserves twice.
		 */
		reserveStock: {
			visibility: "public",
			params: RESERVE_PARAMS,
			async handler(this: ThisService, ctx: Ctx<ReserveStockParams>): Promise<ReservationView> {
				const { orderId, items, deliverTo, deliverAt } = ctx.params;
				const existing = await this.kind<StockReservation>("reservations").findById(orderId);
				if (existing?.state === "reserved") return catalog.reservationView(existing);
				if (existing) throw conflict(`This order's stock is ${existing.state}`, { state: existing.state });
				const supplier = await this.suppliers.get(ctx.params.supplierId);
				const at = deliverAt ? new Date(deliverAt) : new Date();
				const { problem, distanceKm } = catalog.orderProblem(supplier, deliverTo, at, this.settings.timeZone);
				if (problem || !supplier) throw refusal(problem!);
				const wanted = mergeItems(items);
				const products = await this.orderableProducts(supplier.supplierId, wanted);
				const record = catalog.newReservation({
					orderId,
					supplier,
					items: wanted,
					products,
					distanceKm,
					now: new Date(),
					ttlMs: this.settings.reservationTtlMs,
				});
				return catalog.reservationView(await this.ledger.reserve(ctx, record));
			},
		},

		/** Internal: give an order's stock back (cancelled). Idempotent; a no-op for unknown orders. */
		releaseStock: {
			visibility: "public",
			params: { orderId: ORDER_ID },
			handler(this: ThisService, ctx: Ctx<OrderIdParams>): Promise<StockOutcome> {
				return this.ledger.finish(ctx, ctx.params.orderId, "released");
			},
		},

		/** Internal: the order was delivered; its reserved cylinders left the shop. Idempotent. */
		commitStock: {
			visibility: "public",
			params: { orderId: ORDER_ID },
			handler(this: ThisService, ctx: Ctx<OrderIdParams>): Promise<StockOutcome> {
				return this.ledger.finish(ctx, ctx.params.orderId, "committed");
			},
		},

		/** Internal: the reserved units of every product vs those held by open reservations (equal: no drift). */
		stockDrift: {
			visibility: "public",
			handler(this: ThisService): Promise<StockDrift> {
				return this.ledger.drift();
			},
		},

		/** Internal: run the reservation sweep now (tests, operators). */
		sweepReservations: {
			visibility: "public",
			handler(this: ThisService): Promise<SweepResult> {
				return this.sweep.run();
			},
		},
	},

	businessEvents: {
		async "supplier.created"(envelope) {
			await this.suppliers.upsert({ _id: envelope.data.supplierId, ...catalog.listingFields(envelope.data, nowIso()) });
		},
		async "supplier.updated"(envelope) {
			// Only a listing that exists (verified suppliers); whether it sells and its rating stay as they are.
			const { active: _active, rating: _rating, ...fields } = catalog.listingFields(envelope.data, nowIso());
			await this.suppliers.update(envelope.data.supplierId, fields);
		},
		async "user.deleted"(envelope) {
			if (envelope.data.role === "supplier") await this.suppliers.setActive(envelope.data.userId, false);
		},
		/** Customers' ratings (reviews service): the catalog shows a supplier's average and count. */
		async "rating.updated"(envelope) {
			const { kind, subjectId, average, count } = envelope.data;
			if (kind !== "supplier" || average === null) return;
			await this.suppliers.setRating(subjectId, average, count);
		},
		async "user.updated"(envelope) {
			const { userId, role, status } = envelope.data;
			if (role === "supplier" && status) await this.suppliers.setActive(userId, status === "active");
		},
	} as BusinessEventHandlers<ThisService>,

	methods: {
		async ownProductOr404(this: ThisService, ctx: AnyCtx, id: string) {
			const product = await this.findEntity(id);
			if (!product || product.deleted) throw notFound("product", id);
			const me = ctx.meta.user!;
			if (me.role !== "admin" && product.supplierId !== me.id)
				throw forbidden("This product belongs to another supplier");
			return product;
		},

		async orderableProducts(this: ThisService, owner: string, wanted: ReservationItem[]) {
			const products = await Promise.all(wanted.map((w) => this.findEntity(w.productId)));
			return products.map((p, i) => {
				if (!p || p.deleted || p.supplierId !== owner)
					throw unprocessable("This supplier does not sell that product", { productId: wanted[i].productId });
				if (!p.active) throw conflict("This product is not on sale at the moment", { productId: p._id });
				return p;
			});
		},
	},

	// TimersMixin: once at start-up (not awaited; it waits up to 10 s for orders, which may still be
	// starting), then every RESERVATION_SWEEP_MS; stopping waits for a sweep still going.
	timers: {
		"reservation-sweep": {
			everyMs() {
				return this.settings.reservationSweepMs;
			},
			runAtStart: true,
			startDelay() {
				return this.broker.waitForServices(["orders"], 10_000);
			},
			run() {
				return this.sweep.run();
			},
		},
	} satisfies TimerJobs<ThisService>,

	created(this: ThisService) {
		const cfg = config();
		this.settings.timeZone = cfg.supplierTimeZone || catalog.DEFAULT_TIME_ZONE;
		this.settings.reservationTtlMs = cfg.reservationTtlMs;
		this.settings.reservationSweepMs = cfg.reservationSweepMs;
	},

	started(this: ThisService) {
		// The catalog answers are cached: a listing change clears them.
		this.suppliers = new SupplierListings(this.kind("suppliers"), () => this.clearCache());
		this.ledger = new StockLedger({
			findProduct: (id) => this.findEntity(id),
			findProducts: () => this.findEntities({}),
			compareAndSet: (ctx, query, update, events) => this.compareAndSet(ctx, query, update, events),
			reservations: this.kind("reservations"),
		});
		this.sweep = new ReservationSweep(this.ledger, this.broker, this.logger);
		registerRepairMetric(this.broker);
	},
};

export = ProductsService;
