/**
 * No order lost or stuck after a crash (the small version of bench/chaos.js, same harness):
 * a flooded platform is killed with kill -9 and restarted; within 60 s of the restart every
 * acknowledged order must exist, none may be charged twice, every order must be settled
 * (confirmed and paid, or cancelled with no live charge) and products' reserved stock must match
 * the open orders and their reservation records — by itself, with no operator.
 *
 * Embedded: the whole platform in one process on SQLite files. Cluster: one process per service
 * group over NATS with a shared PostgreSQL database; the orders group is the one killed.
 */
import { describeWithInfra, INFRA } from "../helpers/infra";

const chaos = require("../../bench/chaos-lib");

const SMALL = {
	index: 0,
	victims: ["orders"],
	clients: 5,
	floodSeconds: 4,
	repairTimeoutS: 60,
	signal: "SIGKILL",
	mix: { card: 8, pix: 1, cash: 1 },
	transporter: INFRA.nats.url,
	pgAdminUrl: INFRA.postgres.url,
};

async function crash(mode: "embedded" | "cluster") {
	const result = await chaos.runKill(mode, { ...SMALL, random: chaos.seededRandom(Date.now()) });
	process.stderr.write(`\n[crash ${mode}] ${result.victim} killed at ${result.killAtS} s\n${chaos.killLine(result)}\n`);
	return result;
}

/** Harness sanity first (so that a failure below is about the platform), then the goal, all figures at once. */
function expectRepairedByItself(result: any) {
	expect(result.flood.acknowledged).toBeGreaterThan(0);
	expect(result.flood.unanswered).toBe(0);
	const f = result.final;
	expect({
		lost: f.lost,
		chargedTwice: f.chargedTwice,
		stuck: f.stuck,
		stuckBy: f.stuckBy,
		stockDrift: f.stockDrift,
		repairedWithin60s: result.repairS !== null && result.repairS <= 60,
	}).toEqual({ lost: 0, chargedTwice: 0, stuck: 0, stuckBy: {}, stockDrift: 0, repairedWithin60s: true });
}

describe("crash: embedded platform, kill -9 during a flood of orders", () => {
	jest.setTimeout(180_000);

	test("every order ends paid-and-confirmed or cancelled-and-refunded, by itself", async () => {
		expectRepairedByItself(await crash("embedded"));
	});
});

describeWithInfra(["nats", "postgres"], "crash: cluster over NATS and PostgreSQL, kill -9 of the orders group", () => {
	jest.setTimeout(240_000);

	test("every order ends paid-and-confirmed or cancelled-and-refunded, by itself", async () => {
		expectRepairedByItself(await crash("cluster"));
	});
});
