/**
 * PostgreSQL store (pg): one schema per service, `${NAMESPACE || "gr"}_${service}`, one table per
 * collection (`_id text primary key, doc jsonb, v bigint` — `v` is the document's version), plus
 * `_outbox` and `_ledger` tables in the same schema. A small pg.Pool per store.
 *
 * Index and filter expressions are the jsonb values `(doc->'a'->'b')`, not `->>` text:
 *  - jsonb comparison keeps types apart: 10 > 9 as numbers, "10" < "9" as strings, and an equality
 *    never matches across types ("5" ≠ 5, true ≠ 1), as in MongoDB; `->>` would compare every value
 *    as text (wrong for numbers), and casting `->>` to numeric fails on non-numeric documents;
 *  - one index then serves equality, ranges and ORDER BY for any field type;
 *  - a missing field gives SQL NULL, so a plain unique index ignores documents without the field.
 * Range operators add a `jsonb_typeof` guard because jsonb orders all strings before all numbers.
 * String ordering follows the database collation: create the database with C collation (the
 * default on the Debian images) for MongoDB's byte order.
 *
 * Compare-and-set is optimistic: read the matching row and its version, apply the update in JS,
 * then `UPDATE … WHERE _id = $1 AND v = $2` (one statement that also inserts the outbox rows);
 * a lost race (0 rows) re-reads with the filter and tries again, so of two racers exactly one wins
 * and the other sees the new state (and returns null when it no longer matches).
 */
import crypto from "crypto";
import knex from "knex";
import pg from "pg";
import { EventEnvelope } from "../../domain/events";
import {
	Collection,
	EventLedger,
	Filter,
	FindOptions,
	IndexSpec,
	Outbox,
	OutboxEntry,
	ServiceStore,
	SortSpec,
	StoredDoc,
	UniqueViolationError,
	UpdateSpec,
} from "./types";
import { checkCollectionName, fieldSegments, indexName, sortKeys } from "./paths";
import { CompareOp, FilterCompiler, SqlDialect } from "./sql-filter";
import { applyUpdate, checkUpdate } from "./update";

function sqlString(text: string): string {
	return `'${text.replace(/'/g, "''")}'`;
}

function quoteId(name: string): string {
	return `"${name.replace(/"/g, '""')}"`;
}

function jsonField(segments: string[]): string {
	return `(doc${segments.map((s) => `->${sqlString(s)}`).join("")})`;
}

export const postgresDialect: SqlDialect = {
	true: "TRUE",
	false: "FALSE",
	param(params, value) {
		params.push(value);
		return `$${params.length}`;
	},
	field: jsonField,
	eq(segments, value, params) {
		return `${jsonField(segments)} = ${this.param(params, JSON.stringify(value))}::jsonb`;
	},
	isNull: (segments) => `(${jsonField(segments)} IS NULL OR ${jsonField(segments)} = 'null'::jsonb)`,
	inList(segments, values, params) {
		return `${jsonField(segments)} = ANY(${this.param(
			params,
			values.map((v) => JSON.stringify(v)),
		)}::jsonb[])`;
	},
	compare(segments, op: CompareOp, value, params) {
		const type = typeof value === "string" ? "string" : "number";
		const x = jsonField(segments);
		return `(${x} ${op} ${this.param(params, JSON.stringify(value))}::jsonb AND jsonb_typeof(${x}) = '${type}')`;
	},
	exists: (segments, yes) => `${jsonField(segments)} IS ${yes ? "NOT " : ""}NULL`,
	// Missing fields (SQL NULL) first in ascending order, as in MongoDB and SQLite.
	orderBy: (expression, dir) => `${expression} ${dir < 0 ? "DESC NULLS LAST" : "ASC NULLS FIRST"}`,
};

const compiler = new FilterCompiler(postgresDialect);
/** knex builds the fixed outbox/ledger statements (no connection); they run through the pool. */
const sqlBuilder = knex({ client: "pg" });

/** `${namespace || "gr"}_${service}`, reduced to [a-z0-9_] and 63 characters. */
export function schemaName(service: string, namespace?: string): string {
	return `${namespace || "gr"}_${service}`
		.toLowerCase()
		.replace(/[^a-z0-9_]/g, "_")
		.slice(0, 63);
}

// SQLSTATE classes 08 (connection) and 57 (operator intervention: shutdown), or no SQLSTATE at all (socket errors).
function isConnectionError(err: unknown): boolean {
	const code = (err as { code?: unknown }).code;
	return typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code) || code.startsWith("08") || code.startsWith("57");
}

function isUniqueError(err: unknown): boolean {
	return (err as { code?: unknown }).code === "23505";
}

function checkId(doc: StoredDoc): string {
	if (typeof doc._id !== "string" || doc._id === "") throw new Error("a document needs a string _id");
	return doc._id;
}

export interface PostgresStoreOptions {
	url: string;
	namespace?: string;
	poolSize?: number;
}

type Queryable = pg.Pool | pg.PoolClient;
const NAMED_STATEMENTS_MAX = 500;

export class PostgresStore implements ServiceStore {
	readonly kind = "postgres" as const;
	readonly schema: string;
	readonly outbox: Outbox;
	readonly ledger: EventLedger;
	private readonly pool: pg.Pool;
	private readonly namespace: string;
	private up = true;
	private ready: Promise<void> | null = null;
	private readonly collections = new Map<string, Promise<PostgresCollection<StoredDoc>>>();
	private readonly statementNames = new Map<string, string>();

	constructor(service: string, options: PostgresStoreOptions) {
		this.namespace = options.namespace || "gr";
		this.schema = schemaName(service, options.namespace);
		this.pool = new pg.Pool({
			connectionString: options.url,
			max: options.poolSize ?? 5,
			connectionTimeoutMillis: 5000,
		});
		this.pool.on("error", () => {
			this.up = false; // an idle client lost its connection; the next successful query sets it back
		});
		this.outbox = new PostgresOutbox(this);
		this.ledger = new PostgresLedger(this);
	}

	/** `"schema"."table"` */
	table(name: string): string {
		return `${quoteId(this.schema)}.${quoteId(name)}`;
	}

	async collection<T extends StoredDoc = StoredDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const table = checkCollectionName(name);
		const key = `${table}:${JSON.stringify(indexes)}`;
		let opening = this.collections.get(key);
		if (!opening) {
			opening = this.createCollection(table, indexes);
			this.collections.set(key, opening);
			opening.catch(() => this.collections.delete(key));
		}
		return (await opening) as unknown as Collection<T>;
	}

	private async createCollection(table: string, indexes: IndexSpec[]): Promise<PostgresCollection<StoredDoc>> {
		await this.ensureSchema();
		const statements = [
			`CREATE TABLE IF NOT EXISTS ${this.table(table)} (_id text PRIMARY KEY, doc jsonb NOT NULL, v bigint NOT NULL DEFAULT 1)`,
			...indexes.map((index) => this.createIndexSql(table, index)),
		];
		await this.ddl(statements);
		return new PostgresCollection(this, table);
	}

	private createIndexSql(table: string, index: IndexSpec): string {
		const fields = Object.entries(index.fields);
		if (fields.length === 0) throw new Error(`${table}: an index needs fields`);
		const expression = (field: string) => (field === "_id" ? "_id" : jsonField(fieldSegments(field)));
		const columns = fields.map(([field, dir]) => postgresDialect.orderBy(expression(field), dir));
		const where = index.sparse ? ` WHERE ${expression(fields[0][0])} IS NOT NULL` : "";
		const name = quoteId(indexName(table, index.fields, index.unique, index.sparse));
		return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${name} ON ${this.table(table)} (${columns.join(", ")})${where}`;
	}

	private ensureSchema(): Promise<void> {
		if (!this.ready) {
			this.ready = this.ddl([
				`CREATE SCHEMA IF NOT EXISTS ${quoteId(this.schema)}`,
				`CREATE TABLE IF NOT EXISTS ${this.table("_outbox")} (seq bigserial PRIMARY KEY, id text UNIQUE NOT NULL, envelope jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
				`CREATE TABLE IF NOT EXISTS ${this.table("_ledger")} (id text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`,
				`CREATE INDEX IF NOT EXISTS ix__ledger_at ON ${this.table("_ledger")} (at)`,
			]);
			this.ready.catch(() => {
				this.ready = null;
			});
		}
		return this.ready;
	}

	/** DDL under a transaction-level advisory lock on the schema: concurrent starts take turns, IF NOT EXISTS does the rest. */
	private async ddl(statements: string[]): Promise<void> {
		await this.inTransaction(async (client) => {
			await this.query("SELECT pg_advisory_xact_lock(hashtext($1))", [this.schema], client);
			for (const sql of statements) await this.query(sql, [], client);
		});
	}

	/** @internal runs `fn` inside BEGIN … COMMIT on one pooled connection. */
	async inTransaction<R>(fn: (client: pg.PoolClient) => Promise<R>): Promise<R> {
		const client = await this.connect();
		try {
			await client.query("BEGIN");
			const result = await fn(client);
			await client.query("COMMIT");
			return result;
		} catch (err) {
			await client.query("ROLLBACK").catch(() => undefined);
			throw err;
		} finally {
			client.release();
		}
	}

	private async connect(): Promise<pg.PoolClient> {
		try {
			return await this.pool.connect();
		} catch (err) {
			this.up = false;
			throw err;
		}
	}

	/** @internal a query through the pool (or `client`), as a named prepared statement when the text recurs. */
	async query<R extends pg.QueryResultRow>(
		text: string,
		values: unknown[] = [],
		client?: Queryable,
	): Promise<pg.QueryResult<R>> {
		if (!client) await this.ensureSchema();
		try {
			const result = await (client ?? this.pool).query<R>({ text, values, name: this.statementName(text) });
			this.up = true;
			return result;
		} catch (err) {
			if (isConnectionError(err)) this.up = false;
			throw err;
		}
	}

	private statementName(text: string): string | undefined {
		let name = this.statementNames.get(text);
		if (
			!name &&
			this.statementNames.size < NAMED_STATEMENTS_MAX &&
			!text.startsWith("CREATE") &&
			!text.startsWith("EXPLAIN")
		) {
			name = `gr_${crypto.createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
			this.statementNames.set(text, name);
		}
		return name;
	}

	/** knex query builder on a table of this schema (fixed statements only). */
	builder(table: string): knex.Knex.QueryBuilder {
		return sqlBuilder.withSchema(this.schema).table(table);
	}

	/** The plan of `find(opts)` (diagnostics and tests: is an index used?). */
	async explainFind(collection: string, opts: FindOptions): Promise<string[]> {
		const params: unknown[] = [];
		const sql = `EXPLAIN ${findSql(this.table(checkCollectionName(collection)), opts, params)}`;
		const result = await this.query<{ "QUERY PLAN": string }>(sql, params);
		return result.rows.map((row) => row["QUERY PLAN"]);
	}

	async analyze(collection: string): Promise<void> {
		await this.query(`ANALYZE ${this.table(checkCollectionName(collection))}`);
	}

	/** Drops every schema of this store's namespace (test clean-up). */
	async dropNamespaceSchemas(): Promise<void> {
		const prefix = `${schemaName("", this.namespace)}`;
		const { rows } = await this.pool.query<{ nspname: string }>(
			"SELECT nspname FROM pg_namespace WHERE left(nspname, length($1)) = $1",
			[prefix],
		);
		for (const { nspname } of rows) await this.pool.query(`DROP SCHEMA IF EXISTS ${quoteId(nspname)} CASCADE`);
	}

	isUp(): boolean {
		return this.up;
	}

	async close(): Promise<void> {
		if (!this.pool.ended) await this.pool.end();
	}
}

function findSql(table: string, opts: FindOptions, params: unknown[]): string {
	let sql = `SELECT doc FROM ${table} WHERE ${compiler.where(opts.query, params)}`;
	const keys = sortKeys(opts.sort);
	if (keys.length) sql += ` ORDER BY ${compiler.orderBy(keys)}`;
	if (typeof opts.limit === "number" && opts.limit >= 0)
		sql += ` LIMIT ${postgresDialect.param(params, Math.trunc(opts.limit))}`;
	if (typeof opts.offset === "number" && opts.offset > 0)
		sql += ` OFFSET ${postgresDialect.param(params, Math.trunc(opts.offset))}`;
	return sql;
}

/** Rows from `jsonb_array_elements($n)` inserted into the outbox in array order, for each row of `source`. */
function outboxInsertSql(outbox: string, source: string, param: string): string {
	return (
		`INSERT INTO ${outbox} (id, envelope) SELECT e.value->>'id', e.value FROM ${source}, ` +
		`jsonb_array_elements(${param}::jsonb) WITH ORDINALITY AS e(value, n) ORDER BY e.n ON CONFLICT (id) DO NOTHING`
	);
}

interface VersionedRow<T> {
	doc: T;
	v: string;
}

class PostgresCollection<T extends StoredDoc> implements Collection<T> {
	private readonly qualified: string;
	private readonly sql: { insert: string; insertWithEvents: string; cas: string; casWithEvents: string; byId: string };

	constructor(
		private readonly store: PostgresStore,
		readonly name: string,
	) {
		const t = store.table(name);
		const outbox = store.table("_outbox");
		this.qualified = t;
		this.sql = {
			insert: `INSERT INTO ${t} (_id, doc) VALUES ($1, $2::jsonb)`,
			insertWithEvents:
				`WITH i AS (INSERT INTO ${t} (_id, doc) VALUES ($1, $2::jsonb) RETURNING _id), ` +
				`o AS (${outboxInsertSql(outbox, "i", "$3")}) SELECT 1`,
			cas: `UPDATE ${t} SET doc = $3::jsonb, v = v + 1 WHERE _id = $1 AND v = $2`,
			casWithEvents:
				`WITH u AS (UPDATE ${t} SET doc = $3::jsonb, v = v + 1 WHERE _id = $1 AND v = $2 RETURNING _id), ` +
				`o AS (${outboxInsertSql(outbox, "u", "$4")}) SELECT count(*)::int AS n FROM u`,
			byId: `SELECT doc FROM ${t} WHERE _id = $1`,
		};
	}

	async insert(doc: T, events?: EventEnvelope[]): Promise<T> {
		const id = checkId(doc);
		const json = JSON.stringify(doc);
		try {
			if (events && events.length)
				await this.store.query(this.sql.insertWithEvents, [id, json, JSON.stringify(events)]);
			else await this.store.query(this.sql.insert, [id, json]);
		} catch (err) {
			throw this.mapError(err);
		}
		return JSON.parse(json) as T;
	}

	async findById(id: string): Promise<T | null> {
		if (typeof id !== "string") return null;
		const { rows } = await this.store.query<{ doc: T }>(this.sql.byId, [id]);
		return rows.length ? rows[0].doc : null;
	}

	async findOne(query: Filter, sort?: SortSpec): Promise<T | null> {
		const docs = await this.find({ query, sort, limit: 1 });
		return docs.length ? docs[0] : null;
	}

	async find(opts: FindOptions = {}): Promise<T[]> {
		const params: unknown[] = [];
		const { rows } = await this.store.query<{ doc: T }>(findSql(this.qualified, opts, params), params);
		return rows.map((row) => row.doc);
	}

	async count(query?: Filter): Promise<number> {
		const params: unknown[] = [];
		const sql = `SELECT count(*)::int AS n FROM ${this.qualified} WHERE ${compiler.where(query, params)}`;
		const { rows } = await this.store.query<{ n: number }>(sql, params);
		return rows[0].n;
	}

	async updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null> {
		checkUpdate(update);
		const params: unknown[] = [];
		const select = `SELECT doc, v FROM ${this.qualified} WHERE ${compiler.where(query, params)} LIMIT 1`;
		for (;;) {
			const { rows } = await this.store.query<VersionedRow<T>>(select, params);
			if (rows.length === 0) return null;
			const next = applyUpdate(rows[0].doc, update);
			if (await this.writeIfUnchanged(next, rows[0].v, events)) return next;
			// Lost the race: another writer changed the document since we read it; read it again.
		}
	}

	private async writeIfUnchanged(next: T, version: string, events?: EventEnvelope[]): Promise<boolean> {
		const json = JSON.stringify(next);
		try {
			if (events && events.length) {
				const { rows } = await this.store.query<{ n: number }>(this.sql.casWithEvents, [
					next._id,
					version,
					json,
					JSON.stringify(events),
				]);
				return rows[0].n === 1;
			}
			return (await this.store.query(this.sql.cas, [next._id, version, json])).rowCount === 1;
		} catch (err) {
			throw this.mapError(err);
		}
	}

	/** Locks the matching rows (FOR UPDATE re-checks the filter on the latest version), then writes them in one statement. */
	async updateMany(query: Filter, update: UpdateSpec): Promise<number> {
		checkUpdate(update);
		const params: unknown[] = [];
		const select = `SELECT doc FROM ${this.qualified} WHERE ${compiler.where(query, params)} FOR UPDATE`;
		const write =
			`UPDATE ${this.qualified} AS t SET doc = e.value, v = t.v + 1 ` +
			`FROM jsonb_array_elements($1::jsonb) AS e(value) WHERE t._id = e.value->>'_id'`;
		try {
			return await this.store.inTransaction(async (client) => {
				const { rows } = await this.store.query<{ doc: T }>(select, params, client);
				if (rows.length === 0) return 0;
				const docs = rows.map((row) => applyUpdate(row.doc, update));
				await this.store.query(write, [JSON.stringify(docs)], client);
				return rows.length;
			});
		} catch (err) {
			throw this.mapError(err);
		}
	}

	async removeMany(query: Filter): Promise<number> {
		const params: unknown[] = [];
		const result = await this.store.query(
			`DELETE FROM ${this.qualified} WHERE ${compiler.where(query, params)}`,
			params,
		);
		return result.rowCount ?? 0;
	}

	private mapError(err: unknown): unknown {
		return isUniqueError(err) ? new UniqueViolationError(this.name, (err as Error).message) : err;
	}
}

class PostgresOutbox implements Outbox {
	constructor(private readonly store: PostgresStore) {}

	async add(events: EventEnvelope[]): Promise<void> {
		if (events.length === 0) return;
		const sql = outboxInsertSql(this.store.table("_outbox"), "(SELECT 1) AS one", "$1");
		await this.store.query(sql, [JSON.stringify(events)]);
	}

	async pending(limit: number): Promise<OutboxEntry[]> {
		const { sql, bindings } = this.store
			.builder("_outbox")
			.select("id", "envelope")
			.orderBy("seq")
			.limit(Math.max(0, Math.trunc(limit)))
			.toSQL()
			.toNative();
		const { rows } = await this.store.query<{ id: string; envelope: EventEnvelope }>(sql, [...bindings]);
		return rows.map((row) => ({ id: row.id, envelope: row.envelope }));
	}

	async markSent(ids: string[]): Promise<void> {
		if (ids.length === 0) return;
		await this.store.query(`DELETE FROM ${this.store.table("_outbox")} WHERE id = ANY($1::text[])`, [ids]);
	}

	/**
	 * One relay at a time per schema (a transaction-level advisory lock), so that two instances of a
	 * service neither publish the same entries twice nor publish one instance's events out of order.
	 */
	async drain(limit: number, publish: (entries: OutboxEntry[]) => Promise<void>): Promise<number | "busy"> {
		await this.store.query("SELECT 1");
		return this.store.inTransaction(async (client) => {
			const lock = await this.store.query<{ got: boolean }>(
				"SELECT pg_try_advisory_xact_lock(hashtext($1)) AS got",
				[`${this.store.table("_outbox")}/relay`],
				client,
			);
			if (!lock.rows[0]?.got) return "busy";
			const { rows } = await this.store.query<{ id: string; envelope: EventEnvelope }>(
				`SELECT id, envelope FROM ${this.store.table("_outbox")} ORDER BY seq LIMIT $1`,
				[Math.max(0, Math.trunc(limit))],
				client,
			);
			if (rows.length === 0) return 0;
			await publish(rows.map((row) => ({ id: row.id, envelope: row.envelope })));
			await this.store.query(
				`DELETE FROM ${this.store.table("_outbox")} WHERE id = ANY($1::text[])`,
				[rows.map((row) => row.id)],
				client,
			);
			return rows.length;
		});
	}
}

class PostgresLedger implements EventLedger {
	constructor(private readonly store: PostgresStore) {}

	async has(eventId: string): Promise<boolean> {
		const { sql, bindings } = this.store
			.builder("_ledger")
			.select(sqlBuilder.raw("1"))
			.where("id", eventId)
			.toSQL()
			.toNative();
		return (await this.store.query(sql, [...bindings])).rows.length > 0;
	}

	async add(eventId: string): Promise<boolean> {
		const { sql, bindings } = this.store
			.builder("_ledger")
			.insert({ id: eventId })
			.onConflict("id")
			.ignore()
			.toSQL()
			.toNative();
		return (await this.store.query(sql, [...bindings])).rowCount === 1;
	}

	async prune(olderThan: Date): Promise<number> {
		const { sql, bindings } = this.store.builder("_ledger").where("at", "<", olderThan).del().toSQL().toNative();
		return (await this.store.query(sql, [...bindings])).rowCount ?? 0;
	}
}
