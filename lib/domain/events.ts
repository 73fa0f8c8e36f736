/**
 * Business events travel as envelopes on the seed's durable topics. This module is the one place
 * that knows which topic carries which event type and what an envelope looks like.
 */

export const TOPICS = [
	"user.events",
	"order.events",
	"verification.events",
	"notification.events",
	"payment.events",
	"analytics.events",
	"alert.events",
] as const;
export type Topic = (typeof TOPICS)[number];

/** Messages that failed every retry; alerts watches it and an admin can replay from it. */
export const DEAD_LETTER_TOPIC = "dead-letter.events";

const TOPIC_BY_PREFIX: Record<string, Topic> = {
	user: "user.events",
	supplier: "user.events",
	invitation: "user.events",
	order: "order.events",
	product: "order.events",
	inventory: "order.events",
	courier: "order.events",
	delivery: "order.events",
	verification: "verification.events",
	document: "verification.events",
	notification: "notification.events",
	payment: "payment.events",
	refund: "payment.events",
	reconciliation: "payment.events",
	report: "analytics.events",
	alert: "alert.events",
	commission: "analytics.events",
	payout: "analytics.events",
	voucher: "payment.events",
	reminder: "analytics.events",
	review: "order.events",
	rating: "order.events",
	receipt: "order.events",
};

export function topicOf(type: string): Topic {
	const topic = TOPIC_BY_PREFIX[type.split(".")[0]];
	if (!topic) throw new Error(`No topic carries events of type '${type}'`);
	return topic;
}

/** A business event on a durable topic; `T` is its payload (EventMap[type] where the type is known). */
export interface EventEnvelope<T = object> {
	id: string;
	type: string;
	time: string;
	/** The acting user's id, or "system" for jobs and sagas. */
	actor: string;
	requestId: string | null;
	data: T;
}

export function isEnvelope(value: unknown): value is EventEnvelope {
	const v = value as Partial<EventEnvelope> | null;
	return (
		v != null &&
		typeof v.id === "string" &&
		typeof v.type === "string" &&
		typeof v.time === "string" &&
		typeof v.data === "object"
	);
}

/** Delay before retry number `attempt` (1-based): exponential with full jitter. */
export function retryDelayMs(attempt: number, baseMs: number): number {
	const cap = baseMs * 2 ** (attempt - 1);
	return Math.round(cap / 2 + Math.random() * (cap / 2));
}
