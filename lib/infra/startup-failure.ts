/**
 * A node that cannot start says why in one log line and exits with a code an operator (or
 * Kubernetes' restart reason) can tell apart: see EXIT_CODES in config-check.ts.
 */
import { LoggerInstance } from "moleculer";
import { EXIT_CODES } from "./config-check";

export function failStartup(logger: LoggerInstance, code: number, message: string): void {
	logger.fatal({ exitCode: code }, message);
	process.exit(code);
}

/** The one line for a port that cannot be listened on; null for other server errors. */
export function listenProblem(setting: string, port: number, err: NodeJS.ErrnoException): string | null {
	if (err.code === "EADDRINUSE")
		return `${setting}=${port} is already in use (EADDRINUSE): another process listens on it; stop that process or set ${setting} to a free port`;
	if (err.code === "EACCES")
		return `${setting}=${port} cannot be listened on without privileges (EACCES): use a port above 1023`;
	return null;
}

/** Exits (EXIT_CODES.portInUse) when `server` fails to listen on `port`. */
export function exitWhenListenFails(
	server: import("net").Server,
	logger: LoggerInstance,
	setting: string,
	port: () => number,
): void {
	server.on("error", (err: NodeJS.ErrnoException) => {
		if (server.listening) return;
		const problem = listenProblem(setting, port(), err);
		if (problem) failStartup(logger, EXIT_CODES.portInUse, problem);
	});
}
