/**
 * A durable @moleculer/channels adapter for the embedded default (one process, no transporter):
 * every message is written to one SQLite file before publish() resolves, each consumer group pulls
 * at most maxInFlight messages at a time (the rest wait on disk), failures are retried with
 * exponential backoff and then dead-lettered, and unacknowledged messages are delivered again after
 * a restart. At-least-once: consumers must be idempotent (the events mixin's event ledger).
 *
 * One process per file: consumers in another process sharing the file would each get every message.
 */
import type BaseAdapterType = require("@moleculer/channels/types/src/adapters/base");
import type { Channel } from "@moleculer/channels/types/src/index";
import { Errors, LoggerInstance, Service, ServiceBroker } from "moleculer";
import {
	countDeadLettered,
	countHandled,
	countPublished,
	countRetried,
	CountsEventMetrics,
	registerEventMetrics,
	setBacklog,
} from "../event-metrics";
import { ConsumerDeps, errorMessage, GroupConsumer, Member } from "./group-consumer";
import { EventStore, Headers, IN_MEMORY, StoredMessage, StoreOptions } from "./sqlite-store";

// The package ships JavaScript plus declaration files under types/; resolve() accepts an instance
// of this very class (instanceof), so extend the runtime module, typed by its declaration.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the package exports no ES module for it
const BaseAdapter: typeof BaseAdapterType = require("@moleculer/channels/src/adapters/base");

/** Header names shared with the package's other adapters (src/constants.js), plus the error. */
export const DEAD_LETTER_HEADERS = {
	originalChannel: "x-original-channel",
	originalGroup: "x-original-group",
	originalId: "x-original-id",
	error: "x-error",
} as const;

export interface SqliteOptions {
	/** The database file, or ":memory:". */
	file: string;
	/** Delay before the first retry; doubles for each further failure, up to retryMaxMs. */
	retryBaseMs: number;
	retryMaxMs: number;
	/** How often fully acknowledged messages are deleted. */
	pruneIntervalMs: number;
	/** How often an idle consumer looks for messages it was not woken for. */
	pollIntervalMs: number;
	synchronous: StoreOptions["synchronous"];
	/** How long unsubscribing waits for handlers in flight; after it their messages are redelivered later. */
	shutdownTimeoutMs: number;
}

export interface SqliteAdapterOptions {
	prefix?: string | null;
	consumerName?: string;
	serializer?: string;
	maxRetries?: number;
	maxInFlight?: number;
	deadLettering?: { enabled: boolean; queueName?: string };
	sqlite?: Partial<SqliteOptions>;
}

/** What a channel handler receives as its second argument (parseMessageHeaders reads headers). */
export interface SqliteRawMessage {
	seq: number;
	payload: unknown;
	headers: Headers | undefined;
	/** Deliveries of this message to this group before this one. */
	redeliveryCount: number;
}

type ChannelHandler = (payload: unknown, raw: SqliteRawMessage) => Promise<unknown> | unknown;

const DEFAULTS: SqliteOptions = {
	file: IN_MEMORY,
	retryBaseMs: 1000,
	retryMaxMs: 60_000,
	pruneIntervalMs: 10_000,
	pollIntervalMs: 1000,
	synchronous: "NORMAL",
	shutdownTimeoutMs: 10_000,
};

type State = "idle" | "open" | "closed";

export class SqliteAdapter extends BaseAdapter implements CountsEventMetrics {
	readonly countsEventMetrics = true;
	readonly sqlite: SqliteOptions;
	private store: EventStore | null = null;
	private state: State = "idle";
	private readonly consumers = new Map<string, GroupConsumer>();
	private pruneTimer: NodeJS.Timeout | null = null;

	constructor(opts: SqliteAdapterOptions = {}) {
		super(opts);
		this.sqlite = { ...DEFAULTS, ...(opts.sqlite || {}) };
	}

	init(broker: ServiceBroker, logger: LoggerInstance): void {
		super.init(broker, logger);
		registerEventMetrics(broker);
	}

	async connect(): Promise<void> {
		this.openStore();
		this.pruneTimer = setInterval(() => this.prune(), this.sqlite.pruneIntervalMs);
		this.pruneTimer.unref();
		this.connected = true;
	}

	async disconnect(): Promise<void> {
		this.connected = false;
		if (this.pruneTimer) clearInterval(this.pruneTimer);
		this.pruneTimer = null;
		for (const consumer of this.consumers.values()) consumer.close();
		this.consumers.clear();
		if (this.store) {
			this.prune();
			this.store.close();
		}
		this.store = null;
		this.state = "closed";
	}

	async subscribe(chan: Channel, svc: Service): Promise<void> {
		this.logger.debug(`Subscribing '${svc.fullName}' to '${chan.name}' as group '${chan.group}'...`);
		if (chan.maxInFlight == null) chan.maxInFlight = this.opts.maxInFlight;
		if (chan.maxRetries == null) chan.maxRetries = this.opts.maxRetries;
		chan.deadLettering = { ...this.opts.deadLettering, ...(chan.deadLettering || {}) };
		if (chan.deadLettering.enabled) chan.deadLettering.queueName = this.addPrefixTopic(chan.deadLettering.queueName);
		this.initChannelActiveMessages(chan.id);
		this.consumerFor(chan.name, chan.group).addMember(chan);
	}

	async unsubscribe(chan: Channel): Promise<void> {
		if (chan.unsubscribing) return;
		chan.unsubscribing = true;
		const key = consumerKey(chan.name, chan.group);
		const consumer = this.consumers.get(key);
		consumer?.removeMember(chan);
		await this.drain(chan);
		this.activeMessages.delete(chan.id);
		if (consumer && consumer.memberCount === 0) {
			consumer.close();
			this.consumers.delete(key);
		}
	}

	/** Graceful shutdown: lets the handlers in flight finish and acknowledge, for a while. */
	private async drain(chan: Channel): Promise<void> {
		const deadline = Date.now() + this.sqlite.shutdownTimeoutMs;
		while (this.getNumberOfChannelActiveMessages(chan.id) > 0) {
			if (Date.now() > deadline) {
				this.logger.warn(
					`Stopped waiting for ${this.getNumberOfChannelActiveMessages(chan.id)} message(s) of '${chan.name}' (group '${chan.group}'); they will be delivered again.`,
				);
				return;
			}
			await sleep(20);
		}
	}

	/**
	 * Writes the message (committed when this resolves) and wakes this topic's consumers.
	 * Accepted before connect() too: it waits on disk for its consumers.
	 */
	async publish(channelName: string, payload: unknown, opts: { raw?: boolean; headers?: Headers } = {}) {
		const body = opts.raw && Buffer.isBuffer(payload) ? payload : this.serializer.serialize(payload as object);
		this.append(channelName, body, opts.headers || null);
	}

	/** Unacknowledged messages of a topic for a group subscribed in this process (tests, bench). */
	backlog(channelName: string, group: string): number {
		return this.consumers.get(consumerKey(channelName, group))?.pendingCount ?? 0;
	}

	/** Deletes messages every known group is done with; returns how many. */
	prune(): number {
		if (!this.store?.isOpen) return 0;
		try {
			return this.store.prune();
		} catch (err) {
			this.logger.warn("Pruning acknowledged channel messages failed:", err);
			return 0;
		}
	}

	/** Messages still stored, all topics (tests). */
	storedMessageCount(): number {
		return this.openStore().messageCount();
	}

	private openStore(): EventStore {
		if (this.state === "closed") throw new Errors.MoleculerRetryableError("The channels adapter is disconnected.");
		if (!this.store) {
			this.store = new EventStore(this.sqlite.file, { synchronous: this.sqlite.synchronous });
			this.state = "open";
			this.logger.info(`Durable channel messages in ${this.sqlite.file}`);
		}
		return this.store;
	}

	private append(channelName: string, body: Buffer, headers: Headers | null): void {
		this.openStore().append(channelName, body, headers);
		countPublished(this.broker, this.topicLabel(channelName));
		for (const consumer of this.consumers.values()) if (consumer.topic === channelName) consumer.published();
	}

	private consumerFor(channelName: string, group: string): GroupConsumer {
		const key = consumerKey(channelName, group);
		let consumer = this.consumers.get(key);
		if (!consumer) {
			consumer = new GroupConsumer(channelName, group, this.consumerDeps(channelName, group));
			this.consumers.set(key, consumer);
		}
		return consumer;
	}

	private consumerDeps(channelName: string, group: string): ConsumerDeps {
		const topic = this.topicLabel(channelName);
		return {
			store: this.openStore(),
			logger: this.logger,
			pollIntervalMs: this.sqlite.pollIntervalMs,
			backoffMs: (failed) => Math.min(this.sqlite.retryMaxMs, this.sqlite.retryBaseMs * 2 ** (failed - 1)),
			invoke: (member, message, attempt) => this.invoke(member, message, attempt),
			giveUp: (member, message, error) => this.giveUp(member.chan, message, error),
			onHandled: () => countHandled(this.broker, topic, group),
			onRetried: () => countRetried(this.broker, topic, group),
			onBacklog: (value) => setBacklog(this.broker, topic, group, value),
		};
	}

	private async invoke(member: Member, message: StoredMessage, attempt: number): Promise<void> {
		const chan = member.chan;
		this.addChannelActiveMessages(chan.id, [message.seq]);
		try {
			const payload = this.serializer.deserialize(message.payload);
			const raw: SqliteRawMessage = {
				seq: message.seq,
				payload,
				headers: message.headers || undefined,
				redeliveryCount: attempt - 1,
			};
			if (attempt > 1) this.logger.debug(`Redelivering message ${message.seq} of '${chan.name}' (attempt ${attempt}).`);
			await (chan.handler as ChannelHandler)(payload, raw);
		} catch (err) {
			this.metricsIncrement("moleculer.channels.messages.errors.total", chan);
			throw err;
		} finally {
			// Not tracked any more when unsubscribe gave up waiting for this handler.
			if (this.activeMessages.has(chan.id)) this.removeChannelActiveMessages(chan.id, [message.seq]);
		}
	}

	/** After the last retry: to the dead-letter queue like the other adapters, else logged and dropped. */
	private giveUp(chan: Channel, message: StoredMessage, error: unknown): void {
		const reason = errorMessage(error);
		const dlq = chan.deadLettering;
		if (!dlq?.enabled) {
			this.logger.error(
				`Dropped message ${message.seq} of '${chan.name}' (group '${chan.group}') after ${chan.maxRetries} retries: ${reason}`,
			);
			return;
		}
		this.append(dlq.queueName, message.payload, {
			...(message.headers || {}),
			[DEAD_LETTER_HEADERS.originalId]: String(message.seq),
			[DEAD_LETTER_HEADERS.originalChannel]: chan.name,
			[DEAD_LETTER_HEADERS.originalGroup]: chan.group,
			[DEAD_LETTER_HEADERS.error]: reason,
		});
		this.metricsIncrement("moleculer.channels.messages.deadLettering.total", chan);
		countDeadLettered(this.broker, this.topicLabel(chan.name), chan.group);
		this.logger.warn(`Moved message ${message.seq} of '${chan.name}' to '${dlq.queueName}': ${reason}`);
	}

	/** The topic without the namespace prefix the channels middleware adds. */
	private topicLabel(channelName: string): string {
		const prefix = this.opts.prefix;
		return prefix && channelName.startsWith(`${prefix}.`) ? channelName.slice(prefix.length + 1) : channelName;
	}
}

function consumerKey(channelName: string, group: string): string {
	return `${channelName}\u0000${group}`;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
