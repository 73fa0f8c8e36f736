/**
 * The store's operational scripts, run as an operator would (node scripts/…, on the compiled dist/
 * that jest's global setup builds): NeDB import, and online backup + restore of the SQLite files.
 */
import { execFile } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";
import { promisify } from "util";
import Datastore from "@seald-io/nedb";
import { SqliteStore } from "../../lib/infra/store/sqlite";
import { PostgresStore } from "../../lib/infra/store/postgres";
import { describeWithInfra, INFRA } from "../helpers/infra";

const ROOT = path.resolve(__dirname, "..", "..");
const run = promisify(execFile);

function script(name: string, args: string[], env: Record<string, string>) {
	const childEnv = { ...process.env, DATABASE_URL: "", MONGO_URI: "", ...env };
	return run(process.execPath, [path.join(ROOT, "scripts", name), ...args], { env: childEnv, cwd: ROOT });
}

let tmp: string;
beforeAll(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gr-store-scripts-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A NeDB directory as the old DbMixin wrote it: orders and users, and the orders' event ledger. */
async function makeNedbDir(): Promise<string> {
	const dir = fs.mkdtempSync(path.join(tmp, "nedb-"));
	const orders = new Datastore({ filename: path.join(dir, "orders.db"), autoload: true });
	await orders.insertAsync([
		{ _id: "o1", status: "created", totalCents: 100, sent: { created: true }, createdAt: "2024-05-01T10:00:00.000Z" },
		{ _id: "o2", status: "delivered", totalCents: 250, history: [{ at: "x" }], createdAt: "2024-05-02T10:00:00.000Z" },
	]);
	await orders.removeAsync({ _id: "o2" }, {});
	await orders.insertAsync({
		_id: "o3",
		status: "paid",
		totalCents: 300,
		paidAt: new Date("2024-05-03T10:00:00.000Z"),
	});
	await orders.updateAsync({ _id: "o1" }, { $set: { status: "confirmed" } }, {});
	const users = new Datastore({ filename: path.join(dir, "users.db"), autoload: true });
	await users.insertAsync({ _id: "u1", email: "a@example.com", role: "customer" });
	const ledger = new Datastore({ filename: path.join(dir, "orders.processed-events.db"), autoload: true });
	await ledger.insertAsync([
		{ _id: "ev1", at: new Date().toISOString() },
		{ _id: "ev2", at: new Date().toISOString() },
	]);
	await Promise.all([orders, users, ledger].map((d) => d.compactDatafileAsync()));
	return dir;
}

describe("migrate-nedb", () => {
	test("imports NeDB collections and ledgers into SQLite, and skips what is there on a second run", async () => {
		const nedb = await makeNedbDir();
		const before = fs.readFileSync(path.join(nedb, "orders.db"), "utf8");
		const dataDir = path.join(tmp, "migrated");
		const first = await script("migrate-nedb.js", ["--from", nedb], { DATA_DIR: dataDir });
		expect(first.stdout).toMatch(/orders: 2 imported, 0 already there; ledger 2 imported, 0 already there/);
		expect(first.stdout).toMatch(/users: 1 imported, 0 already there; ledger 0 imported/);
		const second = await script("migrate-nedb.js", ["--from", nedb], { DATA_DIR: dataDir });
		expect(second.stdout).toMatch(/orders: 0 imported, 2 already there; ledger 0 imported, 2 already there/);
		expect(fs.readFileSync(path.join(nedb, "orders.db"), "utf8")).toBe(before);

		const store = new SqliteStore("orders", dataDir);
		const orders = await store.collection("orders", [{ fields: { status: 1 } }]);
		expect(await orders.count()).toBe(2);
		expect(await orders.findById("o1")).toEqual({
			_id: "o1",
			status: "confirmed",
			totalCents: 100,
			sent: { created: true },
			createdAt: "2024-05-01T10:00:00.000Z",
		});
		expect(await orders.findOne({ status: "paid" })).toMatchObject({ _id: "o3", paidAt: "2024-05-03T10:00:00.000Z" });
		expect(await orders.findById("o2")).toBeNull();
		expect(await store.ledger.has("ev1")).toBe(true);
		await store.close();
		const users = new SqliteStore("users", dataDir);
		expect(await (await users.collection("users")).findOne({ email: "a@example.com" })).toMatchObject({ _id: "u1" });
		await users.close();
	});

	describeWithInfra(["postgres"], "into PostgreSQL", () => {
		const namespace = `mig${process.pid}${Date.now().toString(36)}`;
		afterAll(async () => {
			const cleaner = new PostgresStore("cleanup", { url: INFRA.postgres.url, namespace });
			await cleaner.dropNamespaceSchemas();
			await cleaner.close();
		});

		test("imports into one schema per service, idempotently", async () => {
			const nedb = await makeNedbDir();
			const env = { DATABASE_URL: INFRA.postgres.url, NAMESPACE: namespace };
			const first = await script("migrate-nedb.js", ["--from", nedb], env);
			expect(first.stdout).toMatch(/orders: 2 imported, 0 already there; ledger 2 imported/);
			const second = await script("migrate-nedb.js", ["--from", nedb], env);
			expect(second.stdout).toMatch(/orders: 0 imported, 2 already there/);
			const store = new PostgresStore("orders", { url: INFRA.postgres.url, namespace });
			const orders = await store.collection("orders");
			expect((await orders.find({ sort: ["_id"] })).map((d) => d._id)).toEqual(["o1", "o3"]);
			expect(await store.ledger.has("ev2")).toBe(true);
			await store.close();
		});
	});
});

describe("backup and restore", () => {
	test("a backup taken while writes continue restores every row written before it began", async () => {
		const dataDir = path.join(tmp, "live");
		const store = new SqliteStore("orders", dataDir);
		const orders = await store.collection("orders", [{ fields: { status: 1 } }]);
		for (let i = 0; i < 3000; i++) await orders.insert({ _id: `pre${i}`, status: "created", pad: "x".repeat(200) });

		let writing = true;
		let written = 0;
		const writer = (async () => {
			while (writing) {
				await orders.insert({ _id: `during${written++}`, status: "created", pad: "y".repeat(200) });
				await orders.updateOne({ _id: `pre${written % 3000}` }, { $inc: { touched: 1 } });
				await new Promise((resolve) => setImmediate(resolve));
			}
		})();
		const backup = await script("backup.js", [], { DATA_DIR: dataDir });
		writing = false;
		await writer;
		expect(written).toBeGreaterThan(0);
		const folder = backup.stdout.trim().split("\n").pop()!;
		expect(fs.existsSync(path.join(folder, "orders.sqlite"))).toBe(true);

		await expect(script("restore.js", [folder], { DATA_DIR: dataDir })).rejects.toMatchObject({
			stderr: expect.stringMatching(/seems to be running/),
		});
		await store.close();

		const fresh = path.join(tmp, "fresh");
		await script("restore.js", [folder], { DATA_DIR: fresh });
		const restored = new SqliteStore("orders", fresh);
		const again = await restored.collection("orders", [{ fields: { status: 1 } }]);
		const pre = await again.find({ query: { _id: { $lt: "pre:" } } });
		expect(pre.filter((d) => d._id.startsWith("pre"))).toHaveLength(3000);
		expect(await again.count()).toBeGreaterThanOrEqual(3000);
		await restored.close();
	});
});
