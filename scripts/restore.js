#!/usr/bin/env node
/**
 * Restores a backup folder (made by scripts/backup.js) into DATA_DIR:
 *
 *   node scripts/restore.js <backup folder> [--force]
 *
 * Refuses while a process has a store open on DATA_DIR (its `.running-<pid>` mark is live) unless
 * --force. Each `<service>.sqlite` of the backup replaces the file of the same name (its stale
 * -wal/-shm files are removed, or SQLite would replay them onto the restored file); other files in
 * DATA_DIR are left alone.
 */
"use strict";
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
const dist = (...p) => path.join(root, "dist", ...p);

function restoreFile(source, target) {
	const tmp = `${target}.restoring`;
	fs.copyFileSync(source, tmp);
	fs.chmodSync(tmp, 0o600);
	for (const suffix of ["-wal", "-shm", "-journal"]) fs.rmSync(`${target}${suffix}`, { force: true });
	fs.renameSync(tmp, target);
}

function main() {
	const args = process.argv.slice(2);
	const force = args.includes("--force");
	const from = args.find((a) => !a.startsWith("--"));
	if (!from) throw new Error("usage: restore.js <backup folder> [--force]");
	const { config } = require(dist("lib", "infra", "config.js"));
	const { livePids } = require(dist("lib", "infra", "store", "running.js"));
	const cfg = config();
	if (cfg.inMemoryStore) throw new Error("DATA_DIR is ':memory:': nowhere to restore to");
	const dataDir = path.resolve(cfg.dataDir);
	const running = livePids(dataDir);
	if (running.length && !force) {
		throw new Error(
			`the platform seems to be running on ${dataDir} (pids ${running.join(", ")}): stop it, or use --force`,
		);
	}
	const files = fs.readdirSync(from).filter((name) => name.endsWith(".sqlite"));
	if (files.length === 0) throw new Error(`No *.sqlite files in ${from}`);
	fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
	for (const name of files) {
		restoreFile(path.join(from, name), path.join(dataDir, name));
		console.log(`${name}: restored`);
	}
}

try {
	main();
} catch (err) {
	console.error(`restore: ${err.message}`);
	process.exit(1);
}
