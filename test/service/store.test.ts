/**
 * One contract for every store (lib/infra/store): SQLite in memory and on disk, PostgreSQL (when a
 * server answers on 127.0.0.1:5432) and MongoDB (with MONGO_URI). The same suite runs against each
 * through a factory; filters are also checked against mingo (MongoDB's semantics) as an oracle.
 */
import fs from "fs";
import os from "os";
import path from "path";
import Database from "better-sqlite3";
import { Query } from "mingo";
import { EventEnvelope } from "../../lib/domain/events";
import { Filter, ServiceStore, StoredDoc, UniqueViolationError } from "../../lib/infra/store/types";
import { SqliteStore } from "../../lib/infra/store/sqlite";
import { PostgresStore } from "../../lib/infra/store/postgres";
import { MongoStore } from "../../lib/infra/store/mongo";
import { applyUpdate } from "../../lib/infra/store/update";
import { describeWithInfra, describeWithMongo, INFRA } from "../helpers/infra";

type StoreFactory = (service: string) => ServiceStore;

interface Item extends StoredDoc {
	[field: string]: unknown;
}

let serial = 0;
const uniqueService = () => `st${process.pid}x${Date.now().toString(36)}x${serial++}`;

function envelope(type: string, data: Record<string, unknown> = {}): EventEnvelope {
	return {
		id: `ev-${Math.random().toString(36).slice(2)}`,
		type,
		time: new Date().toISOString(),
		actor: "system",
		requestId: null,
		data,
	};
}

const ITEMS: Item[] = [
	{
		_id: "a",
		n: 1,
		s: "apple",
		flag: true,
		tag: null,
		at: "2024-01-01T00:00:00.000Z",
		sent: { confirmed: true },
		list: [1, 2],
	},
	{ _id: "b", n: 2, s: "banana", flag: false, at: "2024-01-02T00:00:00.000Z", sent: { confirmed: false } },
	{ _id: "c", n: 3, s: "cherry", flag: true, tag: "x", at: "2024-01-03T00:00:00.000Z", sent: {} },
	{ _id: "d", n: 10, s: "date", tag: "y", at: "2024-01-04T00:00:00.000Z", refunds: { r1: { ok: true } } },
	{ _id: "e", n: "5", s: "elder", flag: 1, tag: "x", at: "2024-01-05T00:00:00.000Z" },
	{ _id: "f", s: "fig", n: 0, obj: { k: 1 }, at: "2024-01-06T00:00:00.000Z" },
];

/** Filters whose results must equal MongoDB's (mingo's) on ITEMS. */
const FILTERS: Filter[] = [
	{},
	{ n: 2 },
	{ n: "5" },
	{ s: "cherry" },
	{ flag: true },
	{ flag: false },
	{ flag: 1 },
	{ tag: null },
	{ tag: { $ne: null } },
	{ tag: { $ne: "x" } },
	{ n: { $ne: 2 } },
	{ n: { $in: [1, 3, "5"] } },
	{ tag: { $in: ["x", null] } },
	{ s: { $nin: ["apple", "banana"] } },
	{ n: { $nin: [1, 2] } },
	{ n: { $lt: 3 } },
	{ n: { $lte: 3 } },
	{ n: { $gt: 2 } },
	{ n: { $gte: 2, $lt: 10 } },
	{ s: { $gt: "c" } },
	{ at: { $lte: "2024-01-03T00:00:00.000Z" } },
	{ tag: { $exists: true } },
	{ tag: { $exists: false } },
	{ "sent.confirmed": true },
	{ "sent.confirmed": { $exists: false } },
	{ "refunds.r1": { $exists: true } },
	{ "refunds.r1.ok": true },
	{ $or: [{ n: 1 }, { s: "date" }] },
	{ $or: [{ flag: { $exists: false } }, { n: { $lt: 2 } }] },
	{ $and: [{ n: { $gte: 1 } }, { tag: "x" }] },
	{ _id: "c" },
	{ _id: { $in: ["a", "e", "zz"] } },
	{ _id: { $ne: "a" } },
	{ _id: "a", flag: true },
	{ obj: { k: 1 } },
	{ n: { $eq: 3 } },
];

function ids(docs: StoredDoc[]): string[] {
	return docs.map((d) => d._id).sort();
}

/** The contract every ServiceStore meets. `second` opens another instance on the same database. */
function storeContract(label: string, open: StoreFactory, second?: StoreFactory) {
	describe(`${label}: store contract`, () => {
		let store: ServiceStore;
		let service: string;
		beforeEach(() => {
			service = uniqueService();
			store = open(service);
		});
		afterEach(() => store.close());

		test("insert, findById, and unique violations (sparse unique allows many without the field)", async () => {
			const users = await store.collection<Item>("users", [
				{ fields: { email: 1 }, unique: true },
				{ fields: { key: 1 }, unique: true, sparse: true },
			]);
			const saved = await users.insert({ _id: "u1", email: "a@x", at: new Date("2024-01-01T00:00:00Z") });
			expect(saved).toEqual({ _id: "u1", email: "a@x", at: "2024-01-01T00:00:00.000Z" });
			expect(await users.findById("u1")).toEqual(saved);
			expect(await users.findById("nope")).toBeNull();
			await expect(users.insert({ _id: "u2", email: "a@x" })).rejects.toBeInstanceOf(UniqueViolationError);
			await expect(users.insert({ _id: "u1", email: "other@x" })).rejects.toBeInstanceOf(UniqueViolationError);
			await users.insert({ _id: "u3", email: "c@x" });
			await users.insert({ _id: "u4", email: "d@x" });
			await users.insert({ _id: "u5", email: "e@x", key: "k1" });
			await expect(users.insert({ _id: "u6", email: "f@x", key: "k1" })).rejects.toBeInstanceOf(UniqueViolationError);
			expect(await users.count()).toBe(4);
			await expect(users.updateOne({ _id: "u3" }, { $set: { email: "a@x" } })).rejects.toBeInstanceOf(
				UniqueViolationError,
			);
			expect((await users.findById("u3"))!.email).toBe("c@x");
			// The index on key is used by an equality query and the rest still works with it.
			expect(ids(await users.find({ query: { key: "k1" } }))).toEqual(["u5"]);
		});

		test("every filter operator gives MongoDB's answer", async () => {
			const items = await store.collection<Item>("items", [{ fields: { n: 1 } }, { fields: { tag: 1 } }]);
			for (const item of ITEMS) await items.insert(item);
			for (const filter of FILTERS) {
				const expected = ITEMS.filter((doc) => new Query(filter, {}).test(doc))
					.map((d) => d._id)
					.sort();
				const found = ids(await items.find({ query: filter }));
				expect({ filter, found }).toEqual({ filter, found: expected });
				expect({ filter, count: await items.count(filter) }).toEqual({ filter, count: expected.length });
			}
		});

		test("unsupported operators and field names are refused", async () => {
			const items = await store.collection<Item>("items");
			await expect(items.find({ query: { n: { $regex: "x" } } })).rejects.toThrow(/unsupported/);
			await expect(items.find({ query: { $where: "1" } })).rejects.toThrow(/unsupported/);
			await expect(items.find({ query: { "a'b": 1 } })).rejects.toThrow(/unsupported field/);
		});

		test("sort, limit and offset", async () => {
			const items = await store.collection<Item>("items", [{ fields: { at: -1 } }]);
			for (const item of ITEMS) await items.insert(item);
			const newest = await items.find({ sort: ["-at"], limit: 2 });
			expect(newest.map((d) => d._id)).toEqual(["f", "e"]);
			const page2 = await items.find({ sort: ["-at"], limit: 2, offset: 2 });
			expect(page2.map((d) => d._id)).toEqual(["d", "c"]);
			const skipOnly = await items.find({ sort: { at: 1 }, offset: 4 });
			expect(skipOnly.map((d) => d._id)).toEqual(["e", "f"]);
			const byFlagThenAt = await items.find({ query: { flag: { $in: [true, false] } }, sort: ["flag", "-at"] });
			expect(byFlagThenAt.map((d) => d._id)).toEqual(["b", "c", "a"]);
			expect((await items.findOne({ tag: "x" }, ["-at"]))!._id).toBe("e");
			expect(await items.findOne({ tag: "zzz" })).toBeNull();
			expect(await items.count({ at: { $gte: "2024-01-03" } })).toBe(4);
			// Dates are compared as the ISO strings they are stored as.
			expect(ids(await items.find({ query: { at: { $gt: new Date("2024-01-04T00:00:00.000Z") } } }))).toEqual([
				"e",
				"f",
			]);
		});

		test("updateOne is a compare-and-set with $set/$unset/$inc/$push/$pull on dotted paths", async () => {
			const orders = await store.collection<Item>("orders");
			await orders.insert({ _id: "o1", status: "created", stock: 2, history: ["a"], sent: {} });
			const updated = await orders.updateOne(
				{ _id: "o1", status: "created" },
				{
					$set: { status: "paid", "sent.paid": true, "deep.x.y": 1 },
					$inc: { stock: -1, fresh: 5 },
					$push: { history: { $each: ["b", "c"] }, other: { at: 1 } },
				},
			);
			expect(updated).toEqual({
				_id: "o1",
				status: "paid",
				stock: 1,
				fresh: 5,
				history: ["a", "b", "c"],
				other: [{ at: 1 }],
				sent: { paid: true },
				deep: { x: { y: 1 } },
			});
			expect(await orders.findById("o1")).toEqual(updated);
			expect(await orders.updateOne({ _id: "o1", status: "created" }, { $set: { status: "x" } })).toBeNull();
			expect(await orders.updateOne({ _id: "missing" }, { $set: { status: "x" } })).toBeNull();
			const pulled = await orders.updateOne(
				{ _id: "o1" },
				{ $pull: { history: "b" }, $unset: { "sent.paid": true, deep: 1 } },
			);
			expect(pulled).toMatchObject({ history: ["a", "c"], sent: {} });
			expect(pulled).not.toHaveProperty("deep");
			await expect(orders.updateOne({ _id: "o1" }, { $inc: { status: 1 } })).rejects.toThrow();
			expect((await orders.findById("o1"))!.status).toBe("paid");
		});

		test("updateMany and removeMany return how many documents they touched", async () => {
			const items = await store.collection<Item>("items");
			for (const item of ITEMS) await items.insert(item);
			expect(await items.updateMany({ tag: "x" }, { $set: { seen: true }, $inc: { hits: 1 } })).toBe(2);
			expect(ids(await items.find({ query: { seen: true } }))).toEqual(["c", "e"]);
			expect(await items.updateMany({ tag: "none" }, { $set: { seen: true } })).toBe(0);
			expect(await items.removeMany({ flag: true })).toBe(2);
			expect(await items.count()).toBe(4);
			expect(await items.removeMany({})).toBe(4);
		});

		test("outbox: events are written with the change, in order, and only when it happens", async () => {
			const orders = await store.collection<Item>("orders");
			const created = envelope("order.created");
			await orders.insert({ _id: "o1", status: "created" }, [created]);
			const noMatch = envelope("order.never");
			expect(await orders.updateOne({ _id: "o1", status: "paid" }, { $set: { status: "x" } }, [noMatch])).toBeNull();
			const paid = envelope("order.paid");
			const confirmed = envelope("order.confirmed");
			await orders.updateOne({ _id: "o1", status: "created" }, { $set: { status: "paid" } }, [paid, confirmed]);
			const failed = envelope("order.failed");
			await expect(orders.insert({ _id: "o1", status: "dup" }, [failed])).rejects.toBeInstanceOf(UniqueViolationError);
			const standalone = envelope("order.note");
			await store.outbox.add([standalone]);
			const pending = await store.outbox.pending(10);
			expect(pending.map((p) => p.envelope.type)).toEqual([
				"order.created",
				"order.paid",
				"order.confirmed",
				"order.note",
			]);
			expect(pending[1]).toEqual({ id: paid.id, envelope: paid });
			expect((await store.outbox.pending(2)).map((p) => p.id)).toEqual([created.id, paid.id]);
			await store.outbox.markSent([created.id, paid.id]);
			expect((await store.outbox.pending(10)).map((p) => p.id)).toEqual([confirmed.id, standalone.id]);
			await store.outbox.markSent([confirmed.id, standalone.id]);
			expect(await store.outbox.pending(10)).toEqual([]);
		});

		test("event ledger: add, has, prune", async () => {
			expect(await store.ledger.has("e1")).toBe(false);
			expect(await store.ledger.add("e1")).toBe(true);
			expect(await store.ledger.add("e1")).toBe(false);
			expect(await store.ledger.has("e1")).toBe(true);
			await store.ledger.add("e2");
			expect(await store.ledger.prune(new Date(Date.now() - 60_000))).toBe(0);
			expect(await store.ledger.prune(new Date(Date.now() + 60_000))).toBe(2);
			expect(await store.ledger.has("e1")).toBe(false);
			expect(store.isUp()).toBe(true);
		});

		test("100 concurrent compare-and-set attempts on one stock counter never oversell", async () => {
			const other = second ? second(service) : store;
			try {
				const [a, b] = [await store.collection<Item>("products"), await other.collection<Item>("products")];
				await a.insert({ _id: "p1", stock: 37 });
				const attempts = Array.from({ length: 100 }, (_, i) =>
					(i % 2 ? b : a).updateOne({ _id: "p1", stock: { $gte: 1 } }, { $inc: { stock: -1 } }, [
						envelope("inventory.taken"),
					]),
				);
				const results = await Promise.all(attempts);
				expect(results.filter(Boolean)).toHaveLength(37);
				const stocks = results.filter(Boolean).map((r) => r!.stock as number);
				expect(new Set(stocks).size).toBe(37);
				expect(Math.min(...stocks)).toBe(0);
				expect((await a.findById("p1"))!.stock).toBe(0);
				expect(await store.outbox.pending(1000)).toHaveLength(37);
			} finally {
				if (other !== store) await other.close();
			}
		});
	});
}

// ---------------------------------------------------------------------------------------------

storeContract("SQLite in memory", (service) => new SqliteStore(service, ":memory:"));

describe("SQLite on disk", () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gr-store-"));
	const dataDir = path.join(dir, "data");
	afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

	storeContract(
		"SQLite file",
		(service) => new SqliteStore(service, dataDir),
		(service) => new SqliteStore(service, dataDir),
	);

	test("the directory is 0700, the file 0600, WAL mode", async () => {
		const store = new SqliteStore("perms", dataDir);
		await store.collection("things");
		expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
		expect(fs.statSync(path.join(dataDir, "perms.sqlite")).mode & 0o777).toBe(0o600);
		await store.close();
		const raw = new Database(path.join(dataDir, "perms.sqlite"), { readonly: true });
		expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
		raw.close();
	});

	test("data survives a reopen, and opening does not read the rows", async () => {
		const indexes = [{ fields: { status: 1 as const } }];
		const first = new SqliteStore("reopen", dataDir);
		const docs = await first.collection<Item>("orders", indexes);
		for (let i = 0; i < 2000; i++) await docs.insert({ _id: `o${i}`, status: i % 2 ? "paid" : "created", n: i });
		await first.outbox.add([envelope("order.kept")]);
		await first.close();

		const statements: string[] = [];
		const second = new SqliteStore("reopen", dataDir, { onStatement: (sql) => statements.push(sql) });
		const reopened = await second.collection<Item>("orders", indexes);
		expect(statements.filter((sql) => /\bSELECT\b/i.test(sql) || /\bFROM "orders"/.test(sql))).toEqual([]);
		expect(await reopened.count()).toBe(2000);
		expect(await reopened.findById("o1999")).toEqual({ _id: "o1999", status: "paid", n: 1999 });
		expect(await second.outbox.pending(5)).toHaveLength(1);
		await second.close();
	});

	test("indexed equality and indexed sort + limit use the indexes (EXPLAIN QUERY PLAN)", async () => {
		const store = new SqliteStore("plans", dataDir);
		const orders = await store.collection<Item>("orders", [
			{ fields: { status: 1 } },
			{ fields: { createdAt: -1 } },
			{ fields: { key: 1 }, unique: true, sparse: true },
			{ fields: { supplierId: 1, createdAt: -1 } },
		]);
		await orders.insert({ _id: "x", status: "paid", createdAt: "2024", key: "k", supplierId: "s" });
		const plan = (opts: object) => store.explainFind("orders", opts).join(" | ");
		expect(plan({ query: { status: "paid" } })).toMatch(/USING INDEX ix_orders__status/);
		expect(plan({ query: { "sent.x": true } })).toMatch(/SCAN orders/);
		expect(plan({ query: { key: "k" } })).toMatch(/USING INDEX ix_orders__key__u__s/);
		const sorted = plan({ sort: ["-createdAt"], limit: 20 });
		expect(sorted).toMatch(/SCAN orders USING INDEX ix_orders__createdAt_desc/);
		expect(sorted).not.toMatch(/TEMP B-TREE/);
		const compound = plan({ query: { supplierId: "s" }, sort: ["-createdAt"], limit: 20 });
		expect(compound).toMatch(/USING INDEX ix_orders__supplierId__createdAt_desc/);
		expect(compound).not.toMatch(/TEMP B-TREE/);
		await store.close();
	});
});

// ---------------------------------------------------------------------------------------------

describeWithInfra(["postgres"], "PostgreSQL", () => {
	const namespace = `t${process.pid}${Date.now().toString(36)}`;
	const url = INFRA.postgres.url;
	const opened: PostgresStore[] = [];
	const open = (service: string) => {
		const store = new PostgresStore(service, { url, namespace });
		opened.push(store);
		return store;
	};
	afterAll(async () => {
		await Promise.all(opened.map((s) => s.close()));
		const cleaner = new PostgresStore("cleanup", { url, namespace });
		await cleaner.dropNamespaceSchemas();
		await cleaner.close();
	});

	storeContract("PostgreSQL", open, open);

	test("indexed equality and indexed sort + limit use the indexes (EXPLAIN)", async () => {
		const store = open(uniqueService());
		const orders = await store.collection<Item>("orders", [
			{ fields: { status: 1 } },
			{ fields: { createdAt: -1 } },
			{ fields: { key: 1 }, unique: true, sparse: true },
		]);
		const docs = Array.from({ length: 3000 }, (_, i) => ({
			_id: `o${i}`,
			status: `s${i % 300}`,
			createdAt: new Date(1e12 + i * 1000).toISOString(),
			...(i % 3 ? {} : { key: `k${i}` }),
		}));
		for (let i = 0; i < docs.length; i += 50) await Promise.all(docs.slice(i, i + 50).map((d) => orders.insert(d)));
		await store.analyze("orders");
		const plan = async (opts: object) => (await store.explainFind("orders", opts)).join(" | ");
		expect(await plan({ query: { status: "s7" } })).toMatch(/ix_orders__status/);
		expect(await plan({ query: { key: "k3" } })).toMatch(/ix_orders__key__u__s/);
		expect(await plan({ sort: ["-createdAt"], limit: 20 })).toMatch(/Index Scan using "?ix_orders__createdAt_desc/);
		await store.close();
	});

	test("a second instance creating the same schema and tables at the same time is fine", async () => {
		const service = uniqueService();
		const stores = [open(service), open(service), open(service)];
		await Promise.all(
			stores.map((s) => s.collection("orders", [{ fields: { status: 1 } }, { fields: { key: 1 }, unique: true }])),
		);
		await stores[0].collection<Item>("orders").then((c) => c.insert({ _id: "x", status: "a" }));
		expect(await (await stores[2].collection<Item>("orders")).count()).toBe(1);
		await Promise.all(stores.map((s) => s.close()));
	});

	test("isUp() turns false when the server cannot be reached", async () => {
		const store = new PostgresStore(uniqueService(), { url: "postgres://postgres@127.0.0.1:1/none", namespace });
		await expect(store.collection("x")).rejects.toThrow();
		expect(store.isUp()).toBe(false);
		await store.close();
	});
});

describeWithMongo("MongoDB", () => {
	storeContract(
		"MongoDB",
		(service) => new MongoStore(service, process.env.MONGO_URI as string),
		(service) => new MongoStore(service, process.env.MONGO_URI as string),
	);
});

describe("applyUpdate (the SQL stores' update applier)", () => {
	test("is strict like MongoDB (the stores then write nothing)", () => {
		const doc = (): StoredDoc => ({ _id: "a", n: 1, s: "x", list: [1, { k: 2 }], deep: { a: 1 } });
		expect(() => applyUpdate(doc(), { $set: { _id: "b" } })).toThrow(/_id/);
		expect(() => applyUpdate(doc(), { $inc: { s: 1 } })).toThrow(/not a number/);
		expect(() => applyUpdate(doc(), { $push: { n: 1 } })).toThrow(/not an array/);
		expect(() => applyUpdate(doc(), { $set: { "s.x": 1 } })).toThrow(/not an object/);
		expect(() => applyUpdate(doc(), { $rename: { n: "m" } } as never)).toThrow(/unsupported update operator/);
		expect(applyUpdate(doc(), { $pull: { list: { k: 2 } }, $unset: { "deep.a": 1, "no.such": 1 } })).toEqual({
			_id: "a",
			n: 1,
			s: "x",
			list: [1],
			deep: {},
		});
		const at = new Date("2024-01-01T00:00:00Z");
		const value = { when: at };
		const updated = applyUpdate(doc(), { $set: { v: value } });
		value.when = new Date(0);
		expect(updated.v).toEqual({ when: "2024-01-01T00:00:00.000Z" });
	});
});
