/**
 * A service's storage, on the store layer (lib/infra/store): the kind of database is chosen by
 * configuration when the service starts, and services only see the methods below.
 *
 *   DbMixin<Order>({ collection: "orders", indexes: [...], kinds: { users: { indexes: [...] } } })
 *
 * - the main collection holds the service's own entity (`this.insertEntity`, `this.compareAndSet`, …);
 * - named record kinds are further collections of the same store (`this.kind("users")`), each with
 *   its own indexes, instead of one collection holding several record types;
 * - every write can carry business events (`events`), recorded in the same atomic write (the
 *   outbox) and published afterwards by EventsMixin's relay;
 * - the event ledger of EventsMixin lives in the same store (`openEventLedger`).
 */
import { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { PendingEvent } from "../lib/contracts/events";
import type { Page } from "../lib/contracts/common";
import { EventEnvelope } from "../lib/domain/events";
import { makeEnvelope } from "../lib/infra/envelopes";
import { conflict, notFound } from "../lib/infra/errors";
import { newId } from "../lib/infra/ids";
import { openStore } from "../lib/infra/store";
import { withSealedFields } from "../lib/infra/store/sealed";
import {
	Collection,
	EventLedger,
	Filter,
	FindOptions,
	IndexSpec,
	ServiceStore,
	SortSpec,
	StoredDoc,
	UniqueViolationError,
	UpdateSpec,
} from "../lib/infra/store/types";

export type { IndexSpec } from "../lib/infra/store/types";

export interface DbMixinOptions {
	collection: string;
	indexes?: IndexSpec[];
	/** Further record kinds of this service, each its own collection: name → indexes (and sealed fields). */
	kinds?: Record<string, { indexes?: IndexSpec[]; sealed?: string[] }>;
	/** Top-level fields encrypted at rest (lib/infra/store/sealed.ts): secrets, card tokens, document numbers. */
	sealed?: string[];
}

/** A document about to be inserted: `_id` is generated unless given. */
export type NewDoc<T extends StoredDoc> = Omit<T, "_id"> & { _id?: string };

/** The storage methods every DbMixin service has (`this` in its actions, methods and handlers). */
export interface DbMethods<T extends StoredDoc> {
	store: ServiceStore;
	records: Collection<T>;
	kind<K extends StoredDoc>(name: string): Collection<K>;
	insertEntity(ctx: Context | null, doc: NewDoc<T>, events?: PendingEvent[]): Promise<T>;
	/** Inserts, or returns the document that already holds the unique fields (`existing` query). */
	insertOrGet(
		ctx: Context | null,
		doc: NewDoc<T>,
		existing: Filter,
		events?: PendingEvent[],
	): Promise<{ doc: T; created: boolean }>;
	/** Applies `update` to the document matching `query`, inserting `doc` first when there is none. */
	upsert(ctx: Context | null, query: Filter, doc: NewDoc<T>, update: UpdateSpec): Promise<T>;
	findEntity(id: string): Promise<T | null>;
	getEntityOr404(id: string, what?: string): Promise<T>;
	findEntities(filter?: FindOptions): Promise<T[]>;
	findOneEntity(query: Filter, sort?: SortSpec): Promise<T | null>;
	countEntities(query?: Filter): Promise<number>;
	/** One page, newest first by default; `total` only when asked (counting is not free). */
	paginate(
		query: Filter,
		page: { page: number; pageSize: number; sort?: SortSpec; withTotal?: boolean },
	): Promise<Page<T>>;
	compareAndSet(ctx: Context | null, query: Filter, update: UpdateSpec, events?: PendingEvent[]): Promise<T | null>;
	updateEntity(ctx: Context | null, id: string, update: UpdateSpec, events?: PendingEvent[]): Promise<T>;
	/** Envelopes for events recorded with a write (actor and request id from the context). */
	envelopes(ctx: Context | null, events: PendingEvent[] | undefined): EventEnvelope[];
	/** Output form of a stored document: `_id` becomes `id`, hidden fields stay out. */
	toPublic<K extends keyof T & string>(doc: T, hidden?: K[]): Omit<T, "_id" | K> & { id: string };
	openEventLedger(): Promise<EventLedger>;
	storeIsUp(): boolean;
	clearCache(): Promise<void>;
}

type DbService<T extends StoredDoc> = Service &
	DbMethods<T> & {
		kinds: Map<string, Collection<StoredDoc>>;
		storeReady: Promise<void>;
		resolveStoreReady: () => void;
		cachesActions?: boolean;
		/** EventsMixin's relay, when the service has it: publishes what the outbox holds. */
		flushOutbox?: () => Promise<void>;
	};

const CONFLICT_MESSAGE = (collection: string) => `${collection}: a record with these unique fields exists`;

function mapUniqueViolation(err: unknown, collection: string): unknown {
	return err instanceof UniqueViolationError ? conflict(CONFLICT_MESSAGE(collection)) : err;
}

export function DbMixin<T extends StoredDoc = StoredDoc>(opts: DbMixinOptions): Partial<ServiceSchema> {
	const collection = opts.collection;
	const methods: Omit<DbMethods<T>, "store" | "records"> & ThisType<DbService<T>> = {
		kind<K extends StoredDoc>(this: DbService<T>, name: string): Collection<K> {
			const found = this.kinds.get(name);
			if (!found) throw new Error(`${collection} has no record kind '${name}' (declare it in DbMixin's kinds)`);
			return found as unknown as Collection<K>;
		},

		envelopes(ctx: Context | null, events: PendingEvent[] | undefined): EventEnvelope[] {
			if (!events?.length) return [];
			const meta = (ctx?.meta || {}) as { user?: { id: string }; actorId?: string };
			const actor = meta.user?.id || meta.actorId || "system";
			return events.map((e) => makeEnvelope(e.type, e.data, actor, ctx?.requestID || null));
		},

		async insertEntity(this: DbService<T>, ctx: Context | null, doc: NewDoc<T>, events?: PendingEvent[]): Promise<T> {
			const toInsert = { ...doc, _id: doc._id ?? newId() } as T;
			try {
				const saved = await this.records.insert(toInsert, this.envelopes(ctx, events));
				await afterWrite(this, "entityCreated", saved, events);
				return saved;
			} catch (err) {
				throw mapUniqueViolation(err, collection);
			}
		},

		async insertOrGet(
			this: DbService<T>,
			ctx: Context | null,
			doc: NewDoc<T>,
			existing: Filter,
			events?: PendingEvent[],
		): Promise<{ doc: T; created: boolean }> {
			try {
				return { doc: await this.insertEntity(ctx, doc, events), created: true };
			} catch (err) {
				const found = await this.records.findOne(existing);
				if (found) return { doc: found, created: false };
				throw err;
			}
		},

		async upsert(
			this: DbService<T>,
			ctx: Context | null,
			query: Filter,
			doc: NewDoc<T>,
			update: UpdateSpec,
		): Promise<T> {
			const updated = await this.records.updateOne(query, update);
			if (updated) return updated;
			const { doc: stored } = await this.insertOrGet(ctx, doc, query);
			return (await this.records.updateOne({ _id: stored._id }, update)) ?? stored;
		},

		findEntity(this: DbService<T>, id: string): Promise<T | null> {
			if (typeof id !== "string") return Promise.resolve(null);
			return this.records.findById(id);
		},

		async getEntityOr404(this: DbService<T>, id: string, what = collection): Promise<T> {
			const doc = await this.findEntity(id);
			if (!doc) throw notFound(what, id);
			return doc;
		},

		findEntities(this: DbService<T>, filter: FindOptions = {}): Promise<T[]> {
			return this.records.find(filter);
		},

		findOneEntity(this: DbService<T>, query: Filter, sort?: SortSpec): Promise<T | null> {
			return this.records.findOne(query, sort);
		},

		countEntities(this: DbService<T>, query: Filter = {}): Promise<number> {
			return this.records.count(query);
		},

		async paginate(
			this: DbService<T>,
			query: Filter,
			{ page, pageSize, sort = ["-createdAt"], withTotal = true },
		): Promise<Page<T>> {
			const [rows, total] = await Promise.all([
				this.records.find({ query, sort, limit: pageSize, offset: (page - 1) * pageSize }),
				withTotal ? this.records.count(query) : Promise.resolve(undefined),
			]);
			return { rows, page, pageSize, ...(total === undefined ? {} : { total }) };
		},

		/**
		 * Atomic conditional update: applies `update` only if a document matches `query`
		 * (e.g. { _id, status: "pending" }). Returns the updated document, or null when nothing
		 * matched, which is how races (last cylinder, one invite, one courier) are decided.
		 */
		async compareAndSet(
			this: DbService<T>,
			ctx: Context | null,
			query: Filter,
			update: UpdateSpec,
			events?: PendingEvent[],
		): Promise<T | null> {
			try {
				const doc = await this.records.updateOne(query, update, this.envelopes(ctx, events));
				if (doc) await afterWrite(this, "entityUpdated", doc, events);
				return doc;
			} catch (err) {
				throw mapUniqueViolation(err, collection);
			}
		},

		async updateEntity(
			this: DbService<T>,
			ctx: Context | null,
			id: string,
			update: UpdateSpec,
			events?: PendingEvent[],
		): Promise<T> {
			const doc = await this.compareAndSet(ctx, { _id: id }, update, events);
			if (!doc) throw notFound(collection, id);
			return doc;
		},

		toPublic<K extends keyof T & string>(doc: T, hidden: K[] = []): Omit<T, "_id" | K> & { id: string } {
			const { _id, ...rest } = doc as StoredDoc;
			for (const key of hidden) delete rest[key];
			return { id: _id, ...rest } as Omit<T, "_id" | K> & { id: string };
		},

		async openEventLedger(this: DbService<T>): Promise<EventLedger> {
			await this.storeReady;
			return this.store.ledger;
		},

		storeIsUp(this: DbService<T>): boolean {
			return !!this.store && this.store.isUp();
		},

		/**
		 * Cached actions of this service are cleaned after a write (a broadcast to every node, and a
		 * Redis scan in a cluster); services that cache nothing skip it.
		 */
		clearCache(this: DbService<T>): Promise<void> {
			if (this.cachesActions === undefined)
				this.cachesActions = Object.values(this.schema.actions || {}).some(
					(a) => !!a && typeof a === "object" && !!(a as { cache?: unknown }).cache,
				);
			if (!this.cachesActions) return Promise.resolve();
			this.broker.broadcast(`cache.clean.${this.fullName}`);
			return this.broker.cacher ? this.broker.cacher.clean(`${this.fullName}.**`) : Promise.resolve();
		},
	};

	const schema: Partial<ServiceSchema<ServiceSettingSchema, DbService<T>>> = {
		methods: methods as unknown as ServiceSchema["methods"],
		created(this: DbService<T>) {
			this.kinds = new Map();
			this.storeReady = new Promise((resolve) => (this.resolveStoreReady = resolve));
		},
		async started(this: DbService<T>) {
			this.store = openStore(collection);
			const log = (msg: string) => this.logger.warn(msg);
			const main = await this.store.collection<T>(collection, opts.indexes || []);
			this.records = await withSealedFields(this.store, main, opts.sealed, log);
			for (const [name, kind] of Object.entries(opts.kinds || {})) {
				const records = await this.store.collection(name, kind.indexes || []);
				this.kinds.set(name, await withSealedFields(this.store, records, kind.sealed, log));
			}
			this.resolveStoreReady();
		},
		async stopped(this: DbService<T>) {
			if (this.store) await this.store.close();
		},
	};
	// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
	return schema as unknown as Partial<ServiceSchema>;
}

/**
 * After a write: the service's own hook (`entityCreated` / `entityUpdated` in its schema, as in
 * moleculer-db), cached actions cleaned, and the outbox relayed at once when the write had events.
 */
async function afterWrite<T extends StoredDoc>(
	service: DbService<T>,
	hook: "entityCreated" | "entityUpdated",
	doc: T,
	events: PendingEvent[] | undefined,
): Promise<void> {
	const own = service.schema[hook] as ((this: DbService<T>, doc: T) => void) | undefined;
	if (own) own.call(service, doc);
	service.clearCache().catch((err: Error) => service.logger.warn(`Cache clean failed: ${err.message}`));
	if (events?.length && service.flushOutbox) await service.flushOutbox();
}
