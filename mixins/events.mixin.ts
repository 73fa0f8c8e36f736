/**
 * Durable business events on @moleculer/channels, published through a transactional outbox.
 *
 * Publish with a state change (one atomic write, see DbMixin):
 *     await this.compareAndSet(ctx, { _id, status: "created" }, update, [{ type: "order.confirmed", data }])
 * Publish on its own:   await this.publishEvent("report.generated", data, ctx)
 * Consume:              businessEvents: { "order.created"(envelope, ctx) { ... } }
 *
 * Every event is first recorded in the service's outbox; the relay below publishes what the outbox
 * holds to the event's durable topic and then marks it sent. It runs right after each write, every
 * second, and at start-up, so an event recorded before a crash is published after the restart.
 *
 * Each service consumes a topic as its own group (its name), so every service sees every event
 * once, and instances of one service share the work. Consumers are idempotent by event id (the
 * event ledger); a handler that throws is retried with exponential backoff, then the message goes
 * to the dead-letter topic with the error, and the stream moves on.
 */
import { Context, Endpoint, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { EventMap, EventName } from "../lib/contracts/events";
import { DEAD_LETTER_TOPIC, EventEnvelope, isEnvelope, retryDelayMs, topicOf, TOPICS } from "../lib/domain/events";
import { config } from "../lib/infra/config";
import { makeEnvelope } from "../lib/infra/envelopes";
import { recordDeadLettered, recordHandled, recordPublished, recordRetried } from "../lib/infra/event-metrics";
import type { EventLedger, Outbox, OutboxEntry } from "../lib/infra/store/types";

/** A consumer of one event type; `this` is the consuming service. */
export type BusinessEventHandler<K extends EventName, S = Service> = (
	this: S,
	envelope: EventEnvelope<EventMap[K]>,
	ctx: Context,
) => Promise<void> | void;

/** A service's `businessEvents`: a handler per event type it consumes. */
export type BusinessEventHandlers<S = Service> = { [K in EventName]?: BusinessEventHandler<K, S> } & {
	/** Every event of every topic (recorders, audit); prefer handlers by type. */
	"*"?: BusinessEventHandler<EventName, S>;
};

/** What EventsMixin gives a service. */
export interface EventsMethods {
	publishEvent<K extends EventName>(type: K, data: EventMap[K], ctx?: Context | null): Promise<EventEnvelope>;
	/**
	 * Publishes what the outbox holds (called after writes that carry events). Resolves when a relay
	 * pass that started after the call has finished; a failed pass is retried by the timer.
	 */
	flushOutbox(): Promise<void>;
}

/** Where the events mixin keeps its outbox and ledger: DbMixin's store, or memory without one. */
interface EventStorage {
	outbox: Outbox;
	ledger: EventLedger;
}

type ChannelsBroker = Service["broker"] & {
	sendToChannel(channel: string, payload: unknown): Promise<void>;
	whenEventsReady(): Promise<void>;
};

type EventsService = Service &
	EventsMethods & {
		broker: ChannelsBroker;
		schema: ServiceSchema & { businessEvents?: BusinessEventHandlers<Service> };
		eventRetry: { maxAttempts: number; baseMs: number };
		events$: Promise<EventStorage>;
		resolveEvents$: (storage: EventStorage) => void;
		relayPass: Promise<void> | null;
		relayNext: Promise<void> | null;
		relayTimer?: NodeJS.Timeout;
		ledgerPruner?: NodeJS.Timeout;
		store?: { outbox: Outbox };
		openEventLedger?: () => Promise<EventLedger>;
		eventsInFlight: Map<string, Promise<void>>;
		eventsStopped?: boolean;
	};

const RELAY_BATCH = 200;
const RELAY_INTERVAL_MS = 1000;
const RELAY_BUSY_WAIT_MS = 10;
const RELAY_BUSY_RETRIES = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const errorMessage = (err: unknown) => String((err as Error)?.message ?? err);

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

/** Outbox and ledger in memory, for a service without a store (tests, the gateway). */
function memoryEventStorage(): EventStorage {
	const pending = new Map<string, EventEnvelope>();
	const seen = new Map<string, number>();
	return {
		outbox: {
			async add(events) {
				for (const e of events) pending.set(e.id, e);
			},
			async pending(limit) {
				return [...pending.values()].slice(0, limit).map((envelope) => ({ id: envelope.id, envelope }));
			},
			async markSent(ids) {
				for (const id of ids) pending.delete(id);
			},
		},
		ledger: {
			async has(id) {
				return seen.has(id);
			},
			async add(id) {
				if (seen.has(id)) return false;
				seen.set(id, Date.now());
				return true;
			},
			async prune(olderThan) {
				let removed = 0;
				for (const [id, at] of seen) if (at < olderThan.getTime() && seen.delete(id)) removed++;
				return removed;
			},
		},
	};
}

/**
 * The service methods the mixin adds: only its public API. Its inner workings below are module
 * functions taking the service, so that a service's own method of the same name (once, notifications'
 * `handleBusinessEvent`) cannot replace them and silently stop every event.
 */
const methods: EventsMethods & ThisType<EventsService> = {
	async publishEvent<K extends EventName>(
		this: EventsService,
		type: K,
		data: EventMap[K],
		ctx?: Context | null,
	): Promise<EventEnvelope> {
		const meta = (ctx?.meta || {}) as { user?: { id: string }; actorId?: string };
		const envelope = makeEnvelope(type, data, meta.user?.id || meta.actorId || "system", ctx?.requestID || null);
		const { outbox } = await this.events$;
		await outbox.add([envelope]);
		await this.flushOutbox();
		return envelope;
	},

	flushOutbox(this: EventsService): Promise<void> {
		// One pass at a time; callers arriving during a pass share the one pass queued after it.
		if (this.relayNext) return this.relayNext;
		const runPass = (): Promise<void> =>
			relayOutbox(this).catch((err: unknown) =>
				this.logger.warn(`Outbox relay failed (retried in 1 s): ${errorMessage(err)}`),
			);
		if (!this.relayPass) {
			this.relayPass = runPass().finally(() => (this.relayPass = null));
			return this.relayPass;
		}
		this.relayNext = this.relayPass.then(() => {
			this.relayNext = null;
			this.relayPass = runPass().finally(() => (this.relayPass = null));
			return this.relayPass;
		});
		return this.relayNext;
	},
};

/** Publishes the outbox in order, marking each batch sent once the topic has it. */
async function relayOutbox(service: EventsService): Promise<void> {
	const { outbox } = await service.events$;
	// Channel subscriptions are made when the broker has started; publishing earlier would reach
	// nobody in one process.
	await service.broker.whenEventsReady();
	const publish = async (batch: OutboxEntry[]) => {
		for (const entry of batch) {
			const topic = topicOf(entry.envelope.type);
			await service.broker.sendToChannel(channelName(topic), entry.envelope);
			recordPublished(service.broker, topic);
		}
	};
	for (let busyWaits = 0; ;) {
		if (outbox.drain) {
			const relayed = await outbox.drain(RELAY_BATCH, publish);
			// Another instance is relaying this store's outbox: our entries go with its next batch,
			// or with ours once it is done.
			if (relayed === "busy") {
				if (++busyWaits > RELAY_BUSY_RETRIES) return;
				await sleep(RELAY_BUSY_WAIT_MS);
				continue;
			}
			if (relayed < RELAY_BATCH) return;
			continue;
		}
		const batch = await outbox.pending(RELAY_BATCH);
		if (batch.length === 0) return;
		await publish(batch);
		await outbox.markSent(batch.map((e) => e.id));
		if (batch.length < RELAY_BATCH) return;
	}
}

async function consumeBusinessEvent(service: EventsService, payload: unknown): Promise<void> {
	if (!isEnvelope(payload)) {
		service.logger.warn("Dropped a message that is not an event envelope.");
		return;
	}
	const envelope = payload;
	const handlers = service.schema.businessEvents || {};
	const handler = (handlers[envelope.type as EventName] || handlers["*"]) as
		BusinessEventHandler<EventName, Service> | undefined;
	if (!handler) return;
	// A second copy of an event this instance is handling (at-least-once delivery) waits for the first.
	const inFlight = service.eventsInFlight.get(envelope.id);
	if (inFlight) return inFlight;
	const handling = handleBusinessEvent(service, envelope, handler).finally(() =>
		service.eventsInFlight.delete(envelope.id),
	);
	service.eventsInFlight.set(envelope.id, handling);
	return handling;
}

async function handleBusinessEvent(
	service: EventsService,
	envelope: EventEnvelope,
	handler: BusinessEventHandler<EventName, Service>,
): Promise<void> {
	const { ledger } = await service.events$;
	if (await ledger.has(envelope.id)) return;

	// A root context: no endpoint, the envelope's request id carried on.
	const ctx = Context.create(
		service.broker,
		null as unknown as Endpoint,
		{},
		{
			requestID: envelope.requestId || undefined,
		},
	);
	ctx.meta = { actorId: envelope.actor };
	const attempts = service.eventRetry.maxAttempts;
	for (let attempt = 1; attempt <= attempts; attempt++) {
		try {
			await handler.call(service, envelope as EventEnvelope<EventMap[EventName]>, ctx);
			await ledger.add(envelope.id);
			recordHandled(service.broker, topicOf(envelope.type), service.name);
			return;
		} catch (err) {
			service.logger.warn(
				{ requestId: envelope.requestId, eventId: envelope.id, type: envelope.type, attempt },
				`Handler for ${envelope.type} failed: ${errorMessage(err)}`,
			);
			if (attempt < attempts) {
				recordRetried(service.broker, topicOf(envelope.type), service.name);
				await sleep(retryDelayMs(attempt, service.eventRetry.baseMs));
			} else await deadLetter(service, envelope, err);
		}
	}
}

async function deadLetter(service: EventsService, envelope: EventEnvelope, err: unknown): Promise<void> {
	const letter = {
		envelope,
		consumer: service.name,
		error: errorMessage(err),
		failedAt: new Date().toISOString(),
	};
	service.logger.error(
		{ requestId: envelope.requestId, eventId: envelope.id },
		`Dead-lettered ${envelope.type} from ${service.name}`,
	);
	await service.broker.sendToChannel(channelName(DEAD_LETTER_TOPIC), letter);
	recordDeadLettered(service.broker, topicOf(envelope.type), service.name);
}

const schema: Partial<ServiceSchema<ServiceSettingSchema, EventsService>> = {
	merged(merged: ServiceSchema & { businessEvents?: BusinessEventHandlers }) {
		const types = Object.keys(merged.businessEvents || {});
		if (types.length === 0) return;
		merged.channels = merged.channels || {};
		for (const topic of topicsFor(types)) {
			merged.channels[channelName(topic)] = {
				group: merged.name,
				maxInFlight: config().eventMaxInFlight,
				handler(this: EventsService, payload: unknown) {
					return consumeBusinessEvent(this, payload);
				},
			};
		}
	},

	methods: methods as unknown as ServiceSchema["methods"],

	created(this: EventsService) {
		const cfg = config();
		this.eventRetry = { maxAttempts: cfg.eventMaxAttempts, baseMs: cfg.eventRetryBaseMs };
		this.eventsInFlight = new Map();
		this.relayPass = null;
		this.relayNext = null;
		this.events$ = new Promise((resolve) => (this.resolveEvents$ = resolve));
	},

	/** The outbox and ledger live in the service's store when it has one (DbMixin). */
	started(this: EventsService) {
		// Moleculer runs the started hooks of `mixins: [DbMixin(...), EventsMixin]` in reverse order,
		// so the store may not be open yet: wait for it (openEventLedger) without blocking start-up.
		if (!this.openEventLedger) return startEventStorage(this, memoryEventStorage());
		void this.openEventLedger().then(
			(ledger) => startEventStorage(this, { ledger, outbox: this.store!.outbox }),
			(err: unknown) => this.logger.error(`Event storage unavailable: ${errorMessage(err)}`),
		);
	},

	stopped(this: EventsService) {
		this.eventsStopped = true;
		if (this.ledgerPruner) clearInterval(this.ledgerPruner);
		if (this.relayTimer) clearInterval(this.relayTimer);
	},
};

/** Once the outbox and ledger are known: events flow, the ledger is pruned, the outbox relayed. */
function startEventStorage(service: EventsService, storage: EventStorage): void {
	if (service.eventsStopped) return;
	service.resolveEvents$(storage);
	const retentionMs = config().eventLedgerRetentionMs;
	service.ledgerPruner = setInterval(
		() =>
			storage.ledger
				.prune(new Date(Date.now() - retentionMs))
				.catch((err: unknown) => service.logger.warn(`Event ledger pruning failed: ${errorMessage(err)}`)),
		Math.min(retentionMs, 3600_000),
	);
	service.ledgerPruner.unref?.();
	// Whatever a previous run recorded and did not publish goes out now (not awaited: the broker
	// is still starting), then every second in case a publish failed.
	void service.flushOutbox();
	service.relayTimer = setInterval(() => void service.flushOutbox(), RELAY_INTERVAL_MS);
	service.relayTimer.unref?.();
}

// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
export const EventsMixin = schema as unknown as Partial<ServiceSchema>;
