/**
 * SQLite store (better-sqlite3): one database file per service, `${dataDir}/${service}.sqlite`
 * (dataDir ":memory:" → an in-memory database, for tests). One table per collection
 * (`_id TEXT PRIMARY KEY, doc TEXT` holding the whole document as JSON, `_id` included) with
 * expression indexes on json_extract(doc, '$.field'); the outbox and the event ledger are tables of
 * the same file, so a state change and its events are one transaction.
 *
 * better-sqlite3 is synchronous: every operation runs to completion on the event loop, so a
 * read-check-write inside one transaction cannot interleave with another operation of this process;
 * write transactions are BEGIN IMMEDIATE so that other processes on the same file wait (busy_timeout).
 */
import path from "path";
import Database from "better-sqlite3";
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
import { CompareOp, FilterCompiler, JsonScalar, SqlDialect } from "./sql-filter";
import { applyUpdate, checkUpdate } from "./update";
import { markRunning, unmarkRunning } from "./running";
import { narrowIfPresent, privateDir, privateFile } from "../private-files";

const NUMERIC = `IN ('integer','real')`;
/** user_version of a store file written with secure_delete from its start (or compacted since). */
const SECURE_DELETE_VERSION = 1;

function sqlString(text: string): string {
	return `'${text.replace(/'/g, "''")}'`;
}

/** SQLite JSON path for field segments ('$.a."b-c"'); segments are pre-validated by fieldSegments. */
function jsonPath(segments: string[]): string {
	return "$" + segments.map((s) => (/^[A-Za-z0-9_]+$/.test(s) ? `.${s}` : `."${s}"`)).join("");
}

/** json_extract gives SQL NULL for null and missing, 1/0 for true/false: json_type disambiguates. */
export const sqliteDialect: SqlDialect = {
	true: "1",
	false: "0",
	param(params, value) {
		params.push(value);
		return "?";
	},
	field: (segments) => `json_extract(doc, ${sqlString(jsonPath(segments))})`,
	eq(segments, value, params) {
		const x = this.field(segments);
		const t = jsonType(segments);
		if (typeof value === "string") return `${x} = ${this.param(params, value)}`;
		if (typeof value === "number") return `(${x} = ${this.param(params, value)} AND ${t} ${NUMERIC})`;
		if (typeof value === "boolean") return `(${x} = ${value ? 1 : 0} AND ${t} = '${value}')`;
		return `(${x} = ${this.param(params, JSON.stringify(value))} AND ${t} IN ('object','array'))`;
	},
	isNull: (segments) => `json_extract(doc, ${sqlString(jsonPath(segments))}) IS NULL`,
	inList(segments, values, params) {
		const x = this.field(segments);
		const strings = values.filter((v): v is string => typeof v === "string");
		const numbers = values.filter((v): v is number => typeof v === "number");
		const others = values.filter((v) => typeof v !== "string" && typeof v !== "number");
		const list = (vs: JsonScalar[]) => vs.map((v) => this.param(params, v)).join(", ");
		const parts: string[] = [];
		if (strings.length) parts.push(`${x} IN (${list(strings)})`);
		if (numbers.length) parts.push(`(${x} IN (${list(numbers)}) AND ${jsonType(segments)} ${NUMERIC})`);
		for (const other of others) parts.push(this.eq(segments, other, params));
		return parts.length === 1 ? parts[0] : `(${parts.join(" OR ")})`;
	},
	compare(segments, op: CompareOp, value, params) {
		const guard = typeof value === "string" ? `= 'text'` : NUMERIC;
		return `(${this.field(segments)} ${op} ${this.param(params, value)} AND ${jsonType(segments)} ${guard})`;
	},
	exists: (segments, yes) => `${jsonType(segments)} IS ${yes ? "NOT " : ""}NULL`,
	orderBy: (expression, dir) => `${expression} ${dir < 0 ? "DESC" : "ASC"}`,
};

function jsonType(segments: string[]): string {
	return `json_type(doc, ${sqlString(jsonPath(segments))})`;
}

const compiler = new FilterCompiler(sqliteDialect);

function quoteId(name: string): string {
	return `"${name.replace(/"/g, '""')}"`;
}

function isUniqueError(err: unknown): boolean {
	const code = (err as { code?: unknown }).code;
	return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

function parseDoc<T>(json: string): T {
	return JSON.parse(json) as T;
}

function checkId(doc: StoredDoc): string {
	if (typeof doc._id !== "string" || doc._id === "") throw new Error("a document needs a string _id");
	return doc._id;
}

/** Prepared statements by SQL text; dynamic paths (e.g. `refunds.<id>`) make the set open-ended, so it is capped. */
class StatementCache {
	private readonly statements = new Map<string, Database.Statement>();
	constructor(
		private readonly db: Database.Database,
		private readonly capacity = 1000,
	) {}

	get(sql: string, pluck = false): Database.Statement {
		const key = pluck ? `p:${sql}` : sql;
		let statement = this.statements.get(key);
		if (!statement) {
			statement = this.db.prepare(sql);
			if (pluck) statement.pluck(true);
			if (this.statements.size >= this.capacity) this.evictOldest();
			this.statements.set(key, statement);
		}
		return statement;
	}

	private evictOldest(): void {
		let n = Math.ceil(this.capacity / 10);
		for (const key of this.statements.keys()) {
			this.statements.delete(key);
			if (--n === 0) break;
		}
	}
}

export interface SqliteStoreOptions {
	/** Called with every SQL statement run (tests check which statements start-up runs). */
	onStatement?: (sql: string) => void;
}

const OUTBOX_INSERT = `INSERT INTO _outbox (id, envelope, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`;

export class SqliteStore implements ServiceStore {
	readonly kind = "sqlite" as const;
	readonly outbox: Outbox;
	readonly ledger: EventLedger;
	readonly file: string;
	private readonly db: Database.Database;
	private readonly statements: StatementCache;
	private readonly transaction: Database.Transaction<(fn: () => unknown) => unknown>;
	private readonly dataDir: string | null;

	constructor(service: string, dataDir: string, options: SqliteStoreOptions = {}) {
		this.dataDir = dataDir === ":memory:" ? null : path.resolve(dataDir);
		this.file = this.dataDir ? path.join(this.dataDir, `${checkCollectionName(service)}.sqlite`) : ":memory:";
		if (this.dataDir) prepareFile(this.dataDir, this.file);
		this.db = new Database(
			this.file,
			options.onStatement ? { verbose: (sql) => options.onStatement!(String(sql)) } : {},
		);
		this.configure();
		this.statements = new StatementCache(this.db);
		this.transaction = this.db.transaction((fn: () => unknown) => fn());
		this.createSharedTables();
		this.outbox = new SqliteOutbox(this);
		this.ledger = new SqliteLedger(this);
		if (this.dataDir) markRunning(this.dataDir);
	}

	private configure(): void {
		this.db.pragma("busy_timeout = 5000");
		// Deleted and overwritten content is zeroed in the file, not left in free space.
		this.db.pragma("secure_delete = ON");
		if (this.dataDir) {
			this.db.pragma("journal_mode = WAL");
			this.db.pragma("synchronous = NORMAL");
			narrowIfPresent(`${this.file}-wal`, `${this.file}-shm`);
			this.compactOnce();
		}
	}

	/**
	 * A file written before secure_delete was on may hold removed values in free pages: it is
	 * rewritten once (VACUUM), and marked (user_version) so that later starts skip it.
	 */
	private compactOnce(): void {
		if ((this.db.pragma("user_version", { simple: true }) as number) >= SECURE_DELETE_VERSION) return;
		this.compactNow();
		this.db.pragma(`user_version = ${SECURE_DELETE_VERSION}`);
	}

	private compactNow(): void {
		this.db.exec("VACUUM");
		// Page images in the WAL may still hold what VACUUM removed: empty it.
		this.db.pragma("wal_checkpoint(TRUNCATE)");
	}

	async compact(): Promise<void> {
		if (this.dataDir) this.compactNow();
	}

	private createSharedTables(): void {
		this.db.exec(
			`CREATE TABLE IF NOT EXISTS _outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, envelope TEXT, created_at TEXT);
			 CREATE TABLE IF NOT EXISTS _ledger (id TEXT PRIMARY KEY, at TEXT);
			 CREATE INDEX IF NOT EXISTS ix__ledger_at ON _ledger (at);`,
		);
	}

	async collection<T extends StoredDoc = StoredDoc>(name: string, indexes: IndexSpec[] = []): Promise<Collection<T>> {
		const table = checkCollectionName(name);
		this.db.exec(`CREATE TABLE IF NOT EXISTS ${quoteId(table)} (_id TEXT PRIMARY KEY, doc TEXT NOT NULL)`);
		for (const index of indexes) this.db.exec(createIndexSql(table, index));
		return new SqliteCollection<T>(this, table);
	}

	/** The query plan of `find(opts)` on a collection (diagnostics and tests: is an index used?). */
	explainFind(collection: string, opts: FindOptions): string[] {
		const params: unknown[] = [];
		const sql = `EXPLAIN QUERY PLAN ${findSql(checkCollectionName(collection), opts, params)}`;
		return (this.db.prepare(sql).all(...params) as { detail: string }[]).map((row) => row.detail);
	}

	isUp(): boolean {
		return this.db.open;
	}

	async close(): Promise<void> {
		if (!this.db.open) return;
		// SQLite's advice for long-lived connections: refresh planner statistics on close (bounded sampling).
		if (this.dataDir) {
			this.db.pragma("analysis_limit = 1000");
			this.db.pragma("optimize");
		}
		this.db.close();
		if (this.dataDir) unmarkRunning(this.dataDir);
	}

	/** @internal prepared statement for `sql` (cached). */
	statement(sql: string, pluck = false): Database.Statement {
		return this.statements.get(sql, pluck);
	}

	/** @internal runs `fn` in a BEGIN IMMEDIATE transaction. */
	write<R>(fn: () => R): R {
		return this.transaction.immediate(fn) as R;
	}

	/** @internal outbox rows for `events`, inside the caller's transaction. */
	recordEvents(events: EventEnvelope[] | undefined): void {
		if (!events || events.length === 0) return;
		const insert = this.statement(OUTBOX_INSERT);
		const now = new Date().toISOString();
		for (const event of events) insert.run(event.id, JSON.stringify(event), now);
	}
}

function prepareFile(dir: string, file: string): void {
	privateDir(dir);
	// Created 0600 before SQLite opens it; SQLite gives new -wal/-shm files the same mode.
	privateFile(file);
}

function createIndexSql(table: string, index: IndexSpec): string {
	const fields = Object.entries(index.fields);
	if (fields.length === 0) throw new Error(`${table}: an index needs fields`);
	const name = indexName(table, index.fields, index.unique, index.sparse);
	const columns = fields.map(([field, dir]) =>
		sqliteDialect.orderBy(field === "_id" ? "_id" : sqliteDialect.field(fieldSegments(field)), dir),
	);
	// Partial on the first field (as the Mongo path of DbMixin): a query on that field implies it.
	const where = index.sparse ? ` WHERE ${sqliteDialect.field(fieldSegments(fields[0][0]))} IS NOT NULL` : "";
	return `CREATE ${index.unique ? "UNIQUE " : ""}INDEX IF NOT EXISTS ${quoteId(name)} ON ${quoteId(table)} (${columns.join(", ")})${where}`;
}

function selectSql(table: string, query: Filter | undefined, params: unknown[], what = "doc"): string {
	return `SELECT ${what} FROM ${quoteId(table)} WHERE ${compiler.where(query, params)}`;
}

function orderSql(sort: SortSpec | undefined): string {
	const keys = sortKeys(sort);
	return keys.length ? ` ORDER BY ${compiler.orderBy(keys)}` : "";
}

function pageSql(limit: number | undefined, offset: number | undefined, params: unknown[]): string {
	const hasLimit = typeof limit === "number" && limit >= 0;
	const hasOffset = typeof offset === "number" && offset > 0;
	if (!hasLimit && !hasOffset) return "";
	params.push(hasLimit ? Math.trunc(limit!) : -1);
	if (!hasOffset) return " LIMIT ?";
	params.push(Math.trunc(offset!));
	return " LIMIT ? OFFSET ?";
}

function findSql(table: string, opts: FindOptions, params: unknown[]): string {
	const where = selectSql(table, opts.query, params);
	return `${where}${orderSql(opts.sort)}${pageSql(opts.limit, opts.offset, params)}`;
}

interface Row {
	_id: string;
	doc: string;
}

class SqliteCollection<T extends StoredDoc> implements Collection<T> {
	private readonly quoted: string;
	constructor(
		private readonly store: SqliteStore,
		readonly name: string,
	) {
		this.quoted = quoteId(name);
	}

	async insert(doc: T, events?: EventEnvelope[]): Promise<T> {
		const id = checkId(doc);
		const json = JSON.stringify(doc);
		try {
			this.store.write(() => {
				this.store.statement(`INSERT INTO ${this.quoted} (_id, doc) VALUES (?, ?)`).run(id, json);
				this.store.recordEvents(events);
			});
		} catch (err) {
			throw this.mapError(err);
		}
		return parseDoc<T>(json);
	}

	async findById(id: string): Promise<T | null> {
		if (typeof id !== "string") return null;
		const json = this.store.statement(`SELECT doc FROM ${this.quoted} WHERE _id = ?`, true).get(id);
		return typeof json === "string" ? parseDoc<T>(json) : null;
	}

	async findOne(query: Filter, sort?: SortSpec): Promise<T | null> {
		const params: unknown[] = [];
		const sql = `${selectSql(this.name, query, params)}${orderSql(sort)} LIMIT 1`;
		const json = this.store.statement(sql, true).get(...params);
		return typeof json === "string" ? parseDoc<T>(json) : null;
	}

	async find(opts: FindOptions = {}): Promise<T[]> {
		const params: unknown[] = [];
		const sql = findSql(this.name, opts, params);
		return (this.store.statement(sql, true).all(...params) as string[]).map((json) => parseDoc<T>(json));
	}

	async count(query?: Filter): Promise<number> {
		const params: unknown[] = [];
		return Number(this.store.statement(selectSql(this.name, query, params, "COUNT(*)"), true).get(...params));
	}

	async updateOne(query: Filter, update: UpdateSpec, events?: EventEnvelope[]): Promise<T | null> {
		checkUpdate(update);
		const params: unknown[] = [];
		const select = this.store.statement(`${selectSql(this.name, query, params, "_id, doc")} LIMIT 1`);
		try {
			return this.store.write(() => {
				const row = select.get(...params) as Row | undefined;
				if (!row) return null;
				const next = this.writeUpdated(row, update);
				this.store.recordEvents(events);
				return next;
			});
		} catch (err) {
			throw this.mapError(err);
		}
	}

	async updateMany(query: Filter, update: UpdateSpec): Promise<number> {
		checkUpdate(update);
		const params: unknown[] = [];
		const select = this.store.statement(selectSql(this.name, query, params, "_id, doc"));
		try {
			return this.store.write(() => {
				const rows = select.all(...params) as Row[];
				for (const row of rows) this.writeUpdated(row, update);
				return rows.length;
			});
		} catch (err) {
			throw this.mapError(err);
		}
	}

	async removeMany(query: Filter): Promise<number> {
		const params: unknown[] = [];
		const sql = `DELETE FROM ${this.quoted} WHERE ${compiler.where(query, params)}`;
		return this.store.write(() => this.store.statement(sql).run(...params).changes);
	}

	/** Inside the caller's transaction: applies `update` to the row and writes it back. */
	private writeUpdated(row: Row, update: UpdateSpec): T {
		const next = applyUpdate(parseDoc<T>(row.doc), update);
		this.store.statement(`UPDATE ${this.quoted} SET doc = ? WHERE _id = ?`).run(JSON.stringify(next), row._id);
		return next;
	}

	private mapError(err: unknown): unknown {
		return isUniqueError(err) ? new UniqueViolationError(this.name, (err as Error).message) : err;
	}
}

class SqliteOutbox implements Outbox {
	constructor(private readonly store: SqliteStore) {}

	async add(events: EventEnvelope[]): Promise<void> {
		this.store.write(() => this.store.recordEvents(events));
	}

	async pending(limit: number): Promise<OutboxEntry[]> {
		const rows = this.store
			.statement(`SELECT id, envelope FROM _outbox ORDER BY seq LIMIT ?`)
			.all(Math.max(0, Math.trunc(limit))) as { id: string; envelope: string }[];
		return rows.map((row) => ({ id: row.id, envelope: JSON.parse(row.envelope) as EventEnvelope }));
	}

	async markSent(ids: string[]): Promise<void> {
		if (ids.length === 0) return;
		this.store.write(() =>
			this.store.statement(`DELETE FROM _outbox WHERE id IN (SELECT value FROM json_each(?))`).run(JSON.stringify(ids)),
		);
	}
}

class SqliteLedger implements EventLedger {
	constructor(private readonly store: SqliteStore) {}

	async has(eventId: string): Promise<boolean> {
		return this.store.statement(`SELECT 1 FROM _ledger WHERE id = ?`, true).get(eventId) !== undefined;
	}

	async add(eventId: string): Promise<boolean> {
		const sql = `INSERT INTO _ledger (id, at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`;
		return this.store.write(() => this.store.statement(sql).run(eventId, new Date().toISOString()).changes === 1);
	}

	async prune(olderThan: Date): Promise<number> {
		const sql = `DELETE FROM _ledger WHERE at < ?`;
		return this.store.write(() => this.store.statement(sql).run(olderThan.toISOString()).changes);
	}
}

/**
 * Copies a live SQLite database to `dest` as one consistent snapshot (VACUUM INTO; safe while the
 * platform writes to it). The copy is a compact plain database file (mode 0600).
 */
export async function backupSqlite(file: string, dest: string): Promise<void> {
	const db = new Database(file, { fileMustExist: true });
	try {
		db.pragma("busy_timeout = 5000");
		privateFile(dest);
		// VACUUM INTO copies one snapshot (a WAL read transaction: writers carry on) into a compact file.
		// SQLite's backup API restarts whenever another connection writes: under steady load (a 300 MB
		// notifications file during an order flood) it did not finish in 7 minutes.
		db.prepare("VACUUM INTO ?").run(dest);
		narrowIfPresent(dest);
	} finally {
		db.close();
	}
}
