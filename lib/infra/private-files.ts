/**
 * DATA_DIR is private to the process's user: folders 0700, files 0600, whatever the umask and
 * whatever an earlier version left (an existing folder or file is narrowed too).
 */
import fs from "fs";

function narrow(target: string, mode: number): void {
	try {
		fs.chmodSync(target, mode);
	} catch (err) {
		// A folder we do not own (a mounted volume's root): its owner decides; missing files are fine.
		const code = (err as NodeJS.ErrnoException).code;
		if (code !== "EPERM" && code !== "ENOENT") throw err;
	}
}

/** Creates `dir` (and parents) as 0700, and narrows it to 0700 if it already existed. */
export function privateDir(dir: string): void {
	fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
	narrow(dir, 0o700);
}

/** Creates `file` empty as 0600 if missing, and narrows it to 0600. */
export function privateFile(file: string): void {
	fs.closeSync(fs.openSync(file, "a", 0o600));
	narrow(file, 0o600);
}

/** Narrows files that may exist (SQLite's -wal and -shm beside a database) to 0600. */
export function narrowIfPresent(...files: string[]): void {
	for (const file of files) narrow(file, 0o600);
}
