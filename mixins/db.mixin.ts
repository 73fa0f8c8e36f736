/**
 * Storage for a service, chosen by configuration:
 *  - MONGO_URI set: MongoDB through mongoose, one database per service (named after the service);
 *  - otherwise NeDB files under DATA_DIR (moleculer-db's MemoryAdapter with a filename), so the
 *    embedded default survives a restart; DATA_DIR=":memory:" keeps it in memory (tests).
 *
 * moleculer-db's generic CRUD actions are switched off: every action a service exposes is its own,
 * with its own params schema and ownership checks. Services use the methods below instead.
 */
import { Context, ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongooseAdapter from "moleculer-db-adapter-mongoose";
import mongoose from "mongoose";
import path from "path";
import fs from "fs";
import Datastore from "@seald-io/nedb";
import { config } from "../lib/infra/config";
import { conflict, notFound } from "../lib/infra/errors";
import { newId } from "../lib/infra/ids";

export interface IndexSpec {
	fields: Record<string, 1 | -1>;
	unique?: boolean;
	/** Unique only among documents that have the field (NeDB sparse / Mongo partial). */
	sparse?: boolean;
}

export interface DbMixinOptions {
	collection: string;
	indexes?: IndexSpec[];
}

type Doc = Record<string, any>;

/** mongoose adapter that opens its own connection to a database named after the service. */
class PerServiceMongooseAdapter extends (MongooseAdapter as any) {
	async connect(this: any) {
		const dbName = this.service.name;
		this.conn = await mongoose.createConnection(this.uri, { ...this.opts, dbName }).asPromise();
		this.model = this.conn.model(this.modelName, this.schema);
		this.db = this.conn.db;
		await this.model.init();
		this.service.logger.info(`MongoDB connected (database '${dbName}').`);
	}
	async disconnect(this: any) {
		if (this.conn) await this.conn.close();
	}
}

function mongoSchema(indexes: IndexSpec[]) {
	const schema = new mongoose.Schema(
		{ _id: { type: String, default: newId } },
		{ strict: false, versionKey: false, minimize: false },
	);
	for (const index of indexes) {
		const field = Object.keys(index.fields)[0];
		schema.index(index.fields, {
			unique: !!index.unique,
			...(index.sparse ? { partialFilterExpression: { [field]: { $exists: true } } } : {}),
		});
	}
	return schema;
}

function isUniqueViolation(err: any): boolean {
	return err && (err.errorType === "uniqueViolated" || err.code === 11000);
}

export function DbMixin(opts: DbMixinOptions): Partial<ServiceSchema> {
	const indexes = opts.indexes || [];
	const schema: Record<string, any> = {
		mixins: [DbService],
		settings: { idField: "id" },
		// Generic moleculer-db actions are not part of the API: each service defines its own.
		actions: {
			find: false,
			count: false,
			list: false,
			create: false,
			insert: false,
			get: false,
			update: false,
			remove: false,
		} as any,
		/**
		 * The store is chosen when the service is created (not when this file is imported), so each
		 * broker gets its own adapter and the environment of that moment decides Mongo or NeDB.
		 */
		merged(this: any, merged: any) {
			const cfg = config();
			const store = cfg.mongoUri
				? mongoStore(cfg.mongoUri, opts.collection, indexes)
				: nedbStore(cfg, opts.collection, indexes);
			const ownAfterConnected = merged.afterConnected;
			if (store.schema.stopped) {
				merged.stopped = [].concat(merged.stopped || [], store.schema.stopped);
				delete store.schema.stopped;
			}
			Object.assign(merged, store.schema);
			if (ownAfterConnected && store.schema.afterConnected) {
				merged.afterConnected = async function (this: any) {
					await store.schema.afterConnected.call(this);
					await ownAfterConnected.call(this);
				};
			}
			merged.methods = { ...merged.methods, ...store.methods };
		},
		methods: {
			async insertEntity(ctx: Context | null, doc: Doc): Promise<Doc> {
				const toInsert = { _id: newId(), ...doc };
				try {
					const saved = await this.adapter.insert(toInsert);
					await this.entityChanged("created", saved, ctx);
					return saved;
				} catch (err) {
					if (isUniqueViolation(err)) throw conflict(`${opts.collection}: a record with these unique fields exists`);
					throw err;
				}
			},
			async findEntity(id: string): Promise<Doc | null> {
				if (typeof id !== "string") return null;
				const doc = await this.adapter.findById(id);
				return doc ? this.adapter.entityToObject(doc) : null;
			},
			async getEntityOr404(id: string, what = opts.collection): Promise<Doc> {
				const doc = await this.findEntity(id);
				if (!doc) throw notFound(what, id);
				return doc;
			},
			async findEntities(
				filter: { query?: Doc; sort?: string[] | Doc; limit?: number; offset?: number } = {},
			): Promise<Doc[]> {
				const docs = await this.adapter.find(filter);
				return docs.map((d: any) => this.adapter.entityToObject(d));
			},
			async findOneEntity(query: Doc): Promise<Doc | null> {
				const doc = await this.adapter.findOne(query);
				return doc ? this.adapter.entityToObject(doc) : null;
			},
			countEntities(query: Doc = {}): Promise<number> {
				return this.adapter.count({ query });
			},
			/**
			 * Atomic conditional update: applies `update` only if a document matches `query`
			 * (e.g. { _id, status: "pending" }). Returns the updated document, or null when nothing
			 * matched, which is how races (last cylinder, one invite, one courier) are decided.
			 */
			async compareAndSet(ctx: Context | null, query: Doc, update: Doc): Promise<Doc | null> {
				let changed: number;
				try {
					changed = await this.adapter.updateMany(query, update);
				} catch (err) {
					if (isUniqueViolation(err)) throw conflict(`${opts.collection}: a record with these unique fields exists`);
					throw err;
				}
				if (!changed) return null;
				const doc = await this.findEntity(query._id);
				await this.entityChanged("updated", doc, ctx);
				return doc;
			},
			async updateEntity(ctx: Context | null, id: string, update: Doc): Promise<Doc> {
				const doc = await this.compareAndSet(ctx, { _id: id }, update);
				if (!doc) throw notFound(opts.collection, id);
				return doc;
			},
			/**
			 * moleculer-db cleans the service's cache (a broadcast to every node, and a Redis scan in a
			 * cluster) on every write. Only services that cache some action need that.
			 */
			clearCache(this: any): Promise<void> {
				if (this.cachesActions === undefined)
					this.cachesActions = Object.values(this.schema.actions || {}).some((a: any) => a && a.cache);
				if (!this.cachesActions) return Promise.resolve();
				this.broker.broadcast(`cache.clean.${this.fullName}`);
				return this.broker.cacher ? this.broker.cacher.clean(`${this.fullName}.**`) : Promise.resolve();
			},
			/** Output form of a stored document: `_id` becomes `id`, internal fields stay out. */
			toPublic(doc: Doc, hidden: string[] = []): Doc {
				const { _id, ...rest } = doc;
				for (const key of hidden) delete rest[key];
				return { id: _id, ...rest };
			},
			/** Event ledger: true the first time an event id is seen by this service. */
			async isEventProcessed(eventId: string): Promise<boolean> {
				return !!(await this.eventLedgerFind(eventId));
			},
			async markEventProcessed(eventId: string): Promise<void> {
				try {
					await this.eventLedgerInsert(eventId);
				} catch (err) {
					if (!isUniqueViolation(err)) throw err;
				}
			},
		},
	};
	return schema as Partial<ServiceSchema>;
}

type StoreParts = { schema: Record<string, any>; methods: Record<string, (...args: any[]) => any> };

function mongoStore(uri: string, collection: string, indexes: IndexSpec[]): StoreParts {
	return {
		schema: {
			adapter: new (PerServiceMongooseAdapter as any)(uri, { serverSelectionTimeoutMS: 5000 }),
			schema: mongoSchema(indexes),
			modelName: collection,
		},
		methods: {
			async openEventLedger(this: any) {
				this.eventLedger = this.adapter.conn.collection("processed_events");
				// MongoDB drops entries past the redelivery window by itself.
				const seconds = Math.round(config().eventLedgerRetentionMs / 1000);
				await this.eventLedger.createIndex({ at: 1 }, { expireAfterSeconds: seconds }).catch((err: Error) => {
					this.logger.warn(`Could not create the event ledger's TTL index: ${err.message}`);
				});
			},
			pruneEventLedger(this: any, _olderThan: Date) {
				return Promise.resolve(0); // the TTL index does it
			},
			eventLedgerFind(this: any, id: string) {
				return this.eventLedger.findOne({ _id: id });
			},
			eventLedgerInsert(this: any, id: string) {
				return this.eventLedger.insertOne({ _id: id, at: new Date() });
			},
			storeIsUp(this: any) {
				return !!this.adapter.conn && this.adapter.conn.readyState === 1;
			},
		},
	};
}

function nedbStore(cfg: ReturnType<typeof config>, collection: string, indexes: IndexSpec[]): StoreParts {
	const file = (name: string) => (cfg.inMemoryStore ? undefined : path.resolve(cfg.dataDir, `${name}.db`));
	if (!cfg.inMemoryStore) fs.mkdirSync(path.resolve(cfg.dataDir), { recursive: true });
	const datastore = new Datastore({ filename: file(collection), autoload: false });
	return {
		schema: {
			adapter: new DbService.MemoryAdapter(datastore as any),
			async afterConnected(this: any) {
				for (const index of indexes) {
					for (const fieldName of Object.keys(index.fields)) {
						await this.adapter.db.ensureIndex({ fieldName, unique: !!index.unique, sparse: !!index.sparse });
					}
				}
				if (!cfg.inMemoryStore) this.adapter.db.setAutocompactionInterval(5 * 60_000);
			},
			stopped(this: any) {
				if (this.adapter.db && this.adapter.db.stopAutocompaction) this.adapter.db.stopAutocompaction();
			},
		},
		methods: {
			async openEventLedger(this: any) {
				this.eventLedger = new Datastore({ filename: file(`${collection}.processed-events`) });
				await this.eventLedger.loadDatabaseAsync();
			},
			eventLedgerFind(this: any, id: string) {
				return this.eventLedger.findOneAsync({ _id: id });
			},
			eventLedgerInsert(this: any, id: string) {
				return this.eventLedger.insertAsync({ _id: id, at: new Date().toISOString() });
			},
			/** NeDB keeps everything in memory: forget ledger entries older than the redelivery window. */
			pruneEventLedger(this: any, olderThan: Date): Promise<number> {
				return this.eventLedger.removeAsync({ at: { $lt: olderThan.toISOString() } }, { multi: true });
			},
			storeIsUp(this: any) {
				return !!this.adapter.db;
			},
		},
	};
}
