/**
 * Durable business events on @moleculer/channels.
 *
 * Publish:  await this.publishEvent("order.created", { orderId, ... }, ctx)
 * Consume:  businessEvents: { "order.created"(envelope, ctx) { ... }, "*"(envelope, ctx) { ... } }
 *
 * Each service consumes a topic as its own group (its name), so every service sees every event
 * once, and instances of one service share the work. Consumers are idempotent by event id (the
 * service's event ledger); a handler that throws is retried with exponential backoff, then the
 * message goes to the dead-letter topic with the error, and the stream moves on.
 */
import { Context, ServiceSchema } from "moleculer";
import {
	DEAD_LETTER_TOPIC,
	EventEnvelope,
	isEnvelope,
	retryDelayMs,
	topicOf,
	TOPICS,
} from "../lib/domain/events";
import { makeEnvelope } from "../lib/infra/envelopes";
import { config } from "../lib/infra/config";

export type BusinessEventHandler = (this: any, envelope: EventEnvelope, ctx: Context) => Promise<void> | void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The channel a topic travels on. The channels adapter itself prefixes it with the Moleculer
 * namespace (NAMESPACE), which keeps clusters (and test runs) sharing one NATS apart.
 */
export function channelName(topic: string): string {
	return topic;
}

function topicsFor(types: string[]): string[] {
	if (types.includes("*")) return [...TOPICS];
	return [...new Set(types.map(topicOf))];
}

export const EventsMixin: Partial<ServiceSchema> & Record<string, any> = {
	merged(schema: any) {
		const handlers: Record<string, BusinessEventHandler> = schema.businessEvents || {};
		const types = Object.keys(handlers);
		if (types.length === 0) return;
		schema.channels = schema.channels || {};
		for (const topic of topicsFor(types)) {
			schema.channels[channelName(topic)] = {
				group: schema.name,
				maxInFlight: config().eventMaxInFlight,
				handler(this: any, payload: unknown) {
					return this.consumeBusinessEvent(payload);
				},
			};
		}
	},

	methods: {
		/** Publish a business event as an envelope on its durable topic. */
		async publishEvent(
			type: string,
			data: Record<string, any>,
			ctx?: Context | null,
			actor?: string,
		): Promise<EventEnvelope> {
			// Channel subscriptions are made when the broker has started; publishing earlier would
			// reach nobody in one process, so wait (never call this awaited from started()).
			await this.broker.whenEventsReady();
			const user = (ctx?.meta as any)?.user;
			const envelope = makeEnvelope(type, data, actor || user?.id || "system", ctx?.requestID || null);
			await (this.broker as any).sendToChannel(channelName(topicOf(type)), envelope);
			return envelope;
		},

		async consumeBusinessEvent(payload: unknown) {
			if (!isEnvelope(payload)) {
				this.logger.warn("Dropped a message that is not an event envelope.");
				return;
			}
			const envelope = payload;
			const handlers = this.schema.businessEvents || {};
			const handler: BusinessEventHandler | undefined = handlers[envelope.type] || handlers["*"];
			if (!handler) return;
			await this.eventLedgerReady;
			if (await this.isEventProcessed(envelope.id)) return;

			const ctx = Context.create(this.broker, null as any, {}, { requestID: envelope.requestId || undefined } as any);
			ctx.meta = { actorId: envelope.actor };
			const attempts = this.eventRetry.maxAttempts;
			for (let attempt = 1; attempt <= attempts; attempt++) {
				try {
					await handler.call(this, envelope, ctx);
					await this.markEventProcessed(envelope.id);
					return;
				} catch (err: any) {
					this.logger.warn(
						{ requestId: envelope.requestId, eventId: envelope.id, type: envelope.type, attempt },
						`Handler for ${envelope.type} failed: ${err && err.message}`,
					);
					if (attempt < attempts) await sleep(retryDelayMs(attempt, this.eventRetry.baseMs));
					else await this.deadLetter(envelope, err);
				}
			}
		},

		async deadLetter(envelope: EventEnvelope, err: any) {
			const letter = {
				envelope,
				consumer: this.name,
				error: String((err && err.message) || err),
				failedAt: new Date().toISOString(),
			};
			this.logger.error(
				{ requestId: envelope.requestId, eventId: envelope.id },
				`Dead-lettered ${envelope.type} from ${this.name}`,
			);
			await (this.broker as any).sendToChannel(channelName(DEAD_LETTER_TOPIC), letter);
		},
	},

	created(this: any) {
		const cfg = config();
		this.eventRetry = { maxAttempts: cfg.eventMaxAttempts, baseMs: cfg.eventRetryBaseMs };
		this.eventLedgerReady = new Promise((resolve) => (this.resolveEventLedgerReady = resolve));
	},

	/** The event ledger lives in the service's store (DbMixin's openEventLedger). */
	async started(this: any) {
		await this.openEventLedger();
		this.resolveEventLedgerReady();
		const retentionMs = config().eventLedgerRetentionMs;
		this.ledgerPruner = setInterval(
			() =>
				this.pruneEventLedger(new Date(Date.now() - retentionMs)).catch((err: Error) =>
					this.logger.warn(`Event ledger pruning failed: ${err.message}`),
				),
			Math.min(retentionMs, 3600_000),
		);
		this.ledgerPruner.unref?.();
	},

	stopped(this: any) {
		if (this.ledgerPruner) clearInterval(this.ledgerPruner);
	},
};
