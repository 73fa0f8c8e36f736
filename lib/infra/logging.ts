/**
 * The JSON logger (LOG_FORMAT=json): one pino line per entry. Moleculer and its libraries log in
 * console style, `logger.error("NATS error.", err.message)` or `logger.warn("Server error", err)`,
 * and pino, which takes `(object, message)`, dropped everything after the message: the cause of
 * "NATS error." and "Server error" was lost. Here every argument is kept: strings and numbers join
 * the message, an Error goes to `err` (pino's error serializer: type, message, stack, code) and
 * objects are merged into the line.
 */
import pino from "pino";
import { LoggerBindings, Loggers, LogLevels } from "moleculer";

type Fields = Record<string, unknown>;

export function normalizeLogArgs(args: unknown[]): { fields: Fields; msg: string } {
	const fields: Fields = {};
	const words: string[] = [];
	for (const arg of args) {
		if (arg instanceof Error) {
			if (!fields.err) fields.err = arg;
			words.push(arg.message);
		} else if (arg !== null && typeof arg === "object") Object.assign(fields, arg);
		else if (arg !== undefined) words.push(String(arg));
	}
	// "Server error" + its Error: the message says both
	return { fields, msg: words.join(" ") };
}

export class JsonLogger extends Loggers.Base {
	private readonly root = pino({
		base: null,
		level: "trace",
		timestamp: () => `,"time":"${new Date().toISOString()}"`,
	});

	getLogHandler(bindings?: LoggerBindings): Loggers.LogHandler | null {
		const level = bindings ? this.getLogLevel(bindings.mod) : null;
		if (!level) return null;
		const child = this.root.child({ ...bindings }, { level });
		return (type: LogLevels, args: unknown[]) => {
			const { fields, msg } = normalizeLogArgs(args);
			child[type](fields, msg);
		};
	}
}
