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
 * (RESERVATION_TTL_MS); a periodic sweep releases expired ones and those of cancelled orders, and
 * commits those of confirmed or delivered orders (orders.statusesFor).
 */
import { Context, Errors, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { DbMethods, DbMixin } from "../mixins/db.mixin";
import { BusinessEventHandlers, EventsMethods, EventsMixin } from "../mixins/events.mixin";
import type { Ctx, Point } from "../lib/contracts/common";
import type { InventoryUpdated, PendingEvent } from "../lib/contracts/events";
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
	SupplierListing,
	SupplierView,
	SweepResult,
	UpdateProductParams,
} from "../lib/contracts/products";
import { LIST_PARAMS, ORDER_ID, PRODUCT_FIELDS, RESERVE_PARAMS } from "../lib/contracts/products";
import type { OrderStatus } from "../lib/domain/order-status";
import {
	CYLINDER_TYPES,
	DEFAULT_TIME_ZONE,
	distanceTo,
	findOffers,
	isOpenAt,
	listingFields,
	offerView,
} from "../lib/domain/catalog";
import { pricedProduct, productView, reservationView, supplierView } from "../lib/domain/catalog";
import {
	DEFAULT_LOW_STOCK_THRESHOLD,
	expiresAt,
	finishOutcome,
	isLowStock,
	mergeItems,
	StockChange,
	stockAfter,
	sweepAction,
	totalUnits,
} from "../lib/domain/stock";
import { config } from "../lib/infra/config";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { newId, nowIso } from "../lib/infra/ids";
import { countRepair, registerRepairMetric } from "../lib/infra/repairs";
import { Collection, UniqueViolationError } from "../lib/infra/store/types";

/** Any action's context (methods shared by several actions). */
type AnyCtx = Ctx<object>;

interface Settings extends ServiceSettingSchema {
	rest: string;
	timeZone: string;
	reservationTtlMs: number;
	reservationSweepMs: number;
}

type OwnMethods = {
	suppliers(): Collection<SupplierListing>;
	reservations(): Collection<StockReservation>;
	listParamsValid(params: object): boolean;
	ownerFor(user: { id: string; role: string }, requested?: string): string;
	activeSupplierOr403(owner: string): Promise<SupplierListing>;
	ownProductOr404(ctx: AnyCtx, id: string): Promise<Product>;
	openOr409(supplier: SupplierListing, at: Date): void;
	distanceOr422(supplier: SupplierListing, deliverTo: Point): number;
	orderableProducts(owner: string, wanted: ReservationItem[]): Promise<Product[]>;
	moveStock(ctx: AnyCtx | null, productId: string, orderId: string | null, change: StockChange): Promise<Product | null>;
	takeItems(ctx: AnyCtx, orderId: string, wanted: ReservationItem[]): Promise<void>;
	finish(
		ctx: AnyCtx | null,
		orderId: string,
		wanted: "released" | "committed",
		by?: "sweep",
		early?: boolean,
	): Promise<StockOutcome>;
	settle(ctx: AnyCtx | null, reservation: StockReservation): Promise<void>;
	upsertListing(listing: SupplierListing): Promise<void>;
	setListingActive(supplierId: string, active: boolean): Promise<void>;
	orderStatuses(ids: string[]): Promise<Map<string, OrderStatus> | null>;
	sweepReservations(): Promise<SweepResult>;
	repair(reservation: StockReservation, action: "release" | "commit", status: OrderStatus | undefined): Promise<void>;
};

type ThisService = Service<Settings> &
	DbMethods<Product> &
	EventsMethods &
	OwnMethods & {
		listCheck: (params: object) => true | unknown[];
		sweepTimer?: NodeJS.Timeout;
		sweeping: boolean;
		stopping: boolean;
	};

const MAX_CAS_ATTEMPTS = 1000;
const SWEEP_BATCH = 500;

const outOfStock = (productId: string, available: number) =>
	new Errors.MoleculerClientError("Not enough stock for this order", 409, "OUT_OF_STOCK", { productId, available });

function productEvent(type: "product.created" | "product.updated" | "product.deleted", p: Product): PendingEvent {
	const { _id: productId, supplierId, priceCents, depositCents, stock } = p;
	return { type, data: { productId, supplierId, type: p.type, priceCents, depositCents, stock } };
}

function inventoryEvent(
	p: Product,
	levels: { stock: number; reserved: number },
	change: number,
	reason: InventoryUpdated["reason"],
): PendingEvent {
	const threshold = p.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD;
	const { stock, reserved } = levels;
	const lowStock = isLowStock(stock, threshold);
	const data = {
		productId: p._id,
		supplierId: p.supplierId,
		type: p.type,
		stock,
		reserved,
		change,
		reason,
		lowStock,
		lowStockThreshold: threshold,
	};
	return { type: "inventory.updated", data };
}

const isUnique = (err: unknown) => err instanceof UniqueViolationError || (err as { code?: unknown })?.code === 409;

const ProductsService: ServiceSchema<Settings, ThisService> = {
	name: "products",
	// EventsMixin listed first: Moleculer runs the mixins' started() hooks last-listed first, and the
	// events mixin must find DbMixin's store (its outbox) when it starts, or it falls back to memory.
	mixins: [
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
	settings: { rest: "/", timeZone: DEFAULT_TIME_ZONE, reservationTtlMs: 15 * 60_000, reservationSweepMs: 60_000 },

	actions: {
		create: {
			rest: "POST /products",
			auth: { roles: ["supplier", "admin"] },
			params: {
				...PRODUCT_FIELDS,
				type: { type: "enum", values: CYLINDER_TYPES },
				supplierId: { type: "string", min: 1, max: 64, optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<CreateProductParams>): Promise<ProductView> {
				const owner = this.ownerFor(ctx.meta.user!, ctx.params.supplierId);
				await this.activeSupplierOr403(owner);
				const { supplierId: _ignored, ...fields } = ctx.params;
				const now = nowIso();
				const product: Product = {
					...fields,
					_id: newId(),
					supplierId: owner,
					supplierType: `${owner}:${fields.type}`,
					depositCents: fields.depositCents ?? 0,
					lowStockThreshold: fields.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD,
					reserved: 0,
					active: true,
					createdAt: now,
					updatedAt: now,
				};
				try {
					await this.insertEntity(ctx, product, [productEvent("product.created", product)]);
				} catch (err) {
					if (isUnique(err)) throw conflict(`You already sell ${fields.type}; update that product instead`);
					throw err;
				}
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product._id}`;
				return productView(product);
			},
		},

		update: {
			rest: "PUT /products/:id",
			auth: { roles: ["supplier", "admin"] },
			params: {
				id: { type: "string", min: 1, max: 64 },
				name: PRODUCT_FIELDS.name,
				priceCents: { ...PRODUCT_FIELDS.priceCents, optional: true },
				depositCents: PRODUCT_FIELDS.depositCents,
				stock: { ...PRODUCT_FIELDS.stock, optional: true },
				lowStockThreshold: PRODUCT_FIELDS.lowStockThreshold,
				active: { type: "boolean", optional: true },
			},
			async handler(this: ThisService, ctx: Ctx<UpdateProductParams>): Promise<ProductView> {
				const { id, stock, ...changes } = ctx.params;
				const product = await this.ownProductOr404(ctx, id);
				await this.activeSupplierOr403(product.supplierId);
				if (Object.keys(changes).length === 0 && stock === undefined)
					throw unprocessable("Nothing to change", {
						fields: ["name", "priceCents", "depositCents", "stock", "active"],
					});
				let updated = product;
				if (stock !== undefined) updated = (await this.moveStock(ctx, id, null, { kind: "restock", stock })) ?? product;
				if (Object.keys(changes).length > 0 || stock !== undefined) {
					// The product.updated event goes with the last write (its data: the product after it).
					const after = { ...updated, ...changes };
					updated = await this.updateEntity(ctx, id, { $set: { ...changes, updatedAt: nowIso() } }, [
						productEvent("product.updated", after),
					]);
				}
				return productView(updated);
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
				return productView(updated);
			},
		},

		list: {
			rest: "GET /products",
			auth: "public",
			// The cache answers before the validator runs: it is only asked for params that are valid.
			cache: {
				keys: ["type", "lat", "lng", "sort", "supplierId", "openNow", "inStock", "page", "pageSize"],
				ttl: 30,
				enabled(this: ThisService, ctx: Context<object>) {
					return this.listParamsValid(ctx.params);
				},
			},
			params: LIST_PARAMS,
			async handler(this: ThisService, ctx: Ctx<ListProductsParams>) {
				const p = ctx.params;
				if ((p.lat === undefined) !== (p.lng === undefined))
					throw unprocessable("Give both lat and lng of the delivery address", { fields: ["lat", "lng"] });
				if (p.sort === "distance" && p.lat === undefined)
					throw unprocessable("Sorting by distance needs a delivery address (lat, lng)");
				const deliverTo = p.lat === undefined || p.lng === undefined ? undefined : { lat: p.lat, lng: p.lng };
				const query = {
					active: true,
					...(p.type ? { type: p.type } : {}),
					...(p.supplierId ? { supplierId: p.supplierId } : {}),
				};
				const [products, suppliers] = await Promise.all([this.findEntities({ query }), this.suppliers().find({})]);
				const offers = findOffers(products.map(productView), suppliers, {
					type: p.type,
					supplierId: p.supplierId,
					deliverTo,
					openAt: (p.openNow ?? !!deliverTo) ? new Date() : undefined,
					timeZone: this.settings.timeZone,
					inStockOnly: p.inStock ?? true,
					sort: p.sort || "price",
				});
				const start = (p.page - 1) * p.pageSize;
				const rows = offers.slice(start, start + p.pageSize).map(offerView);
				return { rows, total: offers.length, page: p.page, pageSize: p.pageSize };
			},
		},

		get: {
			rest: "GET /products/:id",
			auth: "public",
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<IdParams>): Promise<ProductDetails> {
				const product = await this.findEntity(ctx.params.id);
				if (!product || product.deleted) throw notFound("product", ctx.params.id);
				const s = await this.suppliers().findById(product.supplierId);
				const supplier = s ? { id: s.supplierId, name: s.name, rating: s.rating, openingHours: s.openingHours } : null;
				return { ...productView(product), supplier };
			},
		},

		/** Internal: the catalog profile of a supplier, or null when it has none (not active for selling). */
		supplierProfile: {
			visibility: "public",
			params: { supplierId: { type: "string", min: 1, max: 64 } },
			async handler(this: ThisService, ctx: Ctx<SupplierIdParams>): Promise<SupplierView | null> {
				const supplier = await this.suppliers().findById(ctx.params.supplierId);
				return supplier && supplier.active !== false ? supplierView(supplier) : null;
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
				const existing = await this.reservations().findById(orderId);
				if (existing?.state === "reserved") return reservationView(existing);
				if (existing) throw conflict(`This order's stock is ${existing.state}`, { state: existing.state });
				const supplier = await this.suppliers().findById(ctx.params.supplierId);
				if (!supplier || supplier.active === false)
					throw conflict("This supplier is not selling at the moment", { type: "SUPPLIER_NOT_ACTIVE" });
				const distanceKm = deliverTo ? this.distanceOr422(supplier, deliverTo) : null;
				this.openOr409(supplier, deliverAt ? new Date(deliverAt) : new Date());
				const wanted = mergeItems(items);
				const products = await this.orderableProducts(supplier.supplierId, wanted);
				const now = new Date();
				const record: StockReservation = {
					_id: orderId,
					orderId,
					supplierId: supplier.supplierId,
					items: wanted,
					state: "reserving",
					expiresAt: expiresAt(now, this.settings.reservationTtlMs),
					supplier: supplierView(supplier),
					distanceKm,
					products: products.map(pricedProduct),
					createdAt: now.toISOString(),
					updatedAt: now.toISOString(),
				};
				try {
					await this.reservations().insert(record);
				} catch (err) {
					if (!isUnique(err)) throw err;
					const other = await this.reservations().findById(orderId);
					if (other?.state === "reserved") return reservationView(other);
					throw conflict("This order's stock is already being reserved");
				}
				await this.takeItems(ctx, orderId, wanted);
				const reserved = await this.reservations().updateOne(
					{ _id: orderId, state: "reserving" },
					{ $set: { state: "reserved", updatedAt: nowIso() } },
				);
				if (!reserved) throw conflict("This order's reservation was given up; place the order again");
				return reservationView(reserved);
			},
		},

		/** Internal: give an order's stock back (cancelled). Idempotent; a no-op for unknown orders. */
		releaseStock: {
			visibility: "public",
			params: { orderId: ORDER_ID },
			handler(this: ThisService, ctx: Ctx<OrderIdParams>): Promise<StockOutcome> {
				return this.finish(ctx, ctx.params.orderId, "released");
			},
		},

		/** Internal: the order was delivered; its reserved cylinders left the shop. Idempotent. */
		commitStock: {
			visibility: "public",
			params: { orderId: ORDER_ID },
			handler(this: ThisService, ctx: Ctx<OrderIdParams>): Promise<StockOutcome> {
				return this.finish(ctx, ctx.params.orderId, "committed");
			},
		},

		/** Internal: the reserved units of every product vs those held by open reservations (equal: no drift). */
		stockDrift: {
			visibility: "public",
			async handler(this: ThisService): Promise<StockDrift> {
				const [products, open] = await Promise.all([
					this.findEntities({}),
					this.reservations().find({ query: { state: "reserved" } }),
				]);
				return {
					reservedUnits: products.reduce((sum, p) => sum + (p.reserved || 0), 0),
					openReservationUnits: open.reduce((sum, r) => sum + totalUnits(r.items), 0),
				};
			},
		},

		/** Internal: run the reservation sweep now (tests, operators). */
		sweepReservations: {
			visibility: "public",
			handler(this: ThisService): Promise<SweepResult> {
				return this.sweepReservations();
			},
		},
	},

	businessEvents: {
		async "supplier.created"(envelope) {
			await this.upsertListing({ _id: envelope.data.supplierId, ...listingFields(envelope.data, nowIso()) });
		},
		async "user.deleted"(envelope) {
			if (envelope.data.role === "supplier") await this.setListingActive(envelope.data.userId, false);
		},
		async "user.updated"(envelope) {
			const { userId, role, status } = envelope.data;
			if (role === "supplier" && status) await this.setListingActive(userId, status === "active");
		},
	} as BusinessEventHandlers<ThisService>,

	methods: {
		suppliers(this: ThisService) {
			return this.kind<SupplierListing>("suppliers");
		},
		reservations(this: ThisService) {
			return this.kind<StockReservation>("reservations");
		},
		listParamsValid(this: ThisService, params: object) {
			return this.listCheck({ ...params }) === true;
		},

		/** Whose catalog a caller writes to: a supplier its own; an admin names the supplier. */
		ownerFor(user: { id: string; role: string }, requested?: string): string {
			if (user.role === "admin") {
				if (!requested) throw unprocessable("Say which supplier sells this product", { fields: ["supplierId"] });
				return requested;
			}
			if (requested && requested !== user.id) throw forbidden("You can only sell from your own catalog");
			return user.id;
		},

		async activeSupplierOr403(this: ThisService, owner: string) {
			const supplier = await this.suppliers().findById(owner);
			if (!supplier || supplier.active === false)
				throw new Errors.MoleculerClientError(
					"This supplier has no active catalog profile yet (verification must be approved first)",
					403,
					"SUPPLIER_NOT_ACTIVE",
					{ supplierId: owner },
				);
			return supplier;
		},

		async ownProductOr404(this: ThisService, ctx: AnyCtx, id: string) {
			const product = await this.findEntity(id);
			if (!product || product.deleted) throw notFound("product", id);
			const me = ctx.meta.user!;
			if (me.role !== "admin" && product.supplierId !== me.id)
				throw forbidden("This product belongs to another supplier");
			return product;
		},

		/** Orders for immediate delivery need the supplier open now; scheduled ones, open at the slot. */
		openOr409(this: ThisService, supplier: SupplierListing, at: Date) {
			if (!supplier.openingHours || Number.isNaN(at.getTime())) return;
			if (!isOpenAt(supplier.openingHours, at, this.settings.timeZone))
				throw conflict("This supplier is closed at that time", {
					type: "SUPPLIER_CLOSED",
					openingHours: supplier.openingHours,
				});
		},

		distanceOr422(supplier: SupplierListing, deliverTo: Point): number {
			const km = distanceTo(supplier, deliverTo);
			if (km === null || km > supplier.deliveryRadiusKm)
				throw new Errors.MoleculerClientError(
					"This supplier does not deliver to that address",
					422,
					"OUT_OF_DELIVERY_AREA",
					{
						distanceKm: km === null ? null : Math.round(km * 100) / 100,
						deliveryRadiusKm: supplier.deliveryRadiusKm,
					},
				);
			return km;
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

		/**
		 * One stock move of one product, with its inventory.updated event, as a compare-and-set on the
		 * levels read (retried when another move came first). With an order: idempotent per order
		 * (`holds` / `returned` say whether this order's move is done). Null: not enough stock.
		 */
		async moveStock(
			this: ThisService,
			ctx: AnyCtx | null,
			productId: string,
			orderId: string | null,
			change: StockChange,
		) {
			for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
				const product = await this.findEntity(productId);
				if (!product) return null;
				if (change.kind === "restock" && change.stock === product.stock) return product;
				const held = orderId === null ? undefined : product.holds?.[orderId];
				const query: Record<string, unknown> = {
					_id: productId,
					stock: product.stock,
					reserved: product.reserved || 0,
				};
				const set: Record<string, unknown> = { updatedAt: nowIso() };
				const unset: Record<string, true> = {};
				if (orderId !== null && change.kind === "reserve") {
					if (held !== undefined) return product;
					query[`holds.${orderId}`] = { $exists: false };
					set[`holds.${orderId}`] = change.quantity;
				} else if (orderId !== null && (change.kind === "release" || change.kind === "commit")) {
					if (held === undefined) return product;
					change = { kind: change.kind, quantity: held };
					query[`holds.${orderId}`] = held;
					unset[`holds.${orderId}`] = true;
				} else if (orderId !== null && change.kind === "return") {
					if (product.returned?.[orderId] !== undefined) return product;
					query[`returned.${orderId}`] = { $exists: false };
					set[`returned.${orderId}`] = change.quantity;
				}
				const step = stockAfter({ stock: product.stock, reserved: product.reserved || 0 }, change);
				if (!step) return null;
				const update = { $set: { ...set, ...step.levels }, ...(Object.keys(unset).length ? { $unset: unset } : {}) };
				const event = inventoryEvent(product, step.levels, step.change, step.reason);
				const moved = await this.compareAndSet(ctx, query, update, [event]);
				if (moved) return moved;
			}
			throw conflict("The stock is changing too fast; try again");
		},

		/** Takes every item or none: what was taken is given back when one is short. */
		async takeItems(this: ThisService, ctx: AnyCtx, orderId: string, wanted: ReservationItem[]) {
			const taken: ReservationItem[] = [];
			for (const item of wanted) {
				const ok = await this.moveStock(ctx, item.productId, orderId, { kind: "reserve", quantity: item.quantity });
				if (ok) {
					taken.push(item);
					continue;
				}
				for (const back of taken)
					await this.moveStock(ctx, back.productId, orderId, { kind: "release", quantity: back.quantity });
				// A refused order leaves nothing behind: not even the reservation record.
				await this.reservations().removeMany({ _id: orderId, state: "reserving" });
				const product = await this.findEntity(item.productId);
				throw outOfStock(item.productId, product ? product.stock : 0);
			}
		},

		/**
		 * Release or commit: claims the reservation (state, `settled: false`), then moves each item's
		 * stock (idempotent per order) and marks it settled. A retry finishes what a crash left.
		 */
		async finish(
			this: ThisService,
			ctx: AnyCtx | null,
			orderId: string,
			wanted: "released" | "committed",
			by?: "sweep",
			early?: boolean,
		) {
			const claim = {
				state: wanted,
				settled: false,
				updatedAt: nowIso(),
				...(by ? { repairedBy: by } : {}),
				...(early ? { committedEarly: true } : {}),
			};
			const claimed = await this.reservations().updateOne({ _id: orderId, state: "reserved" }, { $set: claim });
			const reservation = claimed ?? (await this.reservations().findById(orderId));
			if (!reservation || reservation.state === "reserving")
				return { orderId, state: reservation ? reservation.state : "none", changed: false };
			if (!claimed) {
				const outcome = finishOutcome(reservation.state, wanted, !!reservation.committedEarly);
				if (outcome === "conflict")
					throw conflict(`This order's stock was already ${reservation.state}`, { state: reservation.state });
				if (outcome === "return") {
					const returning = await this.reservations().updateOne(
						{ _id: orderId, state: "committed", committedEarly: true },
						{ $set: { state: "released", settled: false, returning: true, updatedAt: nowIso() } },
					);
					if (returning) await this.settle(ctx, returning);
					return { orderId, state: "released", changed: !!returning };
				}
				if (reservation.settled === false) await this.settle(ctx, reservation);
				return { orderId, state: reservation.state, changed: false };
			}
			await this.settle(ctx, reservation);
			return { orderId, state: wanted, changed: true };
		},

		async settle(this: ThisService, ctx: AnyCtx | null, r: StockReservation) {
			const kind = r.returning ? "return" : r.state === "released" ? "release" : "commit";
			for (const item of r.items)
				await this.moveStock(ctx, item.productId, r.orderId, { kind, quantity: item.quantity });
			await this.reservations().updateOne({ _id: r._id, state: r.state }, { $set: { settled: true } });
		},

		async upsertListing(this: ThisService, listing: SupplierListing) {
			const { _id, ...fields } = listing;
			if (!(await this.suppliers().updateOne({ _id }, { $set: fields }))) {
				try {
					await this.suppliers().insert(listing);
				} catch (err) {
					if (!isUnique(err)) throw err;
					await this.suppliers().updateOne({ _id }, { $set: fields });
				}
			}
			await this.clearCache();
		},

		async setListingActive(this: ThisService, supplierId: string, active: boolean) {
			await this.suppliers().updateOne({ _id: supplierId }, { $set: { active, updatedAt: nowIso() } });
			await this.clearCache();
		},

		/** Statuses of orders by id (absent: no such order), or null when orders does not answer. */
		async orderStatuses(this: ThisService, ids: string[]) {
			if (ids.length === 0) return new Map<string, OrderStatus>();
			try {
				const rows = await this.broker.call<{ orderId: string; status: OrderStatus }[], { orderIds: string[] }>(
					"orders.statusesFor",
					{ orderIds: ids },
				);
				return new Map(rows.map((r) => [r.orderId, r.status]));
			} catch (err) {
				this.logger.warn(
					`Reservation sweep: orders.statusesFor failed, expired reservations wait: ${(err as Error).message}`,
				);
				return null;
			}
		},

		/** Releases or commits reservations that would otherwise leak (see lib/domain/stock.ts sweepAction). */
		async sweepReservations(this: ThisService) {
			const result = { released: 0, committed: 0 };
			if (this.sweeping || this.stopping) return result;
			this.sweeping = true;
			try {
				const unsettled = await this.reservations().find({ query: { settled: false }, limit: SWEEP_BATCH });
				for (const r of unsettled) if (Date.now() - Date.parse(r.updatedAt) > 5_000) await this.settle(null, r);
				const open = await this.reservations().find({
					query: { state: { $in: ["reserving", "reserved"] } },
					sort: { createdAt: 1 },
					limit: SWEEP_BATCH,
				});
				const statuses = await this.orderStatuses(open.filter((r) => r.state === "reserved").map((r) => r.orderId));
				const now = new Date();
				for (const r of open) {
					if (r.state === "reserved" && !statuses) continue;
					const status = statuses?.get(r.orderId);
					const action = sweepAction(r, status, now);
					if (action === "keep") continue;
					await this.repair(r, action, status);
					result[action === "release" ? "released" : "committed"]++;
				}
			} finally {
				this.sweeping = false;
			}
			return result;
		},

		async repair(
			this: ThisService,
			r: StockReservation,
			action: "release" | "commit",
			status: OrderStatus | undefined,
		) {
			const why = `order ${status ?? "missing"}, expires ${r.expiresAt}, state ${r.state}`;
			if (r.state === "reserving") {
				for (const item of r.items)
					await this.moveStock(null, item.productId, r.orderId, { kind: "release", quantity: item.quantity });
				await this.reservations().removeMany({ _id: r._id, state: "reserving" });
			} else {
				const early = action === "commit" && status !== "delivered";
				await this.finish(null, r.orderId, action === "release" ? "released" : "committed", "sweep", early);
			}
			this.logger.info(
				{ orderId: r.orderId },
				`Reservation sweep: ${action === "release" ? "released" : "committed"} the stock of order ${r.orderId} (${why})`,
			);
			countRepair(this.broker, action === "release" ? "stock_released" : "stock_committed");
		},
	},

	created(this: ThisService) {
		const cfg = config();
		this.settings.timeZone = cfg.supplierTimeZone || DEFAULT_TIME_ZONE;
		this.settings.reservationTtlMs = cfg.reservationTtlMs;
		this.settings.reservationSweepMs = cfg.reservationSweepMs;
		this.listCheck = this.broker.validator!.compile(LIST_PARAMS) as (params: object) => true | unknown[];
		this.sweeping = false;
		this.stopping = false;
	},

	started(this: ThisService) {
		registerRepairMetric(this.broker);
		const sweep = (when: string) =>
			this.sweepReservations().catch((err: Error) =>
				this.logger.warn(`Reservation sweep (${when}) failed: ${err.message}`),
			);
		// Once at start-up (not awaited: orders may still be starting), then periodically.
		void this.broker
			.waitForServices(["orders"], 10_000)
			.catch(() => undefined)
			.then(() => sweep("start-up"));
		if (this.settings.reservationSweepMs > 0) {
			this.sweepTimer = setInterval(() => void sweep("periodic"), this.settings.reservationSweepMs);
			this.sweepTimer.unref?.();
		}
	},

	stopped(this: ThisService) {
		this.stopping = true;
		if (this.sweepTimer) clearInterval(this.sweepTimer);
	},
};

export = ProductsService;
