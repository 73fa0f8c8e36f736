/**
 * Reorder reminders: when a customer's cylinder of a type runs out, estimated from their delivered
 * orders, and when to remind them (a few days before). Notification preferences: which kinds of
 * message a user turned off on which channel.
 */

const DAY_MS = 86_400_000;

/**
 * Days one cylinder of a type lasts a household before there is history (a P13 lasts about 45–60
 * days for a family cooking every day; smaller ones less; a P45 feeds a business or a building).
 */
export const DEFAULT_DAYS_PER_CYLINDER: Record<string, number> = {
	P2: 15,
	P5: 25,
	P8: 35,
	P13: 50,
	P20: 40,
	P45: 60,
	water: 10,
};
const FALLBACK_DAYS = 45;
/** An estimate is kept between these (a mistaken double order or a long trip skews one interval). */
export const MIN_DAYS = 7;
export const MAX_DAYS = 180;
/** Remind this many days before the estimated run-out. */
export const REMIND_DAYS_BEFORE = 3;
/** Intervals of the latest deliveries averaged (older habits count less by being left out). */
const HISTORY_INTERVALS = 5;

export interface Delivery {
	orderId: string;
	at: string;
	/** Cylinders of the type in that order. */
	quantity: number;
}

export interface RunOutEstimate {
	daysPerCylinder: number;
	runOutAt: string;
	remindAt: string;
	/** "history" once two deliveries of the type give an interval; "default" before. */
	basis: "history" | "default";
}

const clamp = (n: number) => Math.min(MAX_DAYS, Math.max(MIN_DAYS, n));

/**
 * When the cylinders of the latest delivery run out. With history: each interval between two
 * deliveries, divided by the cylinders bought at its start, is how long one cylinder lasted; the
 * mean of the latest intervals times the latest quantity is how long the latest delivery lasts.
 */
export function estimateRunOut(type: string, deliveries: Delivery[]): RunOutEstimate | null {
	const sorted = deliveries
		.filter((d) => Number.isFinite(Date.parse(d.at)) && d.quantity > 0)
		.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
	if (sorted.length === 0) return null;
	const perCylinder: number[] = [];
	for (let i = 1; i < sorted.length; i++) {
		const days = (Date.parse(sorted[i].at) - Date.parse(sorted[i - 1].at)) / DAY_MS;
		if (days >= 1) perCylinder.push(days / sorted[i - 1].quantity);
	}
	const recent = perCylinder.slice(-HISTORY_INTERVALS);
	const basis = recent.length > 0 ? "history" : "default";
	const daysPerCylinder =
		basis === "history"
			? clamp(recent.reduce((a, b) => a + b, 0) / recent.length)
			: (DEFAULT_DAYS_PER_CYLINDER[type] ?? FALLBACK_DAYS);
	const last = sorted[sorted.length - 1];
	const lastMs = Date.parse(last.at);
	const runOutMs = lastMs + clamp(daysPerCylinder * last.quantity) * DAY_MS;
	const remindMs = Math.max(lastMs, runOutMs - REMIND_DAYS_BEFORE * DAY_MS);
	return {
		daysPerCylinder: Math.round(daysPerCylinder * 10) / 10,
		runOutAt: new Date(runOutMs).toISOString(),
		remindAt: new Date(remindMs).toISOString(),
		basis,
	};
}

/** Adds a delivery to a history once (by order id), keeping the latest `keep`. */
export function withDelivery(history: Delivery[], d: Delivery, keep = HISTORY_INTERVALS + 1): Delivery[] {
	if (history.some((h) => h.orderId === d.orderId)) return history;
	return [...history, d].sort((a, b) => Date.parse(a.at) - Date.parse(b.at)).slice(-keep);
}

/** Cylinders per type in an order's items (refills and new cylinders alike). */
export function cylindersByType(items: { type?: string; quantity: number }[] | undefined): Map<string, number> {
	const byType = new Map<string, number>();
	for (const item of items ?? []) {
		if (!item.type || !(item.quantity > 0)) continue;
		byType.set(item.type, (byType.get(item.type) ?? 0) + item.quantity);
	}
	return byType;
}

// ── Notification preferences ────────────────────────────────────────────────────────────────

/** `kind:channel` pairs a user turned off. */
export type MutedList = string[];

export const mutedKey = (kind: string, channel: string) => `${kind}:${channel}`;

/** Kinds a user cannot turn off: security notices (an account locked after failed sign-ins). */
export const ALWAYS_ON_KINDS: readonly string[] = ["account_locked"];

export const isAlwaysOn = (kind: string) => ALWAYS_ON_KINDS.includes(kind);

export function isMuted(muted: MutedList | undefined, kind: string, channel: string): boolean {
	if (isAlwaysOn(kind)) return false;
	return !!muted && (muted.includes(mutedKey(kind, channel)) || muted.includes(mutedKey(kind, "*")));
}

/** The list after turning `kind` on `channel` ("*": every channel) on or off. */
export function setMuted(muted: MutedList, kind: string, channel: string, enabled: boolean): MutedList {
	const key = mutedKey(kind, channel);
	const rest = muted.filter((k) => k !== key);
	return enabled ? rest : [...rest, key].sort();
}

// ── One-tap reorder ─────────────────────────────────────────────────────────────────────────

export interface ReorderLine {
	productId: string;
	type?: string;
	quantity: number;
	exchange?: boolean;
}
export interface OfferLike {
	id: string;
	type: string;
	priceCents: number;
	supplier: { id: string };
}
export interface ReorderChoice {
	supplierId: string;
	sameSupplier: boolean;
	items: { productId: string; quantity: number; exchange: boolean }[];
}

/**
 * What a one-tap reorder of `last` orders: the same supplier when it offers (open, in stock, near)
 * every cylinder type of the last order, else the supplier offering them all for the least; null
 * when nobody does. `offers` are catalog rows for the delivery address, already filtered to open
 * suppliers with stock.
 */
export function reorderChoice(
	last: { supplierId: string; items: ReorderLine[] },
	offers: OfferLike[],
): ReorderChoice | null {
	const lines = last.items.filter((l) => l.type);
	if (lines.length === 0) return null;
	const bySupplier = new Map<string, Map<string, OfferLike>>();
	for (const o of offers) {
		const types = bySupplier.get(o.supplier.id) ?? new Map<string, OfferLike>();
		const known = types.get(o.type);
		if (!known || o.priceCents < known.priceCents) types.set(o.type, o);
		bySupplier.set(o.supplier.id, types);
	}
	const itemsAt = (supplierId: string) => {
		const types = bySupplier.get(supplierId);
		if (!types || !lines.every((l) => types.has(l.type!))) return null;
		return lines.map((l) => ({
			productId: types.get(l.type!)!.id,
			quantity: l.quantity,
			exchange: l.exchange !== false,
		}));
	};
	const same = itemsAt(last.supplierId);
	if (same) return { supplierId: last.supplierId, sameSupplier: true, items: same };
	let best: { choice: ReorderChoice; cost: number } | null = null;
	for (const supplierId of [...bySupplier.keys()].sort()) {
		const items = itemsAt(supplierId);
		if (!items) continue;
		const types = bySupplier.get(supplierId)!;
		const cost = lines.reduce((n, l) => n + types.get(l.type!)!.priceCents * l.quantity, 0);
		if (!best || cost < best.cost) best = { choice: { supplierId, sameSupplier: false, items }, cost };
	}
	return best?.choice ?? null;
}
