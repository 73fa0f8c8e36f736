/**
 * One-tap reorder (#/reorder/<orderId>, the reorder reminder's link and a delivered order's "Pedir
 * de novo"): what will be ordered now — the same supplier if it is open with stock, else the best
 * alternative (GET /api/reorders/preview) — and one button that places it (POST /api/reorders with
 * an Idempotency-Key), then the new order's page.
 */
import { get, post } from "../http.js";
import { addressLine } from "../map.js";
import { errorLine, form, h, money, replace, section, t, uuid } from "../ui.js";

/** The "Pedir de novo" link on a delivered order's page (the customer's own). */
export function reorderLink(order, user) {
	if (!user || user.role !== "customer" || order.status !== "delivered") return null;
	return h(
		"p",
		{ class: "reorder" },
		h(
			"a",
			{ class: "button", id: "reorder-link", href: `#/reorder/${encodeURIComponent(order.id)}` },
			t("Pedir de novo", "Order again"),
		),
	);
}

const REFUSALS = {
	no_supplier: [
		"Nenhuma revenda aberta perto de você tem esse botijão agora. Tente mais tarde ou compare preços.",
		"No supplier open near you has this cylinder now. Try later or compare prices.",
	],
};

/** A refused preview or reorder in words (404: no such delivered order of yours). */
function refusal(err) {
	const reason = err && err.data && err.data.reason;
	if (REFUSALS[reason]) return { ...err, message: t(...REFUSALS[reason]), fields: [] };
	if (err && err.status === 404)
		return { ...err, message: t("Pedido para repetir não encontrado.", "Order to repeat not found."), fields: [] };
	return err;
}

const unitCents = (item) => (item.exchange ? item.priceCents : item.priceWithoutExchangeCents);

function itemLine(item) {
	return h(
		"li",
		{},
		`${item.quantity}× ${item.type}`,
		item.exchange ? "" : t(" (sem troca)", " (no exchange)"),
		" · ",
		money(unitCents(item)),
	);
}

export async function render(root, { params, navigate }) {
	const orderId = params.id;
	let preview;
	try {
		preview = await get("/api/reorders/preview", { orderId });
	} catch (err) {
		replace(
			root,
			section(
				t("Pedir de novo", "Order again"),
				errorLine(refusal(err)),
				h("p", {}, h("a", { class: "button secondary", href: "#/shop" }, t("Comparar preços", "Compare prices"))),
			),
		);
		return;
	}
	const itemsCents = preview.items.reduce((n, i) => n + (unitCents(i) || 0) * i.quantity, 0);
	const totalCents = itemsCents + (preview.deliveryFeeCents || 0);
	const key = uuid();
	const method = (value, text) =>
		h(
			"label",
			{ class: "radio" },
			h("input", { type: "radio", name: "paymentMethod", value, checked: preview.paymentMethod === value }),
			text,
		);
	const place = form(
		{ id: "reorder-form" },
		[
			h(
				"fieldset",
				{ class: "payment" },
				h("legend", {}, t("Pagamento", "Payment")),
				method("cash", t("Dinheiro na entrega", "Cash on delivery")),
				method("pix", "PIX"),
			),
			h("button", { type: "submit", id: "place-reorder" }, t("Pedir agora", "Order now")),
		],
		async (values) => {
			try {
				const res = await post(
					"/api/reorders",
					{ orderId, paymentMethod: values.paymentMethod },
					{ headers: { "Idempotency-Key": key } },
				);
				navigate(`/orders/${res.order.id}`);
			} catch (err) {
				throw refusal(err);
			}
		},
	);
	replace(
		root,
		h(
			"section",
			{ class: "card", id: "reorder-preview", dataset: { supplierId: preview.supplier.id } },
			h("h2", {}, t("Pedir de novo", "Order again")),
			h(
				"p",
				{ id: "reorder-supplier" },
				preview.sameSupplier
					? t("Da mesma revenda: ", "From the same supplier: ")
					: t(
							"Sua revenda de antes não pode atender agora; a melhor alternativa: ",
							"Your previous supplier cannot deliver now; the best alternative: ",
						),
				h("strong", {}, preview.supplier.name || t("Revenda", "Supplier")),
			),
			h("ul", { class: "reorder-items" }, preview.items.map(itemLine)),
			h(
				"p",
				{ class: "muted" },
				t("Entrega: ", "Delivery: "),
				money(preview.deliveryFeeCents),
				" · ",
				t("Entregar em: ", "Deliver to: "),
				addressLine(preview.deliveryAddress || {}) || t("o mesmo endereço", "the same address"),
			),
			h(
				"p",
				{ class: "total", id: "reorder-total" },
				`${t("Total estimado", "Estimated total")}: ${money(totalCents)}`,
			),
			place,
			h("p", {}, h("a", { href: "#/shop" }, t("Escolher outra revenda", "Choose another supplier"))),
		),
	);
}
