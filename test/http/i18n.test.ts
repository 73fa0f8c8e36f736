/**
 * One error model in Portuguese and English over HTTP: real failure paths answer
 * `{ type, message, code, data? }` with the catalogue's status, the message in pt-BR by default, in
 * English with Accept-Language: en or for a user whose stored locale is en, and field problems in
 * `data.fields`.
 */
import { ServiceBroker } from "moleculer";
import { ADMIN, gatewayUrl, startBroker } from "../helpers/broker";
import { client } from "../helpers/http";
import { ERROR_CATALOGUE } from "../../lib/contracts/error-catalogue";

let broker: ServiceBroker;
let api: ReturnType<typeof client>;
const EN = { "Accept-Language": "en-US,en;q=0.9" };
const PT = { "Accept-Language": "pt-BR,pt;q=0.9,en;q=0.5" };

beforeAll(async () => {
	broker = await startBroker({
		services: ["api", "users"],
		env: { RATE_LIMIT_MAX: "10000", AUTH_RATE_LIMIT_MAX: "10000" },
	});
	api = client(gatewayUrl(broker));
});
afterAll(() => broker.stop());

const keysOf = (body: Record<string, unknown>) => Object.keys(body).sort();

describe("errors in the reader's language", () => {
	test("a wrong password: 401 INVALID_CREDENTIALS in pt-BR by default and in English when asked", async () => {
		const creds = { email: ADMIN.email, password: "not-the-password-1" };
		const pt = await api.post("/api/auth/login", creds);
		expect(pt.status).toBe(401);
		expect(pt.body).toEqual({ type: "INVALID_CREDENTIALS", code: 401, message: "E-mail ou senha incorretos" });
		expect(pt.headers.get("content-language")).toBe("pt-BR");
		const en = await api.post("/api/auth/login", creds, { headers: EN });
		expect(en.body).toEqual({ type: "INVALID_CREDENTIALS", code: 401, message: "Wrong e-mail or password" });
		expect(en.headers.get("content-language")).toBe("en");
	});

	test("a registration with bad fields: 422 VALIDATION_ERROR, each field in data.fields, in both languages", async () => {
		const bad = { email: "not-an-email", password: "x", name: "Ana" };
		const pt = await api.post("/api/users", bad, { headers: PT });
		expect(pt.status).toBe(422);
		expect(keysOf(pt.body)).toEqual(["code", "data", "message", "type"]);
		expect(pt.body).toMatchObject({ type: "VALIDATION_ERROR", code: 422, message: "Alguns campos não são válidos" });
		expect(pt.body.data.fields).toEqual(
			expect.arrayContaining([
				{ field: "email", type: "email", message: "O campo 'email' deve ser um e-mail válido." },
				expect.objectContaining({
					field: "password",
					type: "stringMin",
					message: expect.stringMatching(/^O campo 'password' deve ter pelo menos \d+ caracteres\.$/),
				}),
			]),
		);
		const en = await api.post("/api/users", bad, { headers: EN });
		expect(en.body.message).toBe("Some fields are not valid");
		expect(en.body.data.fields).toEqual(
			expect.arrayContaining([{ field: "email", type: "email", message: "The 'email' field must be a valid e-mail." }]),
		);
	});

	test("a weak password is a field problem too, translated", async () => {
		const body = { email: "weak-i18n@example.com", password: "password1", name: "Ana" };
		const pt = await api.post("/api/users", body);
		expect(pt.status).toBe(422);
		expect(pt.body.data.fields).toEqual([
			{
				field: "password",
				type: "passwordWeak",
				message: expect.stringMatching(/^A senha é fácil demais de adivinhar/),
			},
		]);
		const en = await api.post("/api/users", body, { headers: EN });
		expect(en.body.data.fields[0].message).toMatch(/^The password is too easy to guess/);
	});

	test("the user's stored locale is used without Accept-Language; the header wins over it", async () => {
		const email = "english-reader@example.com";
		const password = "cylinder-pass-123";
		expect((await api.post("/api/users", { email, password, name: "Jo", locale: "en" })).status).toBe(201);
		const login = await api.post("/api/auth/login", { email, password });
		const token = login.body.token as string;
		const admins = await api.get("/api/users", { token });
		expect(admins.status).toBe(ERROR_CATALOGUE.FORBIDDEN_ROLE.status);
		expect(admins.body).toEqual({ type: "FORBIDDEN_ROLE", code: 403, message: "Your role may not do this" });
		const pt = await api.get("/api/users", { token, headers: PT });
		expect(pt.body.message).toBe("Seu perfil não pode fazer isso");
	});

	test("a service's own message: 404 NOT_FOUND names the resource in the reader's language", async () => {
		const admin = (await api.post("/api/auth/login", ADMIN)).body.token as string;
		const pt = await api.get("/api/users/no-such-user-1", { token: admin });
		expect(pt.status).toBe(404);
		expect(pt.body).toMatchObject({ type: "NOT_FOUND", code: 404, message: "Não encontrado: usuário" });
		const en = await api.get("/api/users/no-such-user-1", { token: admin, headers: EN });
		expect(en.body.message).toBe("user not found");
		const none = await api.get("/api/users", { headers: EN });
		expect(none.body).toEqual({ type: "UNAUTHORIZED", code: 401, message: "Authentication required" });
	});
});
