/**
 * Order totals, computed on the server from catalog prices (never from what a client sends).
 * A cylinder bought with an empty one handed back costs `priceCents`; without an exchange the
 * customer also pays `depositCents` for the new cylinder. Delivery costs a base fee that covers
 * the first kilometres, then a fee per started kilometre. All money is integer cents.
 */
export interface PricedProduct {
	productId: string;
	type: string;
	priceCents: number;
	depositCents: number;
}

export interface OrderItemRequest {
	productId: string;
	quantity: number;
	exchange: boolean;
}

export interface OrderLine {
	productId: string;
	type: string;
	quantity: number;
	exchange: boolean;
	unitPriceCents: number;
	depositCents: number;
	lineCents: number;
}

export interface OrderTotals {
	itemsCents: number;
	depositsCents: number;
	deliveryFeeCents: number;
	totalCents: number;
}

export interface DeliveryFeeRule {
	baseCents: number;
	includedKm: number;
	perKmCents: number;
}

export const DEFAULT_DELIVERY_FEE: DeliveryFeeRule = { baseCents: 500, includedKm: 3, perKmCents: 150 };

/** Base fee for the first `includedKm`, then `perKmCents` for each started kilometre beyond. */
export function deliveryFeeCents(distanceKm: number, rule: DeliveryFeeRule = DEFAULT_DELIVERY_FEE): number {
	const extraKm = Math.max(0, Math.ceil(distanceKm - rule.includedKm - 1e-9));
	return rule.baseCents + extraKm * rule.perKmCents;
}

export function priceWithoutExchangeCents(product: { priceCents: number; depositCents: number }): number {
	return product.priceCents + product.depositCents;
}

export function orderLine(product: PricedProduct, item: OrderItemRequest): OrderLine {
	const deposit = item.exchange ? 0 : product.depositCents;
	return {
		productId: product.productId,
		type: product.type,
		quantity: item.quantity,
		exchange: item.exchange,
		unitPriceCents: product.priceCents,
		depositCents: deposit,
		lineCents: item.quantity * (product.priceCents + deposit),
	};
}

/** Lines for the requested items; throws if an item names a product that is not in `products`. */
export function orderLines(products: PricedProduct[], items: OrderItemRequest[]): OrderLine[] {
	const byId = new Map(products.map((p) => [p.productId, p]));
	return items.map((item) => {
		const product = byId.get(item.productId);
		if (!product) throw new Error(`No price for product ${item.productId}`);
		return orderLine(product, item);
	});
}

export function orderTotals(
	lines: OrderLine[],
	distanceKm: number,
	rule: DeliveryFeeRule = DEFAULT_DELIVERY_FEE,
): OrderTotals {
	const itemsCents = lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
	const depositsCents = lines.reduce((sum, l) => sum + l.quantity * l.depositCents, 0);
	const fee = deliveryFeeCents(distanceKm, rule);
	return { itemsCents, depositsCents, deliveryFeeCents: fee, totalCents: itemsCents + depositsCents + fee };
}

export function cylinderCount(lines: { quantity: number }[]): number {
	return lines.reduce((sum, l) => sum + l.quantity, 0);
}
