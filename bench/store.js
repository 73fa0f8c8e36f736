/**
 * Store micro-benchmark (npm run bench:store): ops/s of insert, findById, an indexed find and a
 * compare-and-set updateOne (with one outbox event) on a collection of --docs documents (100,000),
 * on a SQLite file and on PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres;
 * skipped when it does not answer). Runs the compiled dist/.
 *
 *   node bench/store.js [--docs 100000] [--ops 20000] [--concurrency 16] [--only sqlite|postgres]
 */
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

const dist = (...p) => path.resolve(__dirname, "..", "dist", ...p);
const { SqliteStore } = require(dist("lib", "infra", "store", "sqlite.js"));
const { PostgresStore } = require(dist("lib", "infra", "store", "postgres.js"));

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const DOCS = Number(option("docs", 100_000));
const OPS = Number(option("ops", 20_000));
const ONLY = option("only", "");
const STATUSES = ["created", "confirmed", "assigned", "picked_up", "delivered", "cancelled"];
const INDEXES = [{ fields: { customerId: 1 } }, { fields: { status: 1 } }, { fields: { createdAt: -1 } }];

function order(i) {
	return {
		_id: `o${String(i).padStart(7, "0")}`,
		kind: "order",
		status: STATUSES[i % STATUSES.length],
		customerId: `c${i % 2000}`,
		supplierId: `s${i % 50}`,
		totalCents: 9000 + (i % 500),
		items: [{ productId: `p${i % 40}`, quantity: 1, priceCents: 9000 }],
		sent: { created: true },
		history: [{ status: "created", at: new Date(1.7e12 + i * 1000).toISOString(), by: "system" }],
		createdAt: new Date(1.7e12 + i * 1000).toISOString(),
	};
}

function envelope(i) {
	return {
		id: `ev${i}-${Math.random()}`,
		type: "order.updated",
		time: new Date().toISOString(),
		actor: "system",
		requestId: null,
		data: { i },
	};
}

/** Runs `count` operations `op(i)` with `concurrency` in flight; returns ops/s. */
async function measure(label, count, concurrency, op) {
	const started = process.hrtime.bigint();
	let next = 0;
	const worker = async () => {
		while (next < count) await op(next++);
	};
	await Promise.all(Array.from({ length: concurrency }, worker));
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const rate = count / seconds;
	console.log(
		`  ${label.padEnd(34)} ${Math.round(rate).toLocaleString("en").padStart(9)} ops/s  ${((seconds / count) * 1e6 * concurrency).toFixed(1).padStart(8)} µs/op`,
	);
	return rate;
}

async function bench(name, store, concurrency) {
	console.log(`${name} (${DOCS.toLocaleString("en")} documents, concurrency ${concurrency})`);
	const orders = await store.collection("orders", INDEXES);
	await measure(`insert`, DOCS, concurrency, (i) => orders.insert(order(i)));
	// After a bulk load PostgreSQL plans blind until autovacuum analyzes the table; do it now.
	if (store.analyze) await store.analyze("orders");
	const random = () => Math.floor(Math.random() * DOCS);
	await measure(`findById`, OPS, concurrency, () => orders.findById(order(random())._id));
	await measure(`find customerId, sort -createdAt, 10`, OPS, concurrency, () =>
		orders.find({ query: { customerId: `c${random() % 2000}` }, sort: ["-createdAt"], limit: 10 }),
	);
	await measure(`updateOne (CAS + 1 outbox event)`, OPS, concurrency, (i) =>
		orders.updateOne(
			{ _id: order(random())._id, status: { $ne: "x" } },
			{ $set: { touchedAt: new Date().toISOString() }, $inc: { totalCents: 1 } },
			[envelope(i)],
		),
	);
	await store.close();
}

async function main() {
	if (ONLY !== "postgres") {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gr-bench-store-"));
		try {
			await bench("SQLite file", new SqliteStore("bench", dir), Number(option("concurrency", 1)));
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	}
	if (ONLY !== "sqlite") {
		const url = process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres";
		const namespace = `bench${process.pid}`;
		const store = new PostgresStore("bench", { url, namespace });
		try {
			await bench("PostgreSQL", store, Number(option("concurrency", 16)));
		} catch (err) {
			console.log(`PostgreSQL skipped: ${err.message}`);
		} finally {
			const cleaner = new PostgresStore("cleanup", { url, namespace });
			await cleaner.dropNamespaceSchemas().catch(() => undefined);
			await cleaner.close();
		}
	}
}

main().catch((err) => {
	console.error(err);
	process.exit(1);
});
