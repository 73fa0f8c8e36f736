/** The embedded default keeps data in NeDB files under DATA_DIR: users and the dev secrets survive a restart. */
import fs from "fs";
import os from "os";
import path from "path";
import { gatewayUrl, startBroker } from "../helpers/broker";
import { client } from "../helpers/http";

test("a registered user can log in after a restart, with a token from before the restart still valid", async () => {
	const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gr-data-"));
	const env = { DATA_DIR: dataDir, JWT_SECRET: "" };
	const saved = process.env.JWT_SECRET;
	delete process.env.JWT_SECRET;
	try {
		const first = await startBroker({ services: ["api", "users"], env });
		const api1 = client(gatewayUrl(first));
		const reg = await api1.post("/api/users", {
			email: "keep@example.com",
			password: "cylinder-pass-123",
			name: "Keep",
		});
		expect(reg.status).toBe(201);
		const token = (await api1.post("/api/auth/login", { email: "keep@example.com", password: "cylinder-pass-123" }))
			.body.token;
		await first.stop();

		expect(fs.existsSync(path.join(dataDir, "users.sqlite"))).toBe(true);
		const secrets = JSON.parse(fs.readFileSync(path.join(dataDir, "dev-secrets.json"), "utf8"));
		expect(secrets.JWT_SECRET).toMatch(/^[0-9a-f]{64}$/);

		const second = await startBroker({ services: ["api", "users"], env });
		const api2 = client(gatewayUrl(second));
		const login = await api2.post("/api/auth/login", { email: "keep@example.com", password: "cylinder-pass-123" });
		expect(login.status).toBe(200);
		expect(login.body.user.id).toBe(reg.body.id);
		expect((await api2.get(`/api/users/${reg.body.id}`, { token })).status).toBe(200);
		expect(
			(await api2.post("/api/users", { email: "keep@example.com", password: "cylinder-pass-123", name: "Again" }))
				.status,
		).toBe(409);
		await second.stop();
	} finally {
		if (saved !== undefined) process.env.JWT_SECRET = saved;
		fs.rmSync(dataDir, { recursive: true, force: true });
	}
});
