/**
 * Products: the catalog of cylinders each supplier sells, its stock, and the price comparison
 * customers browse (GET /api/products, public and cached).
 *
 * One collection holds three kinds of documents (`kind`):
 *  - "product":     a supplier's offer of one cylinder type (price with exchange, deposit, stock);
 *  - "supplier":    the local read model of catalog suppliers, from supplier.created (_id "supplier:<id>");
 *  - "reservation": the stock an order holds (_id "reservation:<orderId>"), so reserve, release and
 *                   commit are each idempotent per order.
 *
 * Stock never goes negative: a reservation takes each item with a compare-and-set
 * `{ stock: { $gte: qty } }` + `$inc`, and gives back what it took if a later item is short.
 * `stock` is what can still be ordered; `reserved` is what open orders hold until delivery.
 */
import { Context, Errors, ServiceSchema } from "moleculer";
import { DbMixin } from "../mixins/db.mixin";
import { EventsMixin } from "../mixins/events.mixin";
import { AuthUser } from "../lib/infra/auth";
import {
	CYLINDER_TYPES,
	DEFAULT_TIME_ZONE,
	SupplierProfile,
	distanceTo,
	findOffers,
	isOpenAt,
	offerView,
} from "../lib/domain/catalog";
import { conflict, forbidden, notFound, unprocessable } from "../lib/infra/errors";
import { EventEnvelope } from "../lib/domain/events";
import { nowIso } from "../lib/infra/ids";
import { priceWithoutExchangeCents } from "../lib/domain/pricing";
import { config } from "../lib/infra/config";

type Ctx = Context<any, { user?: AuthUser; [k: string]: any }>;
type Doc = Record<string, any>;

const DEFAULT_LOW_STOCK_THRESHOLD = 5;
const HIDDEN_FIELDS = ["kind", "supplierType"];

const cents = { type: "number", integer: true, min: 0, max: 100_000_000 };
const point = {
	type: "object",
	strict: true,
	props: { lat: { type: "number", min: -90, max: 90 }, lng: { type: "number", min: -180, max: 180 } },
};
const productFields = {
	name: { type: "string", min: 1, max: 120, trim: true, optional: true },
	priceCents: { ...cents, min: 1 },
	depositCents: { ...cents, optional: true },
	stock: { type: "number", integer: true, min: 0, max: 1_000_000 },
	lowStockThreshold: { type: "number", integer: true, min: 0, max: 100_000, optional: true },
};
const queryNumber = (min: number, max: number) => ({ type: "number", convert: true, min, max, optional: true });
const queryBoolean = { type: "boolean", convert: true, optional: true };

const supplierId = (id: string) => `supplier:${id}`;
const reservationId = (orderId: string) => `reservation:${orderId}`;
const outOfStock = (productId: string, available: number) =>
	new Errors.MoleculerClientError("Not enough stock for this order", 409, "OUT_OF_STOCK", { productId, available });

const ProductsService: ServiceSchema = {
	name: "products",
	mixins: [
		DbMixin({
			collection: "products",
			indexes: [
				{ fields: { kind: 1 } },
				{ fields: { supplierId: 1 } },
				// One live product per supplier and cylinder type.
				{ fields: { supplierType: 1 }, unique: true, sparse: true },
			],
		}),
		EventsMixin,
	],
	settings: { rest: "/" },

	actions: {
		create: {
			rest: "POST /products",
			auth: { roles: ["supplier", "admin"] },
			params: {
				...productFields,
				type: { type: "enum", values: CYLINDER_TYPES },
				supplierId: { type: "string", min: 1, max: 64, optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const owner = this.ownerFor(ctx.meta.user!, ctx.params.supplierId);
				await this.activeSupplierOr403(owner);
				const { supplierId: _ignored, ...fields } = ctx.params;
				const now = nowIso();
				let product: Doc;
				try {
					product = await this.insertEntity(ctx, {
						kind: "product",
						...fields,
						supplierId: owner,
						supplierType: `${owner}:${fields.type}`,
						depositCents: fields.depositCents ?? 0,
						lowStockThreshold: fields.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD,
						reserved: 0,
						active: true,
						createdAt: now,
						updatedAt: now,
					});
				} catch (err: any) {
					if (err && err.code === 409) throw conflict(`You already sell ${fields.type}; update that product instead`);
					throw err;
				}
				await this.publishProductEvent("product.created", product, ctx);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product._id}`;
				return this.productView(product);
			},
		},

		update: {
			rest: "PUT /products/:id",
			auth: { roles: ["supplier", "admin"] },
			params: {
				id: { type: "string", min: 1, max: 64 },
				name: productFields.name,
				priceCents: { ...productFields.priceCents, optional: true },
				depositCents: productFields.depositCents,
				stock: { ...productFields.stock, optional: true },
				lowStockThreshold: productFields.lowStockThreshold,
				active: { type: "boolean", optional: true },
			},
			async handler(this: any, ctx: Ctx) {
				const { id, stock, ...changes } = ctx.params;
				const product = await this.ownProductOr404(ctx, id);
				await this.activeSupplierOr403(product.supplierId);
				if (Object.keys(changes).length === 0 && stock === undefined)
					throw unprocessable("Nothing to change", {
						fields: ["name", "priceCents", "depositCents", "stock", "active"],
					});
				let updated = product;
				if (Object.keys(changes).length > 0)
					updated = await this.updateEntity(ctx, id, { $set: { ...changes, updatedAt: nowIso() } });
				if (stock !== undefined) updated = await this.setStock(ctx, id, stock);
				await this.publishProductEvent("product.updated", updated, ctx);
				return this.productView(updated);
			},
		},

		remove: {
			rest: "DELETE /products/:id",
			auth: { roles: ["supplier", "admin"] },
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const product = await this.ownProductOr404(ctx, ctx.params.id);
				const updated = await this.compareAndSet(
					ctx,
					{ _id: product._id, kind: "product", deleted: { $ne: true } },
					{
						$set: { active: false, deleted: true, deletedAt: nowIso(), updatedAt: nowIso() },
						$unset: { supplierType: true },
					},
				);
				if (!updated) throw notFound("product", product._id);
				await this.publishProductEvent("product.deleted", updated, ctx);
				return this.productView(updated);
			},
		},

		list: {
			rest: "GET /products",
			auth: "public",
			cache: { keys: ["type", "lat", "lng", "sort", "supplierId", "openNow", "inStock", "page", "pageSize"], ttl: 30 },
			params: {
				type: { type: "enum", values: CYLINDER_TYPES, optional: true },
				lat: queryNumber(-90, 90),
				lng: queryNumber(-180, 180),
				sort: { type: "enum", values: ["price", "distance"], optional: true },
				supplierId: { type: "string", min: 1, max: 64, optional: true },
				openNow: queryBoolean,
				inStock: queryBoolean,
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
				pageSize: { type: "number", integer: true, min: 1, max: 100, default: 20, convert: true },
			},
			async handler(this: any, ctx: Ctx) {
				const p = ctx.params;
				if ((p.lat === undefined) !== (p.lng === undefined))
					throw unprocessable("Give both lat and lng of the delivery address", { fields: ["lat", "lng"] });
				if (p.sort === "distance" && p.lat === undefined)
					throw unprocessable("Sorting by distance needs a delivery address (lat, lng)");
				const deliverTo = p.lat === undefined ? undefined : { lat: p.lat, lng: p.lng };
				const [products, suppliers] = await Promise.all([
					this.findEntities({ query: this.productQuery(p) }),
					this.findEntities({ query: { kind: "supplier" } }),
				]);
				const offers = findOffers(
					products.map((d: Doc) => this.productView(d)),
					suppliers,
					{
						type: p.type,
						supplierId: p.supplierId,
						deliverTo,
						openAt: (p.openNow ?? !!deliverTo) ? new Date() : undefined,
						timeZone: this.settings.timeZone,
						inStockOnly: p.inStock ?? true,
						sort: p.sort || "price",
					},
				);
				const start = (p.page - 1) * p.pageSize;
				return {
					rows: offers.slice(start, start + p.pageSize).map(offerView),
					total: offers.length,
					page: p.page,
					pageSize: p.pageSize,
				};
			},
		},

		get: {
			rest: "GET /products/:id",
			auth: "public",
			params: { id: { type: "string", min: 1, max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const product = await this.findEntity(ctx.params.id);
				if (!product || product.kind !== "product" || product.deleted) throw notFound("product", ctx.params.id);
				const supplier = await this.findEntity(supplierId(product.supplierId));
				return {
					...this.productView(product),
					supplier: supplier
						? {
								id: supplier.supplierId,
								name: supplier.name,
								rating: supplier.rating,
								openingHours: supplier.openingHours,
							}
						: null,
				};
			},
		},

		/** Internal: the catalog profile of a supplier, or null when it has none (not active for selling). */
		supplierProfile: {
			visibility: "public",
			params: { supplierId: { type: "string", min: 1, max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const supplier = await this.findEntity(supplierId(ctx.params.supplierId));
				return supplier && supplier.active !== false ? this.supplierView(supplier) : null;
			},
		},

		/**
		 * Internal: hold stock for an order and return the prices it was taken at (the order's
		 * totals are computed from these, never from the client). Idempotent per orderId.
		 */
		reserveStock: {
			visibility: "public",
			params: {
				orderId: { type: "string", min: 1, max: 64 },
				supplierId: { type: "string", min: 1, max: 64 },
				items: {
					type: "array",
					min: 1,
					max: 20,
					items: {
						type: "object",
						strict: true,
						props: {
							productId: { type: "string", min: 1, max: 64 },
							quantity: { type: "number", integer: true, min: 1, max: 100 },
						},
					},
				},
				deliverTo: { ...point, optional: true },
				/** When the delivery happens (a scheduled slot's start); now by default. */
				deliverAt: { type: "string", optional: true, max: 40 },
			},
			async handler(this: any, ctx: Ctx) {
				const { orderId, items, deliverTo } = ctx.params;
				const existing = await this.findEntity(reservationId(orderId));
				if (existing) return this.existingReservation(existing);
				const supplier = await this.findEntity(supplierId(ctx.params.supplierId));
				if (!supplier || supplier.active === false)
					throw conflict("This supplier is not selling at the moment", { type: "SUPPLIER_NOT_ACTIVE" });
				const distanceKm = deliverTo ? this.distanceOr422(supplier, deliverTo) : null;
				this.openOr409(supplier, ctx.params.deliverAt ? new Date(ctx.params.deliverAt) : new Date());
				const wanted = this.mergeItems(items);
				const products = await this.orderableProducts(supplier.supplierId, wanted);
				await this.holdStock(ctx, orderId, wanted);
				const reservation = await this.updateEntity(ctx, reservationId(orderId), {
					$set: {
						state: "reserved",
						supplier: this.supplierView(supplier),
						distanceKm,
						products: products.map((p: Doc) => this.pricedProduct(p)),
						updatedAt: nowIso(),
					},
				});
				await this.publishInventory(ctx, wanted, "reserved");
				return this.reservationView(reservation);
			},
		},

		/** Internal: give an order's stock back (cancelled). Idempotent; a no-op for unknown orders. */
		releaseStock: {
			visibility: "public",
			params: { orderId: { type: "string", min: 1, max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const released = await this.compareAndSet(
					ctx,
					{ _id: reservationId(ctx.params.orderId), state: "reserved" },
					{ $set: { state: "released", updatedAt: nowIso() } },
				);
				if (!released) return this.reservationOutcome(ctx.params.orderId, "released");
				for (const item of released.items) await this.returnStock(ctx, item.productId, item.quantity);
				await this.publishInventory(ctx, released.items, "released");
				return { orderId: ctx.params.orderId, state: "released", changed: true };
			},
		},

		/** Internal: the order was delivered; its reserved cylinders left the shop. Idempotent. */
		commitStock: {
			visibility: "public",
			params: { orderId: { type: "string", min: 1, max: 64 } },
			async handler(this: any, ctx: Ctx) {
				const committed = await this.compareAndSet(
					ctx,
					{ _id: reservationId(ctx.params.orderId), state: "reserved" },
					{ $set: { state: "committed", updatedAt: nowIso() } },
				);
				if (!committed) return this.reservationOutcome(ctx.params.orderId, "committed");
				for (const item of committed.items)
					await this.compareAndSet(ctx, { _id: item.productId }, { $inc: { reserved: -item.quantity } });
				await this.publishInventory(ctx, committed.items, "committed");
				return { orderId: ctx.params.orderId, state: "committed", changed: true };
			},
		},
	} as any,

	businessEvents: {
		async "supplier.created"(this: any, envelope: EventEnvelope) {
			await this.upsertSupplier(envelope.data);
		},
		async "user.deleted"(this: any, envelope: EventEnvelope) {
			if (envelope.data.role !== "supplier") return;
			await this.compareAndSet(null, { _id: supplierId(envelope.data.userId) }, { $set: { active: false } });
		},
		async "user.updated"(this: any, envelope: EventEnvelope) {
			const { userId, role, status } = envelope.data;
			if (role !== "supplier" || !status) return;
			await this.compareAndSet(null, { _id: supplierId(userId) }, { $set: { active: status === "active" } });
		},
	},

	methods: {
		/** Orders for immediate delivery need the supplier open now; scheduled ones, open at the slot. */
		openOr409(this: any, supplier: Doc, at: Date) {
			if (!supplier.openingHours || Number.isNaN(at.getTime())) return;
			if (!isOpenAt(supplier.openingHours, at, this.settings.timeZone))
				throw conflict("This supplier is closed at that time", {
					type: "SUPPLIER_CLOSED",
					openingHours: supplier.openingHours,
				});
		},

		/** Whose catalog a caller writes to: a supplier its own; an admin names the supplier. */
		ownerFor(user: AuthUser, requested?: string): string {
			if (user.role === "admin") {
				if (!requested) throw unprocessable("Say which supplier sells this product", { fields: ["supplierId"] });
				return requested;
			}
			if (requested && requested !== user.id) throw forbidden("You can only sell from your own catalog");
			return user.id;
		},

		async activeSupplierOr403(this: any, owner: string) {
			const supplier = await this.findEntity(supplierId(owner));
			if (!supplier || supplier.active === false)
				throw new Errors.MoleculerClientError(
					"This supplier has no active catalog profile yet (verification must be approved first)",
					403,
					"SUPPLIER_NOT_ACTIVE",
					{ supplierId: owner },
				);
			return supplier;
		},

		async ownProductOr404(this: any, ctx: Ctx, id: string): Promise<Doc> {
			const product = await this.findEntity(id);
			if (!product || product.kind !== "product" || product.deleted) throw notFound("product", id);
			const me = ctx.meta.user!;
			if (me.role !== "admin" && product.supplierId !== me.id)
				throw forbidden("This product belongs to another supplier");
			return product;
		},

		productQuery(p: Doc): Doc {
			const query: Doc = { kind: "product", active: true };
			if (p.type) query.type = p.type;
			if (p.supplierId) query.supplierId = p.supplierId;
			return query;
		},

		/** Sets the orderable stock to `stock`, retrying if a reservation changes it meanwhile. */
		async setStock(this: any, ctx: Ctx, id: string, stock: number): Promise<Doc> {
			for (let attempt = 0; attempt < 10; attempt++) {
				const current = await this.getEntityOr404(id, "product");
				const updated = await this.compareAndSet(
					ctx,
					{ _id: id, stock: current.stock },
					{ $set: { stock, updatedAt: nowIso() } },
				);
				if (updated) {
					if (stock !== current.stock) await this.publishInventoryFor(ctx, updated, stock - current.stock, "restocked");
					return updated;
				}
			}
			throw conflict("The stock is changing too fast; try again");
		},

		distanceOr422(supplier: Doc, deliverTo: { lat: number; lng: number }): number {
			const km = distanceTo(supplier as SupplierProfile, deliverTo);
			if (km === null || km > supplier.deliveryRadiusKm)
				throw new Errors.MoleculerClientError(
					"This supplier does not deliver to that address",
					422,
					"OUT_OF_DELIVERY_AREA",
					{ distanceKm: km === null ? null : Math.round(km * 100) / 100, deliveryRadiusKm: supplier.deliveryRadiusKm },
				);
			return km;
		},

		mergeItems(items: { productId: string; quantity: number }[]) {
			const byProduct = new Map<string, number>();
			for (const item of items) byProduct.set(item.productId, (byProduct.get(item.productId) || 0) + item.quantity);
			return [...byProduct].map(([productId, quantity]) => ({ productId, quantity }));
		},

		async orderableProducts(this: any, owner: string, wanted: { productId: string }[]): Promise<Doc[]> {
			const products = await Promise.all(wanted.map((w) => this.findEntity(w.productId)));
			products.forEach((p: Doc | null, i: number) => {
				if (!p || p.kind !== "product" || p.deleted || p.supplierId !== owner)
					throw unprocessable("This supplier does not sell that product", { productId: wanted[i].productId });
				if (!p.active) throw conflict("This product is not on sale at the moment", { productId: p._id });
			});
			return products;
		},

		/** Records the reservation, then takes every item or none. */
		async holdStock(this: any, ctx: Ctx, orderId: string, wanted: { productId: string; quantity: number }[]) {
			try {
				await this.insertEntity(ctx, {
					_id: reservationId(orderId),
					kind: "reservation",
					orderId,
					items: wanted,
					state: "reserving",
					createdAt: nowIso(),
				});
			} catch (err: any) {
				if (err && err.code === 409) throw conflict("This order's stock is already being reserved");
				throw err;
			}
			const taken: { productId: string; quantity: number }[] = [];
			for (const item of wanted) {
				const ok = await this.compareAndSet(
					ctx,
					{ _id: item.productId, kind: "product", stock: { $gte: item.quantity } },
					{ $inc: { stock: -item.quantity, reserved: item.quantity } },
				);
				if (!ok) {
					for (const back of taken)
						await this.compareAndSet(
							ctx,
							{ _id: back.productId },
							{ $inc: { stock: back.quantity, reserved: -back.quantity } },
						);
					// A refused order leaves nothing behind: not even the reservation record.
					await this.records.removeMany({ _id: reservationId(orderId) });
					const product = await this.findEntity(item.productId);
					throw outOfStock(item.productId, product ? product.stock : 0);
				}
				taken.push(item);
			}
		},

		returnStock(this: any, ctx: Ctx, productId: string, quantity: number) {
			return this.compareAndSet(ctx, { _id: productId }, { $inc: { stock: quantity, reserved: -quantity } });
		},

		existingReservation(this: any, reservation: Doc) {
			if (reservation.state === "reserved") return this.reservationView(reservation);
			throw conflict(`This order's stock is ${reservation.state}`, { state: reservation.state });
		},

		/** Why release/commit changed nothing: already done (fine), never reserved (fine), or the other one happened. */
		async reservationOutcome(this: any, orderId: string, wanted: "released" | "committed") {
			const reservation = await this.findEntity(reservationId(orderId));
			const state = reservation ? reservation.state : "none";
			if (state === "released" || state === "committed") {
				if (state !== wanted) throw conflict(`This order's stock was already ${state}`, { state });
			}
			return { orderId, state, changed: false };
		},

		reservationView(reservation: Doc) {
			return {
				orderId: reservation.orderId,
				state: reservation.state,
				supplier: reservation.supplier,
				distanceKm: reservation.distanceKm,
				items: reservation.items,
				products: reservation.products,
			};
		},

		pricedProduct(product: Doc) {
			return {
				productId: product._id,
				type: product.type,
				name: product.name || null,
				priceCents: product.priceCents,
				depositCents: product.depositCents || 0,
			};
		},

		supplierView(supplier: Doc) {
			return {
				supplierId: supplier.supplierId,
				name: supplier.name,
				anpAuthorization: supplier.anpAuthorization || null,
				location: supplier.location || null,
				deliveryRadiusKm: supplier.deliveryRadiusKm,
				openingHours: supplier.openingHours,
				rating: supplier.rating,
			};
		},

		productView(this: any, product: Doc) {
			const view = this.toPublic(product, HIDDEN_FIELDS);
			return { ...view, priceWithoutExchangeCents: priceWithoutExchangeCents(view) };
		},

		async upsertSupplier(this: any, data: Doc) {
			const fields = {
				supplierId: data.supplierId,
				name: data.name,
				anpAuthorization: data.anpAuthorization || null,
				location: data.location || null,
				deliveryRadiusKm: data.deliveryRadiusKm || 10,
				openingHours: data.openingHours || { open: "00:00", close: "23:59" },
				rating: data.rating ?? 5,
				active: true,
				updatedAt: nowIso(),
			};
			const updated = await this.compareAndSet(null, { _id: supplierId(data.supplierId) }, { $set: fields });
			if (updated) return;
			try {
				await this.insertEntity(null, { _id: supplierId(data.supplierId), kind: "supplier", ...fields });
			} catch (err: any) {
				if (!(err && err.code === 409)) throw err;
				await this.compareAndSet(null, { _id: supplierId(data.supplierId) }, { $set: fields });
			}
		},

		publishProductEvent(this: any, type: string, product: Doc, ctx: Ctx) {
			return this.publishEvent(
				type,
				{
					productId: product._id,
					supplierId: product.supplierId,
					type: product.type,
					priceCents: product.priceCents,
					depositCents: product.depositCents,
					stock: product.stock,
				},
				ctx,
			);
		},

		async publishInventory(this: any, ctx: Ctx, items: { productId: string; quantity: number }[], reason: string) {
			const sign = reason === "released" ? 1 : reason === "reserved" ? -1 : 0;
			for (const item of items) {
				const product = await this.findEntity(item.productId);
				if (product) await this.publishInventoryFor(ctx, product, sign * item.quantity, reason);
			}
		},

		publishInventoryFor(this: any, ctx: Ctx, product: Doc, change: number, reason: string) {
			const threshold = product.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD;
			return this.publishEvent(
				"inventory.updated",
				{
					productId: product._id,
					supplierId: product.supplierId,
					type: product.type,
					stock: product.stock,
					reserved: product.reserved || 0,
					change,
					reason,
					lowStock: product.stock <= threshold,
					lowStockThreshold: threshold,
				},
				ctx,
			);
		},
	},

	created(this: any) {
		this.settings.timeZone = config().supplierTimeZone || DEFAULT_TIME_ZONE;
	},
};

export = ProductsService;
