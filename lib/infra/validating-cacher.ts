/**
 * The broker's cacher, answering only for params that pass the action's `params` schema.
 *
 * Moleculer wraps an action in its internal middlewares in a fixed order, and the Cacher wraps the
 * Validator: a cache hit was answered before validation ran, so `GET /api/products?type=P2&query={}`
 * was a 422 with a cold cache and a 200 once warm (the cache key leaves `query` out). Here the
 * cacher's own action wrapper validates first (the same compiled schema as the Validator), so an
 * invalid call is a 422 whether or not the cache is warm, for every cached action.
 */
import { ActionHandler, ActionSchema, Cacher, Cachers, Context, Errors, ServiceBroker } from "moleculer";

type CheckResult = true | Record<string, unknown>[];
type Check = ((params: object, opts?: { meta: Context }) => CheckResult | Promise<CheckResult>) & { async?: boolean };
type Compiler = { compile(schema: object): Check };
type LocalAction = (handler: ActionHandler, action: ActionSchema) => ActionHandler;
type CacherMiddleware = { name?: string; localAction?: LocalAction };
type CacherWithMiddleware = Cachers.Base & { broker?: ServiceBroker; middleware(): CacherMiddleware };

const invalid = (problems: Record<string, unknown>[]) =>
	new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", problems);

/** Wraps a resolved cacher so that its action middleware validates params before looking up the cache. */
export function validatingCacher(cacher: Cacher): Cacher {
	const target = cacher as CacherWithMiddleware;
	const original = target.middleware.bind(target);
	target.middleware = (): CacherMiddleware => {
		const mw = original();
		const wrap = mw.localAction;
		if (!wrap) return mw;
		return {
			...mw,
			localAction(handler: ActionHandler, action: ActionSchema): ActionHandler {
				const cached = wrap(handler, action);
				const validator = target.broker?.validator as unknown as Compiler | undefined;
				if (cached === handler || !validator || !action.params || typeof action.params !== "object") return cached;
				const check = validator.compile(action.params);
				return async function validateThenCache(ctx: Context) {
					const result = await check(ctx.params != null ? (ctx.params as object) : {}, { meta: ctx });
					if (result !== true) throw invalid(result);
					return cached(ctx);
				};
			},
		};
	};
	return cacher;
}
