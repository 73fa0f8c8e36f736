/** Logs every action a node handles with the request id that the gateway returns as X-Request-Id. */
import { Context, LoggerInstance } from "moleculer";
import { AppMiddleware } from "./types";

type Level = "info" | "debug" | "trace" | "warn";
const LEVELS: Level[] = ["info", "debug", "trace", "warn"];

export function requestLogMiddleware(): AppMiddleware {
	return {
		name: "RequestLog",
		localAction(next, action) {
			if (action.name.startsWith("$")) return next;
			// An action may lower its own access-log level (e.g. high-rate location updates).
			const level: Level = LEVELS.find((l) => l === action.logLevel) ?? "info";
			return async function (ctx: Context) {
				const logger: LoggerInstance = ctx.service ? ctx.service.logger : ctx.broker.logger;
				const started = process.hrtime.bigint();
				try {
					const result = await next(ctx);
					logger[level](
						{ requestId: ctx.requestID, action: action.name, ms: Number(process.hrtime.bigint() - started) / 1e6 },
						"action handled",
					);
					return result;
				} catch (err) {
					const e = (err ?? {}) as { type?: string; code?: unknown };
					logger.info({ requestId: ctx.requestID, action: action.name, error: e.type, code: e.code }, "action failed");
					throw err;
				}
			};
		},
	};
}
