/**
 * Jest global setup: compile dist/ once before any test file runs, so that cluster tests spawn
 * nodes (`node scripts/start.js`) that start in about a second instead of each building.
 * Fast when dist/ is fresh (only file times are compared).
 */
import { execFileSync } from "child_process";
import fs from "fs";
import os from "os";
import path from "path";

const ROOT = path.resolve(__dirname, "..");
const MARKER = path.join(ROOT, "dist", "moleculer.config.js");
const SOURCES = ["moleculer.config.ts", "services", "mixins", "middlewares", "lib"];

function newestMtime(p: string): number {
	const stat = fs.statSync(p);
	if (!stat.isDirectory()) return p.endsWith(".ts") ? stat.mtimeMs : 0;
	return Math.max(0, ...fs.readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

function needsBuild(): boolean {
	if (!fs.existsSync(MARKER)) return true;
	const built = fs.statSync(MARKER).mtimeMs;
	return SOURCES.some((s) => fs.existsSync(path.join(ROOT, s)) && newestMtime(path.join(ROOT, s)) > built);
}

/** Builds dist/ when a source is newer (tolerating type errors, which `npm test`'s tsc reports). */
export function buildDistIfNeeded(): void {
	if (!needsBuild()) return;
	process.stdout.write("\n[build] building dist/ for the cluster tests ...\n");
	try {
		execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
			cwd: ROOT,
			stdio: ["ignore", "pipe", "pipe"],
		});
	} catch (err: any) {
		// tsc still emits JavaScript on type errors; `npm test` runs the type check itself and fails there.
		if (!fs.existsSync(MARKER)) throw err;
		process.stdout.write(`[build] tsc reported type errors; dist/ was emitted anyway:\n${err.stdout || ""}\n`);
	}
	const now = new Date();
	fs.utimesSync(MARKER, now, now);
}

/**
 * Every HTTP answer of this run is recorded (test/helpers/http.ts) in a fresh file, which
 * test/http/openapi.test.ts — run last by test/sequencer.js — checks against the OpenAPI document.
 */
function startContractLog(): void {
	if (process.env.OPENAPI_CONTRACT_LOG) return;
	const file = path.join(os.tmpdir(), `gasrapido-contract-${process.pid}-${Date.now()}.jsonl`);
	fs.writeFileSync(file, "");
	process.env.OPENAPI_CONTRACT_LOG = file;
}

export default function globalSetup(): void {
	buildDistIfNeeded();
	startContractLog();
}
