/**
 * The receipt of a delivered order: what it says (items, deposits, delivery fee, total, payment
 * method, the supplier's name and CNPJ, the customer's CPF when given) and who may fetch it. The
 * HTML form is rendered here (pure); issuing it goes through a ReceiptProvider (lib/infra/receipts.ts)
 * so that a real NF-e provider can take its place.
 */
import type { Order } from "../contracts/orders";
import { formatCnpj, isValidCnpj } from "./cnpj";
import { formatCpf } from "./cpf";

/** What orders hands the receipt service about an order (orders.receiptFacts). */
export type ReceiptOrder = Pick<
	Order,
	| "status"
	| "customerId"
	| "customerName"
	| "supplierId"
	| "supplierName"
	| "items"
	| "totals"
	| "paymentMethod"
	| "deliveryAddress"
> & { orderId: string; cpf: string | null; deliveredAt: string | null };

export interface ReceiptInput {
	order: ReceiptOrder;
	supplier: { name: string; cnpj: string | null };
	/** The receipt's number (the provider may give its own). */
	number: string;
	issuedAt: string;
}

export function receiptOrderOf(order: Order): ReceiptOrder {
	const { _id, status, customerId, customerName, supplierId, supplierName, items, totals, paymentMethod } = order;
	const facts = { status, customerId, customerName, supplierId, supplierName, items, totals, paymentMethod };
	return {
		...facts,
		orderId: _id,
		cpf: order.cpf || null,
		deliveredAt: order.deliveredAt || null,
		deliveryAddress: order.deliveryAddress || {},
	};
}

/** Only the order's customer, its supplier and admins may fetch its receipt. */
export function mayFetchReceipt(
	receipt: { customerId: string; supplierId: string },
	user: { id: string; role: string },
) {
	if (user.role === "admin") return true;
	if (user.role === "customer") return receipt.customerId === user.id;
	if (user.role === "supplier") return receipt.supplierId === user.id;
	return false;
}

const PAYMENT_NAMES: Record<string, string> = {
	card: "Cartão",
	pix: "PIX",
	cash: "Dinheiro na entrega",
	voucher: "Vale Gás do Povo",
};

const escapeHtml = (text: unknown) =>
	String(text ?? "").replace(
		/[&<>"']/g,
		(c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
	);

/** R$ 1.234,56 from integer cents (without Intl, so that the output is the same everywhere). */
export function brl(cents: number): string {
	const sign = cents < 0 ? "-" : "";
	const abs = Math.abs(Math.round(cents));
	const reais = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
	return `${sign}R$ ${reais},${String(abs % 100).padStart(2, "0")}`;
}

/** dd/mm/aaaa hh:mm in São Paulo time (UTC−3, no daylight saving since 2019). */
function brDateTime(iso: string | null): string {
	if (!iso) return "—";
	const d = new Date(Date.parse(iso) - 3 * 3_600_000);
	const p = (n: number) => String(n).padStart(2, "0");
	return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

/** The receipt as a self-contained HTML page (pt-BR), every value escaped. */
export function renderReceiptHtml(input: ReceiptInput): string {
	const { order: o, supplier } = input;
	const cnpj = supplier.cnpj && isValidCnpj(supplier.cnpj) ? formatCnpj(supplier.cnpj) : "não informado";
	const rows = o.items
		.map((i) => {
			const what = `${i.type}${i.exchange ? " (troca do vasilhame)" : " (com vasilhame)"}`;
			return `<tr><td>${escapeHtml(what)}</td><td class="n">${i.quantity}</td><td class="n">${brl(i.unitPriceCents)}</td><td class="n">${brl(i.depositCents * i.quantity)}</td><td class="n">${brl(i.lineCents)}</td></tr>`;
		})
		.join("\n");
	const a = o.deliveryAddress;
	const address = [a.street, a.number, a.complement, a.city].filter(Boolean).join(", ");
	return `<!doctype html>
<html lang="pt-BR">
<head>
<meta charset="utf-8">
<title>Recibo ${escapeHtml(input.number)}</title>
<style>body{font-family:sans-serif;max-width:40rem;margin:2rem auto;color:#222}table{width:100%;border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left}.n{text-align:right}.total td{font-weight:bold}small{color:#666}</style>
</head>
<body>
<h1>Recibo de entrega</h1>
<p><small>Documento sem valor fiscal (não substitui a NF-e).</small></p>
<dl>
<dt>Número</dt><dd id="receipt-number">${escapeHtml(input.number)}</dd>
<dt>Pedido</dt><dd>${escapeHtml(o.orderId)}</dd>
<dt>Emitido em</dt><dd>${brDateTime(input.issuedAt)}</dd>
<dt>Entregue em</dt><dd>${brDateTime(o.deliveredAt)}</dd>
<dt>Revenda</dt><dd id="supplier">${escapeHtml(supplier.name)} — CNPJ <span id="cnpj">${escapeHtml(cnpj)}</span></dd>
<dt>Cliente</dt><dd>${escapeHtml(o.customerName || "—")}${o.cpf ? ` — CPF <span id="cpf">${escapeHtml(formatCpf(o.cpf))}</span>` : ""}</dd>
<dt>Endereço de entrega</dt><dd>${escapeHtml(address || "—")}</dd>
</dl>
<table>
<thead><tr><th>Item</th><th class="n">Qtd.</th><th class="n">Preço</th><th class="n">Vasilhame</th><th class="n">Subtotal</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot>
<tr><td colspan="4">Produtos</td><td class="n">${brl(o.totals.itemsCents)}</td></tr>
<tr><td colspan="4">Vasilhames (depósito)</td><td class="n" id="deposits">${brl(o.totals.depositsCents)}</td></tr>
<tr><td colspan="4">Taxa de entrega</td><td class="n" id="delivery-fee">${brl(o.totals.deliveryFeeCents)}</td></tr>
<tr class="total"><td colspan="4">Total</td><td class="n" id="total">${brl(o.totals.totalCents)}</td></tr>
</tfoot>
</table>
<p>Forma de pagamento: <span id="payment-method">${escapeHtml(PAYMENT_NAMES[o.paymentMethod] || o.paymentMethod)}</span></p>
</body>
</html>
`;
}
