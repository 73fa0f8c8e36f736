/**
 * The REPL's `replay` command (lib/infra/repl-commands.ts) against the alerts service: a dead letter
 * sent the way EventsMixin sends it becomes a dead-letter alert; `replay` lists it; `replay <event id>`
 * re-publishes the envelope to its topic, where a consumer that never handled it now does.
 */
import { ServiceBroker } from "moleculer";
import { eventRecorder, startBroker, waitFor } from "../helpers/broker";
import { channelName } from "../../mixins/events.mixin";
import { DEAD_LETTER_TOPIC, EventEnvelope } from "../../lib/domain/events";
import { findDeadLetter, formatDeadLetters, replCommands, replayDeadLetter } from "../../lib/infra/repl-commands";

const envelope = (): EventEnvelope =>
	({
		id: `ev-replay-${Date.now()}`,
		type: "order.cancelled",
		time: new Date().toISOString(),
		actor: "test",
		requestId: null,
		data: { orderId: "o-replay", reason: "test" },
	}) as unknown as EventEnvelope;

describe("REPL replay <dead letter>", () => {
	let broker: ServiceBroker;
	const recorder = eventRecorder("replayrecorder");

	beforeAll(async () => {
		broker = await startBroker({ services: ["alerts"], extraServices: [recorder.schema] });
	});
	afterAll(() => broker.stop());

	test("lists the dead letters, re-publishes the one named, and says so for an unknown one", async () => {
		expect(await replayDeadLetter(broker, undefined)).toBe("No dead letters.");
		const e = envelope();
		await (broker as unknown as { sendToChannel(c: string, p: unknown): Promise<void> }).sendToChannel(
			channelName(DEAD_LETTER_TOPIC),
			{ envelope: e, consumer: "orders", error: "boom", failedAt: new Date().toISOString() },
		);
		const table = await waitFor(async () => {
			const text = await replayDeadLetter(broker, undefined);
			return text.includes(e.id) && text;
		});
		expect(table).toMatch(/order\.cancelled\s+orders/);
		expect(table).toMatch(/1 dead letter\(s\)/);
		expect(recorder.ofType("order.cancelled").find((r) => r.id === e.id)).toBeUndefined();

		expect(await replayDeadLetter(broker, "no-such-letter")).toBe(
			"No dead letter no-such-letter. Type replay to list them.",
		);

		const said = await replayDeadLetter(broker, e.id);
		expect(said).toMatch(new RegExp(`^Replayed order\\.cancelled ${e.id} to its topic .*1 replay\\(s\\)`));
		const seen = await waitFor(() => recorder.ofType("order.cancelled").find((r) => r.id === e.id));
		expect(seen.data).toEqual(e.data);

		// By its <event id>:<consumer> too; the alert counts each replay.
		expect(await replayDeadLetter(broker, `${e.id}:orders`)).toMatch(/2 replay\(s\)/);
		expect(await replayDeadLetter(broker, undefined)).toMatch(new RegExp(`${e.id}.*open\\s+2`));
	});

	test("the command is listed with an optional argument; finding and formatting are pure", () => {
		expect(replCommands().map((c) => c.command)).toContain("replay [deadLetter]");
		const row = {
			id: "a1",
			status: "open",
			key: "dead_letter:ev1:payments",
			details: { envelope: { id: "ev1", type: "order.created" }, consumer: "payments", error: "x" },
		};
		expect(findDeadLetter([row], "a1")).toBe(row);
		expect(findDeadLetter([row], "ev1")).toBe(row);
		expect(findDeadLetter([row], "ev1:payments")).toBe(row);
		expect(findDeadLetter([row], "ev1:orders")).toBeNull();
		expect(formatDeadLetters([row])).toMatch(/^alert\s+event\s+type/);
	});
});
