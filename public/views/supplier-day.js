/**
 * The supplier's day (#/today, its home): the orders of today in lanes — Novos (to accept or start),
 * Em preparo, Prontos (waiting for the courier), A caminho, Entregues/cancelados hoje — each card
 * with what to prepare, where it goes in words, the scheduled slot, the customer's first name, the
 * courier assigned (name and plate) and the button for the next step: Aceitar, Preparar, Pronto
 * (PUT /api/orders/:id/preparation), Entregar ao entregador (PUT /api/orders/:id/status in_transit,
 * only once a courier is assigned); cancelling takes a reason. Refreshed every REFRESH_MS.
 *
 * And the supplier's own couriers (#/my-couriers): status, load and capacity, the orders each
 * carries now, and a link to invite one.
 */
import { get, put } from "../http.js";
import { addressLine } from "../map.js";
import { cancelReasonText } from "../reasons.js";
import {
	badge,
	dateTime,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	money,
	paymentText,
	replace,
	section,
	shortId,
	t,
	vehicleText,
} from "../ui.js";

const REFRESH_MS = 10_000;

const LANES = [
	["new", "Novos", "New"],
	["preparing", "Em preparo", "Being prepared"],
	["ready", "Prontos", "Ready"],
	["on-the-way", "A caminho", "On the way"],
	["done", "Entregues/cancelados hoje", "Delivered/cancelled today"],
];

/** Which lane an order is in: paid orders by their preparation stage, then by status. */
export function laneOf(o) {
	if (o.status === "in_transit") return "on-the-way";
	if (o.status === "delivered" || o.status === "cancelled") return "done";
	if (o.status === "confirmed" && o.preparation === "preparing") return "preparing";
	if (o.status === "confirmed" && o.preparation === "ready") return "ready";
	return "new";
}

/** The next step of an order on the day view: a preparation stage or the handover; null when there is none. */
const NEXT_STEP = {
	none: { stage: "accepted", text: ["Aceitar", "Accept"] },
	accepted: { stage: "preparing", text: ["Preparar", "Prepare"] },
	preparing: { stage: "ready", text: ["Pronto", "Ready"] },
	ready: { handover: true, text: ["Entregar ao entregador", "Hand to the courier"] },
};

const startOfToday = () => {
	const d = new Date();
	d.setHours(0, 0, 0, 0);
	return d;
};

/** Open orders (any day) and those of today; finished ones only if they ended today. */
async function loadDay() {
	const since = startOfToday().toISOString();
	const pages = await Promise.all([
		get("/api/orders", { from: since, pageSize: 100 }),
		get("/api/orders", { status: "confirmed", pageSize: 100 }),
		get("/api/orders", { status: "in_transit", pageSize: 100 }),
	]);
	const byId = new Map();
	for (const page of pages) for (const o of page.rows) byId.set(o.id, o);
	const endedToday = (o) => (o.deliveredAt || o.cancelledAt || o.updatedAt || "") >= since;
	return [...byId.values()].filter((o) => laneOf(o) !== "done" || endedToday(o)).sort(byDue);
}

/** What is due first comes first: the slot's start, else the promise, else when it was placed. */
const dueAt = (o) => (o.scheduledSlot && o.scheduledSlot.from) || o.promisedBy || o.createdAt || "";
const byDue = (a, b) => (dueAt(a) < dueAt(b) ? -1 : dueAt(a) > dueAt(b) ? 1 : 0);

export async function today(root) {
	const state = { orders: [], couriers: new Map(), asked: new Set(), stopped: false, seq: 0 };
	const lanesBox = h("div", { class: "lanes", id: "day-lanes" });
	const updated = h("p", { class: "day-updated", id: "day-updated" });
	const problem = h("div", { id: "day-error" });

	async function refresh() {
		// Only the latest refresh paints (a periodic one that started before a move must not undo it).
		const seq = ++state.seq;
		try {
			const [orders] = await Promise.all([loadDay(), loadCouriers(state)]);
			if (state.stopped || seq !== state.seq) return;
			state.orders = orders;
			await nameOtherCouriers(state);
			if (state.stopped || seq !== state.seq) return;
			replace(problem);
			paint();
			replace(updated, t("Atualizado às ", "Updated at "), clock(new Date().toISOString()));
		} catch (err) {
			if (seq === state.seq) replace(problem, errorLine(err));
		}
	}

	function paint() {
		replace(
			lanesBox,
			LANES.map(([id, pt, en]) => {
				const cards = state.orders.filter((o) => laneOf(o) === id);
				return h(
					"section",
					{ class: "lane", id: `lane-${id}`, "aria-labelledby": `lane-${id}-title` },
					h("h3", { id: `lane-${id}-title` }, t(pt, en), h("span", { class: "muted" }, `(${cards.length})`)),
					cards.length ? cards.map((o) => dayCard(o, state.couriers, refresh)) : empty(t("Nenhum pedido", "No orders")),
				);
			}),
		);
	}

	replace(root, section(t("Hoje", "Today"), updated, problem, lanesBox));
	await refresh();
	// A periodic repaint would wipe a cancel reason being typed: it waits until no cancel form is open.
	const timer = setInterval(() => {
		if (!root.querySelector(".day-card details[open]")) refresh();
	}, REFRESH_MS);
	return () => {
		state.stopped = true;
		clearInterval(timer);
	};
}

/** The supplier's own couriers: id → { name, plate }. */
async function loadCouriers(state) {
	const res = await get("/api/couriers", { pageSize: 100 });
	for (const c of res.rows) state.couriers.set(c.id, { name: c.name, plate: c.vehicle && c.vehicle.plate });
}

/** A courier who is not the supplier's own: its name and plate from the order's page (asked once per courier). */
async function nameOtherCouriers(state) {
	const unknown = state.orders.filter(
		(o) => o.courierId && !state.couriers.has(o.courierId) && !state.asked.has(o.courierId),
	);
	await Promise.all(
		unknown.map(async (o) => {
			state.asked.add(o.courierId);
			try {
				const full = await get(`/api/orders/${encodeURIComponent(o.id)}`);
				const who = full.courier && full.courier.courier;
				if (who) state.couriers.set(o.courierId, { name: who.name, plate: who.plate });
			} catch {
				// the card says a courier is assigned, without the name
			}
		}),
	);
}

const clock = (iso) => new Date(iso).toLocaleTimeString(t("pt-BR", "en-GB"), { hour: "2-digit", minute: "2-digit" });

function slotText(slot) {
	const from = new Date(slot.from);
	const sameDay = from.toDateString() === new Date().toDateString();
	const day = sameDay ? "" : `${from.toLocaleDateString(t("pt-BR", "en-GB"), { day: "2-digit", month: "2-digit" })} `;
	return `${day}${clock(slot.from)}–${clock(slot.to)}`;
}

const itemsText = (items) =>
	(items || [])
		.map((i) => `${i.quantity}× ${i.type}${i.exchange === false ? t(" (sem troca)", " (no exchange)") : ""}`)
		.join(", ");

const firstName = (name) => (name || "").trim().split(/\s+/)[0] || t("Cliente", "Customer");

function courierText(o, couriers) {
	if (!o.courierId) return t("Aguardando um entregador ser designado", "Waiting for a courier to be assigned");
	const who = couriers.get(o.courierId);
	if (!who) return t("Entregador designado", "Courier assigned");
	return [who.name || t("Entregador", "Courier"), who.plate ? `${t("placa", "plate")} ${who.plate}` : null]
		.filter(Boolean)
		.join(" · ");
}

const fact = (term, value, cls) => [h("dt", {}, term), h("dd", { class: cls }, value)];

function dayCard(o, couriers, onChanged) {
	const errorBox = h("div", { class: "card-error" });
	const act = async (button, request) => {
		button.disabled = true;
		replace(errorBox);
		try {
			await request();
			await onChanged();
		} catch (err) {
			button.disabled = false;
			replace(errorBox, errorLine(err));
		}
	};
	const address = addressLine(o.deliveryAddress) || t("Ponto marcado no mapa", "The pin on the map");
	const open = o.status === "created" || o.status === "confirmed";
	return h(
		"article",
		{
			class: "card day-card",
			id: `day-${o.id}`,
			dataset: { orderId: o.id, status: o.status, stage: o.preparation || "" },
		},
		h(
			"div",
			{ class: "offer-head" },
			h("h4", {}, h("a", { href: `#/orders/${o.id}` }, shortId(o.id)), " · ", firstName(o.customerName)),
			badge(o.status === "confirmed" && o.preparation ? o.preparation : o.status),
		),
		h(
			"dl",
			{ class: "facts" },
			fact(t("Itens", "Items"), itemsText(o.items), "items"),
			fact(t("Endereço", "Address"), address, "address"),
			o.scheduledSlot ? fact(t("Agendado", "Scheduled"), slotText(o.scheduledSlot), "slot") : null,
			!o.scheduledSlot && o.promisedBy && open ? fact(t("Prometido até", "Promised by"), clock(o.promisedBy)) : null,
			fact(
				t("Pagamento", "Payment"),
				`${money(o.totalCents)} · ${paymentText(o.paymentMethod)}${o.changeForCents ? ` · ${t("troco para", "change for")} ${money(o.changeForCents)}` : ""}`,
			),
			o.status !== "cancelled" ? fact(t("Entregador", "Courier"), courierText(o, couriers), "courier") : null,
			o.status === "delivered" ? fact(t("Entregue", "Delivered"), dateTime(o.deliveredAt)) : null,
			o.cancelReason ? fact(t("Motivo", "Reason"), cancelReasonText(o.cancelReason)) : null,
		),
		o.status === "created" ? h("p", { class: "muted" }, t("Aguardando o pagamento", "Waiting for the payment")) : null,
		h("div", { class: "actions" }, nextStepButton(o, act)),
		errorBox,
		open ? cancelForm(o, onChanged) : null,
	);
}

function nextStepButton(o, act) {
	if (o.status !== "confirmed") return null;
	const step = NEXT_STEP[o.preparation || "none"];
	if (!step) return null;
	const id = encodeURIComponent(o.id);
	if (step.handover) {
		const ready = !!o.courierId;
		const button = h(
			"button",
			{
				type: "button",
				class: "next-step handover",
				disabled: !ready,
				"aria-describedby": ready ? null : `wait-${o.id}`,
				onclick: () => act(button, () => put(`/api/orders/${id}/status`, { status: "in_transit" })),
			},
			t(...step.text),
		);
		return [
			button,
			ready
				? null
				: h(
						"small",
						{ class: "hint", id: `wait-${o.id}` },
						t("Disponível quando um entregador for designado", "Available once a courier is assigned"),
					),
		];
	}
	const button = h(
		"button",
		{
			type: "button",
			class: "next-step",
			dataset: { stage: step.stage },
			onclick: () => act(button, () => put(`/api/orders/${id}/preparation`, { stage: step.stage })),
		},
		t(...step.text),
	);
	return button;
}

/** Cancelling says why (the customer reads it); folded until asked for. */
function cancelForm(o, onChanged) {
	return h(
		"details",
		{ class: "cancel" },
		h("summary", {}, t("Cancelar pedido", "Cancel order")),
		form(
			{ class: "cancel-form" },
			[
				field(t("Motivo do cancelamento", "Why cancel"), input("reason", { maxlength: 500, id: `reason-${o.id}` })),
				h("button", { type: "submit", class: "danger" }, t("Confirmar cancelamento", "Confirm cancellation")),
			],
			async (values, el) => {
				const body = values.reason ? { status: "cancelled", reason: values.reason } : { status: "cancelled" };
				await put(`/api/orders/${encodeURIComponent(o.id)}/status`, body);
				el.closest("details").open = false;
				await onChanged();
			},
		),
	);
}

// ── The supplier's couriers ─────────────────────────────────────────────────────────────────

export async function myCouriers(root) {
	const listBox = h("div", { id: "my-couriers" });
	const load = async () => {
		try {
			const res = await get("/api/couriers", { pageSize: 100 });
			replace(
				listBox,
				res.rows.length
					? courierTable(res.rows)
					: empty(
							t(
								"Nenhum entregador ainda. Convide um para entregar os seus pedidos.",
								"No couriers yet. Invite one to deliver your orders.",
							),
						),
			);
		} catch (err) {
			replace(listBox, errorLine(err));
		}
	};
	replace(
		root,
		section(
			t("Meus entregadores", "My couriers"),
			h(
				"p",
				{},
				h(
					"a",
					{ class: "button", href: "#/invites", id: "invite-courier" },
					t("Convidar entregador", "Invite a courier"),
				),
			),
			listBox,
		),
	);
	await load();
	const timer = setInterval(load, 15_000);
	return () => clearInterval(timer);
}

function courierTable(rows) {
	return h(
		"table",
		{ class: "table" },
		h(
			"thead",
			{},
			h(
				"tr",
				{},
				[
					t("Entregador", "Courier"),
					t("Situação", "Status"),
					t("Veículo", "Vehicle"),
					t("Carga", "Load"),
					t("Pedidos agora", "Orders now"),
				].map((text) => h("th", {}, text)),
			),
		),
		h(
			"tbody",
			{},
			rows.map((c) =>
				h(
					"tr",
					{ dataset: { courierId: c.id } },
					h("td", { class: "name" }, c.name || t("Entregador", "Courier")),
					h("td", {}, badge(c.status)),
					h(
						"td",
						{},
						`${(c.vehicle && vehicleText(c.vehicle.type)) || "—"}${c.vehicle && c.vehicle.plate ? ` · ${c.vehicle.plate}` : ""}`,
					),
					h("td", { class: "load" }, `${c.load ?? 0}/${c.capacity} ${t("botijões", "cylinders")}`),
					h(
						"td",
						{ class: "current-orders" },
						(c.orderIds || []).length
							? (c.orderIds || []).map((id, i) => [i ? ", " : "", h("a", { href: `#/orders/${id}` }, shortId(id))])
							: "—",
					),
				),
			),
		),
	);
}
