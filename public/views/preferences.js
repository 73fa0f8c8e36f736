/**
 * "Preferências de aviso" (#/preferences, every role): which kinds of message the user gets on which
 * channel (GET / PUT /api/notification-preferences; each switch saves at once). Only the kinds a
 * role receives are listed, each with the channels it is sent on (lib/domain/templates.ts);
 * security notices (a locked account) and the team's messages are always sent.
 */
import { get, put } from "../http.js";
import { errorLine, h, replace, section, t } from "../ui.js";

const CUSTOMER = ["inapp", "email", "push"];
const URGENT = ["inapp", "sms", "push"];
const WORK = ["inapp", "email"];

/** kind → [pt, en, channels] per role, in the order a person thinks of them. */
const KINDS = {
	customer: [
		["order_confirmed", "Pedido confirmado", "Order confirmed", CUSTOMER],
		["order_preparation", "Pedido em preparo", "Order being prepared", ["inapp", "push"]],
		["courier_on_the_way", "Entregador designado", "Courier assigned", URGENT],
		["order_in_transit", "Pedido a caminho", "Order on its way", ["inapp", "push"]],
		["order_delivered", "Pedido entregue", "Order delivered", CUSTOMER],
		["order_cancelled", "Pedido cancelado", "Order cancelled", CUSTOMER],
		["payment_declined", "Pagamento recusado", "Payment declined", CUSTOMER],
		["refund_processed", "Reembolso feito", "Refund made", CUSTOMER],
		["reorder_reminder", "Lembrete para pedir de novo", "Reorder reminder", CUSTOMER],
	],
	supplier: [
		["new_order", "Novo pedido", "New order", WORK],
		["low_stock", "Estoque baixo", "Low stock", WORK],
		["verification_approved", "Verificação aprovada", "Verification approved", WORK],
		["verification_rejected", "Documento recusado", "Document rejected", WORK],
	],
	courier: [
		["new_assignment", "Nova entrega", "New delivery", URGENT],
		["verification_approved", "Verificação aprovada", "Verification approved", WORK],
		["verification_rejected", "Documento recusado", "Document rejected", WORK],
	],
	admin: [
		["alert_triggered", "Alerta disparado", "Alert triggered", WORK],
		["alert_escalated", "Alerta escalado", "Alert escalated", WORK],
	],
};

const CHANNEL_TEXT = {
	inapp: ["No app", "In the app"],
	email: ["E-mail", "E-mail"],
	sms: ["SMS", "SMS"],
	push: ["Notificação no celular", "Phone notification"],
};

export async function render(root, { user }) {
	const status = h("div", { id: "preferences-status", class: "muted", role: "status" });
	const table = h("div", { id: "preferences-list" });
	let prefs = await get("/api/notification-preferences");

	/** Turns one kind on one channel on or off; a kind muted everywhere ("*") is opened first, its other channels kept off. */
	async function change(kind, channel, enabled, channels) {
		const all = (prefs.muted || []).includes(`${kind}:*`);
		if (enabled && all) {
			const off = channels.filter((c) => c !== channel && !prefs.kinds[kind][c]);
			prefs = await put("/api/notification-preferences", { kind, channel: "*", enabled: true });
			for (const c of off) prefs = await put("/api/notification-preferences", { kind, channel: c, enabled: false });
		}
		prefs = await put("/api/notification-preferences", { kind, channel, enabled });
	}

	const paint = () =>
		replace(
			table,
			(KINDS[user.role] || []).map(([kind, pt, en, channels]) =>
				h(
					"fieldset",
					{ class: "preference", dataset: { kind } },
					h("legend", {}, t(pt, en)),
					channels.map((channel) => {
						const box = h("input", {
							type: "checkbox",
							name: `${kind}:${channel}`,
							checked: !!(prefs.kinds[kind] && prefs.kinds[kind][channel]),
						});
						box.addEventListener("change", async () => {
							box.disabled = true;
							replace(status, t("Salvando…", "Saving…"));
							try {
								await change(kind, channel, box.checked, channels);
								replace(status, t("Preferência salva.", "Preference saved."));
							} catch (err) {
								replace(status, errorLine(err));
							}
							paint();
							table.querySelector(`input[name="${kind}:${channel}"]`)?.focus();
						});
						return h("label", { class: "check" }, box, t(...CHANNEL_TEXT[channel]));
					}),
				),
			),
		);
	paint();
	replace(
		root,
		section(
			t("Preferências de aviso", "Notification preferences"),
			h(
				"p",
				{ class: "muted" },
				t(
					"Escolha o que você quer receber e por onde. Avisos de segurança da conta e mensagens da equipe chegam sempre.",
					"Choose what you get and where. Account security notices and messages from the team always arrive.",
				),
			),
			status,
			table,
			h("p", {}, h("a", { href: "#/notifications" }, t("← Voltar às notificações", "← Back to notifications"))),
		),
	);
}
