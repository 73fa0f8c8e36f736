/**
 * Per-node probes over real processes, and "NATS restarted mid-flow: the system recovers by itself":
 * the nodes run on a private nats-server that the test kills and starts again on the same port.
 */
import { Cluster, clusterTest, eventually, PrivateNats, sleep, startCluster } from "../helpers/cluster";
import { client } from "../helpers/http";
import { describeWithInfra } from "../helpers/infra";

async function probe(port: number, path: "/live" | "/ready") {
	try {
		const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
		return { status: res.status, body: (await res.json()) as any };
	} catch {
		return { status: 0, body: null };
	}
}

describeWithInfra(["nats"], "cluster: health probes and NATS restarts", () => {
	let cluster: Cluster | undefined;
	const nats = new PrivateNats();
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);
	const NODES = ["gateway", "onboarding"];

	beforeAll(async () => {
		await nats.start();
		cluster = await startCluster(
			[
				{ name: "gateway", services: ["api"] },
				{ name: "onboarding", services: ["users"] },
			],
			{ transporter: nats.url },
		);
	});
	afterAll(async () => {
		await cluster?.stopAll();
		await nats.dispose();
	});

	it("every node answers /live and /ready on its own HEALTH_PORT", async () => {
		for (const name of NODES) {
			const node = cluster!.node(name);
			const live = await probe(node.healthPort, "/live");
			expect(live).toEqual({ status: 200, body: { live: true, nodeID: node.nodeID } });
			const ready = await probe(node.healthPort, "/ready");
			expect(ready.status).toBe(200);
			expect(ready.body).toMatchObject({
				ready: true,
				nodeID: node.nodeID,
				checks: { transporter: true, brokerStarted: true },
			});
		}
		expect((await probe(cluster!.node("onboarding").healthPort, "/ready")).body.checks["service:users"]).toBe(true);
		expect((await probe(cluster!.node("gateway").healthPort, "/ready")).body.checks["requires:users"]).toBe(true);
	});

	async function allReadyAgain() {
		for (const name of NODES) {
			const port = cluster!.node(name).healthPort;
			await eventually(async () => (await probe(port, "/ready")).status === 200, 20_000, 200);
		}
	}

	it("NATS restarted mid-flow: the system recovers by itself", async () => {
		const api = client(cluster!.gatewayUrl);
		expect(
			(await api.post("/api/users", { email: "before@example.com", password: "secret-pass-1", name: "Before" })).status,
		).toBe(201);

		await nats.stop();
		await sleep(3000);
		await nats.start();
		await allReadyAgain();

		const after = await eventually(
			async () => {
				const res = await api.post("/api/users", {
					email: "after@example.com",
					password: "secret-pass-1",
					name: "After",
				});
				return res.status === 201 && res;
			},
			15_000,
			250,
		);
		const session = await api.post("/api/auth/login", { email: "after@example.com", password: "secret-pass-1" });
		expect(session.status).toBe(200);
		expect((await api.get(`/api/users/${after.body.id}`, { token: session.body.token })).status).toBe(200);
		// the data from before the outage is still there (the node was not restarted)
		expect((await api.post("/api/auth/login", { email: "before@example.com", password: "secret-pass-1" })).status).toBe(
			200,
		);
	});

	it("a node that loses NATS turns not-ready (still live) within seconds, and ready again when NATS is back", async () => {
		const api = client(cluster!.gatewayUrl);
		await nats.stop();
		try {
			for (const name of NODES) {
				const port = cluster!.node(name).healthPort;
				const notReady = await eventually(
					async () => {
						const ready = await probe(port, "/ready");
						return ready.status === 503 && ready.body;
					},
					8000,
					100,
				);
				expect(notReady.checks.transporter).toBe(false);
				expect((await probe(port, "/live")).status).toBe(200);
			}
			// while NATS is down the gateway answers at once with an error (the users service has left
			// its registry: today a 404 route-not-found), not a hang
			const started = Date.now();
			const during = await api.post("/api/users", {
				email: "during@example.com",
				password: "secret-pass-1",
				name: "During",
			});
			expect(during.status).toBeGreaterThanOrEqual(400);
			expect(Date.now() - started).toBeLessThan(15_000);
		} finally {
			await nats.start();
		}
		await allReadyAgain();
	});
});
