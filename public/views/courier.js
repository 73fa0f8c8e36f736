/**
 * The courier's screen: profile (vehicle, capacity), available/offline, location reports (a button
 * and an automatic sender while available or on a delivery) and the assigned order with its moves.
 */
import { ApiError, get, post, put } from "../http.js";
import {
	badge,
	currentPosition,
	dateTime,
	empty,
	errorLine,
	field,
	form,
	h,
	input,
	money,
	num,
	replace,
	section,
	select,
	showError,
	t,
} from "../ui.js";
import { orderActions } from "./orders.js";

const AUTO_SEND_MS = 5_000;
const VEHICLES = [
	["motorcycle", t("Moto", "Motorcycle")],
	["car", t("Carro", "Car")],
	["van", "Van"],
	["truck", t("Caminhão", "Truck")],
	["bicycle", t("Bicicleta", "Bicycle")],
];

const vehicleText = (type) => (VEHICLES.find(([value]) => value === type) || [type, type])[1];

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
				field(t("Veículo", "Vehicle"), select("vehicleType", VEHICLES)),
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
			const orders = [...inTransit.rows, ...confirmed.rows];
			replace(
				ordersBox,
				orders.length
					? orders.map((o) => assignedOrder(o, user, loadOrders))
					: empty(t("Nenhuma entrega atribuída a você agora.", "No delivery assigned to you right now.")),
			);
		} catch (err) {
			replace(ordersBox, errorLine(err));
		}
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
		section(t("Entrega atual", "Current delivery"), ordersBox),
	);
	loadOrders();
	const poll = setInterval(loadOrders, 10_000);
	return () => {
		clearInterval(poll);
		clearInterval(autoTimer);
	};
}

function assignedOrder(o, user, reload) {
	const a = o.deliveryAddress || {};
	return h(
		"article",
		{ class: "card assigned", dataset: { orderId: o.id } },
		h(
			"div",
			{ class: "offer-head" },
			h("h3", {}, h("a", { href: `#/orders/${o.id}` }, `#${o.id.slice(-6).toUpperCase()}`)),
			badge(o.status),
		),
		h(
			"p",
			{},
			(o.items || []).map((i) => `${i.quantity}× ${i.type}`).join(", "),
			" · ",
			money(o.totalCents),
			" · ",
			o.paymentMethod === "cash" ? t("receber em dinheiro", "collect cash") : t("pago", "paid"),
		),
		h(
			"p",
			{},
			t("Retirar em: ", "Pick up at: "),
			o.supplierName || "—",
			o.supplierLocation ? ` (${o.supplierLocation.lat.toFixed(5)}, ${o.supplierLocation.lng.toFixed(5)})` : "",
		),
		h(
			"p",
			{},
			t("Entregar em: ", "Deliver to: "),
			[[a.street, a.number].filter(Boolean).join(", "), a.complement, a.city].filter(Boolean).join(" · ") || "—",
			` (${o.deliveryLocation.lat.toFixed(5)}, ${o.deliveryLocation.lng.toFixed(5)})`,
			a.notes ? ` — ${a.notes}` : "",
		),
		h("div", { class: "actions" }, orderActions(o, user, reload)),
	);
}
