/**
 * Orders for every role (the server decides which: the customer's own, the supplier's incoming,
 * the courier's deliveries, all for admins) and one order in detail: status history, handover
 * code, the courier's position and ETA, live over GET /api/orders/:id/track, and the moves the
 * signed-in role may make.
 */
import { get, post, put, streamEvents } from "../http.js";
import { afterSale } from "./after-sale.js";
import { reorderLink } from "./reorder.js";
import { addressLine, trackingMap } from "../map.js";
import { cancelReasonText, paymentFailureText } from "../reasons.js";
import { tokenizeCard } from "./shop.js";
import {
	badge,
	dateTime,
	distanceKm,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	km,
	money,
	paymentText,
	replace,
	roleText,
	section,
	select,
	shortId,
	statusText,
	t,
	vehicleText,
} from "../ui.js";

const FINAL = ["delivered", "cancelled"];

export async function list(root, { user }) {
	const rows = h("div", { id: "orders-list" });
	const titles = {
		customer: t("Meus pedidos", "My orders"),
		supplier: t("Pedidos recebidos", "Incoming orders"),
		courier: t("Minhas entregas", "My deliveries"),
		admin: t("Pedidos", "Orders"),
	};
	const statusFilter = select("status", [
		["", t("Todos", "All")],
		...["created", "confirmed", "in_transit", "delivered", "cancelled"].map((s) => [s, statusText(s)]),
	]);
	const load = async () => {
		try {
			const res = await get("/api/orders", { status: statusFilter.value, pageSize: 50 });
			replace(rows, res.rows.length ? orderTable(res.rows, user) : empty(t("Nenhum pedido ainda.", "No orders yet.")));
		} catch (err) {
			replace(rows, errorLine(err));
		}
	};
	statusFilter.addEventListener("change", load);
	replace(root, section(titles[user.role], field(t("Situação", "Status"), statusFilter), rows));
	await load();
	const timer = setInterval(load, 15_000);
	return () => clearInterval(timer);
}

function orderTable(orders, user) {
	return h(
		"table",
		{ class: "table" },
		h(
			"thead",
			{},
			h(
				"tr",
				{},
				h("th", {}, t("Pedido", "Order")),
				h("th", {}, t("Data", "Date")),
				user.role === "customer" ? h("th", {}, t("Revenda", "Supplier")) : null,
				h("th", {}, t("Itens", "Items")),
				h("th", {}, "Total"),
				h("th", {}, t("Situação", "Status")),
			),
		),
		h(
			"tbody",
			{},
			orders.map((o) =>
				h(
					"tr",
					{ dataset: { orderId: o.id } },
					h("td", {}, h("a", { href: `#/orders/${o.id}` }, shortId(o.id))),
					h("td", {}, dateTime(o.createdAt)),
					user.role === "customer" ? h("td", {}, o.supplierName || "—") : null,
					h("td", {}, itemsSummary(o.items)),
					h("td", {}, money(o.totalCents)),
					h(
						"td",
						{},
						badge(o.status),
						o.status === "cancelled" && o.cancelReason
							? h("span", { class: "muted reason" }, ` ${cancelReasonText(o.cancelReason)}`)
							: null,
					),
				),
			),
		),
	);
}

const itemsSummary = (items) =>
	(items || [])
		.map((i) => `${i.quantity}× ${i.type}${i.exchange ? "" : t(" (sem troca)", " (no exchange)")}`)
		.join(", ");

export async function detail(root, { params, user }) {
	const state = { order: null, live: null, stopped: false };
	const controller = new AbortController();
	const liveBox = h("div", { id: "courier-live", class: "live" });
	// The map is made once and kept across repaints (only the courier's marker moves).
	state.liveInfo = h("div", { class: "live-info" });
	state.mapHolder = h("div", { class: "live-map" });
	liveBox.append(state.liveInfo, state.mapHolder);

	const repaint = () => paintDetail(root, state, user, liveBox, reload);
	async function reload() {
		state.order = await get(`/api/orders/${encodeURIComponent(params.id)}`);
		if (state.order.courier) {
			state.live = { ...state.order.courier.position, etaMinutes: state.order.courier.etaMinutes };
			if (state.order.courier.courier) state.who = state.order.courier.courier;
		}
		repaint();
	}
	await reload();

	const mayTrack = ["customer", "admin"].includes(user.role);
	if (mayTrack && !FINAL.includes(state.order.status)) track(state, controller.signal, liveBox, reload);
	return () => {
		state.stopped = true;
		controller.abort();
	};
}

/** Follows the SSE stream; reconnects after a drop until the order is final or the view is left. */
async function track(state, signal, liveBox, reload) {
	while (!state.stopped && !FINAL.includes(state.order.status)) {
		try {
			await streamEvents(
				`/api/orders/${encodeURIComponent(state.order.id)}/track`,
				(name, data) => {
					if (name === "position" || (data && data.position)) {
						state.live = name === "position" ? data : data.position;
						paintLive(liveBox, state);
					}
					if (name === "status" && data && data.status && data.status !== state.order.status)
						reload().catch(() => undefined);
				},
				signal,
			);
		} catch {
			if (signal.aborted) return;
		}
		if (state.stopped) return;
		await new Promise((r) => setTimeout(r, 3000));
		await reload().catch(() => undefined);
	}
}

function paintDetail(root, state, user, liveBox, reload) {
	const o = state.order;
	const actions = h("div", { class: "actions" }, orderActions(o, user, reload));
	paintLive(liveBox, state);
	replace(
		root,
		h(
			"section",
			{ class: "card order-detail", dataset: { status: o.status } },
			h(
				"div",
				{ class: "offer-head" },
				h("h2", {}, t("Pedido ", "Order "), shortId(o.id)),
				h("span", { id: "order-status" }, badge(o.status)),
			),
			o.status === "confirmed" && PREPARATION_LINE[o.preparation]
				? h("p", { id: "order-preparation", class: "success" }, t(...PREPARATION_LINE[o.preparation]))
				: null,
			o.handoverCode && !FINAL.includes(o.status)
				? h(
						"p",
						{ class: "handover" },
						t("Código de entrega: ", "Handover code: "),
						h("strong", { id: "handover-code" }, o.handoverCode),
						h("small", {}, t(" — informe ao entregador ao receber", " — tell the courier when you receive it")),
					)
				: null,
			["confirmed", "in_transit"].includes(o.status) ? liveBox : null,
			o.status === "created" && !retryOpen(o)
				? h(
						"p",
						{ class: "muted" },
						t("Aguardando confirmação do pagamento…", "Waiting for the payment to be confirmed…"),
					)
				: null,
			o.status === "created" && retryOpen(o) && user.role === "customer" ? retryPayment(o, reload) : null,
			h(
				"dl",
				{ class: "facts" },
				fact(t("Revenda", "Supplier"), o.supplierName || o.supplierId),
				fact(t("Itens", "Items"), itemsSummary(o.items)),
				fact(t("Produtos", "Products"), money(o.totals && o.totals.itemsCents)),
				o.totals && o.totals.depositsCents
					? fact(t("Vasilhames", "Cylinder deposits"), money(o.totals.depositsCents))
					: null,
				fact(t("Entrega", "Delivery"), `${money(o.totals && o.totals.deliveryFeeCents)} (${km(o.distanceKm)})`),
				fact("Total", h("strong", {}, money(o.totalCents))),
				fact(t("Pagamento", "Payment"), `${paymentText(o.paymentMethod)} · ${statusText(o.paymentStatus)}`),
				fact(t("Endereço", "Address"), addressText(o)),
				o.promisedBy ? fact(t("Previsto até", "Promised by"), dateTime(o.promisedBy)) : null,
				o.changeForCents ? fact(t("Troco para", "Change for"), money(o.changeForCents)) : null,
				o.scheduledSlot
					? fact(t("Agendado", "Scheduled"), `${dateTime(o.scheduledSlot.from)} – ${dateTime(o.scheduledSlot.to)}`)
					: null,
				o.cancelReason ? fact(t("Motivo do cancelamento", "Cancel reason"), cancelReasonText(o.cancelReason)) : null,
			),
			actions,
			reorderLink(o, user),
			afterSale(o, user),
			h("h3", {}, t("Histórico", "History")),
			h(
				"ol",
				{ class: "history", id: "history" },
				(o.history || []).map((entry) =>
					h(
						"li",
						{},
						badge(entry.status),
						" ",
						dateTime(entry.at),
						" · ",
						roleText(entry.role) || entry.role,
						entry.reason ? ` · ${cancelReasonText(entry.reason)}` : "",
						entry.note ? ` · ${entry.note}` : "",
						entry.stage ? ` · ${entry.label || statusText(entry.stage)}` : "",
					),
				),
			),
			h("p", {}, h("a", { href: "#/orders" }, t("← Voltar aos pedidos", "← Back to orders"))),
		),
	);
	// A PIX order, or one paid again by PIX after a declined card.
	if (o.paymentMethod !== "cash" && o.paymentStatus === "pending" && user.role === "customer")
		showPixCode(actions, o.id);
}

/** What the supplier's preparation stage (lib/domain/preparation.ts) tells the order's parties. */
const PREPARATION_LINE = {
	accepted: ["A revenda aceitou o pedido", "The supplier accepted the order"],
	preparing: ["A revenda está preparando o pedido", "The supplier is preparing the order"],
	ready: ["Pedido pronto, aguardando o entregador", "Order ready, waiting for the courier"],
};

const fact = (term, value) => [h("dt", {}, term), h("dd", {}, value)];

function addressText(o) {
	const a = o.deliveryAddress || {};
	const line = addressLine(a);
	const cep = a.postcode ? ` · CEP ${a.postcode}` : "";
	return line ? line + cep : t("Ponto marcado no mapa", "The pin on the map");
}

/** A failed payment the customer may still replace (PAYMENT_RETRY_GRACE_MS). */
const retryOpen = (o) => o.paymentStatus === "failed" && Date.parse(o.paymentRetryUntil || "") > Date.now();

/** Pay again after a decline: PIX or another card, before the window closes. */
function retryPayment(o, reload) {
	const until = new Date(o.paymentRetryUntil).toLocaleTimeString(t("pt-BR", "en-GB"), {
		hour: "2-digit",
		minute: "2-digit",
	});
	const pay = async (body) => {
		await post("/api/payments", { orderId: o.id, ...body });
		// The order learns of the new payment from its event: wait a moment for it, then repaint.
		for (let i = 0; i < 20; i++) {
			const current = await get(`/api/orders/${encodeURIComponent(o.id)}`);
			if (current.paymentStatus !== "failed") break;
			await new Promise((r) => setTimeout(r, 250));
		}
		await reload();
	};
	const cardBox = h(
		"div",
		{ class: "card-form" },
		field(
			t("Número do cartão", "Card number"),
			input("cardNumber", { inputmode: "numeric", autocomplete: "cc-number", maxlength: 23 }),
		),
		h(
			"div",
			{ class: "row" },
			field(t("Validade (MM/AA)", "Expiry (MM/YY)"), input("expiry", { inputmode: "numeric", maxlength: 5 })),
			field(t("Código de segurança", "Security code"), input("cvc", { inputmode: "numeric", maxlength: 4 })),
		),
	);
	return h(
		"div",
		{ class: "retry-payment", id: "retry-payment", role: "alert" },
		h(
			"p",
			{},
			h("strong", {}, t("Pagamento não aprovado: ", "Payment not approved: "), paymentFailureText(o.paymentFailure)),
			". ",
			t(`Seu pedido fica reservado até ${until}; pague de novo:`, `Your order is held until ${until}; pay again:`),
		),
		form(
			{ class: "inline", id: "retry-pix" },
			[h("button", { type: "submit" }, t("Pagar com PIX", "Pay with PIX"))],
			() => pay({ method: "pix" }),
		),
		form(
			{ id: "retry-card" },
			[
				cardBox,
				h("button", { type: "submit", class: "secondary" }, t("Pagar com outro cartão", "Pay with another card")),
			],
			async (values) => pay({ method: "card", paymentToken: (await tokenizeCard(values)).token }),
		),
	);
}

/** Who is coming: name, vehicle and plate, and a button to call. */
function courierCard(who) {
	if (!who) return null;
	return h(
		"div",
		{ class: "courier-card", id: "courier-card" },
		h("strong", {}, who.name || t("Entregador", "Courier")),
		who.plate
			? h(
					"span",
					{},
					`${vehicleText(who.vehicle)} · ${t("placa", "plate")} `,
					h("b", { id: "courier-plate" }, who.plate),
				)
			: null,
		who.phone
			? h(
					"a",
					{ class: "call-button", id: "call-courier", href: `tel:${who.phone.replace(/[^\d+]/g, "")}` },
					t("Ligar", "Call"),
				)
			: null,
	);
}

function paintLive(liveBox, state) {
	const box = state.liveInfo;
	const p = state.live;
	const o = state.order;
	if (o && o.deliveryLocation && o.courierId && !state.map && p && Number.isFinite(p.lat)) {
		state.map = trackingMap(o.deliveryLocation);
		state.mapHolder.append(state.map.element);
	}
	if (state.map && p && Number.isFinite(p.lat)) state.map.update(p);
	if (!p || !Number.isFinite(p.lat)) {
		replace(
			box,
			h(
				"p",
				{ class: "muted" },
				o && o.courierId
					? t("Entregador designado; aguardando a posição…", "Courier assigned; waiting for their position…")
					: t("Procurando um entregador…", "Looking for a courier…"),
			),
		);
		return;
	}
	const away = o && o.deliveryLocation ? distanceKm(p, o.deliveryLocation) : null;
	replace(
		box,
		courierCard(state.who),
		h("p", {}, t("Entregador a ", "Courier "), h("strong", {}, km(away)), t(" de você", " away")),
		Number.isFinite(p.etaMinutes)
			? h(
					"p",
					{ id: "eta" },
					t("Chega em cerca de ", "Arrives in about "),
					h("strong", {}, `${Math.max(1, Math.round(p.etaMinutes))} min`),
				)
			: null,
		h("small", { class: "muted" }, `${t("atualizado", "updated")} ${dateTime(p.at)}`),
	);
}

async function showPixCode(container, orderId) {
	try {
		const res = await get("/api/payments", { orderId });
		const payment = res.rows.find((p) => p.pixCode);
		if (payment)
			container.prepend(
				h("p", { class: "pix" }, t("PIX copia e cola: ", "PIX code: "), h("code", {}, payment.pixCode)),
			);
	} catch {
		// the order still shows; the code can be fetched again by reloading
	}
}

/** The moves this role may make on the order now. */
export function orderActions(o, user, onChanged) {
	const out = [];
	const move = async (body) => {
		await put(`/api/orders/${encodeURIComponent(o.id)}/status`, body);
		await onChanged();
	};
	const mine = user.role === "courier" && o.courierId === user.id;
	if (mine && o.status === "confirmed")
		out.push(
			form(
				{ class: "inline", id: "start-delivery" },
				[h("button", { type: "submit" }, t("Saí para entrega", "Start delivery"))],
				() => move({ status: "in_transit" }),
			),
		);
	if (mine && o.status === "in_transit")
		out.push(
			form(
				{ class: "inline", id: "deliver-form" },
				[
					field(
						t("Código de entrega do cliente", "Customer's handover code"),
						input("handoverCode", { inputmode: "numeric", pattern: "\\d{4,8}", required: true }),
					),
					h("button", { type: "submit" }, t("Confirmar entrega", "Confirm delivery")),
				],
				(values) => move({ status: "delivered", handoverCode: values.handoverCode }),
			),
		);
	if (["created", "confirmed"].includes(o.status) && user.role !== "courier") {
		const needsReason = user.role !== "customer";
		out.push(
			form(
				{ class: "inline", id: "cancel-form" },
				[
					field(
						needsReason ? t("Motivo do cancelamento", "Why cancel") : t("Motivo (opcional)", "Reason (optional)"),
						input("reason", { required: needsReason, maxlength: 500 }),
					),
					h("button", { type: "submit", class: "danger" }, t("Cancelar pedido", "Cancel order")),
				],
				(values) => {
					if (!confirm(t("Cancelar este pedido?", "Cancel this order?"))) return;
					return move(values.reason ? { status: "cancelled", reason: values.reason } : { status: "cancelled" });
				},
			),
		);
	}
	return out;
}
