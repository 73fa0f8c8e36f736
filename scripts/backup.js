#!/usr/bin/env node
/**
 * Backs up every SQLite store in DATA_DIR with VACUUM INTO (one consistent snapshot per file), which is
 * safe while the platform runs and writes:
 *
 *   node scripts/backup.js [--to <folder>]     (default: DATA_DIR/backups)
 *
 * writes `<folder>/<timestamp>/<service>.sqlite` and prints the backup folder's path.
 */
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const dist = (...p) => path.join(root, "dist", ...p);

function option(name, fallback) {
	const i = process.argv.indexOf(`--${name}`);
	return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

async function main() {
	const { config } = require(dist("lib", "infra", "config.js"));
	const { backupSqlite } = require(dist("lib", "infra", "store", "sqlite.js"));
	const { privateDir } = require(dist("lib", "infra", "private-files.js"));
	const cfg = config();
	if (cfg.inMemoryStore) throw new Error("DATA_DIR is ':memory:': nothing to back up");
	const dataDir = path.resolve(cfg.dataDir);
	const files = fs.readdirSync(dataDir).filter((name) => name.endsWith(".sqlite"));
	if (files.length === 0) throw new Error(`No *.sqlite files in ${dataDir}`);
	const stamp = new Date().toISOString().replace(/[:.]/g, "-");
	const folder = path.join(path.resolve(option("to", path.join(dataDir, "backups"))), stamp);
	privateDir(path.dirname(folder));
	privateDir(folder);
	for (const name of files) {
		const started = Date.now();
		await backupSqlite(path.join(dataDir, name), path.join(folder, name));
		console.log(`${name}: ${fs.statSync(path.join(folder, name)).size} bytes in ${Date.now() - started} ms`);
	}
	console.log(folder);
}

main().catch((err) => {
	console.error(`backup: ${err.message}`);
	process.exit(1);
});
