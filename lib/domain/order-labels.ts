/**
 * What an order's history says to a person, in Portuguese (pt-BR, the default) or English: each
 * entry's status, its preparation stage ("preparing") or its note ("courier assigned"), as a short label. The orders service adds
 * `label` to the history of the views it answers, in the reader's language.
 */
import type { HistoryEntry, OrderStatus } from "./order-status";
import type { PreparationStage } from "./preparation";
import type { Locale } from "./templates";

const STATUS_LABELS: Record<OrderStatus, Record<Locale, string>> = {
	created: { "pt-BR": "Pedido feito", en: "Order placed" },
	confirmed: { "pt-BR": "Pagamento confirmado", en: "Payment confirmed" },
	in_transit: { "pt-BR": "Saiu para entrega", en: "Out for delivery" },
	delivered: { "pt-BR": "Entregue", en: "Delivered" },
	cancelled: { "pt-BR": "Cancelado", en: "Cancelled" },
};

const STAGE_LABELS: Record<PreparationStage, Record<Locale, string>> = {
	accepted: { "pt-BR": "Aceito pela revenda", en: "Accepted by the supplier" },
	preparing: { "pt-BR": "Em preparo", en: "Being prepared" },
	ready: { "pt-BR": "Pronto para o entregador", en: "Ready for the courier" },
};

const NOTE_LABELS: Record<string, Record<Locale, string>> = {
	"courier assigned": { "pt-BR": "Entregador designado", en: "Courier assigned" },
};

export function historyLabel(entry: Pick<HistoryEntry, "status" | "note" | "stage">, locale: Locale): string {
	const stage = entry.stage ? STAGE_LABELS[entry.stage] : undefined;
	if (stage) return stage[locale];
	const note = entry.note ? NOTE_LABELS[entry.note] : undefined;
	if (note) return note[locale];
	return STATUS_LABELS[entry.status]?.[locale] ?? entry.status;
}

/** The history with a `label` on each entry, in `locale` (pt-BR unless "en"). */
export function labelledHistory<T extends Pick<HistoryEntry, "status" | "note" | "stage">>(
	history: T[] | undefined,
	locale: unknown,
): (T & { label: string })[] | undefined {
	const lang: Locale = locale === "en" ? "en" : "pt-BR";
	return history?.map((entry) => ({ ...entry, label: historyLabel(entry, lang) }));
}
