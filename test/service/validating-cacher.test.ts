/**
 * Issue 14, finding 4: the broker's cacher answers only for valid params. Moleculer's Cacher wraps
 * its Validator, so a cache hit used to be answered before validation: a call with a field the cache
 * key leaves out was refused cold and answered warm. Any cached action, no per-action workaround.
 */
import { ServiceBroker } from "moleculer";
import { startBroker } from "../helpers/broker";

let broker: ServiceBroker;
let handled = 0;

const catalog = {
	name: "catalog-probe",
	actions: {
		list: {
			cache: { keys: ["type", "page"], ttl: 30 },
			params: {
				type: { type: "enum", values: ["P2", "P13"] },
				page: { type: "number", integer: true, min: 1, default: 1, convert: true },
			},
			handler(ctx: { params: { type: string; page: number } }) {
				handled++;
				return { type: ctx.params.type, page: ctx.params.page, handled };
			},
		},
	},
};

beforeAll(async () => {
	broker = await startBroker({ services: [], extraServices: [catalog as never] });
});
afterAll(() => broker.stop());

const rejection = (p: Promise<unknown>) =>
	p.then(
		() => null,
		(err: { code: number; type: string; data: unknown }) => err,
	);

test("an invalid call is a 422 whether the cache is cold or warm", async () => {
	const bad = { type: "P2", page: 1, query: "{}" };
	expect(await rejection(broker.call("catalog-probe.list", bad))).toMatchObject({ code: 422 });
	const first = await broker.call("catalog-probe.list", { type: "P2", page: 1 });
	expect(first).toEqual({ type: "P2", page: 1, handled: 1 });
	// Warm now: the same key (type P2, page 1) with an unknown field, or a wrong value the key omits.
	expect(await rejection(broker.call("catalog-probe.list", bad))).toMatchObject({ code: 422 });
	expect(await rejection(broker.call("catalog-probe.list", { type: "P2", page: 0 }))).toMatchObject({ code: 422 });
	// Valid calls are still cached (the handler ran once), with converted params in the key.
	expect(await broker.call("catalog-probe.list", { type: "P2" })).toEqual(first);
	expect(await broker.call("catalog-probe.list", { type: "P2", page: "1" })).toEqual(first);
	expect(handled).toBe(1);
});
