/**
 * The courier's screen: profile (vehicle, capacity), available/offline, location reports (a button
 * and an automatic sender while available or on a delivery) and the assigned order with its moves.
 */
import { ApiError, get, post, put } from "../http.js";
import {
	badge,
	currentPosition,
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
	num,
	replace,
	section,
	select,
	shortId,
	showError,
	t,
	VEHICLE_TYPES,
	vehicleText,
} from "../ui.js";
import { orderActions } from "./orders.js";

const AUTO_SEND_MS = 5_000;

export async function render(root, ctx) {
	const { user } = ctx;
	if (user.status !== "active")
		return replace(
			root,
			section(
				t("Conta em verificação", "Account being verified"),
				h(
					"p",
					{},
					t(
						"Você poderá fazer entregas depois que seus documentos forem aprovados. ",
						"You can take deliveries once your documents are approved. ",
					),
					h("a", { href: "#/verification" }, t("Enviar documentos", "Upload documents")),
				),
			),
		);
	const profile = await loadProfile(user.id);
	if (!profile)
		return replace(
			root,
			profileForm(() => render(root, ctx)),
		);
	return dashboard(root, ctx, profile);
}

async function loadProfile(id) {
	try {
		return await get(`/api/couriers/${encodeURIComponent(id)}`);
	} catch (err) {
		if (err instanceof ApiError && err.status === 404) return null;
		throw err;
	}
}

function profileForm(onCreated) {
	return section(
		t("Seu veículo", "Your vehicle"),
		h(
			"p",
			{ class: "muted" },
			t("Cadastre o veículo que você usa para entregar.", "Tell us which vehicle you deliver with."),
		),
		form(
			{ id: "courier-profile-form" },
			[
				field(
					t("Veículo", "Vehicle"),
					select(
						"vehicleType",
						VEHICLE_TYPES.map((type) => [type, vehicleText(type)]),
					),
				),
				field(t("Placa", "Plate"), input("plate", { required: true, placeholder: "ABC1D23" })),
				field(
					t("Capacidade (botijões)", "Capacity (cylinders)"),
					input("capacity", { type: "number", min: 1, max: 200, value: "4" }),
				),
				h("button", { type: "submit" }, t("Salvar", "Save")),
			],
			async (values) => {
				await post("/api/couriers", {
					vehicle: { type: values.vehicleType, plate: values.plate },
					capacity: Number(values.capacity),
				});
				onCreated();
			},
		),
	);
}

function dashboard(root, { user }, initialProfile) {
	let profile = initialProfile;
	let autoTimer = null;
	let lastManual = null;
	const statusBox = h("div", { id: "courier-status" });
	const locationLog = h("p", { id: "location-log", class: "muted" });
	const ordersBox = h("div", { id: "assigned-orders" });
	const offersBox = h("div", { id: "offers", "aria-live": "polite" });
	let offers = [];
	const lat = input("lat", { inputmode: "decimal", placeholder: "-23.5505" });
	const lng = input("lng", { inputmode: "decimal", placeholder: "-46.6333" });

	const sendPosition = async (pos) => {
		const body = { lat: pos.lat, lng: pos.lng, at: new Date().toISOString() };
		if (Number.isFinite(pos.accuracy)) body.accuracy = Math.min(pos.accuracy, 100_000);
		if (Number.isFinite(pos.speed) && pos.speed >= 0) body.speed = Math.min(pos.speed, 150);
		if (Number.isFinite(pos.heading) && pos.heading >= 0) body.heading = pos.heading % 360;
		const res = await put(`/api/couriers/${encodeURIComponent(user.id)}/location`, body);
		locationLog.textContent = res.accepted
			? `${t("Posição enviada", "Position sent")}: ${pos.lat.toFixed(5)}, ${pos.lng.toFixed(5)} · ${dateTime(body.at)}`
			: `${t("Posição ignorada", "Position ignored")} (${res.reason})`;
	};

	/** The device's position, or the coordinates typed last when the device cannot tell. */
	const positionNow = async () => {
		try {
			return await currentPosition(4_000);
		} catch (err) {
			if (lastManual) return lastManual;
			throw err;
		}
	};

	const autoSend = () => {
		clearInterval(autoTimer);
		autoTimer = null;
		if (!["available", "busy"].includes(profile.status)) return;
		autoTimer = setInterval(async () => {
			try {
				await sendPosition(await positionNow());
			} catch (err) {
				locationLog.textContent = err.message;
			}
		}, AUTO_SEND_MS);
	};

	const paintStatus = () => {
		const next = profile.status === "available" ? "offline" : "available";
		replace(
			statusBox,
			h("p", {}, t("Situação: ", "Status: "), badge(profile.status)),
			profile.status === "busy"
				? h("p", { class: "muted" }, t("Você está em uma entrega.", "You are on a delivery."))
				: h(
						"button",
						{
							type: "button",
							id: "toggle-status",
							class: next === "available" ? "" : "secondary",
							onclick: () => setStatus(next),
						},
						next === "available" ? t("Ficar disponível", "Go available") : t("Ficar offline", "Go offline"),
					),
			h(
				"small",
				{ class: "muted" },
				["available", "busy"].includes(profile.status)
					? t(
							`Enviando sua posição a cada ${AUTO_SEND_MS / 1000} s.`,
							`Sending your position every ${AUTO_SEND_MS / 1000} s.`,
						)
					: "",
			),
		);
	};

	const setStatus = async (status) => {
		try {
			profile = await put(`/api/couriers/${encodeURIComponent(user.id)}/status`, { status });
			paintStatus();
			autoSend();
			if (status === "available")
				positionNow()
					.then(sendPosition)
					.catch((err) => (locationLog.textContent = err.message));
		} catch (err) {
			statusBox.append(errorLine(err));
		}
	};

	const loadOrders = async () => {
		try {
			const [confirmed, inTransit, me] = await Promise.all([
				get("/api/orders", { status: "confirmed" }),
				get("/api/orders", { status: "in_transit" }),
				get(`/api/couriers/${encodeURIComponent(user.id)}`),
			]);
			const changed = me.status !== profile.status;
			profile = me;
			if (changed) {
				paintStatus();
				autoSend();
			}
			const from = me.position && Number.isFinite(me.position.lat) ? me.position : null;
			const stops = planRoute([...inTransit.rows, ...confirmed.rows], from);
			const orders = ordersInRouteOrder(stops);
			replace(
				ordersBox,
				orders.length
					? [routeList(stops), orders.map((o) => assignedOrder(o, user, loadOrders, from, stops))]
					: empty(t("Nenhuma entrega atribuída a você agora.", "No delivery assigned to you right now.")),
			);
		} catch (err) {
			replace(ordersBox, errorLine(err));
		}
	};

	/** Open job offers, polled often: an offer lasts seconds. */
	const loadOffers = async () => {
		if (!["available", "busy"].includes(profile.status)) offers = [];
		else
			try {
				offers = (await get(`/api/couriers/${encodeURIComponent(user.id)}/offers`)).rows;
			} catch {
				offers = [];
			}
		paintOffers();
	};
	const answer = async (offer, verb, box) => {
		try {
			await post(
				`/api/couriers/${encodeURIComponent(user.id)}/offers/${encodeURIComponent(offer.orderId)}/${verb}`,
				{},
			);
			await Promise.all([loadOffers(), loadOrders()]);
		} catch (err) {
			box.append(errorLine(err));
			loadOffers();
		}
	};
	let painted = "";
	const paintOffers = () => {
		const now = Date.now();
		const open = offers.filter((o) => Date.parse(o.expiresAt) > now);
		// Repainted only when the offers change, so a thumb on a button is never pulled away from it.
		const key = open.map((o) => o.orderId).join(",");
		if (key === painted && offersBox.childElementCount) return;
		painted = key;
		offersBox.hidden = open.length === 0;
		replace(
			offersBox,
			open.length ? h("h2", {}, t("Nova entrega para você", "A new delivery for you")) : null,
			open.map((o) => {
				const card = h("article", { class: "card offer-card", dataset: { orderId: o.orderId } });
				const left = Math.max(0, Math.round((Date.parse(o.expiresAt) - now) / 1000));
				return replace(
					card,
					h(
						"p",
						{},
						t("Responda em ", "Answer within "),
						h("span", { class: "countdown", role: "timer", dataset: { expiresAt: o.expiresAt } }, `${left} s`),
					),
					h(
						"p",
						{},
						`${o.cylinders} ${o.cylinders === 1 ? t("botijão", "cylinder") : t("botijões", "cylinders")}`,
						Number.isFinite(o.totalCents) ? ` · ${money(o.totalCents)}` : "",
						" · ",
						o.paymentMethod === "cash" ? t("receber em dinheiro", "collect cash") : t("pago", "paid"),
					),
					h(
						"p",
						{ class: "muted" },
						Number.isFinite(o.toPickupKm) ? `${t("Até a revenda", "To the supplier")}: ${km(o.toPickupKm)} · ` : "",
						Number.isFinite(o.pickupToDeliveryKm)
							? `${t("da revenda ao cliente", "supplier to customer")}: ${km(o.pickupToDeliveryKm)}`
							: "",
					),
					h(
						"div",
						{ class: "actions" },
						h(
							"button",
							{ type: "button", class: "accept-offer", onclick: () => answer(o, "accept", card) },
							t("Aceitar", "Accept"),
						),
						h(
							"button",
							{ type: "button", class: "secondary decline-offer", onclick: () => answer(o, "decline", card) },
							t("Recusar", "Decline"),
						),
					),
				);
			}),
		);
	};

	const locationForm = form(
		{ id: "location-form" },
		[
			h("div", { class: "row" }, field("Latitude", lat), field("Longitude", lng)),
			h(
				"div",
				{ class: "row" },
				h(
					"button",
					{
						type: "button",
						id: "send-gps",
						class: "secondary",
						onclick: async () => {
							try {
								await sendPosition(await currentPosition());
							} catch (err) {
								showError(locationForm, err);
							}
						},
					},
					t("Enviar minha localização (GPS)", "Send my location (GPS)"),
				),
				h("button", { type: "submit" }, t("Enviar estas coordenadas", "Send these coordinates")),
			),
			locationLog,
		],
		async (values) => {
			lastManual = { lat: num(values.lat), lng: num(values.lng) };
			await sendPosition(lastManual);
		},
	);

	paintStatus();
	autoSend();
	replace(
		root,
		offersBox,
		section(
			t("Disponibilidade", "Availability"),
			h(
				"p",
				{ class: "muted" },
				`${vehicleText(profile.vehicle.type)} · ${profile.vehicle.plate} · ${t("capacidade", "capacity")} ${profile.capacity}`,
			),
			statusBox,
		),
		section(t("Localização", "Location"), locationForm),
		section(t("Suas entregas", "Your deliveries"), ordersBox),
	);
	loadOrders();
	loadOffers();
	const poll = setInterval(loadOrders, 10_000);
	const offerPoll = setInterval(loadOffers, 3_000);
	const tick = setInterval(() => {
		for (const el of offersBox.querySelectorAll(".countdown")) {
			const left = Math.max(0, Math.round((Date.parse(el.dataset.expiresAt) - Date.now()) / 1000));
			el.textContent = `${left} s`;
			if (left === 0) el.closest(".offer-card").hidden = true;
		}
	}, 1_000);
	return () => {
		clearInterval(poll);
		clearInterval(offerPoll);
		clearInterval(tick);
		clearInterval(autoTimer);
	};
}

/** "Rua A, 12 · apto 3 · São Paulo", or null when the order has no street address. */
export function addressWords(a) {
	const parts = [[a.street, a.number].filter(Boolean).join(", "), a.complement, a.city].filter(Boolean);
	return parts.length ? parts.join(" · ") : null;
}

/** A link that opens turn-by-turn directions to a point: Google Maps on the web, geo: for the phone's own app. */
export function directionsLinks(point, label) {
	if (!point || !Number.isFinite(point.lat)) return [];
	const at = `${point.lat.toFixed(6)},${point.lng.toFixed(6)}`;
	return [
		h(
			"a",
			{
				class: "button",
				href: `https://www.google.com/maps/dir/?api=1&destination=${at}&travelmode=driving`,
				target: "_blank",
				rel: "noopener",
			},
			t("Navegar até ", "Directions to "),
			label,
		),
		h(
			"a",
			{ class: "button secondary", href: `geo:${at}?q=${at}(${encodeURIComponent(label)})` },
			t("Abrir no app de mapas", "Open in maps app"),
		),
	];
}

/**
 * The stops of the courier's orders in a sensible order: from where the courier is, always the
 * nearest next stop, a pickup before its delivery (an order in transit was picked up already).
 * Returns [{ order, kind: "pickup" | "delivery", at }].
 */
export function planRoute(orders, from) {
	const pending = [];
	for (const o of orders) {
		const pickedUp = o.status === "in_transit" || !o.supplierLocation;
		if (!pickedUp) pending.push({ order: o, kind: "pickup", at: o.supplierLocation });
		if (o.deliveryLocation) pending.push({ order: o, kind: "delivery", at: o.deliveryLocation, after: !pickedUp });
	}
	const route = [];
	const done = new Set();
	let here = from || (pending[0] && pending[0].at);
	while (pending.length) {
		let best = -1;
		let bestKm = Infinity;
		pending.forEach((stop, i) => {
			if (stop.kind === "delivery" && stop.after && !done.has(stop.order.id)) return;
			const d = here ? distanceKm(here, stop.at) : 0;
			if (d < bestKm) [best, bestKm] = [i, d];
		});
		const [stop] = pending.splice(best, 1);
		if (stop.kind === "pickup") done.add(stop.order.id);
		route.push({ ...stop, km: Number.isFinite(bestKm) ? bestKm : null });
		here = stop.at;
	}
	return route;
}

export function ordersInRouteOrder(stops) {
	const seen = new Map();
	for (const stop of stops) if (!seen.has(stop.order.id)) seen.set(stop.order.id, stop.order);
	return [...seen.values()];
}

function routeList(stops) {
	if (stops.length < 2) return null;
	return h(
		"ol",
		{ class: "route", id: "route", "aria-label": t("Roteiro", "Route") },
		stops.map((stop) =>
			h(
				"li",
				{ dataset: { orderId: stop.order.id, kind: stop.kind } },
				stop.kind === "pickup" ? t("Retirar ", "Pick up ") : t("Entregar ", "Deliver "),
				h("a", { href: `#order-${stop.order.id}` }, shortId(stop.order.id)),
				" · ",
				stop.kind === "pickup"
					? stop.order.supplierName || t("revenda", "supplier")
					: addressWords(stop.order.deliveryAddress || {}) || t("endereço no mapa", "address on the map"),
				Number.isFinite(stop.km) ? h("span", { class: "muted" }, ` (${km(stop.km)})`) : null,
			),
		),
	);
}

function assignedOrder(o, user, reload, from, stops) {
	const a = o.deliveryAddress || {};
	const next = stops.find((s) => s.order.id === o.id);
	const pickedUp = o.status === "in_transit";
	const place = addressWords(a);
	const phone = a.phone || o.customerPhone || null;
	return h(
		"article",
		{ class: "card assigned", id: `order-${o.id}`, dataset: { orderId: o.id } },
		h(
			"div",
			{ class: "offer-head" },
			h("h3", {}, h("a", { href: `#/orders/${o.id}` }, shortId(o.id))),
			badge(o.status),
		),
		h(
			"p",
			{},
			(o.items || []).map((i) => `${i.quantity}× ${i.type}`).join(", "),
			" · ",
			money(o.totalCents),
			" · ",
			o.paymentMethod === "cash" ? h("strong", {}, t("receber em dinheiro", "collect cash")) : t("pago", "paid"),
		),
		h(
			"dl",
			{ class: "facts" },
			h("dt", {}, t("Retirar em", "Pick up at")),
			h(
				"dd",
				{},
				o.supplierName || "—",
				pickedUp ? h("span", { class: "muted" }, t(" (retirado)", " (picked up)")) : "",
			),
			h("dt", {}, t("Entregar para", "Deliver to")),
			h("dd", {}, o.customerName || t("Cliente", "Customer")),
			h("dt", {}, t("Endereço", "Address")),
			h(
				"dd",
				{ class: "address" },
				place || t("Sem endereço escrito: use o mapa", "No written address: use the map"),
				a.notes ? h("div", { class: "muted" }, a.notes) : null,
			),
			h("dt", {}, t("Telefone", "Phone")),
			h(
				"dd",
				{},
				phone
					? h("a", { href: `tel:${phone.replace(/[^+\d]/g, "")}`, class: "phone" }, phone)
					: h("span", { class: "muted" }, t("não informado", "not given")),
			),
			from && o.deliveryLocation ? h("dt", {}, t("Distância", "Distance")) : null,
			from && o.deliveryLocation ? h("dd", {}, km(distanceKm(from, o.deliveryLocation))) : null,
		),
		h(
			"div",
			{ class: "actions nav-links" },
			pickedUp || !o.supplierLocation
				? directionsLinks(o.deliveryLocation, place || t("o cliente", "the customer"))
				: directionsLinks(o.supplierLocation, o.supplierName || t("a revenda", "the supplier")),
			phone
				? h(
						"a",
						{ class: "button secondary", href: `tel:${phone.replace(/[^+\d]/g, "")}` },
						t("Ligar para o cliente", "Call the customer"),
					)
				: null,
		),
		next && next.kind === "pickup" && !pickedUp
			? h("p", { class: "muted" }, t("Próximo passo: retirar na revenda.", "Next: pick up at the supplier."))
			: null,
		h("div", { class: "actions" }, orderActions(o, user, reload)),
	);
}
