/**
 * Stock arithmetic and the rules of stock reservations. Pure: the products service reads a product,
 * asks `stockAfter` what its levels become, and applies the answer with a compare-and-set on the
 * levels it read (so the inventory.updated event recorded with that write carries exact numbers).
 *
 * `stock` is what can still be ordered, `reserved` what open orders hold until delivery:
 *   reserve  q: stock − q, reserved + q   (refused when stock < q)
 *   release  q: stock + q, reserved − q   (the order was cancelled or never stored)
 *   commit   q:            reserved − q   (the cylinders left the shop)
 *   return   q: stock + q                 (a reservation committed early, for a confirmed order that was then cancelled)
 *   restock  n: stock = n
 */
import type { OrderStatus } from "./order-status";

export interface StockLevels {
	stock: number;
	reserved: number;
}

export interface Item {
	productId: string;
	quantity: number;
}

export type StockChange =
	| { kind: "reserve"; quantity: number }
	| { kind: "release"; quantity: number }
	| { kind: "commit"; quantity: number }
	| { kind: "return"; quantity: number }
	| { kind: "restock"; stock: number };

export type InventoryReason = "reserved" | "released" | "committed" | "restocked";

export interface StockStep {
	levels: StockLevels;
	/** The change of orderable stock (inventory.updated's `change`). */
	change: number;
	reason: InventoryReason;
}

export const DEFAULT_LOW_STOCK_THRESHOLD = 5;

/** The levels after a change, or null when there is not enough stock to reserve. */
export function stockAfter(levels: StockLevels, change: StockChange): StockStep | null {
	const { stock, reserved } = levels;
	switch (change.kind) {
		case "reserve":
			if (stock < change.quantity) return null;
			return {
				levels: { stock: stock - change.quantity, reserved: reserved + change.quantity },
				change: -change.quantity,
				reason: "reserved",
			};
		case "release":
			return {
				levels: { stock: stock + change.quantity, reserved: Math.max(0, reserved - change.quantity) },
				change: change.quantity,
				reason: "released",
			};
		case "commit":
			return { levels: { stock, reserved: Math.max(0, reserved - change.quantity) }, change: 0, reason: "committed" };
		case "return":
			return { levels: { stock: stock + change.quantity, reserved }, change: change.quantity, reason: "released" };
		case "restock":
			return { levels: { stock: change.stock, reserved }, change: change.stock - stock, reason: "restocked" };
	}
}

export function isLowStock(stock: number, threshold = DEFAULT_LOW_STOCK_THRESHOLD): boolean {
	return stock <= threshold;
}

/** One line per product: quantities of repeated products added up, first-seen order kept. */
export function mergeItems(items: Item[]): Item[] {
	const byProduct = new Map<string, number>();
	for (const item of items) byProduct.set(item.productId, (byProduct.get(item.productId) || 0) + item.quantity);
	return [...byProduct].map(([productId, quantity]) => ({ productId, quantity }));
}

export function totalUnits(items: Item[]): number {
	return items.reduce((sum, i) => sum + i.quantity, 0);
}

export function expiresAt(now: Date, ttlMs: number): string {
	return new Date(now.getTime() + ttlMs).toISOString();
}

export type ReservationState = "reserving" | "reserved" | "released" | "committed";

/**
 * How long a reservation may exist with no order behind it before the sweep releases it. orders
 * reserves stock first and stores the order right after (milliseconds later): a reservation older
 * than this whose order does not exist was left by a crash between the two (or by a reserve
 * interrupted half-way), and its order will never come.
 */
export const ORPHAN_GRACE_MS = 30_000;

/** A reserve interrupted half-way (a crash) older than this is undone by the sweep. */
export const STUCK_RESERVING_MS = ORPHAN_GRACE_MS;

/** What the sweep does with an open reservation. */
export type SweepAction = "release" | "commit" | "keep";

export interface SweepCandidate {
	state: ReservationState;
	expiresAt: string;
	createdAt: string;
}

/**
 * The repair of an open reservation, given its order's status (undefined: no such order, e.g. the
 * order was never stored after its stock was reserved; only pass undefined when orders was asked
 * and answered, never when it could not be asked):
 * - cancelled → release; delivered → commit (whatever the expiry);
 * - no order, ORPHAN_GRACE_MS after the reservation was made → release (a crash between reserving
 *   and storing the order: nobody else will ever release it);
 * - past expiry: confirmed / in transit → commit (the order goes ahead), otherwise release;
 * - a reserve stuck half-way for longer than STUCK_RESERVING_MS → release what it took.
 */
export function sweepAction(reservation: SweepCandidate, orderStatus: OrderStatus | undefined, now: Date): SweepAction {
	const age = now.getTime() - Date.parse(reservation.createdAt);
	if (reservation.state === "reserving") return age > STUCK_RESERVING_MS ? "release" : "keep";
	if (reservation.state !== "reserved") return "keep";
	if (orderStatus === "cancelled") return "release";
	if (orderStatus === "delivered") return "commit";
	if (orderStatus === undefined && age > ORPHAN_GRACE_MS) return "release";
	if (Date.parse(reservation.expiresAt) > now.getTime()) return "keep";
	return orderStatus === "confirmed" || orderStatus === "in_transit" ? "commit" : "release";
}

/** Whether the sweep must know the order's status to judge this reservation (it asks orders for these). */
export function needsOrderStatus(reservation: { state: ReservationState }): boolean {
	return reservation.state === "reserved";
}

/**
 * Why a release or commit changed nothing: already done (fine), never reserved (fine), or the
 * other one happened (a conflict). A reservation committed early for a confirmed order can still
 * be released (the order was cancelled before delivery): the caller returns its stock.
 */
export function finishOutcome(
	state: ReservationState | "none",
	wanted: "released" | "committed",
	committedEarly: boolean,
): "done" | "return" | "conflict" {
	if (state === "committed" && wanted === "released" && committedEarly) return "return";
	if ((state === "released" || state === "committed") && state !== wanted) return "conflict";
	return "done";
}

export interface StockedProduct {
	_id: string;
	supplierId: string;
	type: string;
	stock: number;
	reserved?: number;
	lowStockThreshold?: number;
	holds?: Record<string, number>;
	returned?: Record<string, number>;
}

/** inventory.updated's data for a product whose levels became `levels`. */
export function inventoryUpdate(p: StockedProduct, step: StockStep) {
	const threshold = p.lowStockThreshold ?? DEFAULT_LOW_STOCK_THRESHOLD;
	const { stock, reserved } = step.levels;
	return {
		productId: p._id,
		supplierId: p.supplierId,
		type: p.type,
		stock,
		reserved,
		change: step.change,
		reason: step.reason,
		lowStock: isLowStock(stock, threshold),
		lowStockThreshold: threshold,
	};
}

/** A stock move as a compare-and-set: the filter (the levels read, and this order's mark) and the update. */
export interface StockWrite {
	query: Record<string, unknown>;
	update: { $set: Record<string, unknown>; $unset?: Record<string, true> };
	step: StockStep;
}

/**
 * How to apply `change` to `product` for `orderId` (null: no order, a restock): "done" when this
 * order's move already happened (its mark in `holds` / `returned` says so) or changes nothing,
 * null when there is not enough stock. Release and commit move what the order holds.
 */
export function stockWrite(
	product: StockedProduct,
	orderId: string | null,
	change: StockChange,
	now: string,
): StockWrite | "done" | null {
	const levels = { stock: product.stock, reserved: product.reserved || 0 };
	if (change.kind === "restock" && change.stock === product.stock) return "done";
	const query: Record<string, unknown> = { _id: product._id, ...levels };
	const set: Record<string, unknown> = { updatedAt: now };
	let unset: Record<string, true> | undefined;
	if (orderId !== null) {
		const hold = `holds.${orderId}`;
		const held = product.holds?.[orderId];
		if (change.kind === "reserve") {
			if (held !== undefined) return "done";
			query[hold] = { $exists: false };
			set[hold] = change.quantity;
		} else if (change.kind === "release" || change.kind === "commit") {
			if (held === undefined) return "done";
			change = { kind: change.kind, quantity: held };
			query[hold] = held;
			unset = { [hold]: true };
		} else if (change.kind === "return") {
			if (product.returned?.[orderId] !== undefined) return "done";
			query[`returned.${orderId}`] = { $exists: false };
			set[`returned.${orderId}`] = change.quantity;
		}
	}
	const step = stockAfter(levels, change);
	if (!step) return null;
	return { query, update: { $set: { ...set, ...step.levels }, ...(unset ? { $unset: unset } : {}) }, step };
}
