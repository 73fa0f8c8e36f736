/**
 * Issue 2 over real processes: the gateway on one node, users on another, NATS between them.
 * A client registers, logs in and reads its profile through the gateway, and the request id it
 * sent follows the call into the users node's JSON logs.
 */
import { Cluster, clusterTest, eventually, startCluster } from "../helpers/cluster";
import { ADMIN } from "../helpers/broker";
import { client } from "../helpers/http";
import { describeWithInfra } from "../helpers/infra";

describeWithInfra(["nats"], "cluster: gateway and users on separate processes", () => {
	let cluster: Cluster | undefined;
	const it = clusterTest(() => cluster);
	jest.setTimeout(60_000);

	beforeAll(async () => {
		cluster = await startCluster([
			{ name: "gateway", services: ["api"] },
			{ name: "onboarding", services: ["users"] },
		]);
	});
	afterAll(async () => {
		await cluster?.stopAll();
	});

	// Nobody consumes user.events in this cluster: registering still publishes (the nodes create the
	// topic streams when they connect; the harness does not pre-create them).
	it("register, login and GET /api/users/:id go through the gateway to the users node", async () => {
		const api = client(cluster!.gatewayUrl);
		const registered = await api.post("/api/users", {
			email: "ana@example.com",
			password: "secret-pass-1",
			name: "Ana",
		});
		expect(registered.status).toBe(201);
		expect(registered.body).toMatchObject({ email: "ana@example.com", role: "customer", status: "active" });
		expect(registered.body.passwordHash).toBeUndefined();

		const login = await api.post("/api/auth/login", { email: "ana@example.com", password: "secret-pass-1" });
		expect(login.status).toBe(200);
		const token = login.body.token;

		const me = await api.get(`/api/users/${registered.body.id}`, { token });
		expect(me.status).toBe(200);
		expect(me.body).toMatchObject({ id: registered.body.id, name: "Ana" });

		const wrongPassword = await api.post("/api/auth/login", { email: "ana@example.com", password: "nope-nope-1" });
		expect(wrongPassword.status).toBe(401);
		expect(wrongPassword.body.type).toBe("INVALID_CREDENTIALS");

		const noToken = await api.get(`/api/users/${registered.body.id}`);
		expect(noToken.status).toBe(401);

		// the first admin was created at start-up (its user.created went out with nobody consuming)
		const admin = await eventually(async () => {
			const res = await api.post("/api/auth/login", ADMIN);
			return res.status === 200 && res;
		}, 10_000);
		expect(admin.body.user.role).toBe("admin");
	});

	it("the X-Request-Id sent to the gateway is the requestId of the users node's log lines", async () => {
		const api = client(cluster!.gatewayUrl);
		const requestId = `trace-${Date.now()}`;
		const res = await api.post(
			"/api/users",
			{ email: "bruno@example.com", password: "secret-pass-2", name: "Bruno" },
			{ headers: { "X-Request-Id": requestId } },
		);
		expect(res.status).toBe(201);
		expect(res.headers.get("x-request-id")).toBe(requestId);

		const entry = await eventually(() =>
			cluster!.jsonLogs("onboarding").find((e) => e.requestId === requestId && e.action === "users.register"),
		);
		expect(entry.nodeID).toBe(cluster!.node("onboarding").nodeID);
		expect(entry.msg).toBe("action handled");
		// the gateway's node did not run the action itself
		expect(cluster!.jsonLogs("gateway").some((e) => e.action === "users.register")).toBe(false);
	});

	it("a bad request crosses the nodes as a 422 with field errors, not a 500", async () => {
		const res = await client(cluster!.gatewayUrl).post("/api/users", {
			email: "not-an-email",
			password: "x",
			name: "",
		});
		expect(res.status).toBe(422);
		expect(Array.isArray(res.body.data.fields)).toBe(true);
	});
});
