#!/usr/bin/env node
/**
 * Imports a NeDB data directory (the old embedded store) into the configured store: SQLite files
 * under DATA_DIR, or PostgreSQL when DATABASE_URL is set. Runs the compiled dist/ (npm run
 * migrate:nedb builds it first).
 *
 *   node scripts/migrate-nedb.js [--from <nedb dir>]     (default: DATA_DIR)
 *
 * `<collection>.db` becomes collection <collection> of service <collection> (every service's NeDB
 * collection is named after the service); `<collection>.processed-events.db` fills that service's
 * event ledger (entries restart their retention window). Idempotent: documents whose _id is
 * already in the store are skipped, so an interrupted run can be started again.
 */
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const Datastore = require("@seald-io/nedb");

const root = path.resolve(__dirname, "..");
const dist = (...p) => path.join(root, "dist", ...p);
const LEDGER_SUFFIX = ".processed-events.db";

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

/** NeDB rewrites (compacts) its file when loading: load a copy so the source stays as it was. */
async function loadNedb(file) {
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gr-nedb-"));
	try {
		const copy = path.join(tmp, path.basename(file));
		fs.copyFileSync(file, copy);
		const datastore = new Datastore({ filename: copy });
		await datastore.loadDatabaseAsync();
		return datastore.getAllData();
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

async function importDocuments(store, name, docs) {
	const collection = await store.collection(name);
	const counts = { imported: 0, existing: 0, conflicts: 0 };
	for (const doc of docs) {
		try {
			await collection.insert(doc);
			counts.imported++;
		} catch (err) {
			if (err.code !== "UNIQUE_VIOLATION") throw err;
			if (await collection.findById(doc._id)) counts.existing++;
			else {
				counts.conflicts++;
				console.warn(`  ${name}: ${doc._id} not imported: ${err.message}`);
			}
		}
	}
	return counts;
}

async function importLedger(store, file) {
	const counts = { imported: 0, existing: 0 };
	if (!fs.existsSync(file)) return counts;
	for (const entry of await loadNedb(file)) {
		if (await store.ledger.add(String(entry._id))) counts.imported++;
		else counts.existing++;
	}
	return counts;
}

function collectionFiles(dir) {
	return fs
		.readdirSync(dir)
		.filter((name) => name.endsWith(".db") && !name.endsWith(LEDGER_SUFFIX))
		.map((name) => name.slice(0, -".db".length))
		.sort();
}

async function main() {
	const { config } = require(dist("lib", "infra", "config.js"));
	const { openStore } = require(dist("lib", "infra", "store", "index.js"));
	const { SEALING_MARKS } = require(dist("lib", "infra", "store", "sealed.js"));
	const cfg = config();
	const from = path.resolve(option("from", cfg.dataDir));
	if (cfg.mongoUri && !cfg.databaseUrl)
		throw new Error("MONGO_URI is set: NeDB data is imported into SQLite or PostgreSQL only");
	if (!cfg.databaseUrl && cfg.inMemoryStore)
		throw new Error("DATA_DIR is ':memory:': set DATA_DIR (SQLite) or DATABASE_URL");
	if (!fs.existsSync(from)) throw new Error(`No NeDB directory at ${from}`);
	const target = cfg.databaseUrl ? "PostgreSQL" : `SQLite in ${path.resolve(cfg.dataDir)}`;
	console.log(`Importing NeDB data from ${from} into ${target}`);
	let total = 0;
	for (const name of collectionFiles(from)) {
		const store = openStore(name);
		try {
			const docs = await loadNedb(path.join(from, `${name}.db`));
			const counts = await importDocuments(store, name, docs);
			// PostgreSQL: planner statistics now, rather than when autovacuum gets to the new table.
			if (typeof store.analyze === "function") await store.analyze(name);
			const ledger = await importLedger(store, path.join(from, `${name}${LEDGER_SUFFIX}`));
			// Imported documents may hold values of sealed fields in plain text: the next start seals them.
			await (await store.collection(SEALING_MARKS)).removeMany({});
			total += counts.imported;
			console.log(
				`${name}: ${counts.imported} imported, ${counts.existing} already there` +
					(counts.conflicts ? `, ${counts.conflicts} unique conflicts` : "") +
					`; ledger ${ledger.imported} imported, ${ledger.existing} already there`,
			);
		} finally {
			await store.close();
		}
	}
	console.log(`Done: ${total} documents imported.`);
}

main().catch((err) => {
	console.error(`migrate-nedb: ${err.message}`);
	process.exit(1);
});
