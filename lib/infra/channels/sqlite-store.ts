/**
 * The SQLite file behind the durable in-process channels adapter.
 *
 * messages      one row per published message; seq is AUTOINCREMENT so a seq is never reused after
 *               pruning (a group's floor must never be above a future message).
 * groups        every (topic, group) that ever subscribed, with its floor: every message of the topic
 *               with seq <= floor is done for the group (acknowledged, dead-lettered or parked in
 *               retries). Kept while the group is not subscribed, so its backlog waits for it.
 * acked_above   messages above the floor already acknowledged (handlers finish out of order).
 * retries       messages whose handler failed, with the failed attempts and when to try again.
 */
import Database from "better-sqlite3";
import path from "path";
import { narrowIfPresent, privateDir, privateFile } from "../private-files";

export const IN_MEMORY = ":memory:";

export type Headers = Record<string, string>;

export interface StoredMessage {
	seq: number;
	topic: string;
	payload: Buffer;
	headers: Headers | null;
}

export interface RetryState {
	seq: number;
	/** Failed deliveries so far. */
	attempts: number;
	nextAttemptAt: number;
}

export interface GroupState {
	floor: number;
	ackedAbove: number[];
	retries: RetryState[];
	/** Messages of the topic not yet done for the group. */
	backlog: number;
}

export interface StoreOptions {
	/** "FULL" also survives a power loss (an fsync per commit); "NORMAL" survives a process crash. */
	synchronous: "NORMAL" | "FULL";
}

interface MessageRow {
	seq: number;
	topic: string;
	payload: Buffer;
	headers: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	topic TEXT NOT NULL,
	payload BLOB NOT NULL,
	headers TEXT,
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_topic_seq ON messages (topic, seq);
CREATE TABLE IF NOT EXISTS groups (
	topic TEXT NOT NULL,
	grp TEXT NOT NULL,
	floor INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (topic, grp)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acked_above (
	topic TEXT NOT NULL,
	grp TEXT NOT NULL,
	seq INTEGER NOT NULL,
	PRIMARY KEY (topic, grp, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS retries (
	topic TEXT NOT NULL,
	grp TEXT NOT NULL,
	seq INTEGER NOT NULL,
	attempts INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	PRIMARY KEY (topic, grp, seq)
) WITHOUT ROWID;
`;

function openDatabase(file: string): Database.Database {
	if (file === IN_MEMORY) return new Database(IN_MEMORY);
	privateDir(path.dirname(file));
	privateFile(file);
	return new Database(file);
}

function toMessage(row: MessageRow): StoredMessage {
	return {
		seq: row.seq,
		topic: row.topic,
		payload: row.payload,
		headers: row.headers ? (JSON.parse(row.headers) as Headers) : null,
	};
}

export class EventStore {
	private readonly db: Database.Database;
	private readonly stmt;

	constructor(file: string, opts: StoreOptions = { synchronous: "NORMAL" }) {
		this.db = openDatabase(file);
		this.db.pragma("journal_mode = WAL");
		if (file !== IN_MEMORY) narrowIfPresent(`${file}-wal`, `${file}-shm`);
		this.db.pragma(`synchronous = ${opts.synchronous}`);
		this.db.pragma("busy_timeout = 5000");
		this.db.pragma("secure_delete = ON");
		// The WAL is truncated back to this size after checkpoints instead of keeping its peak size.
		this.db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
		this.db.exec(SCHEMA);
		this.stmt = this.prepare();
	}

	private prepare() {
		const db = this.db;
		return {
			append: db.prepare<[string, Buffer, string | null, number]>(
				"INSERT INTO messages (topic, payload, headers, created_at) VALUES (?, ?, ?, ?)",
			),
			readAfter: db.prepare<[string, number, number], MessageRow>(
				"SELECT seq, topic, payload, headers FROM messages WHERE topic = ? AND seq > ? ORDER BY seq LIMIT ?",
			),
			readOne: db.prepare<[number], MessageRow>("SELECT seq, topic, payload, headers FROM messages WHERE seq = ?"),
			minSeq: db.prepare<[string], { seq: number | null }>("SELECT MIN(seq) AS seq FROM messages WHERE topic = ?"),
			countAfter: db.prepare<[string, number], { n: number }>(
				"SELECT COUNT(*) AS n FROM messages WHERE topic = ? AND seq > ?",
			),
			insertGroup: db.prepare<[string, string, number, number]>(
				"INSERT OR IGNORE INTO groups (topic, grp, floor, created_at) VALUES (?, ?, ?, ?)",
			),
			groupFloor: db.prepare<[string, string], { floor: number }>(
				"SELECT floor FROM groups WHERE topic = ? AND grp = ?",
			),
			setFloor: db.prepare<[number, string, string]>("UPDATE groups SET floor = ? WHERE topic = ? AND grp = ?"),
			ackedAbove: db.prepare<[string, string], { seq: number }>(
				"SELECT seq FROM acked_above WHERE topic = ? AND grp = ? ORDER BY seq",
			),
			addAckedAbove: db.prepare<[string, string, number]>(
				"INSERT OR IGNORE INTO acked_above (topic, grp, seq) VALUES (?, ?, ?)",
			),
			trimAckedAbove: db.prepare<[string, string, number]>(
				"DELETE FROM acked_above WHERE topic = ? AND grp = ? AND seq <= ?",
			),
			retries: db.prepare<[string, string], RetryState>(
				"SELECT seq, attempts, next_attempt_at AS nextAttemptAt FROM retries WHERE topic = ? AND grp = ? ORDER BY seq",
			),
			upsertRetry: db.prepare<[string, string, number, number, number]>(
				"INSERT OR REPLACE INTO retries (topic, grp, seq, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
			),
			deleteRetry: db.prepare<[string, string, number]>("DELETE FROM retries WHERE topic = ? AND grp = ? AND seq = ?"),
			topicFloors: db.prepare<[], { topic: string; floor: number }>(
				"SELECT topic, MIN(floor) AS floor FROM groups GROUP BY topic",
			),
			prune: db.prepare<[string, number, string]>(
				`DELETE FROM messages WHERE topic = ? AND seq <= ?
				 AND seq NOT IN (SELECT seq FROM retries WHERE topic = ?)`,
			),
			count: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM messages"),
		};
	}

	/** Runs fn in one transaction (committed when it returns). */
	transaction<T>(fn: () => T): T {
		return this.db.transaction(fn)();
	}

	/** Writes one message (committed before it returns, unless inside transaction()); returns its seq. */
	append(topic: string, payload: Buffer, headers: Headers | null): number {
		const info = this.stmt.append.run(topic, payload, headers ? JSON.stringify(headers) : null, Date.now());
		return Number(info.lastInsertRowid);
	}

	readAfter(topic: string, afterSeq: number, limit: number): StoredMessage[] {
		return this.stmt.readAfter.all(topic, afterSeq, limit).map(toMessage);
	}

	readOne(seq: number): StoredMessage | undefined {
		const row = this.stmt.readOne.get(seq);
		return row && toMessage(row);
	}

	/**
	 * Makes the group known (a new group starts at the oldest message still stored: it gets the
	 * topic's backlog) and returns its delivery state.
	 */
	openGroup(topic: string, group: string): GroupState {
		return this.transaction(() => {
			const oldest = this.stmt.minSeq.get(topic)?.seq;
			this.stmt.insertGroup.run(topic, group, oldest == null ? 0 : oldest - 1, Date.now());
			const floor = this.stmt.groupFloor.get(topic, group)?.floor ?? 0;
			const ackedAbove = this.stmt.ackedAbove.all(topic, group).map((r) => r.seq);
			const retries = this.stmt.retries.all(topic, group);
			const parkedBelowFloor = retries.filter((r) => r.seq <= floor).length;
			const above = this.stmt.countAfter.get(topic, floor)?.n ?? 0;
			return { floor, ackedAbove, retries, backlog: above - ackedAbove.length + parkedBelowFloor };
		});
	}

	setFloor(topic: string, group: string, floor: number): void {
		this.stmt.setFloor.run(floor, topic, group);
		this.stmt.trimAckedAbove.run(topic, group, floor);
	}

	addAckedAbove(topic: string, group: string, seq: number): void {
		this.stmt.addAckedAbove.run(topic, group, seq);
	}

	saveRetry(topic: string, group: string, retry: RetryState): void {
		this.stmt.upsertRetry.run(topic, group, retry.seq, retry.attempts, retry.nextAttemptAt);
	}

	deleteRetry(topic: string, group: string, seq: number): void {
		this.stmt.deleteRetry.run(topic, group, seq);
	}

	/**
	 * Deletes the messages every known group of their topic is done with. Topics no group ever
	 * subscribed keep their messages (a consumer may still come).
	 */
	prune(): number {
		return this.transaction(() => {
			let deleted = 0;
			for (const { topic, floor } of this.stmt.topicFloors.all())
				deleted += this.stmt.prune.run(topic, floor, topic).changes;
			return deleted;
		});
	}

	/** Messages stored (all topics). */
	messageCount(): number {
		return this.stmt.count.get()?.n ?? 0;
	}

	get isOpen(): boolean {
		return this.db.open;
	}

	close(): void {
		if (this.db.open) this.db.close();
	}
}
