/**
 * The shape of GasRápido's broker middlewares. Moleculer 0.14's own `Middleware` type is an index
 * signature of functions, which has no room for `name` (a string), so every middleware is written
 * against this interface and handed to the broker through `toMoleculer`.
 */
import { ActionHandler, ActionSchema, Middleware, ServiceBroker } from "moleculer";

/** The action definition a middleware sees (name always set; `logLevel` is GasRápido's own option). */
export type ActionDef = ActionSchema & { name: string; logLevel?: string };

export interface AppMiddleware {
	name: string;
	created?(broker: ServiceBroker): void;
	starting?(broker: ServiceBroker): Promise<void> | void;
	started?(broker: ServiceBroker): Promise<void> | void;
	stopping?(broker: ServiceBroker): Promise<void> | void;
	stopped?(broker: ServiceBroker): Promise<void> | void;
	localAction?(next: ActionHandler, action: ActionDef): ActionHandler;
	remoteAction?(next: ActionHandler, action: ActionDef): ActionHandler;
}

export function toMoleculer(mw: AppMiddleware): Middleware {
	// Library boundary: see the module comment (the `name` string does not fit Moleculer's type).
	return mw as unknown as Middleware;
}
