/**
 * The store layer: what DbMixin needs from a database, one implementation per kind of database
 * (SQLite in the process: the embedded default; PostgreSQL: the shared store; MongoDB).
 *
 * Documents are plain JSON objects with a string `_id`. Queries and updates use the Mongo-style
 * subset the services use (listed below), so service code does not depend on the database.
 */
import { EventEnvelope } from "../../domain/events";

/** A stored document. */
export interface StoredDoc {
	_id: string;
	[field: string]: unknown;
}

/**
 * Mongo-style filter. Supported: equality on a (dotted) field, `$in`, `$nin`, `$ne`, `$lt`, `$lte`,
 * `$gt`, `$gte`, `$exists`, and top-level `$or` / `$and`.
 */
export type Filter = Record<string, unknown>;

/** Mongo-style update. Supported: `$set`, `$unset`, `$inc`, `$push` (one value or `{ $each: [...] }`), `$pull` (a value). */
export interface UpdateSpec {
	$set?: Record<string, unknown>;
	$unset?: Record<string, unknown>;
	$inc?: Record<string, number>;
	$push?: Record<string, unknown>;
	$pull?: Record<string, unknown>;
}

/** `{ createdAt: -1 }`, or moleculer-db's `["-createdAt", "id"]`. */
export type SortSpec = Record<string, 1 | -1> | string[];

export interface FindOptions {
	query?: Filter;
	sort?: SortSpec;
	limit?: number;
	offset?: number;
}

export interface IndexSpec {
	fields: Record<string, 1 | -1>;
	unique?: boolean;
	/** Unique only among documents that have the field. */
	sparse?: boolean;
}

/** Thrown by insert/update when a unique index would be violated (DbMixin maps it to 409). */
export class UniqueViolationError extends Error {
	readonly code = "UNIQUE_VIOLATION";
	constructor(
		readonly collection: string,
		detail?: string,
	) {
		super(`${collection}: a record with these unique fields exists${detail ? ` (${detail})` : ""}`);
	}
}

/** One collection (a table in SQL) of a service's store. */
export interface Collection<T extends StoredDoc = StoredDoc> {
	readonly name: string;
	/** Inserts, and records `events` in the outbox in the same atomic write. */
	insert(doc: T, events?: EventEnvelope[]): Promise<T>;
	findById(id: string): Promise<T | null>;
	findOne(query: Filter, sort?: SortSpec): Promise<T | null>;
	find(opts?: FindOptions): Promise<T[]>;
	count(query?: Filter): Promise<number>;
	/**
	 * Atomic compare-and-set: applies `update` to the one document matching `query` (which names its
	 * `_id`, or matches at most one document) only if it still matches, and records `events` in the
	 * outbox in the same atomic write. Returns the updated document, or null when nothing matched.
	 */
	updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null>;
	/** Applies `update` to every matching document (each one atomically); returns how many changed. */
	updateMany(query: Filter, update: UpdateSpec): Promise<number>;
	removeMany(query: Filter): Promise<number>;
}

/** An event recorded with the state change that caused it, waiting to be published. */
export interface OutboxEntry {
	/** The envelope id. */
	id: string;
	envelope: EventEnvelope;
}

/** Transactional outbox: written by Collection.insert/updateOne (and `add`), drained by the relay. */
export interface Outbox {
	/** Records events that go with no state change (still durable before publishing). */
	add(events: EventEnvelope[]): Promise<void>;
	/** The oldest unsent entries, at most `limit`. */
	pending(limit: number): Promise<OutboxEntry[]>;
	/** Marks entries published (they are removed, or kept briefly for audit, at the store's choice). */
	markSent(ids: string[]): Promise<void>;
	/**
	 * For a store shared by several instances of a service: publishes the oldest entries through
	 * `publish` while no other instance relays this outbox, and removes them once published.
	 * Returns how many were relayed, or "busy" when another instance holds the relay.
	 */
	drain?(limit: number, publish: (entries: OutboxEntry[]) => Promise<void>): Promise<number | "busy">;
}

/** Consumer-side event ledger: which event ids this service has already handled. */
export interface EventLedger {
	has(eventId: string): Promise<boolean>;
	/** Records the id; true if it was not there before. */
	add(eventId: string): Promise<boolean>;
	/** Forgets entries older than the redelivery window; returns how many. */
	prune(olderThan: Date): Promise<number>;
}

/** A service's store: its own database file (SQLite), schema (PostgreSQL) or database (MongoDB). */
export interface ServiceStore {
	readonly kind: "sqlite" | "postgres" | "mongo";
	/** Opens (creating if needed) a collection with its indexes. */
	collection<T extends StoredDoc = StoredDoc>(name: string, indexes?: IndexSpec[]): Promise<Collection<T>>;
	readonly outbox: Outbox;
	readonly ledger: EventLedger;
	/** True while the database answers (readiness). */
	isUp(): boolean;
	/** Rewrites the store's files so that removed values are gone from them (SQLite: VACUUM, WAL truncated). */
	compact?(): Promise<void>;
	close(): Promise<void>;
}
