/**
 * Sealed fields (lib/infra/store/sealed.ts) on every store: what the database holds is ciphertext
 * (SQLite on disk and PostgreSQL hold the same sealed form), reads give the values back, values
 * stored in plain text before are rewritten sealed, and a sealed field cannot be compared in a query.
 */
import crypto from "crypto";
import fs from "fs";
import os from "os";
import path from "path";
import { Collection, ServiceStore, StoredDoc } from "../../lib/infra/store/types";
import { SqliteStore } from "../../lib/infra/store/sqlite";
import { PostgresStore } from "../../lib/infra/store/postgres";
import { SEALING_MARKS, SealedCollection, withSealedFields } from "../../lib/infra/store/sealed";
import { deriveFieldsKey, isSealed, openValue, sealValue } from "../../lib/infra/field-crypto";
import { describeWithInfra, INFRA } from "../helpers/infra";

interface Account extends StoredDoc {
	name: string;
	secret?: string;
	facts?: { cnpj: string };
	n?: number;
}

const KEY = deriveFieldsKey(crypto.randomBytes(32));
const SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const CNPJ = "11222333000181";

test("sealValue/openValue: round trip, random IVs, bound to the field label and the key", () => {
	const a = sealValue(SECRET, KEY, "users.mfaSecret");
	const b = sealValue(SECRET, KEY, "users.mfaSecret");
	expect(a).not.toBe(b);
	expect(isSealed(a)).toBe(true);
	expect(a).not.toContain(SECRET);
	expect(openValue(a, KEY, "users.mfaSecret")).toBe(SECRET);
	expect(openValue({ cnpj: CNPJ }, KEY, "x")).toEqual({ cnpj: CNPJ });
	expect(() => openValue(a, KEY, "users.other")).toThrow();
	expect(() => openValue(a, deriveFieldsKey(crypto.randomBytes(32)), "users.mfaSecret")).toThrow();
	const tampered = a.slice(0, -4) + (a.endsWith("AAAA") ? "BBBB" : "AAAA");
	expect(() => openValue(tampered, KEY, "users.mfaSecret")).toThrow();
});

function sealedContract(name: string, open: () => Promise<{ store: ServiceStore; raw: Collection<Account> }>) {
	describe(name, () => {
		let store: ServiceStore;
		let raw: Collection<Account>;
		let sealed: SealedCollection<Account>;
		beforeAll(async () => {
			({ store, raw } = await open());
			sealed = new SealedCollection(raw, ["secret", "facts"], KEY);
		});
		afterAll(() => store.close());

		test("the database holds ciphertext; reads, updates and $exists see the values", async () => {
			await sealed.insert({ _id: "a1", name: "Ana", secret: SECRET, facts: { cnpj: CNPJ } });
			const stored = (await raw.findById("a1"))!;
			expect(isSealed(stored.secret)).toBe(true);
			expect(isSealed(stored.facts)).toBe(true);
			expect(JSON.stringify(stored)).not.toMatch(new RegExp(`${SECRET}|${CNPJ}`));
			expect(await sealed.findById("a1")).toEqual({ _id: "a1", name: "Ana", secret: SECRET, facts: { cnpj: CNPJ } });
			const updated = await sealed.updateOne(
				{ _id: "a1", secret: { $exists: true } },
				{ $set: { secret: "NEWSECRET234" } },
			);
			expect(updated!.secret).toBe("NEWSECRET234");
			expect(JSON.stringify(await raw.findById("a1"))).not.toContain("NEWSECRET234");
			expect((await sealed.find({ query: { secret: { $exists: true } } })).map((d) => d.secret)).toEqual([
				"NEWSECRET234",
			]);
			await sealed.updateOne({ _id: "a1" }, { $unset: { secret: 1 } });
			expect((await sealed.findById("a1"))!.secret).toBeUndefined();
		});

		test("a sealed field cannot be compared, nor updated by path or operator", async () => {
			await expect(sealed.find({ query: { secret: SECRET } })).rejects.toThrow(/sealed/);
			await expect(sealed.count({ $or: [{ "facts.cnpj": CNPJ }] })).rejects.toThrow(/sealed/);
			await expect(sealed.updateMany({}, { $set: { "facts.cnpj": CNPJ } })).rejects.toThrow(/sealed/);
			await expect(sealed.updateMany({}, { $push: { secret: "x" } })).rejects.toThrow(/sealed/);
		});

		test("values stored in plain text before are read, then rewritten sealed", async () => {
			await raw.insert({ _id: "old1", name: "Old", secret: SECRET, facts: { cnpj: CNPJ } });
			await raw.insert({ _id: "old2", name: "Old too", n: 1 });
			expect((await sealed.findById("old1"))!.secret).toBe(SECRET);
			const rewrapped = await withSealedFields(store, raw, ["secret", "facts"], () => undefined);
			expect(JSON.stringify(await raw.findById("old1"))).not.toMatch(new RegExp(`${SECRET}|${CNPJ}`));
			expect(await rewrapped.findById("old1")).toMatchObject({ secret: SECRET, facts: { cnpj: CNPJ } });
			expect(await raw.findById("old2")).toEqual({ _id: "old2", name: "Old too", n: 1 });
			expect(await new SealedCollection(raw, ["secret", "facts"], KEY).sealLegacyValues()).toBe(0);

			// The pass is made once per store (a mark): the next start reads no document for it. An
			// import of old data clears the marks (scripts/migrate-nedb.js), and the next start seals it.
			await raw.insert({ _id: "imported", name: "Imported", secret: SECRET });
			await withSealedFields(store, raw, ["secret", "facts"], () => undefined);
			expect((await raw.findById("imported"))!.secret).toBe(SECRET);
			await (await store.collection(SEALING_MARKS)).removeMany({});
			await withSealedFields(store, raw, ["secret", "facts"], () => undefined);
			expect(isSealed((await raw.findById("imported"))!.secret)).toBe(true);
		});
	});
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-sealed-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

sealedContract("SQLite on disk", async () => {
	const store = new SqliteStore("sealed", dataDir);
	return { store, raw: await store.collection<Account>("accounts") };
});

test("SQLite: removed values are zeroed in the file (secure_delete), compaction empties the WAL", async () => {
	const store = new SqliteStore("wiped", dataDir);
	const items = await store.collection<Account>("items");
	await items.insert({ _id: "x", name: "PLAIN-VALUE-TO-FORGET-1234" });
	await items.insert({ _id: "y", name: "kept" });
	await items.removeMany({ _id: "x" });
	await store.compact!();
	const bytes = ["", "-wal", "-shm"]
		.map((suffix) => path.join(dataDir, `wiped.sqlite${suffix}`))
		.filter((file) => fs.existsSync(file))
		.map((file) => fs.readFileSync(file).toString("latin1"))
		.join("");
	expect(bytes).not.toContain("PLAIN-VALUE-TO-FORGET-1234");
	expect(bytes).toContain("kept");
	await store.close();
});

describeWithInfra(["postgres"], "PostgreSQL", () => {
	const namespace = `sealed${process.pid}${Date.now().toString(36)}`;
	afterAll(async () => {
		const cleaner = new PostgresStore("cleanup", { url: INFRA.postgres.url, namespace });
		await cleaner.dropNamespaceSchemas();
		await cleaner.close();
	});
	sealedContract("PostgreSQL", async () => {
		const store = new PostgresStore("sealed", { url: INFRA.postgres.url, namespace });
		return { store, raw: await store.collection<Account>("accounts") };
	});
});
