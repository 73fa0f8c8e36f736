/**
 * NATS with authentication, as k8s/ runs it (nats-server --user/--pass from the Secret, nodes on
 * TRANSPORTER=nats://user:pass@nats:4222): a second nats-server on a free port with a user and
 * password; a gateway and a users node over it answer a request and publish a durable event over
 * JetStream; a node with a wrong password is live but never ready, and says why without the password.
 */
import crypto from "crypto";
import { Cluster, clusterTest, eventually, PrivateNats, startCluster } from "../helpers/cluster";
import { client } from "../helpers/http";
import { describeWithInfra } from "../helpers/infra";

describeWithInfra(["nats"], "cluster over a NATS that requires a user and password", () => {
	const pass = crypto.randomBytes(12).toString("hex");
	const nats = new PrivateNats({ user: "gasrapido", pass });
	let cluster: Cluster | undefined;
	const it = clusterTest(() => cluster);
	jest.setTimeout(90_000);

	beforeAll(async () => {
		await nats.start();
		cluster = await startCluster(
			[
				{ name: "gateway", services: ["api"] },
				{ name: "onboarding", services: ["users"] },
			],
			{ transporter: nats.url, ensureStreams: true },
		);
	});
	afterAll(async () => {
		await cluster?.stopAll();
		await nats.dispose();
	});

	it("the nodes connect with the credentials in TRANSPORTER; calls and JetStream events work", async () => {
		expect(nats.url).toMatch(/^nats:\/\/gasrapido:[0-9a-f]+@127\.0\.0\.1:\d+$/);
		const api = client(cluster!.gatewayUrl);
		const res = await api.post("/api/users", { email: "auth@example.com", password: "secret-pass-1", name: "Auth" });
		expect(res.status).toBe(201);
		const login = await api.post("/api/auth/login", { email: "auth@example.com", password: "secret-pass-1" });
		expect(login.status).toBe(200);
	});

	it("a node with a wrong password is live, not ready, and logs the cause without the password", async () => {
		const wrong = nats.url.replace(pass, "wrong-password");
		await cluster!
			.add([{ name: "intruder", services: ["products"], env: { TRANSPORTER: wrong } }])
			.then(() => {
				throw new Error("a node with a wrong NATS password became ready");
			})
			.catch((err: Error) => expect(err.message).toMatch(/not ready/));
		const node = cluster!.node("intruder");
		const live = await fetch(`http://127.0.0.1:${node.healthPort}/live`);
		expect(live.status).toBe(200);
		const line = await eventually(
			() => cluster!.jsonLogs("intruder").find((l) => /Cannot reach the transporter/.test(l.msg)),
			10_000,
		);
		expect(line.msg).toContain("nats://gasrapido:***@127.0.0.1");
		expect(line.msg).toMatch(/AUTHORIZATION_VIOLATION|Authorization/i);
		expect(cluster!.logs("intruder")).not.toContain("wrong-password");
	});
});
