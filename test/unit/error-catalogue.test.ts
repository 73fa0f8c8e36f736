import fs from "fs";
import path from "path";
import { Errors } from "moleculer";
import { ERROR_CATALOGUE, ErrorType, genericType, isErrorType } from "../../lib/contracts/error-catalogue";
import { appError, conflict, forbidden, notFound, unprocessable } from "../../lib/infra/errors";
import { errorBody, errorStatus } from "../../lib/infra/http-errors";
import { hasPortuguese, pickLocale } from "../../lib/infra/i18n";
import { EN_MESSAGES, PT_BR_MESSAGES } from "../../lib/infra/validation-messages";

const ROOT = path.resolve(__dirname, "../..");
const TYPES = Object.keys(ERROR_CATALOGUE) as ErrorType[];

/** Every .ts file under the folders that throw errors to clients. */
function sources(): { file: string; text: string }[] {
	const out: { file: string; text: string }[] = [];
	const walk = (dir: string) => {
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.name.endsWith(".ts"))
				out.push({ file: path.relative(ROOT, full), text: fs.readFileSync(full, "utf8") });
		}
	};
	for (const dir of ["services", "lib", "mixins", "middlewares"]) walk(path.join(ROOT, dir));
	return out;
}

describe("error catalogue", () => {
	it("every type has a 4xx/5xx status, a Portuguese and an English message that differ, and a meaning", () => {
		expect(TYPES.length).toBeGreaterThan(40);
		for (const type of TYPES) {
			const { status, message, meaning } = ERROR_CATALOGUE[type];
			expect(status).toBeGreaterThanOrEqual(400);
			expect(status).toBeLessThan(600);
			expect(message["pt-BR"].length).toBeGreaterThan(5);
			expect(message.en.length).toBeGreaterThan(5);
			expect(message["pt-BR"]).not.toBe(message.en);
			expect(meaning.length).toBeGreaterThan(5);
		}
	});

	it("an error of each type answers its catalogue status and message, in pt-BR by default and in English", () => {
		for (const type of TYPES) {
			const err = appError(type);
			expect(err.code).toBe(ERROR_CATALOGUE[type].status);
			expect(errorStatus(err)).toBe(ERROR_CATALOGUE[type].status);
			expect(errorBody(err)).toEqual({
				type,
				code: ERROR_CATALOGUE[type].status,
				message: ERROR_CATALOGUE[type].message["pt-BR"],
			});
			expect(errorBody(err, "en").message).toBe(ERROR_CATALOGUE[type].message.en);
			expect(err instanceof Errors.MoleculerClientError).toBe(ERROR_CATALOGUE[type].status < 500);
		}
	});

	it("the catalogue's status wins over a status thrown with a catalogued type; foreign types map by status", () => {
		expect(errorStatus(new Errors.MoleculerClientError("x", 403, "SUPPLIER_NOT_ACTIVE"))).toBe(409);
		expect(errorBody(new Errors.MoleculerClientError("Rate limit exceeded", 429, "RATE_LIMIT_EXCEEDED")).type).toBe(
			"RATE_LIMITED",
		);
		expect(errorBody(new Errors.MoleculerError("boom", 500, "MAX_CALL_LEVEL"))).toEqual({
			type: "INTERNAL_ERROR",
			code: 500,
			message: "Erro interno do servidor",
		});
		expect(errorBody(new Errors.RequestTimeoutError({ action: "orders.create", nodeID: "n1" })).type).toBe(
			"REQUEST_TIMEOUT",
		);
		for (const status of [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503, 504])
			expect(ERROR_CATALOGUE[genericType(status)].status).toBe(status);
	});

	it("specific details are shown translated, field problems in one shape", () => {
		const err = forbidden("Couriers cannot cancel orders");
		expect(errorBody(err).message).toBe("Entregadores não podem cancelar pedidos");
		expect(errorBody(err, "en").message).toBe("Couriers cannot cancel orders");
		expect(errorBody(notFound("order", "o1"))).toEqual({
			type: "NOT_FOUND",
			code: 404,
			message: "Não encontrado: pedido",
			data: { what: "order", id: "o1" },
		});
		expect(errorBody(unprocessable("at is in the future", { field: "at" }), "en").data).toEqual({
			fields: [{ field: "at", type: "UNPROCESSABLE", message: "at is in the future" }],
		});
		expect(errorBody(unprocessable("Give exactly one of userId or role", { fields: ["userId", "role"] })).data).toEqual(
			{
				fields: [
					{ field: "userId", type: "UNPROCESSABLE", message: "Informe exatamente um entre userId e role" },
					{ field: "role", type: "UNPROCESSABLE", message: "Informe exatamente um entre userId e role" },
				],
			},
		);
		// A detail the phrasebook does not know is never shown in English to a pt-BR reader.
		expect(errorBody(conflict("Something nobody translated")).message).toBe(ERROR_CATALOGUE.CONFLICT.message["pt-BR"]);
	});

	it("README's table lists every type with its status and messages", () => {
		const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
		for (const type of TYPES) {
			const { status, message } = ERROR_CATALOGUE[type];
			expect([type, readme.includes(`| ${type} | ${status} | ${message["pt-BR"]} | ${message.en} |`)]).toEqual([
				type,
				true,
			]);
		}
	});

	it("Accept-Language picks English or Portuguese by preference; the user's locale without one; pt-BR by default", () => {
		expect(pickLocale(undefined)).toBe("pt-BR");
		expect(pickLocale("en-US,en;q=0.9")).toBe("en");
		expect(pickLocale("fr-FR, en;q=0.5, pt-BR;q=0.8")).toBe("pt-BR");
		expect(pickLocale("de")).toBe("pt-BR");
		expect(pickLocale(undefined, "en")).toBe("en");
		expect(pickLocale("pt", "en")).toBe("pt-BR");
	});

	it("the Portuguese validation messages cover every rule of fastest-validator's English set", () => {
		for (const key of Object.keys(EN_MESSAGES)) expect([key, typeof PT_BR_MESSAGES[key]]).toEqual([key, "string"]);
	});

	it("is the only source of statuses: no error in the code is built with a status of its own", () => {
		const offenders = sources()
			.filter((s) => s.file !== path.join("lib", "infra", "errors.ts"))
			.flatMap((s) =>
				[...s.text.matchAll(/new (?:Errors\.)?Moleculer(?:Client|Retryable)?Error\([^;]*?,\s*\d{3}\s*,/gs)].map(
					(m) => `${s.file}: ${m[0].slice(0, 80)}`,
				),
			)
			// The gateway's 503 for a restarting service keeps moleculer-web's error class (retryable).
			.filter((line) => !line.startsWith(path.join("lib", "infra", "unavailable.ts")));
		expect(offenders).toEqual([]);
		for (const s of sources())
			for (const m of s.text.matchAll(/(?:appError|clientError)\(\s*"([A-Z_]+)"/g))
				expect([s.file, m[1], isErrorType(m[1])]).toEqual([s.file, m[1], true]);
	});

	it("every literal message the services throw has its Portuguese", () => {
		const missing: string[] = [];
		const helper =
			/\b(?:notFound|conflict|forbidden|unauthorized|unprocessable|badRequest|clientError|appError)\(\s*(?:"[A-Z_]+",\s*)?"((?:[^"\\]|\\.)+)"/g;
		const domain = /\b(?:forbidden|return)\(?\s*"([A-Z][^"]{8,})"/g;
		for (const s of sources()) {
			for (const m of s.text.matchAll(helper)) {
				const text = m[1];
				// notFound's first argument is a noun ("order"), not a message; a lone argument may be the type.
				if (/^[a-z ]+$/.test(text) || /^[A-Z_]+$/.test(text)) continue;
				if (!hasPortuguese(text) && !TYPES.some((t) => ERROR_CATALOGUE[t].message.en === text))
					missing.push(`${s.file}: ${text}`);
			}
			if (/lib[\\/]domain[\\/](order-status|preparation|invites|catalog)\.ts$/.test(s.file))
				for (const m of s.text.matchAll(domain))
					if (!hasPortuguese(m[1]) && !TYPES.some((t) => ERROR_CATALOGUE[t].message.en === m[1]))
						missing.push(`${s.file}: ${m[1]}`);
		}
		expect(missing).toEqual([]);
	});
});
