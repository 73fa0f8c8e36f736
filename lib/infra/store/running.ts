/**
 * Marks a data directory as in use by this process (`.running-<pid>`), so that a restore can
 * refuse to overwrite database files under a running platform. Stale marks of dead processes
 * (after a crash) are ignored by `livePids`.
 */
import fs from "fs";
import path from "path";

const PREFIX = ".running-";
const users = new Map<string, number>();
let exitHookInstalled = false;

function markFile(dir: string): string {
	return path.join(dir, `${PREFIX}${process.pid}`);
}

function removeAllMarks(): void {
	for (const dir of users.keys()) fs.rmSync(markFile(dir), { force: true });
}

export function markRunning(dir: string): void {
	const key = path.resolve(dir);
	const count = users.get(key) || 0;
	if (count === 0) {
		fs.writeFileSync(markFile(key), `${process.pid}\n`, { mode: 0o600 });
		fs.chmodSync(markFile(key), 0o600);
	}
	users.set(key, count + 1);
	if (!exitHookInstalled) {
		exitHookInstalled = true;
		process.once("exit", removeAllMarks);
	}
}

export function unmarkRunning(dir: string): void {
	const key = path.resolve(dir);
	const count = (users.get(key) || 0) - 1;
	if (count > 0) return void users.set(key, count);
	users.delete(key);
	fs.rmSync(markFile(key), { force: true });
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (err) {
		return (err as NodeJS.ErrnoException).code === "EPERM";
	}
}

/** Pids of live processes that have a store open on `dir`. */
export function livePids(dir: string): number[] {
	if (!fs.existsSync(dir)) return [];
	return fs
		.readdirSync(dir)
		.filter((name) => name.startsWith(PREFIX))
		.map((name) => Number(name.slice(PREFIX.length)))
		.filter((pid) => Number.isInteger(pid) && pid > 0 && isAlive(pid));
}
