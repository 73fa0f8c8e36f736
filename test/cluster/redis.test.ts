/**
 * Redis shared by nodes: the cacher (CACHER=redis://…) so that a write on one node invalidates what
 * the others cached, and the gateways' rate limit (RATE_LIMIT_REDIS) so that two gateway instances
 * count one limit per user.
 */
import { ServiceBroker } from "moleculer";
import Redis from "ioredis";
import { Cluster, clusterTest, startCluster } from "../helpers/cluster";
import { client } from "../helpers/http";
import { describeWithInfra, INFRA } from "../helpers/infra";

const RATE_LIMIT_MAX = 20;

describeWithInfra(["nats", "redis"], "cluster: Redis shared by the nodes", () => {
	let cluster: Cluster | undefined;
	let tester: ServiceBroker;
	const it = clusterTest(() => cluster);
	jest.setTimeout(60_000);

	// Limiter keys are namespaced (gr:ratelimit:<namespace>:<window>:<key>) and this run's namespace is
	// new, so leftovers cannot count here; this cleanup only keeps Redis tidy.
	async function dropRateLimitKeys(suffix: string) {
		const redis = new Redis(INFRA.redis.url);
		const keys = await redis.keys(`gr:ratelimit:*:${suffix}`);
		if (keys.length) await redis.del(...keys);
		redis.disconnect();
	}
	const usersSeen: string[] = [];

	beforeAll(async () => {
		await dropRateLimitKeys("ip:127.0.0.1");
		cluster = await startCluster(
			[
				{ name: "gateway-1", services: ["api"] },
				{ name: "gateway-2", services: ["api"] },
				{ name: "onboarding", services: ["users"] },
				{ name: "profiles-a", services: ["fixture:profiles"] },
				{ name: "profiles-b", services: ["fixture:profiles"] },
			],
			{
				env: {
					CACHER: INFRA.redis.url,
					FIXTURE_REDIS: INFRA.redis.url,
					RATE_LIMIT_REDIS: INFRA.redis.url,
					RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
					// one long fixed window, so that the test never straddles two windows
					RATE_LIMIT_WINDOW_MS: String(3_600_000),
				},
			},
		);
		tester = await cluster.clientBroker();
		await tester.waitForServices(["profiles", "users"]);
	});
	afterAll(async () => {
		await cluster?.stopAll();
		await dropRateLimitKeys("ip:127.0.0.1");
		for (const id of usersSeen) await dropRateLimitKeys(`user:${id}`);
		const redis = new Redis(INFRA.redis.url);
		if (cluster) {
			const keys = await redis.keys(`*${cluster.namespace}*`);
			if (keys.length) await redis.del(...keys);
		}
		redis.disconnect();
	});

	it("a write on one node invalidates the cache the other nodes read from", async () => {
		const A = { nodeID: cluster!.node("profiles-a").nodeID };
		const B = { nodeID: cluster!.node("profiles-b").nodeID };
		await tester.call("profiles.update", { id: "p1", name: "Before" }, B);

		expect(await tester.call("profiles.get", { id: "p1" }, A)).toMatchObject({ name: "Before", readBy: A.nodeID });
		// cached in Redis: neither A (again) nor B runs the handler, and B answers with A's entry
		expect(await tester.call("profiles.get", { id: "p1" }, A)).toMatchObject({ name: "Before" });
		expect(await tester.call("profiles.get", { id: "p1" }, B)).toMatchObject({ name: "Before", readBy: A.nodeID });
		expect(await tester.call("profiles.reads", {}, A)).toBe(1);
		expect(await tester.call("profiles.reads", {}, B)).toBe(0);

		await tester.call("profiles.update", { id: "p1", name: "After" }, B);
		expect(await tester.call("profiles.get", { id: "p1" }, A)).toMatchObject({ name: "After", readBy: A.nodeID });
		expect(await tester.call("profiles.reads", {}, A)).toBe(2);
	});

	/** Logs a user in through the gateway and reads their profile, which caches users.authState. */
	async function cachedAuthStateKeys(email: string): Promise<{ redis: Redis; keys: string[] }> {
		const api = client(cluster!.gatewayUrl);
		const user = await api.post("/api/users", { email, password: "secret-pass-1", name: "Cache" });
		expect(user.status).toBe(201);
		const { token } = (await api.post("/api/auth/login", { email, password: "secret-pass-1" })).body;
		expect((await api.get(`/api/users/${user.body.id}`, { token })).status).toBe(200);
		const redis = new Redis(INFRA.redis.url);
		return { redis, keys: await redis.keys(`*${cluster!.namespace}*users.authState:${user.body.id}`) };
	}

	it("the users service's cached auth state lives in Redis under the namespace", async () => {
		const { redis, keys } = await cachedAuthStateKeys("cache1@example.com");
		redis.disconnect();
		expect(keys).toHaveLength(1);
	});

	it("the Redis cacher uses moleculer.config.ts's prefix and TTL", async () => {
		const { redis, keys } = await cachedAuthStateKeys("cache2@example.com");
		try {
			expect(keys).toHaveLength(1);
			expect(keys[0].startsWith(`GR-${cluster!.namespace}-`)).toBe(true);
			expect(await redis.ttl(keys[0])).toBeGreaterThan(0);
		} finally {
			redis.disconnect();
		}
	});

	it("two gateways share one rate limit per user: N requests pass across both, the next is 429 with Retry-After", async () => {
		const gateways = [client(cluster!.node("gateway-1").url!), client(cluster!.node("gateway-2").url!)];
		const login = async (email: string) => {
			const created = await gateways[0].post("/api/users", { email, password: "secret-pass-1", name: email });
			expect(created.status).toBe(201);
			const session = await gateways[1].post("/api/auth/login", { email, password: "secret-pass-1" });
			expect(session.status).toBe(200);
			usersSeen.push(created.body.id);
			return { id: created.body.id as string, token: session.body.token as string };
		};
		const ana = await login("ana-rl@example.com");
		const bia = await login("bia-rl@example.com");

		const statuses: number[] = [];
		for (let i = 0; i < RATE_LIMIT_MAX; i++)
			statuses.push((await gateways[i % 2].get(`/api/users/${ana.id}`, { token: ana.token })).status);
		expect(statuses).toEqual(new Array(RATE_LIMIT_MAX).fill(200));

		// each gateway saw only half of them: only a shared counter refuses the next one
		for (const gateway of gateways) {
			const refused = await gateway.get(`/api/users/${ana.id}`, { token: ana.token });
			expect(refused.status).toBe(429);
			expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
			expect(refused.body).toMatchObject({ code: 429 });
		}

		// the limit is per user: another user is still served
		expect((await gateways[1].get(`/api/users/${bia.id}`, { token: bia.token })).status).toBe(200);
	});
});
