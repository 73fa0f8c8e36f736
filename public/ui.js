/**
 * Small DOM helpers shared by the views: element builder (text only, never HTML from data),
 * pt-BR text with an English fallback, money and dates, forms and their errors, geolocation.
 */

const LANG_KEY = "gasrapido.lang";

export function lang() {
	const chosen = localStorage.getItem(LANG_KEY);
	if (chosen === "en" || chosen === "pt") return chosen;
	return (navigator.language || "pt").toLowerCase().startsWith("en") ? "en" : "pt";
}

export function setLang(value) {
	localStorage.setItem(LANG_KEY, value);
}

/** The Portuguese text, or the English one when the user chose English. */
export function t(pt, en) {
	return lang() === "en" && en ? en : pt;
}

/** h("button", { class: "x", onclick }, "text", child) — strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
	const el = document.createElement(tag);
	for (const [key, value] of Object.entries(attrs || {})) {
		if (value === undefined || value === null || value === false) continue;
		if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
		else if (key === "class") el.className = value;
		else if (key === "dataset") Object.assign(el.dataset, value);
		else if (value === true) el.setAttribute(key, "");
		else el.setAttribute(key, String(value));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const child of children.flat(Infinity)) {
		if (child === undefined || child === null || child === false) continue;
		el.append(child instanceof Node ? child : document.createTextNode(String(child)));
	}
}

export function replace(el, ...children) {
	el.replaceChildren();
	append(el, children);
	return el;
}

const moneyFormat = new Intl.NumberFormat("pt-BR", { style: "currency", currency: "BRL" });
export const money = (cents) => (Number.isFinite(cents) ? moneyFormat.format(cents / 100) : "—");

/** "12,50" or "12.50" (reais) → 1250 cents; NaN when it is not a number. */
export function toCents(text) {
	const value = Number(String(text).trim().replace(",", "."));
	return Number.isFinite(value) ? Math.round(value * 100) : NaN;
}

export const centsToInput = (cents) => (Number.isFinite(cents) ? (cents / 100).toFixed(2) : "");

export function dateTime(iso) {
	if (!iso) return "—";
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang() === "en" ? "en-GB" : "pt-BR");
}

/** An order's short number as people read it: "#A1B2C3" (the id's last six characters). */
export const shortId = (id) => `#${String(id).slice(-6).toUpperCase()}`;

export const km = (value) =>
	Number.isFinite(value) ? `${value.toLocaleString("pt-BR", { maximumFractionDigits: 1 })} km` : "—";

const STATUS_TEXT = {
	created: ["Criado", "Created"],
	confirmed: ["Confirmado", "Confirmed"],
	in_transit: ["A caminho", "In transit"],
	delivered: ["Entregue", "Delivered"],
	cancelled: ["Cancelado", "Cancelled"],
	pending: ["Pendente", "Pending"],
	accepted: ["Aceito", "Accepted"],
	preparing: ["Em preparo", "Being prepared"],
	ready: ["Pronto", "Ready"],
	revoked: ["Revogado", "Revoked"],
	expired: ["Expirado", "Expired"],
	claimed: ["Em uso", "Being used"],
	active: ["Ativo", "Active"],
	pending_verification: ["Aguardando verificação", "Pending verification"],
	suspended: ["Suspenso", "Suspended"],
	awaiting_documents: ["Aguardando documentos", "Awaiting documents"],
	in_review: ["Em análise", "In review"],
	approved: ["Aprovado", "Approved"],
	rejected: ["Rejeitado", "Rejected"],
	pending_review: ["Em análise", "Pending review"],
	superseded: ["Substituído", "Superseded"],
	missing: ["Faltando", "Missing"],
	available: ["Disponível", "Available"],
	offline: ["Offline", "Offline"],
	busy: ["Em entrega", "On a delivery"],
	open: ["Aberto", "Open"],
	resolved: ["Resolvido", "Resolved"],
	none: ["—", "—"],
	authorized: ["Autorizado", "Authorized"],
	captured: ["Pago", "Paid"],
	failed: ["Falhou", "Failed"],
	refunded: ["Reembolsado", "Refunded"],
};

export function statusText(status) {
	const text = STATUS_TEXT[status];
	return text ? t(text[0], text[1]) : String(status);
}

export const badge = (status) => h("span", { class: `badge badge-${status}` }, statusText(status));

const VEHICLE_TEXT = {
	motorcycle: ["Moto", "Motorcycle"],
	car: ["Carro", "Car"],
	van: ["Van", "Van"],
	truck: ["Caminhão", "Truck"],
	bicycle: ["Bicicleta", "Bicycle"],
};
/** The vehicle types a courier may register, as the couriers service accepts them. */
export const VEHICLE_TYPES = Object.keys(VEHICLE_TEXT);

/** "motorcycle" → "Moto"; an unknown type as it is. */
export function vehicleText(type) {
	const text = VEHICLE_TEXT[type];
	return text ? t(text[0], text[1]) : type || "";
}

const ROLE_TEXT = {
	customer: ["Cliente", "Customer"],
	supplier: ["Revendedor", "Supplier"],
	courier: ["Entregador", "Courier"],
	admin: ["Administrador", "Admin"],
	system: ["Sistema", "System"],
};
export const roleText = (role) => (ROLE_TEXT[role] ? t(...ROLE_TEXT[role]) : role);

export const PAYMENT_TEXT = {
	card: ["Cartão", "Card"],
	pix: ["PIX", "PIX"],
	cash: ["Dinheiro na entrega", "Cash on delivery"],
	voucher: ["Vale Gás do Povo", "Gás do Povo voucher"],
};
export const paymentText = (method) => (PAYMENT_TEXT[method] ? t(...PAYMENT_TEXT[method]) : method);

/** <label>text <input …></label> */
export function field(label, input, hint) {
	return h(
		"label",
		{ class: "field" },
		h("span", { class: "label" }, label),
		input,
		hint ? h("small", { class: "hint" }, hint) : null,
	);
}

export function input(name, attrs = {}) {
	return h("input", { name, id: attrs.id || `f-${name}`, ...attrs });
}

export function select(name, options, attrs = {}) {
	const el = h("select", { name, id: attrs.id || `f-${name}`, ...attrs });
	for (const [value, text] of options) el.append(h("option", { value }, text));
	if (attrs.value !== undefined) el.value = attrs.value;
	return el;
}

/** A form with an error area at the top; onSubmit(values, form) may throw ApiError, shown in place. */
export function form(attrs, children, onSubmit) {
	const errorBox = h("div", { class: "form-error", role: "alert", hidden: true });
	const el = h("form", { novalidate: true, ...attrs }, errorBox, children);
	el.addEventListener("submit", async (event) => {
		event.preventDefault();
		clearErrors(el);
		const button = el.querySelector("button[type=submit]");
		if (button) button.disabled = true;
		try {
			await onSubmit(formValues(el), el);
		} catch (err) {
			showError(el, err);
		} finally {
			if (button) button.disabled = false;
		}
	});
	return el;
}

export function formValues(formEl) {
	const values = {};
	for (const el of formEl.elements) {
		if (!el.name) continue;
		if (el.type === "checkbox") values[el.name] = el.checked;
		else if (el.type === "radio") {
			if (el.checked) values[el.name] = el.value;
		} else if (el.type !== "file") values[el.name] = el.value.trim();
	}
	return values;
}

export function clearErrors(formEl) {
	const box = formEl.querySelector(".form-error");
	if (box) {
		box.hidden = true;
		box.replaceChildren();
	}
	for (const el of formEl.querySelectorAll(".field-error")) el.remove();
	for (const el of formEl.querySelectorAll(".invalid")) el.classList.remove("invalid");
}

/** The server's message at the top of the form, each field problem beside its input (or listed). */
export function showError(formEl, err) {
	const box = formEl.querySelector(".form-error");
	const problems = (err && err.fields) || [];
	const unplaced = [];
	for (const problem of problems) {
		const target = inputFor(formEl, problem.field);
		if (target && problem.message) {
			target.classList.add("invalid");
			target.closest("label")?.append(h("small", { class: "field-error" }, problem.message));
		} else if (target) target.classList.add("invalid");
		else if (problem.message) unplaced.push(`${problem.field}: ${problem.message}`);
	}
	const message = (err && err.message) || t("Algo deu errado", "Something went wrong");
	replace(
		box,
		h("strong", {}, message),
		unplaced.length
			? h(
					"ul",
					{},
					unplaced.map((p) => h("li", {}, p)),
				)
			: null,
	);
	box.hidden = false;
}

/** "supplierProfile.location.lat" → input[name=lat]; "items[0].quantity" → input[name=quantity]. */
function inputFor(formEl, fieldPath) {
	const candidates = [
		fieldPath,
		fieldPath
			.split(".")
			.pop()
			.replace(/\[\d+\]/g, ""),
	];
	for (const name of candidates) {
		const el = formEl.querySelector(`[name="${CSS.escape(name)}"]`);
		if (el) return el;
	}
	return null;
}

/** An error shown in a container that is not a form (lists, buttons in rows). */
export function errorLine(err) {
	const details = (err.fields || []).filter((p) => p.message).map((p) => `${p.field}: ${p.message}`);
	return h("p", { class: "form-error", role: "alert" }, err.message, details.length ? ` (${details.join("; ")})` : "");
}

/** The device's position as { lat, lng, accuracy, speed, heading }; rejects with a readable message. */
export function currentPosition(timeoutMs = 10_000) {
	return new Promise((resolve, reject) => {
		if (!navigator.geolocation)
			return reject(
				new Error(t("Localização indisponível neste navegador", "Location is not available in this browser")),
			);
		navigator.geolocation.getCurrentPosition(
			(pos) =>
				resolve({
					lat: pos.coords.latitude,
					lng: pos.coords.longitude,
					accuracy: pos.coords.accuracy,
					speed: pos.coords.speed,
					heading: pos.coords.heading,
				}),
			(err) =>
				reject(new Error(t("Não foi possível obter sua localização: ", "Could not get your location: ") + err.message)),
			{ enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 5_000 },
		);
	});
}

/** A "use my location" button that fills the lat/lng inputs of its form. */
export function useLocationButton(latInput, lngInput, onError) {
	const button = h("button", { type: "button", class: "secondary" }, t("Usar minha localização", "Use my location"));
	button.addEventListener("click", async () => {
		button.disabled = true;
		try {
			const pos = await currentPosition();
			latInput.value = pos.lat.toFixed(6);
			lngInput.value = pos.lng.toFixed(6);
		} catch (err) {
			onError(err);
		} finally {
			button.disabled = false;
		}
	});
	return button;
}

export function num(value) {
	const n = Number(String(value).replace(",", "."));
	return value === "" || value === undefined || !Number.isFinite(n) ? undefined : n;
}

export function section(title, ...children) {
	return h("section", { class: "card" }, h("h2", {}, title), children);
}

export function empty(text) {
	return h("p", { class: "empty" }, text);
}

/**
 * CPF check digits, as the server checks them (lib/domain/cpf.ts): 11 digits (dots and dash allowed),
 * not all the same, the two mod-11 check digits right.
 */
export function isValidCpf(text) {
	const cpf = String(text || "")
		.trim()
		.replace(/[.\-\s]/g, "");
	if (!/^\d{11}$/.test(cpf) || /^(\d)\1{10}$/.test(cpf)) return false;
	const digit = (base) => {
		const sum = [...base].reduce((acc, d, i) => acc + Number(d) * (base.length + 1 - i), 0);
		const rest = (sum * 10) % 11;
		return rest === 10 ? 0 : rest;
	};
	const first = digit(cpf.slice(0, 9));
	return `${first}${digit(cpf.slice(0, 9) + first)}` === cpf.slice(9);
}

/** A new id per checkout attempt (Idempotency-Key). */
export function uuid() {
	if (crypto.randomUUID) return crypto.randomUUID();
	const b = crypto.getRandomValues(new Uint8Array(16));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Great-circle distance in km (for showing how far the courier is). */
export function distanceKm(a, b) {
	const rad = (d) => (d * Math.PI) / 180;
	const dLat = rad(b.lat - a.lat);
	const dLng = rad(b.lng - a.lng);
	const s = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
	return 2 * 6371 * Math.asin(Math.sqrt(s));
}
