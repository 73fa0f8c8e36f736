/**
 * Dead letters across processes: a consumer (test/fixtures/poisoned.service.js, its own process)
 * keeps failing on a message, which lands on the dead-letter topic after its retries; the alerts
 * service (watch group, another process) raises an alert holding the message, and an admin replays
 * it through the gateway once the consumer is healed.
 */
import { ServiceBroker } from "moleculer";
import { ADMIN } from "../helpers/broker";
import { Cluster, clusterTest, eventually, startCluster } from "../helpers/cluster";
import { client } from "../helpers/http";
import { describeWithInfra } from "../helpers/infra";
import { login } from "../helpers/market";
import { group, MARKET_ENV } from "./flows";

describeWithInfra(["nats"], "cluster: dead letters and replay over NATS", () => {
	let cluster: Cluster | undefined;
	let tester: ServiceBroker;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		cluster = await startCluster(
			[
				group("gateway"),
				{ name: "onboarding", services: ["users"] },
				group("watch"),
				{
					name: "poisoned",
					services: ["fixture:poisoned"],
					env: { EVENT_MAX_ATTEMPTS: "2", EVENT_RETRY_BASE_MS: "20" },
				},
			],
			{ env: MARKET_ENV },
		);
		tester = await cluster.clientBroker();
		await tester.waitForServices(["poisoned", "alerts", "users"], 20_000);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	it("a message that keeps failing is dead-lettered, alerted, and replayed by an admin once the consumer heals", async () => {
		const api = client(cluster!.gatewayUrl);
		const admin = await eventually(() => login(api, ADMIN.email, ADMIN.password).catch(() => ""), 10_000);
		const poisoned: any = await tester.call("poisoned.publish", {
			type: "order.created",
			data: { orderId: "poison-1", poison: true },
		});
		const healthy: any = await tester.call("poisoned.publish", { type: "order.created", data: { orderId: "fine-1" } });

		const key = `dead_letter:${poisoned.id}:poisoned`;
		const alert = await eventually(
			async () => {
				const res = await api.get("/api/alerts?status=open&pageSize=100", { token: admin });
				return res.status === 200 && res.body.rows.find((a: any) => a.key === key);
			},
			15_000,
			200,
		);
		expect(alert.details).toMatchObject({ consumer: "poisoned", error: "cannot digest this order" });
		expect(alert.details.envelope.id).toBe(poisoned.id);
		// the stream moved on: the healthy message was handled, the poisoned one was not
		const handled = await eventually(async () => {
			const ids: string[] = await tester.call("poisoned.handled");
			return ids.includes(healthy.id) && ids;
		}, 10_000);
		expect(handled).not.toContain(poisoned.id);

		// customers may not replay; an admin may, once the consumer is fixed
		const customer = await api.post("/api/users", { email: "c@dl.test", password: "cylinder-pass-123", name: "C" });
		expect(customer.status).toBe(201);
		const customerToken = await login(api, "c@dl.test", "cylinder-pass-123");
		expect((await api.post(`/api/alerts/${alert.id}/replay`, {}, { token: customerToken })).status).toBe(403);

		await tester.call("poisoned.heal");
		const replay = await api.post(`/api/alerts/${alert.id}/replay`, {}, { token: admin });
		expect(replay.status).toBe(200);
		expect(replay.body.replayedEventId).toBe(poisoned.id);
		await eventually(async () => ((await tester.call("poisoned.handled")) as string[]).includes(poisoned.id), 10_000);
		const after: string[] = await tester.call("poisoned.handled");
		expect(after.filter((id) => id === poisoned.id)).toHaveLength(1);
		expect(after.filter((id) => id === healthy.id)).toHaveLength(1);
	});
});
