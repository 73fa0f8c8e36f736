/**
 * `npm run cluster` (scripts/cluster.js): each of the six processes exposes its own /metrics on
 * METRICS_PORT_BASE + 1 … + 6 (a shared METRICS_PORT made five of them exit on EADDRINUSE), each
 * labelled with its own node_id.
 */
import path from "path";
import { describeWithInfra, INFRA } from "../helpers/infra";
import { buildDistIfNeeded } from "../global-setup";

const { GROUPS, startLocalCluster } = require(path.resolve(__dirname, "../../scripts/cluster.js"));

interface LocalCluster {
	processes: { group: string; metricsPort: number; child: { pid: number } }[];
	namespace: string;
	stop(graceMs?: number): Promise<void>;
}

describeWithInfra(["nats"], "npm run cluster: metrics per process", () => {
	let cluster: LocalCluster | undefined;
	jest.setTimeout(120_000);

	afterAll(async () => {
		await cluster?.stop(5000);
		if (!cluster) return;
		// the JetStream streams of this run's namespace
		const { connect } = require("nats");
		const nc = await connect({ servers: INFRA.nats.url.replace("nats://", ""), timeout: 2000 });
		const jsm = await nc.jetstreamManager();
		for await (const s of jsm.streams.list())
			if (s.config.name.startsWith(`${cluster.namespace}_`)) await jsm.streams.delete(s.config.name);
		await nc.close();
	});

	it("every process answers /metrics on its own port with its own node_id", async () => {
		buildDistIfNeeded();
		const metricsPortBase = 41000 + Math.floor(Math.random() * 2000) * 10;
		cluster = (await startLocalCluster({
			port: metricsPortBase + 9,
			healthPortBase: 0,
			metricsPortBase,
			dataDir: ":memory:",
			quiet: true,
			env: { NAMESPACE: `metrics${process.pid}`, LOG_LEVEL: "warn" },
		})) as LocalCluster;
		expect(cluster.processes.map((p) => p.group)).toEqual(Object.keys(GROUPS));
		const ports = cluster.processes.map((p) => p.metricsPort);
		expect(new Set(ports).size).toBe(6);
		for (const p of cluster.processes) {
			const text = await (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
			expect([p.group, text]).toEqual([p.group, expect.stringMatching(new RegExp(`node_id="${p.group}-`))]);
		}
	});
});
