/**
 * Failures as operators read them, over real processes on NATS: after kill -9 of one of two
 * instances the next requests fail over in well under a second (the FastFailover probe, not the
 * heartbeat timeout), and with no live instance left a request in flight and the ones after it get
 * 503 SERVICE_UNAVAILABLE with Retry-After (not a 404 that looks like a missing route).
 */
import { Cluster, clusterTest, eventually, sleep, startCluster } from "../helpers/cluster";
import { client } from "../helpers/http";
import { describeWithInfra, INFRA } from "../helpers/infra";

describeWithInfra(["nats", "redis"], "failover and 503 when a node dies", () => {
	let cluster: Cluster | undefined;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		cluster = await startCluster(
			[
				{ name: "gateway", services: ["api"] },
				{ name: "flaky-a", services: ["fixture:flaky"] },
				{ name: "flaky-b", services: ["fixture:flaky"] },
			],
			{ env: { FIXTURE_REDIS: INFRA.redis.url, REQUEST_TIMEOUT_MS: "10000" } },
		);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	it("kill -9 of one instance: every request right after it is answered by the other within a second", async () => {
		const api = client(cluster!.gatewayUrl);
		// the gateway was ready with one instance known; wait until it balances over both
		const before = new Set<string>();
		await eventually(
			async () => {
				before.add((await api.get("/api/fixture/whoami")).body.nodeID);
				return before.size === 2;
			},
			10_000,
			20,
		);

		await cluster!.kill("flaky-b", "SIGKILL");
		const answers: { status: number; nodeID: string; ms: number }[] = [];
		for (let i = 0; i < 4; i++) {
			const started = Date.now();
			const res = await api.get("/api/fixture/whoami");
			answers.push({ status: res.status, nodeID: res.body?.nodeID, ms: Date.now() - started });
		}
		const a = cluster!.node("flaky-a").nodeID;
		expect(answers.map((r) => [r.status, r.nodeID])).toEqual(answers.map(() => [200, a]));
		expect(Math.max(...answers.map((r) => r.ms))).toBeLessThan(1000);
		expect(cluster!.logs("gateway")).toMatch(/Node 'flaky-b-\w+' is gone \(NATS has no subscriber/);
	});

	it("no live instance: the request in flight and the ones after it get 503 SERVICE_UNAVAILABLE with Retry-After", async () => {
		const api = client(cluster!.gatewayUrl);
		const inFlight = api.get("/api/fixture/slow?ms=5000");
		await sleep(400);
		await cluster!.kill("flaky-a", "SIGKILL");
		const killedAt = Date.now();
		const res = await inFlight;
		const waitedMs = Date.now() - killedAt;
		expect({ status: res.status, type: res.body?.type }).toEqual({ status: 503, type: "SERVICE_UNAVAILABLE" });
		expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(waitedMs).toBeLessThan(1000);

		await sleep(500); // moleculer-web rebuilds its routes after the service left the registry
		for (const path of ["/api/fixture/whoami", "/api/fixture/slow?ms=1"]) {
			const started = Date.now();
			const after = await api.get(path);
			expect([path, after.status, after.body?.type]).toEqual([path, 503, "SERVICE_UNAVAILABLE"]);
			expect(after.headers.get("retry-after")).toBe("5");
			expect(Date.now() - started).toBeLessThan(500);
		}
		// a route that never existed is still a 404
		expect((await api.get("/api/fixture/never-was")).status).toBe(404);

		await cluster!.restart("flaky-a");
		await eventually(async () => (await api.get("/api/fixture/whoami")).status === 200, 10_000);
	});
});
