/**
 * The admin's back office beyond the review queue: users (suspend, reactivate, role), payments and
 * refunds, MFA enrolment with a QR code, and the words for alerts and document fields that the
 * admin screens (admin.js) show instead of raw ids and keys.
 */
import { ApiError, blobUrl, get, getSession, post, put, saveSession } from "../http.js";
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
	roleText,
	section,
	select,
	shortId,
	t,
	toCents,
} from "../ui.js";
import { METADATA_FIELDS } from "./verification.js";
import { paymentFailureText } from "../reasons.js";
import { couriersMap } from "../map.js";

/** A loader that fills `box` with one card per row of `fetchPage()`, or the empty text; errors shown in place. */
export function listLoader(box, fetchPage, card, emptyText) {
	const load = async () => {
		try {
			const res = await fetchPage();
			replace(box, res.rows.length ? res.rows.map((row) => card(row, load)) : empty(emptyText));
		} catch (err) {
			replace(box, errorLine(err));
		}
	};
	return load;
}

// ---- names instead of ids ----

const userCache = new Map();

/** { name, email, businessName } of a user, asked once per screen visit; null when it cannot be read. */
export function userInfo(id) {
	if (!id) return Promise.resolve(null);
	if (!userCache.has(id))
		userCache.set(
			id,
			get(`/api/users/${encodeURIComponent(id)}`)
				.then((u) => ({
					id,
					name: u.name,
					email: u.email,
					phone: u.phone || null,
					businessName: (u.supplierProfile && u.supplierProfile.businessName) || null,
				}))
				.catch(() => null),
		);
	return userCache.get(id);
}

/** "Gás do João (João Revenda) · joao@…" with a mailto link. */
export function userLine(info, fallbackId) {
	if (!info) return h("span", { class: "muted" }, t("Usuário ", "User "), h("code", {}, fallbackId || "—"));
	return h(
		"span",
		{ class: "user-line" },
		h("strong", {}, info.businessName || info.name),
		info.businessName ? ` (${info.name})` : "",
		" · ",
		h("a", { href: `mailto:${info.email}` }, info.email),
	);
}

/** A document's metadata with its labels ("CNPJ", "Válido até"), dates in the local format. */
export function documentFacts(type, metadata) {
	const known = METADATA_FIELDS[type] || [];
	const rows = [];
	for (const [key, value] of Object.entries(metadata || {})) {
		const spec = known.find(([name]) => name === key);
		const label = spec ? spec[1] : key;
		let text = String(value);
		if (typeof value === "boolean") text = value ? t("Sim", "Yes") : t("Não", "No");
		else if (spec && spec[2].type === "date" && /^\d{4}-\d{2}-\d{2}/.test(text))
			text = new Date(`${text.slice(0, 10)}T12:00:00Z`).toLocaleDateString("pt-BR", { timeZone: "UTC" });
		else if (key === "cnpj" && /^\d{14}$/.test(text))
			text = text.replace(/^(\d{2})(\d{3})(\d{3})(\d{4})(\d{2})$/, "$1.$2.$3/$4-$5");
		rows.push(h("dt", {}, label), h("dd", {}, text));
	}
	return h("dl", { class: "facts" }, rows);
}

/** The uploaded file shown in place (image or PDF), fetched with the admin's token. */
export function documentPreview(documentId) {
	const box = h("div", { class: "doc-box" });
	const button = h("button", { type: "button", class: "secondary show-document" }, t("Ver documento", "View document"));
	button.addEventListener("click", async () => {
		button.disabled = true;
		try {
			const { url, type } = await blobUrl(`/api/verification/documents/${encodeURIComponent(documentId)}/file`);
			replace(
				box,
				type.startsWith("image/")
					? h("img", { class: "doc-preview", src: url, alt: t("Documento enviado", "Uploaded document") })
					: h("iframe", {
							class: "doc-preview",
							src: url,
							title: t("Documento enviado", "Uploaded document"),
							height: 480,
						}),
			);
			button.hidden = true;
		} catch (err) {
			box.append(errorLine(err));
			button.disabled = false;
		}
	});
	return [button, box];
}

const productCache = new Map();
function productInfo(id) {
	if (!productCache.has(id))
		productCache.set(
			id,
			get(`/api/products/${encodeURIComponent(id)}`).catch(() => null),
		);
	return productCache.get(id);
}

const RULE_TEXT = {
	payment_failure_rate: ["Muitos pagamentos recusados", "Many payments declined"],
	courier_wait: ["Pedido esperando entregador", "Order waiting for a courier"],
	late_delivery: ["Entrega atrasada", "Late delivery"],
	low_stock: ["Estoque baixo", "Low stock"],
	notification_failures: ["Falhas ao enviar avisos", "Notifications failing"],
	verification_wait: ["Verificação esperando análise", "Verification waiting for review"],
	dead_letter: ["Evento não processado", "Event not handled"],
	reconciliation_mismatch: ["Divergência na conciliação de pagamentos", "Payment reconciliation mismatch"],
	manual: ["Alerta manual", "Manual alert"],
};
export const ruleText = (rule) => (RULE_TEXT[rule] ? t(...RULE_TEXT[rule]) : rule);

/** The alert in words, with links to what it is about (the order, the product's supplier). */
export async function alertWords(a) {
	const d = a.details || {};
	if (a.rule === "low_stock" && d.productId) {
		const [product, supplier] = await Promise.all([productInfo(d.productId), userInfo(d.supplierId)]);
		const name = product ? product.name || product.type : shortId(d.productId);
		return h(
			"p",
			{ class: "alert-words" },
			t("Estoque baixo: ", "Low stock: "),
			h("strong", {}, name),
			supplier ? [t(" de ", " at "), supplier.businessName || supplier.name] : "",
			t(` — ${d.stock} disponíveis.`, ` — ${d.stock} available.`),
			supplier
				? [" ", h("a", { href: `mailto:${supplier.email}` }, t("Falar com a revenda", "Contact the supplier"))]
				: "",
		);
	}
	if (["courier_wait", "late_delivery"].includes(a.rule) && d.orderId) {
		const minutes = Number.isFinite(d.waitedSeconds) ? Math.round(d.waitedSeconds / 60) : null;
		return h(
			"p",
			{ class: "alert-words" },
			a.rule === "courier_wait" ? t("O pedido ", "Order ") : t("Entrega atrasada: pedido ", "Late delivery: order "),
			h("a", { href: `#/orders/${encodeURIComponent(d.orderId)}` }, shortId(d.orderId)),
			a.rule === "courier_wait" && minutes !== null
				? t(` espera um entregador há ${minutes} min.`, ` has waited ${minutes} min for a courier.`)
				: ".",
		);
	}
	if (d.orderId)
		return h(
			"p",
			{ class: "alert-words" },
			a.summary,
			" · ",
			h("a", { href: `#/orders/${encodeURIComponent(d.orderId)}` }, t("Ver pedido ", "See order "), shortId(d.orderId)),
		);
	return h("p", { class: "alert-words" }, a.summary);
}

// ---- users ----

const ROLES = ["customer", "supplier", "courier", "admin"];
const STATUSES = ["active", "pending_verification", "suspended"];

export async function users(root, { user: me }) {
	const listBox = h("div", { id: "users-list" });
	const role = select("role", [["", t("Todos os papéis", "All roles")], ...ROLES.map((r) => [r, roleText(r)])]);
	const status = select("status", [
		["", t("Todas as situações", "Any status")],
		...STATUSES.map((s) => [s, badge(s).textContent]),
	]);
	const load = listLoader(
		listBox,
		() => get("/api/users", { role: role.value, status: status.value, pageSize: 100 }),
		(u, reload) => userCard(u, me, reload),
		t("Nenhum usuário.", "No users."),
	);
	role.addEventListener("change", load);
	status.addEventListener("change", load);
	replace(
		root,
		section(
			t("Usuários", "Users"),
			h("div", { class: "row" }, field(t("Papel", "Role"), role), field(t("Situação", "Status"), status)),
			listBox,
		),
	);
	await load();
}

function userCard(u, me, reload) {
	const messages = h("div", {});
	const change = async (body, question) => {
		if (question && !confirm(question)) return;
		try {
			await put(`/api/users/${encodeURIComponent(u.id)}`, body);
			await reload();
		} catch (err) {
			messages.append(errorLine(mfaHint(err)));
		}
	};
	const self = u.id === me.id;
	const roleSelect = select(
		"role",
		ROLES.map((r) => [r, roleText(r)]),
		{ id: `role-${u.id}`, value: u.role },
	);
	return h(
		"article",
		{ class: "card inset user-card", dataset: { userId: u.id } },
		h(
			"div",
			{ class: "offer-head" },
			h("h3", {}, (u.supplierProfile && u.supplierProfile.businessName) || u.name),
			badge(u.status),
		),
		h(
			"p",
			{},
			roleText(u.role),
			" · ",
			h("a", { href: `mailto:${u.email}` }, u.email),
			u.phone ? [" · ", h("a", { href: `tel:${u.phone}` }, u.phone)] : "",
			u.mfaEnabled ? [" · ", t("MFA ativo", "MFA on")] : "",
		),
		h("p", { class: "muted" }, t("Desde ", "Since "), dateTime(u.createdAt)),
		self
			? h("p", { class: "muted" }, t("Esta é a sua conta.", "This is your account."))
			: h(
					"div",
					{ class: "actions" },
					u.status === "suspended"
						? h(
								"button",
								{ type: "button", class: "reactivate", onclick: () => change({ status: "active" }) },
								t("Reativar", "Reactivate"),
							)
						: h(
								"button",
								{
									type: "button",
									class: "danger suspend",
									onclick: () =>
										change(
											{ status: "suspended" },
											t(
												`Suspender ${u.name}? A pessoa sai de todas as sessões.`,
												`Suspend ${u.name}? They are signed out everywhere.`,
											),
										),
								},
								t("Suspender", "Suspend"),
							),
					h(
						"form",
						{
							class: "inline role-form",
							onsubmit: (e) => {
								e.preventDefault();
								if (roleSelect.value !== u.role)
									change(
										{ role: roleSelect.value },
										t(
											`Mudar o papel para ${roleText(roleSelect.value)}?`,
											`Change the role to ${roleText(roleSelect.value)}?`,
										),
									);
							},
						},
						field(t("Papel", "Role"), roleSelect),
						h("button", { type: "submit", class: "secondary" }, t("Mudar papel", "Change role")),
					),
				),
		messages,
	);
}

/** A 403 that asks for MFA points to the enrolment screen. */
export function mfaHint(err) {
	if (err instanceof ApiError && err.status === 403 && /mfa/i.test(`${err.message} ${err.type || ""}`))
		err.message = `${err.message} — ${t("ative o MFA em Segurança (#/admin/security).", "turn on MFA under Security (#/admin/security).")}`;
	return err;
}

// ---- payments and refunds ----

const PAYMENT_STATUSES = [
	"",
	"processing",
	"pending",
	"captured",
	"failed",
	"refunded",
	"partially_refunded",
	"voided",
];

export async function payments(root) {
	const listBox = h("div", { id: "payments-list" });
	const status = select(
		"status",
		PAYMENT_STATUSES.map((s) => [s, s ? badge(s).textContent : t("Todos", "All")]),
	);
	const load = listLoader(
		listBox,
		() => get("/api/payments", { status: status.value, pageSize: 50 }),
		paymentCard,
		t("Nenhum pagamento.", "No payments."),
	);
	status.addEventListener("change", load);
	replace(
		root,
		section(t("Pagamentos e reembolsos", "Payments and refunds"), field(t("Situação", "Status"), status), listBox),
	);
	await load();
}

function paymentCard(p, reload) {
	const refundable = Math.max(0, (p.capturedCents || 0) - (p.refundedCents || 0));
	return h(
		"article",
		{ class: "card inset payment-card", dataset: { paymentId: p.id } },
		h("div", { class: "offer-head" }, h("h3", {}, money(p.amountCents), " · ", paymentText(p.method)), badge(p.status)),
		h(
			"p",
			{},
			t("Pedido ", "Order "),
			h("a", { href: `#/orders/${encodeURIComponent(p.orderId)}` }, shortId(p.orderId)),
			` · ${dateTime(p.createdAt)}`,
		),
		h(
			"p",
			{ class: "muted" },
			`${t("Capturado", "Captured")}: ${money(p.capturedCents || 0)} · ${t("Reembolsado", "Refunded")}: ${money(p.refundedCents || 0)}`,
			p.failureReason ? ` · ${t("Motivo", "Reason")}: ${paymentFailureText(p.failureReason)}` : "",
		),
		refundable > 0
			? form(
					{ class: "refund-form" },
					[
						h(
							"div",
							{ class: "row" },
							field(
								t("Valor (R$, vazio = tudo)", "Amount (R$, empty = all)"),
								input("amount", { inputmode: "decimal", placeholder: (refundable / 100).toFixed(2).replace(".", ",") }),
							),
							field(t("Motivo", "Reason"), input("reason", { required: true, maxlength: 500 })),
						),
						h("button", { type: "submit", class: "danger" }, t("Reembolsar", "Refund")),
					],
					async (values) => {
						const body = { reason: values.reason };
						if (values.amount) {
							const cents = toCents(values.amount);
							if (!Number.isFinite(cents) || cents <= 0)
								throw new ApiError(422, { message: t("Valor inválido", "Invalid amount"), data: { field: "amount" } });
							body.amountCents = cents;
						}
						try {
							await post(`/api/payments/${encodeURIComponent(p.id)}/refund`, body);
						} catch (err) {
							throw mfaHint(err);
						}
						await reload();
					},
				)
			: null,
	);
}

// ---- MFA enrolment ----

export async function security(root, { user }) {
	const box = h("div", { id: "mfa-box" });
	const me = await get(`/api/users/${encodeURIComponent(user.id)}`);
	if (me.mfaEnabled) {
		replace(
			root,
			section(
				t("Segurança", "Security"),
				h(
					"p",
					{ class: "success", id: "mfa-on" },
					t("A verificação em duas etapas (MFA) está ativa.", "Two-step verification (MFA) is on."),
				),
			),
		);
		return;
	}
	const start = h(
		"button",
		{ type: "button", id: "mfa-start" },
		t("Ativar verificação em duas etapas", "Turn on two-step verification"),
	);
	start.addEventListener("click", async () => {
		start.disabled = true;
		try {
			const setup = await post("/api/auth/mfa/setup", {});
			replace(
				box,
				h(
					"p",
					{},
					t(
						"1. Leia o código com um app autenticador (Google Authenticator, Authy…):",
						"1. Scan the code with an authenticator app:",
					),
				),
				h("img", {
					class: "qr",
					id: "mfa-qr",
					src: setup.qrDataUrl,
					alt: t("Código QR para o app autenticador", "QR code for the authenticator app"),
					width: 256,
					height: 256,
				}),
				h("p", {}, t("Ou digite a chave: ", "Or type the key: "), h("code", { id: "mfa-secret" }, setup.secret)),
				form(
					{ id: "mfa-enable-form" },
					[
						field(
							t("2. Código de 6 dígitos do app", "2. The app's 6-digit code"),
							input("code", {
								inputmode: "numeric",
								autocomplete: "one-time-code",
								pattern: "\\d{6}",
								maxlength: 6,
								required: true,
							}),
						),
						h("button", { type: "submit" }, t("Confirmar", "Confirm")),
					],
					async (values) => {
						const session = await post("/api/auth/mfa/enable", { code: values.code });
						const old = getSession() || {};
						saveSession({
							...old,
							token: session.token,
							refreshToken: session.refreshToken || old.refreshToken,
							user: session.user || old.user,
						});
						replace(
							box,
							h(
								"p",
								{ class: "success", id: "mfa-on" },
								t(
									"MFA ativado. As ações sensíveis já estão liberadas.",
									"MFA is on. Sensitive actions are open to you now.",
								),
							),
						);
					},
				),
			);
		} catch (err) {
			box.append(errorLine(err));
			start.disabled = false;
		}
	});
	replace(
		root,
		section(
			t("Segurança", "Security"),
			h(
				"p",
				{},
				t(
					"Reembolsos, aprovação de documentos e exclusão de usuários pedem a verificação em duas etapas.",
					"Refunds, document approval and deleting users need two-step verification.",
				),
			),
			start,
			box,
		),
	);
}

// ---- couriers ----

/**
 * Every courier with its status, load, vehicle and last known position (a link to the map).
 * A map with all couriers on it waits for the shared Leaflet component (public/map.js).
 */
export async function couriers(root) {
	const listBox = h("div", { id: "couriers-list" });
	const status = select("status", [
		["", t("Todos", "All")],
		["available", badge("available").textContent],
		["busy", badge("busy").textContent],
		["offline", badge("offline").textContent],
	]);
	const map = couriersMap();
	const load = listLoader(
		listBox,
		async () => {
			const page = await get("/api/couriers", { status: status.value, pageSize: 100 });
			map.update(page.rows.map((c) => ({ ...c, label: courierLabel(c) })));
			return page;
		},
		courierCard,
		t("Nenhum entregador.", "No couriers."),
	);
	status.addEventListener("change", load);
	replace(root, section(t("Entregadores", "Couriers"), field(t("Situação", "Status"), status), map.element, listBox));
	await load();
	const timer = setInterval(load, 15_000);
	return () => clearInterval(timer);
}

/** "Ana · ABC1D23" for the map (the users service's name, the courier's plate). */
const courierLabel = (c) => [c.name, c.vehicle && c.vehicle.plate].filter(Boolean).join(" · ") || shortId(c.id);

function courierCard(c) {
	const who = h("h3", {}, courierLabel(c)); // the list names each courier: no request per card
	const p = c.position;
	return h(
		"article",
		{ class: "card inset courier-card", dataset: { courierId: c.id } },
		h("div", { class: "offer-head" }, who, badge(c.status)),
		h(
			"p",
			{},
			`${t("Carga", "Load")}: ${c.load}/${c.capacity}`,
			c.orderIds && c.orderIds.length
				? [
						" · ",
						t("Pedidos: ", "Orders: "),
						c.orderIds.map((id, i) => [
							i ? ", " : "",
							h("a", { href: `#/orders/${encodeURIComponent(id)}` }, shortId(id)),
						]),
					]
				: "",
		),
		p && Number.isFinite(p.lat)
			? h(
					"p",
					{},
					t("Última posição ", "Last position "),
					dateTime(p.at),
					" · ",
					h(
						"a",
						{
							href: `https://www.google.com/maps/search/?api=1&query=${p.lat.toFixed(6)},${p.lng.toFixed(6)}`,
							target: "_blank",
							rel: "noopener",
						},
						t("ver no mapa", "see on the map"),
					),
				)
			: h("p", { class: "muted" }, t("Sem posição conhecida.", "No known position.")),
	);
}
