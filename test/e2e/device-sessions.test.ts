/**
 * Sessions per device through the API: each sign-in is a session (a refresh-token family) the user
 * can list (GET /api/auth/sessions) and end alone (DELETE /api/auth/sessions/:id), without ending
 * the others; nobody else can end it.
 */
import { ServiceBroker } from "moleculer";
import { gatewayUrl, startBroker } from "../helpers/broker";
import { client } from "../helpers/http";

const PASSWORD = "cylinder-pass-123";
let broker: ServiceBroker;
let api: ReturnType<typeof client>;
let seq = 0;

beforeAll(async () => {
	broker = await startBroker({ services: ["api", "users"] });
	api = client(gatewayUrl(broker));
});
afterAll(() => broker.stop());

async function newUser() {
	const email = `device-${++seq}-${Date.now()}@example.com`;
	await broker.call("users.create", { email, password: PASSWORD, name: `User ${seq}`, role: "customer" });
	return email;
}

const signIn = async (email: string) => {
	const res = await api.post("/api/auth/login", { email, password: PASSWORD });
	expect(res.status).toBe(200);
	return { token: res.body.token as string, refreshToken: res.body.refreshToken as string };
};

test("two devices are two sessions; ending one leaves the other; a stranger cannot end it", async () => {
	const email = await newUser();
	const phone = await signIn(email);
	const laptop = await signIn(email);
	// The phone renews once: still one session, renewed later than it started.
	const renewed = await api.post("/api/auth/refresh", { refreshToken: phone.refreshToken });
	expect(renewed.status).toBe(200);

	const listed = await api.get("/api/auth/sessions", { token: laptop.token });
	expect(listed.status).toBe(200);
	expect(listed.body.rows).toHaveLength(2);
	for (const row of listed.body.rows) {
		expect(Object.keys(row).sort()).toEqual(["expiresAt", "id", "lastRenewedAt", "mfa", "signedInAt"]);
		expect(JSON.stringify(row)).not.toMatch(/secretHash|refreshToken/);
	}
	const phoneSession = listed.body.rows.find(
		(r: { lastRenewedAt: string; signedInAt: string }) => r.lastRenewedAt > r.signedInAt,
	);
	expect(phoneSession).toBeDefined();

	const stranger = await signIn(await newUser());
	const refused = await api.del(`/api/auth/sessions/${phoneSession.id}`, { token: stranger.token });
	expect(refused.status).toBe(404);

	const ended = await api.del(`/api/auth/sessions/${phoneSession.id}`, { token: laptop.token });
	expect(ended.status).toBe(200);
	expect(ended.body).toEqual({ revoked: true, id: phoneSession.id });
	const phoneAgain = await api.post("/api/auth/refresh", { refreshToken: renewed.body.refreshToken });
	expect(phoneAgain.status).toBe(401);
	expect(phoneAgain.body.type).toBe("SESSION_REVOKED");
	const laptopAgain = await api.post("/api/auth/refresh", { refreshToken: laptop.refreshToken });
	expect(laptopAgain.status).toBe(200);

	const after = await api.get("/api/auth/sessions", { token: laptopAgain.body.token });
	expect(after.body.rows.map((r: { id: string }) => r.id)).not.toContain(phoneSession.id);
	expect(after.body.rows).toHaveLength(1);
	expect((await api.del("/api/auth/sessions/no-such-session", { token: laptop.token })).status).toBe(404);
});

test("logout ends every session: the list is empty afterwards", async () => {
	const email = await newUser();
	await signIn(email);
	const current = await signIn(email);
	expect((await api.post("/api/auth/logout", {}, { token: current.token })).status).toBe(200);
	const again = await signIn(email);
	const listed = await api.get("/api/auth/sessions", { token: again.token });
	expect(listed.body.rows).toHaveLength(1);
});
