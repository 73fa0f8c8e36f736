/**
 * Which business events become messages, for whom, on which channels, and their texts in
 * Portuguese (pt-BR, the default) and English.
 */

export type Locale = "pt-BR" | "en";
export const LOCALES: Locale[] = ["pt-BR", "en"];
export type Channel = "inapp" | "email" | "sms" | "push";
export const CHANNELS: Channel[] = ["inapp", "email", "sms", "push"];

export type Recipient =
	| { kind: "user"; userId: string }
	| { kind: "role"; role: "admin" }
	/** Someone without an account yet (an invitee): reachable by e-mail only. */
	| { kind: "address"; email: string; locale: Locale };

/** A template's variables: raw event values, formatted for the locale when rendering. */
export type Vars = Record<string, unknown>;

export interface PlannedMessage {
	template: TemplateName;
	recipient: Recipient;
	channels: Channel[];
	vars: Vars;
}

interface Template {
	subject: Record<Locale, (v: Vars) => string>;
	body: Record<Locale, (v: Vars) => string>;
}

const TIME_ZONE = "America/Sao_Paulo";

/** Intl formatters are costly to build and safe to reuse: one per locale. */
const formatters = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();
function memo<T extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, build: () => T): T {
	if (!formatters.has(key)) formatters.set(key, build());
	return formatters.get(key) as T;
}

export function formatMoney(cents: unknown, locale: Locale): string {
	const value = typeof cents === "number" && Number.isFinite(cents) ? cents / 100 : 0;
	return memo(`money:${locale}`, () => new Intl.NumberFormat(locale, { style: "currency", currency: "BRL" })).format(
		value,
	);
}

export function formatTime(iso: unknown, locale: Locale): string {
	const ms = typeof iso === "string" ? Date.parse(iso) : NaN;
	if (!Number.isFinite(ms)) return "-";
	return memo(
		`time:${locale}`,
		() => new Intl.DateTimeFormat(locale, { timeZone: TIME_ZONE, dateStyle: "short", timeStyle: "short" }),
	).format(ms);
}

/** A short, readable order reference (the last characters of its id). */
export function orderRef(orderId: unknown): string {
	const id = String(orderId || "");
	return `#${id.slice(-6).toUpperCase()}`;
}

// Variables are interpolated as text: `${v.x}` of an unknown value is its String().
const t = (pt: (v: Vars) => string, en: (v: Vars) => string) => ({ "pt-BR": pt, en });

/** An order.preparation message's text for its stage (the preparing one for a stage not known here). */
const byStage = (v: Vars, texts: { accepted: string; preparing: string; ready: string }): string =>
	texts[String(v.stage) as keyof typeof texts] ?? texts.preparing;

const TEMPLATES = {
	order_confirmed: {
		subject: t(
			(v) => `Pedido ${v.ref} confirmado`,
			(v) => `Order ${v.ref} confirmed`,
		),
		body: t(
			(v) => `Seu pedido ${v.ref} de ${v.total} foi confirmado. Entrega prevista até ${v.promisedBy}.`,
			(v) => `Your order ${v.ref} of ${v.total} is confirmed. Expected delivery by ${v.promisedBy}.`,
		),
	},
	courier_on_the_way: {
		subject: t(
			(v) => `Entregador a caminho (${v.ref})`,
			(v) => `Courier on the way (${v.ref})`,
		),
		body: t(
			(v) => `Um entregador foi designado para o pedido ${v.ref} e chega em cerca de ${v.eta} minutos.`,
			(v) => `A courier has been assigned to order ${v.ref} and arrives in about ${v.eta} minutes.`,
		),
	},
	order_preparation: {
		subject: t(
			(v) =>
				byStage(v, {
					accepted: `Pedido ${v.ref} aceito pela revenda`,
					preparing: `Pedido ${v.ref} em preparo`,
					ready: `Pedido ${v.ref} pronto`,
				}),
			(v) =>
				byStage(v, {
					accepted: `Order ${v.ref} accepted by the supplier`,
					preparing: `Order ${v.ref} is being prepared`,
					ready: `Order ${v.ref} is ready`,
				}),
		),
		body: t(
			(v) =>
				byStage(v, {
					accepted: `A revenda aceitou seu pedido ${v.ref} e vai prepará-lo.`,
					preparing: `A revenda está preparando seu pedido ${v.ref}.`,
					ready: `Seu pedido ${v.ref} está pronto e aguarda o entregador.`,
				}),
			(v) =>
				byStage(v, {
					accepted: `The supplier accepted your order ${v.ref} and will prepare it.`,
					preparing: `The supplier is preparing your order ${v.ref}.`,
					ready: `Your order ${v.ref} is ready and waiting for the courier.`,
				}),
		),
	},
	order_in_transit: {
		subject: t(
			(v) => `Pedido ${v.ref} saiu para entrega`,
			(v) => `Order ${v.ref} is out for delivery`,
		),
		body: t(
			(v) => `Seu pedido ${v.ref} está a caminho. Acompanhe o entregador no app.`,
			(v) => `Your order ${v.ref} is on its way. Follow the courier in the app.`,
		),
	},
	order_delivered: {
		subject: t(
			(v) => `Pedido ${v.ref} entregue`,
			(v) => `Order ${v.ref} delivered`,
		),
		body: t(
			(v) => `Seu pedido ${v.ref} foi entregue em ${v.deliveredAt}. Obrigado por usar o GasRápido!`,
			(v) => `Your order ${v.ref} was delivered at ${v.deliveredAt}. Thank you for using GasRápido!`,
		),
	},
	order_cancelled: {
		subject: t(
			(v) => `Pedido ${v.ref} cancelado`,
			(v) => `Order ${v.ref} cancelled`,
		),
		body: t(
			(v) => `Seu pedido ${v.ref} foi cancelado. Motivo: ${v.reason}.`,
			(v) => `Your order ${v.ref} was cancelled. Reason: ${v.reason}.`,
		),
	},
	payment_declined: {
		subject: t(
			(v) => `Pagamento recusado (${v.ref})`,
			(v) => `Payment declined (${v.ref})`,
		),
		body: t(
			(v) => `O pagamento de ${v.amount} do pedido ${v.ref} foi recusado: ${v.reason}.`,
			(v) => `The payment of ${v.amount} for order ${v.ref} was declined: ${v.reason}.`,
		),
	},
	reorder_reminder: {
		subject: t(
			(v) => `Seu gás ${v.cylinderType} deve acabar em breve`,
			(v) => `Your ${v.cylinderType} gas should run out soon`,
		),
		body: t(
			(v) =>
				`Pelo seu histórico, seu botijão ${v.cylinderType} deve acabar por volta de ${v.runOutAt}. Peça de novo com um toque: ${v.link}`,
			(v) =>
				`From your history, your ${v.cylinderType} cylinder should run out around ${v.runOutAt}. Reorder with one tap: ${v.link}`,
		),
	},
	refund_processed: {
		subject: t(
			(v) => `Reembolso do pedido ${v.ref}`,
			(v) => `Refund for order ${v.ref}`,
		),
		body: t(
			(v) => `Reembolsamos ${v.amount} referentes ao pedido ${v.ref}.`,
			(v) => `We refunded ${v.amount} for order ${v.ref}.`,
		),
	},
	new_order: {
		subject: t(
			(v) => `Novo pedido ${v.ref}`,
			(v) => `New order ${v.ref}`,
		),
		body: t(
			(v) => `Você recebeu o pedido ${v.ref} de ${v.total} (${v.items}).`,
			(v) => `You received order ${v.ref} of ${v.total} (${v.items}).`,
		),
	},
	low_stock: {
		subject: t(
			(v) => `Estoque baixo: ${v.product}`,
			(v) => `Low stock: ${v.product}`,
		),
		body: t(
			(v) => `Restam ${v.available} unidades de ${v.product} (limite ${v.threshold}). Reabasteça o estoque.`,
			(v) => `${v.available} units of ${v.product} left (threshold ${v.threshold}). Please restock.`,
		),
	},
	new_assignment: {
		subject: t(
			(v) => `Nova entrega ${v.ref}`,
			(v) => `New delivery ${v.ref}`,
		),
		body: t(
			(v) => `Você foi designado para a entrega do pedido ${v.ref}. Tempo estimado: ${v.eta} minutos.`,
			(v) => `You have been assigned the delivery of order ${v.ref}. Estimated time: ${v.eta} minutes.`,
		),
	},
	invitation: {
		subject: t(
			() => `Convite para o GasRápido`,
			() => `Your invitation to GasRápido`,
		),
		body: t(
			(v) =>
				`Você foi convidado como ${v.rolePt} no GasRápido.${v.message ? ` "${v.message}"` : ""} Cadastre-se em ${v.link} até ${v.expiresAt}.`,
			(v) =>
				`You have been invited to GasRápido as a ${v.role}.${v.message ? ` "${v.message}"` : ""} Register at ${v.link} by ${v.expiresAt}.`,
		),
	},
	account_locked: {
		subject: t(
			() => `Conta bloqueada temporariamente`,
			() => `Account temporarily locked`,
		),
		body: t(
			(v) =>
				`Houve ${v.failures} tentativas de entrar na sua conta com a senha ou o código errados. Ela fica bloqueada até ${v.lockedUntil}. Se não foi você, troque sua senha.`,
			(v) =>
				`There were ${v.failures} attempts to sign in to your account with a wrong password or code. It is locked until ${v.lockedUntil}. If this was not you, change your password.`,
		),
	},
	verification_approved: {
		subject: t(
			() => `Documentos aprovados`,
			() => `Documents approved`,
		),
		body: t(
			() => `Seus documentos foram aprovados e sua conta está ativa.`,
			() => `Your documents were approved and your account is active.`,
		),
	},
	verification_rejected: {
		subject: t(
			() => `Documento recusado`,
			() => `Document rejected`,
		),
		body: t(
			(v) => `O documento ${v.documentType} foi recusado: ${v.reason}. Envie uma nova versão.`,
			(v) => `Your document ${v.documentType} was rejected: ${v.reason}. Please upload a new one.`,
		),
	},
	alert_triggered: {
		subject: t(
			(v) => `[${v.severity}] Alerta: ${v.rule}`,
			(v) => `[${v.severity}] Alert: ${v.rule}`,
		),
		body: t(
			(v) => `Alerta ${v.rule} (${v.key}) aberto, nível ${v.level}. ${v.summary}`,
			(v) => `Alert ${v.rule} (${v.key}) raised, level ${v.level}. ${v.summary}`,
		),
	},
	alert_escalated: {
		subject: t(
			(v) => `[${v.severity}] Alerta escalado ao nível ${v.level}: ${v.rule}`,
			(v) => `[${v.severity}] Alert escalated to level ${v.level}: ${v.rule}`,
		),
		body: t(
			(v) => `O alerta ${v.rule} (${v.key}) continua sem solução e foi escalado ao nível ${v.level}.`,
			(v) => `Alert ${v.rule} (${v.key}) is still unresolved and was escalated to level ${v.level}.`,
		),
	},
	admin_message: {
		subject: t(
			(v) => String(v.subject),
			(v) => String(v.subject),
		),
		body: t(
			(v) => String(v.body),
			(v) => String(v.body),
		),
	},
} satisfies Record<string, Template>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as TemplateName[];

export function normalizeLocale(locale: unknown): Locale {
	if (typeof locale === "string" && locale.toLowerCase().startsWith("en")) return "en";
	return "pt-BR";
}

/** Subject and text of a message in the recipient's locale. */
export function render(template: TemplateName, locale: unknown, vars: Vars) {
	const lang = normalizeLocale(locale);
	const tpl: Template = TEMPLATES[template];
	return { subject: tpl.subject[lang](vars), body: tpl.body[lang](vars) };
}

/** Locale-dependent variables are formatted when rendering; events carry raw values. */
export function localizedVars(vars: Vars, locale: unknown): Vars {
	const lang = normalizeLocale(locale);
	const out: Vars = { ...vars };
	if (vars.totalCents !== undefined) out.total = formatMoney(vars.totalCents, lang);
	if (vars.amountCents !== undefined) out.amount = formatMoney(vars.amountCents, lang);
	for (const key of ["promisedBy", "deliveredAt", "expiresAt", "lockedUntil", "runOutAt"])
		if (vars[key] !== undefined) out[key] = formatTime(vars[key], lang);
	return out;
}

const CUSTOMER_CHANNELS: Channel[] = ["inapp", "email", "push"];
const URGENT_CHANNELS: Channel[] = ["inapp", "sms", "push"];
const WORK_CHANNELS: Channel[] = ["inapp", "email"];

const ROLE_PT: Record<string, string> = {
	supplier: "revendedor",
	courier: "entregador",
	customer: "cliente",
	admin: "administrador",
};

function itemsSummary(items: unknown): string {
	if (!Array.isArray(items)) return "";
	return items
		.map((item: unknown) => {
			const i = (item || {}) as Record<string, unknown>;
			return `${i.quantity ?? i.qty ?? 1}× ${i.type || i.name || i.productId || "item"}`;
		})
		.join(", ");
}

function user(userId: unknown): Recipient | null {
	return typeof userId === "string" && userId ? { kind: "user", userId } : null;
}

function plan(template: TemplateName, recipient: Recipient | null, channels: Channel[], vars: Vars): PlannedMessage[] {
	return recipient ? [{ template, recipient, channels, vars }] : [];
}

export interface PlanOptions {
	publicUrl: string;
}

/** The event types that call for messages (notifications subscribes to these only). */
export const NOTIFIED_EVENTS = [
	"order.created",
	"order.confirmed",
	"order.preparation",
	"courier.assigned",
	"order.in_transit",
	"order.delivered",
	"order.cancelled",
	"payment.failed",
	"refund.processed",
	"inventory.updated",
	"invitation.created",
	"verification.approved",
	"verification.rejected",
	"user.locked_out",
	"alert.triggered",
	"alert.escalated",
	"reminder.due",
] as const;

/** The messages an event calls for (none for most events). */
export function plannedMessages(envelope: { type: string; data: object }, opts: PlanOptions): PlannedMessage[] {
	const d = (envelope.data || {}) as Record<string, unknown>;
	const ref = orderRef(d.orderId);
	switch (envelope.type) {
		case "order.created":
			return plan("new_order", user(d.supplierId), WORK_CHANNELS, {
				ref,
				totalCents: d.totalCents,
				items: itemsSummary(d.items),
			});
		case "order.confirmed":
			return plan("order_confirmed", user(d.customerId), CUSTOMER_CHANNELS, {
				ref,
				totalCents: d.totalCents,
				promisedBy: d.promisedBy,
			});
		case "courier.assigned":
			return [
				...plan("courier_on_the_way", user(d.customerId), URGENT_CHANNELS, { ref, eta: d.etaMinutes ?? "?" }),
				...plan("new_assignment", user(d.courierId), URGENT_CHANNELS, { ref, eta: d.etaMinutes ?? "?" }),
			];
		case "order.preparation":
			return plan("order_preparation", user(d.customerId), ["inapp", "push"], { ref, stage: d.stage });
		case "order.in_transit":
			return plan("order_in_transit", user(d.customerId), ["inapp", "push"], { ref });
		case "order.delivered":
			return plan("order_delivered", user(d.customerId), CUSTOMER_CHANNELS, { ref, deliveredAt: d.deliveredAt });
		case "order.cancelled":
			return plan("order_cancelled", user(d.customerId), CUSTOMER_CHANNELS, { ref, reason: d.reason || "-" });
		case "payment.failed":
			return plan("payment_declined", user(d.customerId), CUSTOMER_CHANNELS, {
				ref: orderRef(d.orderId),
				amountCents: d.amountCents,
				reason: d.reason || "-",
			});
		case "refund.processed":
			return plan("refund_processed", user(d.customerId), CUSTOMER_CHANNELS, { ref, amountCents: d.amountCents });
		case "inventory.updated":
			if (!d.lowStock || d.reason !== "reserved") return [];
			return plan("low_stock", user(d.supplierId), WORK_CHANNELS, {
				product: d.productName || d.type || d.productId,
				// `stock` is what can still be ordered (reservations are already taken out of it).
				available: typeof d.stock === "number" ? d.stock : "?",
				threshold: d.lowStockThreshold ?? "?",
			});
		case "invitation.created":
			if (typeof d.email !== "string" || !d.code) return [];
			return plan("invitation", { kind: "address", email: d.email, locale: normalizeLocale(d.locale) }, ["email"], {
				role: d.role,
				rolePt: ROLE_PT[String(d.role)] || d.role,
				message: d.message || "",
				expiresAt: d.expiresAt,
				link: inviteLink(opts.publicUrl, String(d.code)),
			});
		case "verification.approved":
			return plan("verification_approved", user(d.userId), WORK_CHANNELS, {});
		case "user.locked_out":
			return plan("account_locked", user(d.userId), ["inapp", "email"], {
				failures: d.failures ?? "?",
				lockedUntil: d.lockedUntil,
			});
		case "verification.rejected":
			return plan("verification_rejected", user(d.userId), WORK_CHANNELS, {
				documentType: d.documentType || "-",
				reason: d.reason || "-",
			});
		case "alert.triggered":
		case "alert.escalated":
			return plan(
				envelope.type === "alert.triggered" ? "alert_triggered" : "alert_escalated",
				{ kind: "role", role: "admin" },
				WORK_CHANNELS,
				{ rule: d.rule, key: d.key, level: d.level, severity: d.severity, summary: d.summary || "" },
			);
		case "reminder.due":
			return plan("reorder_reminder", user(d.customerId), CUSTOMER_CHANNELS, {
				cylinderType: d.cylinderType,
				runOutAt: d.runOutAt,
				link: `${opts.publicUrl.replace(/\/+$/, "")}/#/reorder/${encodeURIComponent(String(d.lastOrderId))}`,
			});
		default:
			return [];
	}
}

export function inviteLink(publicUrl: string, code: string): string {
	return `${publicUrl.replace(/\/+$/, "")}/#/register?invite=${encodeURIComponent(code)}`;
}
