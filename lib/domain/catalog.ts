/**
 * The price comparison customers come for: which suppliers deliver to an address (their radius
 * covers it and they are open now), and their products sorted by price or distance.
 * Opening hours are the supplier's local wall-clock times ("HH:MM", default zone America/Sao_Paulo);
 * a range whose close is before its open runs past midnight.
 */
import { brandOf } from "./brands";
import { haversineKm, LatLng } from "./geo";
import { deliveryFeeCents, DeliveryFeeRule, DEFAULT_DELIVERY_FEE, priceWithoutExchangeCents } from "./pricing";
import type { ProductChanged, SupplierCreated } from "../contracts/events";
import { DEFAULT_LOW_STOCK_THRESHOLD, expiresAt } from "./stock";
import type { ErrorType } from "../contracts/error-catalogue";
import type {
	CreateProductParams,
	PricedProduct,
	Product,
	ReservationItem,
	ProductView,
	ReservationView,
	StockReservation,
	SupplierListing,
	SupplierListingFields,
	SupplierView,
} from "../contracts/products";

export const CYLINDER_TYPES = ["P2", "P5", "P8", "P13", "P20", "P45", "water"] as const;
export type CylinderType = (typeof CYLINDER_TYPES)[number];

export interface OpeningHours {
	open: string;
	close: string;
}

export interface SupplierProfile {
	supplierId: string;
	name: string;
	location: LatLng | null;
	deliveryRadiusKm: number;
	openingHours: OpeningHours;
	rating: number;
	/** How many customers rated the supplier (rating.updated); `rating` is their average when above 0. */
	ratingCount?: number;
	active?: boolean;
}

export interface CatalogProduct {
	id: string;
	supplierId: string;
	type: string;
	priceCents: number;
	depositCents: number;
	stock: number;
	active?: boolean;
	brand?: string;
}

export interface Offer<P extends CatalogProduct = CatalogProduct> {
	product: P;
	supplier: SupplierProfile;
	distanceKm: number | null;
	deliveryFeeCents: number | null;
}

export interface OfferFilter {
	type?: string;
	/** Only this brand ("other" also matches products stored without one). */
	brand?: string;
	supplierId?: string;
	deliverTo?: LatLng;
	/** Only suppliers open at `now` (applies when set). */
	openAt?: Date;
	timeZone?: string;
	inStockOnly?: boolean;
	sort?: "price" | "distance" | "rating";
	feeRule?: DeliveryFeeRule;
}

export const DEFAULT_TIME_ZONE = "America/Sao_Paulo";

function minutesOf(hhmm: string): number {
	const [h, m] = hhmm.split(":").map(Number);
	return h * 60 + m;
}

const clockFormatters = new Map<string, Intl.DateTimeFormat>();
/** One hour:minute formatter per time zone (building one per call is costly). */
function clockFormatter(timeZone: string): Intl.DateTimeFormat {
	let formatter = clockFormatters.get(timeZone);
	if (!formatter) {
		formatter = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
		clockFormatters.set(timeZone, formatter);
	}
	return formatter;
}

/** Minutes since local midnight at `at` in `timeZone`. */
export function localMinutes(at: Date, timeZone = DEFAULT_TIME_ZONE): number {
	const parts = clockFormatter(timeZone)
		.formatToParts(at)
		.reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
	return Number(parts.hour) * 60 + Number(parts.minute);
}

/** Open from `open` up to and including the minute `close` (so 00:00–23:59 is always open). */
export function isOpenAt(hours: OpeningHours, at: Date, timeZone = DEFAULT_TIME_ZONE): boolean {
	const now = localMinutes(at, timeZone);
	const open = minutesOf(hours.open);
	const close = minutesOf(hours.close);
	if (open === close) return true;
	if (open < close) return now >= open && now <= close;
	return now >= open || now <= close;
}

/** When a supplier closed at `now` next opens (ISO, to the minute), or null when it is open. */
export function nextOpeningAt(hours: OpeningHours, now: Date, timeZone = DEFAULT_TIME_ZONE): string | null {
	if (isOpenAt(hours, now, timeZone)) return null;
	const wait = (minutesOf(hours.open) - localMinutes(now, timeZone) + 1440) % 1440;
	return new Date(Math.floor(now.getTime() / 60_000) * 60_000 + wait * 60_000).toISOString();
}

export function distanceTo(supplier: SupplierProfile, point: LatLng): number | null {
	return supplier.location ? haversineKm(supplier.location, point) : null;
}

export function deliversTo(supplier: SupplierProfile, point: LatLng): boolean {
	const km = distanceTo(supplier, point);
	return km !== null && km <= supplier.deliveryRadiusKm;
}

/** A supplier's average rating as customers gave it, null before the first rating. */
export function ratingOf(supplier: SupplierProfile): number | null {
	return supplier.ratingCount ? supplier.rating : null;
}

function compareOffers(sort: "price" | "distance" | "rating") {
	const price = (o: Offer) => o.product.priceCents + (o.deliveryFeeCents || 0);
	const distance = (o: Offer) => (o.distanceKm === null ? Number.POSITIVE_INFINITY : o.distanceKm);
	// Best rated first, unrated last; then by how many rated, then cheapest.
	const rating = (a: Offer, b: Offer) =>
		(ratingOf(b.supplier) ?? -1) - (ratingOf(a.supplier) ?? -1) ||
		(b.supplier.ratingCount ?? 0) - (a.supplier.ratingCount ?? 0) ||
		price(a) - price(b) ||
		a.product.id.localeCompare(b.product.id);
	if (sort === "rating") return rating;
	return (a: Offer, b: Offer) => {
		const primary = sort === "distance" ? distance(a) - distance(b) : price(a) - price(b);
		if (primary !== 0) return primary;
		const secondary = sort === "distance" ? price(a) - price(b) : distance(a) - distance(b);
		return secondary !== 0 ? secondary : a.product.id.localeCompare(b.product.id);
	};
}

/** Offers matching the filter, sorted: by price (cylinder plus delivery) or by distance, ties by the other. */
export function findOffers<P extends CatalogProduct>(
	products: P[],
	suppliers: SupplierProfile[],
	filter: OfferFilter = {},
): Offer<P>[] {
	const supplierById = new Map(suppliers.map((s) => [s.supplierId, s]));
	const offers: Offer<P>[] = [];
	for (const product of products) {
		const supplier = supplierById.get(product.supplierId);
		if (!supplier || supplier.active === false || product.active === false) continue;
		if (filter.type && product.type !== filter.type) continue;
		if (filter.brand && brandOf(product) !== filter.brand) continue;
		if (filter.supplierId && product.supplierId !== filter.supplierId) continue;
		if (filter.inStockOnly && product.stock <= 0) continue;
		if (filter.openAt && !isOpenAt(supplier.openingHours, filter.openAt, filter.timeZone)) continue;
		let distanceKm: number | null = null;
		let fee: number | null = null;
		if (filter.deliverTo) {
			if (!deliversTo(supplier, filter.deliverTo)) continue;
			distanceKm = distanceTo(supplier, filter.deliverTo);
			fee = deliveryFeeCents(distanceKm as number, filter.feeRule || DEFAULT_DELIVERY_FEE);
		}
		offers.push({ product, supplier, distanceKm, deliveryFeeCents: fee });
	}
	return offers.sort(compareOffers(filter.sort || "price"));
}

export function offerView(offer: Offer) {
	return {
		...offer.product,
		brand: brandOf(offer.product),
		priceWithoutExchangeCents: priceWithoutExchangeCents(offer.product),
		supplier: {
			id: offer.supplier.supplierId,
			name: offer.supplier.name,
			rating: ratingOf(offer.supplier),
			ratingCount: offer.supplier.ratingCount ?? 0,
			openingHours: offer.supplier.openingHours,
		},
		distanceKm: offer.distanceKm === null ? null : Math.round(offer.distanceKm * 100) / 100,
		deliveryFeeCents: offer.deliveryFeeCents,
	};
}

// ---- views of stored catalog records (pure) ----

/** The supplier as an order sees it (kept on the reservation). */
export function supplierView(supplier: SupplierListing): SupplierView {
	return {
		supplierId: supplier.supplierId,
		name: supplier.name,
		anpAuthorization: supplier.anpAuthorization || null,
		location: supplier.location || null,
		deliveryRadiusKm: supplier.deliveryRadiusKm,
		openingHours: supplier.openingHours,
		rating: supplier.rating,
	};
}

/** A product at the price an order takes it. */
export function pricedProduct(product: Product): PricedProduct {
	return {
		productId: product._id,
		type: product.type,
		name: product.name || null,
		priceCents: product.priceCents,
		depositCents: product.depositCents || 0,
	};
}

/** A product's public form: `id`, no bookkeeping fields, with the price without exchange. */
export function productView(product: Product): ProductView {
	const { _id, holds: _holds, returned: _returned, supplierType: _key, ...rest } = product;
	const view = { id: _id, ...rest, brand: brandOf(product) };
	return { ...view, priceWithoutExchangeCents: priceWithoutExchangeCents(view) };
}

export function reservationView(reservation: StockReservation): ReservationView {
	return {
		orderId: reservation.orderId,
		state: reservation.state,
		supplier: reservation.supplier,
		distanceKm: reservation.distanceKm,
		items: reservation.items,
		products: reservation.products,
		expiresAt: reservation.expiresAt,
	};
}

/** The fields of a supplier listing, from supplier.created (defaults for what the profile lacks). */
export function listingFields(data: SupplierCreated, now: string): SupplierListingFields {
	return {
		supplierId: data.supplierId,
		name: data.name,
		anpAuthorization: data.anpAuthorization || null,
		location: data.location || null,
		deliveryRadiusKm: data.deliveryRadiusKm || 10,
		openingHours: data.openingHours || { open: "00:00", close: "23:59" },
		rating: data.rating ?? 5,
		active: true,
		updatedAt: now,
	};
}

/** product.created / updated / deleted's data. */
export function productChange(p: Product): ProductChanged {
	const { _id: productId, supplierId, type, priceCents, depositCents, stock } = p;
	return { productId, supplierId, type, priceCents, depositCents, stock };
}

export interface CatalogQuery {
	type?: string;
	brand?: string;
	lat?: number;
	lng?: number;
	sort?: "price" | "distance" | "rating";
	supplierId?: string;
	openNow?: boolean;
	inStock?: boolean;
	page: number;
	pageSize: number;
}

/** What is wrong with a catalog query that the params schema cannot say (a 422), or null. */
export function listProblem(q: CatalogQuery): { message: string; data?: unknown } | null {
	if ((q.lat === undefined) !== (q.lng === undefined))
		return { message: "Give both lat and lng of the delivery address", data: { fields: ["lat", "lng"] } };
	if (q.sort === "distance" && q.lat === undefined)
		return { message: "Sorting by distance needs a delivery address (lat, lng)" };
	return null;
}

/**
 * One page of the comparison: with an address, only suppliers delivering there and open now
 * (unless openNow=false); in stock only unless inStock=false; cheapest first unless sorted by distance.
 */
export function catalogPage<P extends CatalogProduct>(
	products: P[],
	suppliers: SupplierProfile[],
	q: CatalogQuery,
	now: Date,
	timeZone: string,
) {
	const deliverTo = q.lat === undefined || q.lng === undefined ? undefined : { lat: q.lat, lng: q.lng };
	const offers = findOffers(products, suppliers, {
		type: q.type,
		brand: q.brand,
		supplierId: q.supplierId,
		deliverTo,
		openAt: (q.openNow ?? !!deliverTo) ? now : undefined,
		timeZone,
		inStockOnly: q.inStock ?? true,
		sort: q.sort || "price",
	});
	const start = (q.page - 1) * q.pageSize;
	// Closed suppliers (openNow=false) say when they open: the web app offers a scheduled slot.
	const rows = offers.slice(start, start + q.pageSize).map((o) => ({
		...offerView(o),
		openNow: isOpenAt(o.supplier.openingHours, now, timeZone),
		nextOpeningAt: nextOpeningAt(o.supplier.openingHours, now, timeZone),
	}));
	return { rows, total: offers.length, page: q.page, pageSize: q.pageSize };
}

/** A refusal as data: the service turns it into a Moleculer client error. */
export interface CatalogProblem {
	/** Its status and translations: the error catalogue. */
	type: ErrorType;
	message: string;
	data?: Record<string, unknown>;
}

/**
 * Why a supplier cannot take an order delivered to `deliverTo` at `at` (null: it can), and the
 * distance. Immediate orders need the supplier open now; scheduled ones, open at the slot.
 */
export function orderProblem(
	supplier: SupplierProfile | null,
	deliverTo: LatLng | undefined,
	at: Date,
	timeZone: string,
): { problem: CatalogProblem | null; distanceKm: number | null } {
	if (!supplier || supplier.active === false)
		return {
			problem: {
				type: "SUPPLIER_NOT_ACTIVE",
				message: "This supplier is not selling at the moment",
			},
			distanceKm: null,
		};
	const km = deliverTo ? distanceTo(supplier, deliverTo) : null;
	if (deliverTo && (km === null || km > supplier.deliveryRadiusKm)) {
		const data = {
			distanceKm: km === null ? null : Math.round(km * 100) / 100,
			deliveryRadiusKm: supplier.deliveryRadiusKm,
		};
		return {
			problem: {
				type: "OUT_OF_DELIVERY_AREA",
				message: "This supplier does not deliver to that address",
				data,
			},
			distanceKm: km,
		};
	}
	if (supplier.openingHours && !Number.isNaN(at.getTime()) && !isOpenAt(supplier.openingHours, at, timeZone)) {
		const data = { openingHours: supplier.openingHours };
		return {
			problem: { type: "SUPPLIER_CLOSED", message: "This supplier is closed at that time", data },
			distanceKm: km,
		};
	}
	return { problem: null, distanceKm: km };
}

/** Whose catalog a caller writes to: a supplier its own; an admin names the supplier. */
export function catalogOwner(
	user: { id: string; role: string },
	requested: string | undefined,
): { owner: string } | { problem: CatalogProblem } {
	if (user.role === "admin") {
		if (requested) return { owner: requested };
		const data = { fields: ["supplierId"] };
		return { problem: { type: "UNPROCESSABLE", message: "Say which supplier sells this product", data } };
	}
	if (requested && requested !== user.id)
		return { problem: { type: "FORBIDDEN", message: "You can only sell from your own catalog" } };
	return { owner: user.id };
}

// ---- new catalog records (pure) ----

/** A new live product of `owner` from a supplier's request (its supplierId, if any, already decided). */
export function newProduct(
	fields: Omit<CreateProductParams, "supplierId">,
	owner: string,
	id: string,
	now: string,
): Product {
	return {
		...fields,
		_id: id,
		supplierId: owner,
		supplierType: `${owner}:${fields.type}`,
		depositCents: fields.depositCents ?? 0,
		lowStockThreshold: fields.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD,
		reserved: 0,
		active: true,
		createdAt: now,
		updatedAt: now,
	};
}

/** An order's reservation as it is first written (`reserving`), with the prices it takes the products at. */
export function newReservation(r: {
	orderId: string;
	supplier: SupplierListing;
	items: ReservationItem[];
	products: Product[];
	distanceKm: number | null;
	now: Date;
	ttlMs: number;
}): StockReservation {
	return {
		_id: r.orderId,
		orderId: r.orderId,
		supplierId: r.supplier.supplierId,
		items: r.items,
		state: "reserving",
		expiresAt: expiresAt(r.now, r.ttlMs),
		supplier: supplierView(r.supplier),
		distanceKm: r.distanceKm,
		products: r.products.map(pricedProduct),
		createdAt: r.now.toISOString(),
		updatedAt: r.now.toISOString(),
	};
}
