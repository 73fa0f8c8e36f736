/**
 * The durable events mixin in one process (Fake adapter): envelopes, delivery to every consumer
 * group, deduplication by event id, retries with backoff, then the dead-letter topic.
 */
import type { EventLedger } from "../../lib/infra/store/types";
import { ServiceBroker } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { channelName, EventsMixin } from "../../mixins/events.mixin";
import { DEAD_LETTER_TOPIC, topicOf } from "../../lib/domain/events";
import { startBroker, waitFor } from "../helpers/broker";

const handled: Record<string, any[]> = { steady: [], flaky: [], shadowing: [] };
let flakyFailuresLeft = 0;
const deadLetters: any[] = [];

const publisher = {
	name: "publisher",
	mixins: [DbMixin({ collection: "publisher" }), EventsMixin],
	actions: {
		publish: {
			params: { type: "string", data: "object" },
			handler(this: any, ctx: any) {
				return this.publishEvent(ctx.params.type, ctx.params.data, ctx);
			},
		},
	},
};
/** A consumer of order.created that records what it handles in handled[name]. */
const recordingConsumer = (name: string, extra: object = {}) => ({
	name,
	mixins: [DbMixin({ collection: name }), EventsMixin],
	businessEvents: {
		"order.created"(envelope: any) {
			handled[name].push(envelope);
		},
	},
	...extra,
});
const steady = recordingConsumer("steady");
const flaky = {
	name: "flaky",
	mixins: [DbMixin({ collection: "flaky" }), EventsMixin],
	businessEvents: {
		"order.created"(envelope: any) {
			if (flakyFailuresLeft > 0) {
				flakyFailuresLeft--;
				throw new Error("temporary failure");
			}
			handled.flaky.push(envelope);
		},
	},
};
/** Own methods named like the mixin's inner workings: they must not replace them. */
const shadowing = recordingConsumer("shadowing", {
	methods: Object.fromEntries(
		["handleBusinessEvent", "consumeBusinessEvent", "deadLetter", "relayOutbox", "startEventStorage"].map((name) => [
			name,
			async () => undefined,
		]),
	),
});
const deadLetterWatcher = {
	name: "dlq-watcher",
	channels: {
		[channelName(DEAD_LETTER_TOPIC)]: {
			group: "dlq-watcher",
			handler(letter: any) {
				deadLetters.push(letter);
			},
		},
	},
};

let broker: ServiceBroker;
beforeAll(async () => {
	broker = await startBroker({
		services: [],
		extraServices: [publisher, steady, flaky, shadowing, deadLetterWatcher] as any,
		env: { EVENT_RETRY_BASE_MS: "5", EVENT_MAX_ATTEMPTS: "3" },
	});
	process.env.EVENT_RETRY_BASE_MS = "5";
	process.env.EVENT_MAX_ATTEMPTS = "3";
});
afterAll(async () => {
	delete process.env.EVENT_RETRY_BASE_MS;
	delete process.env.EVENT_MAX_ATTEMPTS;
	await broker.stop();
});
beforeEach(() => {
	handled.steady.length = 0;
	handled.flaky.length = 0;
	handled.shadowing.length = 0;
	deadLetters.length = 0;
	flakyFailuresLeft = 0;
});

test("an event reaches every consumer group once, as an envelope with id, type, time, actor and request id", async () => {
	const envelope: any = await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o1" } }, {
		requestID: "req-42",
	} as any);
	await waitFor(() => handled.steady.length === 1 && handled.flaky.length === 1);
	expect(handled.steady[0]).toMatchObject({
		id: envelope.id,
		type: "order.created",
		actor: "system",
		requestId: "req-42",
		data: { orderId: "o1" },
	});
	expect(new Date(handled.steady[0].time).toISOString()).toBe(handled.steady[0].time);
});

test("a service's own methods cannot replace the mixin's inner workings (it still receives its events)", async () => {
	const envelope: any = await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o6" } });
	await waitFor(() => handled.shadowing.length === 1);
	expect(handled.shadowing[0]).toMatchObject({ id: envelope.id, data: { orderId: "o6" } });
});

test("a redelivered envelope (same id) is not handled twice", async () => {
	const envelope: any = await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o2" } });
	await waitFor(() => handled.steady.length === 1);
	await (broker as any).sendToChannel(channelName(topicOf("order.created")), envelope);
	await (broker as any).sendToChannel(channelName(topicOf("order.created")), envelope);
	await new Promise((r) => setTimeout(r, 150));
	expect(handled.steady).toHaveLength(1);
	expect(handled.flaky).toHaveLength(1);
});

test("a handler that fails is retried and then succeeds", async () => {
	flakyFailuresLeft = 2;
	await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o3" } });
	await waitFor(() => handled.flaky.length === 1);
	expect(flakyFailuresLeft).toBe(0);
	expect(deadLetters).toHaveLength(0);
});

test("a handler that keeps failing lands the message in the dead-letter topic; other consumers are unaffected", async () => {
	flakyFailuresLeft = 100;
	const envelope: any = await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o4" } });
	await waitFor(() => deadLetters.length === 1);
	expect(deadLetters[0]).toMatchObject({
		consumer: "flaky",
		error: "temporary failure",
		envelope: { id: envelope.id },
	});
	expect(flakyFailuresLeft).toBe(97);
	expect(handled.steady).toHaveLength(1);

	// Replaying the letter once the consumer is healthy delivers it to the failed consumer only.
	flakyFailuresLeft = 0;
	await (broker as any).sendToChannel(channelName(topicOf("order.created")), deadLetters[0].envelope);
	await waitFor(() => handled.flaky.length === 1);
	await new Promise((r) => setTimeout(r, 50));
	expect(handled.steady).toHaveLength(1);
});

test("messages that are not envelopes are dropped without crashing the consumer", async () => {
	await (broker as any).sendToChannel(channelName("order.events"), { hello: "world" });
	await broker.call("publisher.publish", { type: "order.created", data: { orderId: "o5" } });
	await waitFor(() => handled.steady.length === 1);
});

test("the event ledger forgets ids older than the retention window, and keeps recent ones", async () => {
	const ledger = (broker.getLocalService("steady") as unknown as { store: { ledger: EventLedger } }).store.ledger;
	// The ids the earlier tests' handlers recorded go first, so the counts below are this test's own.
	await new Promise((r) => setTimeout(r, 5));
	await ledger.prune(new Date());
	expect(await ledger.add("old-event")).toBe(true);
	expect(await ledger.add("old-event")).toBe(false);
	await new Promise((r) => setTimeout(r, 20));
	const cutoff = new Date();
	await new Promise((r) => setTimeout(r, 20));
	await ledger.add("recent-event");
	expect(await ledger.prune(cutoff)).toBe(1);
	expect(await ledger.has("old-event")).toBe(false);
	expect(await ledger.has("recent-event")).toBe(true);
});
