/**
 * Stored shapes of the products service, and its actions' params and results.
 *
 * Three collections of one store:
 *  - `products` (main): a supplier's offer of one cylinder type, with its stock;
 *  - `suppliers` (kind): the catalog's read model of suppliers (supplier.created, user.*), `_id` = supplierId;
 *  - `reservations` (kind): the stock an order holds, `_id` = orderId, so reserve, release and commit
 *    are each idempotent per order.
 */
import type { StoredDoc } from "../infra/store/types";
import { CYLINDER_TYPES } from "../domain/catalog";
import { BRANDS } from "../domain/brands";
import type { Brand } from "../domain/brands";
import type { CylinderType, OpeningHours, SupplierProfile } from "../domain/catalog";
import { idParam, optionalId, pageParams, pointParam } from "./params";
import type { ReservationState } from "../domain/stock";
import type { Point } from "./common";

/** A product's stored fields (without `_id`; `Omit` on a StoredDoc would lose them to its index signature). */
export interface ProductFields {
	supplierId: string;
	type: CylinderType;
	name?: string;
	/** The LPG brand (lib/domain/brands.ts); absent on products stored before brands: read as "other". */
	brand?: Brand;
	priceCents: number;
	depositCents: number;
	/** What can still be ordered. */
	stock: number;
	/** What open orders hold until delivery. */
	reserved: number;
	/** Which orders hold how much of `reserved` (orderId → units): makes each step idempotent per order. */
	holds?: Record<string, number>;
	/** Orders committed early (confirmed) then cancelled whose units came back (orderId → units): once each. */
	returned?: Record<string, number>;
	lowStockThreshold: number;
	active: boolean;
	deleted?: boolean;
	deletedAt?: string;
	/** `${supplierId}:${type}` while the product is live (unique: one product per supplier and type). */
	supplierType?: string;
	createdAt: string;
	updatedAt: string;
}

export interface Product extends StoredDoc, ProductFields {}

export interface SupplierListingFields extends SupplierProfile {
	anpAuthorization: string | null;
	active: boolean;
	updatedAt: string;
}

/** `_id` = supplierId. */
export interface SupplierListing extends StoredDoc, SupplierListingFields {}

export interface ReservationItem {
	productId: string;
	quantity: number;
}

/**
 * reserving → reserved → released | committed. A refused reserve leaves no record; `reserving`
 * older than a minute is a reserve that crashed half-way (the sweep gives back what it took).
 */
export type { ReservationState } from "../domain/stock";

/** A product at the price the order takes it. */
export interface PricedProduct {
	productId: string;
	type: CylinderType;
	name: string | null;
	priceCents: number;
	depositCents: number;
}

/** The supplier as an order sees it. */
export interface SupplierView {
	supplierId: string;
	name: string;
	anpAuthorization: string | null;
	location: Point | null;
	deliveryRadiusKm: number;
	openingHours: OpeningHours;
	rating: number;
}

export interface StockReservation extends StoredDoc {
	orderId: string;
	supplierId: string;
	items: ReservationItem[];
	state: ReservationState;
	/** Released by the sweep after this unless the order was confirmed (then committed). */
	expiresAt: string;
	supplier: SupplierView;
	distanceKm: number | null;
	products: PricedProduct[];
	/** Committed by the sweep for a confirmed order, before delivery: a later cancel still gives it back. */
	committedEarly?: boolean;
	/** Who finished it when not the order's own call: "sweep". */
	repairedBy?: string;
	/** false while a release or commit is moving the items' stock (a crash there is finished by a retry or the sweep). */
	settled?: boolean;
	/** A release of a reservation committed early: its units go back to `stock` (not `reserved`). */
	returning?: boolean;
	createdAt: string;
	updatedAt: string;
}

// ---- action params and results ----

export interface CreateProductParams {
	type: CylinderType;
	name?: string;
	brand?: Brand;
	priceCents: number;
	depositCents?: number;
	stock: number;
	lowStockThreshold?: number;
	supplierId?: string;
}

export interface UpdateProductParams {
	id: string;
	name?: string;
	brand?: Brand;
	priceCents?: number;
	depositCents?: number;
	stock?: number;
	lowStockThreshold?: number;
	active?: boolean;
}

export interface IdParams {
	id: string;
}

export interface ListProductsParams {
	type?: CylinderType;
	brand?: Brand;
	lat?: number;
	lng?: number;
	sort?: "price" | "distance" | "rating";
	supplierId?: string;
	openNow?: boolean;
	inStock?: boolean;
	page: number;
	pageSize: number;
}

export type ProductView = Omit<ProductFields, "holds" | "returned" | "supplierType" | "brand"> & {
	id: string;
	brand: Brand;
	priceWithoutExchangeCents: number;
};

export interface ProductDetails extends ProductView {
	supplier: {
		id: string;
		name: string;
		rating: number | null;
		ratingCount: number;
		openingHours: OpeningHours;
	} | null;
}

export interface SupplierIdParams {
	supplierId: string;
}

export interface ReserveStockParams {
	orderId: string;
	supplierId: string;
	items: ReservationItem[];
	deliverTo?: Point;
	/** When the delivery happens (a scheduled slot's start); now by default. */
	deliverAt?: string;
}

export interface OrderIdParams {
	orderId: string;
}

export interface ReservationView {
	orderId: string;
	state: ReservationState;
	supplier: SupplierView;
	distanceKm: number | null;
	items: ReservationItem[];
	products: PricedProduct[];
	expiresAt: string;
}

export interface StockOutcome {
	orderId: string;
	state: ReservationState | "none";
	changed: boolean;
}

/** products.stockDrift: equal when no stock leaked (the crash benchmark's "stock drift = 0"). */
export interface StockDrift {
	/** Sum of `reserved` over products. */
	reservedUnits: number;
	/** Units held by open reservations. */
	openReservationUnits: number;
}

export interface SweepResult {
	released: number;
	committed: number;
}

// ---- fastest-validator schemas of the actions (the contract as the validator reads it) ----

const cents = { type: "number", integer: true, min: 0, max: 100_000_000 } as const;
const queryNumber = (min: number, max: number) =>
	({ type: "number", convert: true, min, max, optional: true }) as const;
const queryBoolean = { type: "boolean", convert: true, optional: true } as const;

export const PRODUCT_FIELDS = {
	name: { type: "string", min: 1, max: 120, trim: true, optional: true },
	brand: { type: "enum", values: BRANDS, optional: true },
	priceCents: { ...cents, min: 1 },
	depositCents: { ...cents, optional: true },
	stock: { type: "number", integer: true, min: 0, max: 1_000_000 },
	lowStockThreshold: { type: "number", integer: true, min: 0, max: 100_000, optional: true },
} as const;

export const LIST_PARAMS = {
	type: { type: "enum", values: CYLINDER_TYPES, optional: true },
	brand: { type: "enum", values: BRANDS, optional: true },
	lat: queryNumber(-90, 90),
	lng: queryNumber(-180, 180),
	sort: { type: "enum", values: ["price", "distance", "rating"], optional: true },
	supplierId: { ...optionalId },
	openNow: queryBoolean,
	inStock: queryBoolean,
	...pageParams,
} as const;

/** Order ids are also keys inside a product's `holds`: no dots or `$`. */
export const ORDER_ID = { ...idParam, pattern: /^[A-Za-z0-9_-]+$/ } as const;

export const RESERVE_PARAMS = {
	orderId: ORDER_ID,
	supplierId: idParam,
	items: {
		type: "array",
		min: 1,
		max: 20,
		items: {
			type: "object",
			strict: true,
			props: { productId: idParam, quantity: { type: "number", integer: true, min: 1, max: 100 } },
		},
	},
	deliverTo: { ...pointParam, optional: true },
	deliverAt: { type: "string", optional: true, max: 40 },
} as const;
