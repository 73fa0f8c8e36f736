/**
 * Addresses and maps through the gateway (mixins/geo.mixin.ts) against a local stand-in for
 * Nominatim and ViaCEP (test/helpers/geo-stub.ts): CEP lookup, search, reverse geocoding, bad
 * params (422), unknown places (404), a provider that fails or cannot be reached (503, never 500),
 * the cache, and Leaflet served from the installed package.
 */
import type { ServiceBroker } from "moleculer";
import { gatewayUrl, startBroker } from "../helpers/broker";
import { startGeoStub, GeoStub } from "../helpers/geo-stub";
import { client } from "../helpers/http";

describe("geo routes", () => {
	let stub: GeoStub;
	let broker: ServiceBroker;
	let api: ReturnType<typeof client>;

	beforeAll(async () => {
		stub = await startGeoStub();
		broker = await startBroker({
			services: ["api", "users"],
			env: {
				GEOCODER_URL: stub.url,
				CEP_URL: stub.url,
				MAP_TILE_URL: "http://tiles.test/{z}/{x}/{y}.png",
				GEOCODER_TIMEOUT_MS: "1000",
			},
		});
		api = client(gatewayUrl(broker));
	});
	afterAll(async () => {
		await broker?.stop();
		await stub?.close();
	});
	beforeEach(() => stub.failWith(null));

	test("a CEP gives the street, district, city and a point", async () => {
		const res = await api.get("/api/geo/cep/01001-000");
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({
			street: "Praça da Sé",
			district: "Sé",
			city: "São Paulo",
			state: "São Paulo",
			postcode: "01001-000",
			lat: -23.5505,
			lng: -46.6333,
		});
		// The point came from a structured search of the street in its city.
		expect(stub.requests.some((r) => r.startsWith("/search?") && r.includes("street="))).toBe(true);
	});

	test("an unknown CEP is 404, a malformed one 422", async () => {
		expect((await api.get("/api/geo/cep/99999999")).status).toBe(404);
		const bad = await api.get("/api/geo/cep/123");
		expect(bad.status).toBe(422);
		expect(bad.body.type).toBe("VALIDATION_ERROR");
	});

	test("search finds an address in words with its number", async () => {
		const res = await api.get(`/api/geo/search?q=${encodeURIComponent("Avenida Paulista, 1000, São Paulo")}`);
		expect(res.status).toBe(200);
		expect(res.body.rows).toHaveLength(1);
		expect(res.body.rows[0]).toMatchObject({ street: "Avenida Paulista", number: "1000", lat: -23.5614 });
		expect(res.body.rows[0].label).toContain("Avenida Paulista, 1000");
		expect((await api.get("/api/geo/search?q=Rua%20que%20n%C3%A3o%20existe")).body.rows).toEqual([]);
		expect((await api.get("/api/geo/search?q=ab")).status).toBe(422);
	});

	test("reverse names the street at a point; nothing near is 404; bad coordinates 422", async () => {
		const res = await api.get("/api/geo/reverse?lat=-23.5507&lng=-46.6335");
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ street: "Praça da Sé", city: "São Paulo", lat: -23.5507, lng: -46.6335 });
		expect((await api.get("/api/geo/reverse?lat=10&lng=10")).status).toBe(404);
		expect((await api.get("/api/geo/reverse?lat=123&lng=10")).status).toBe(422);
		expect((await api.get("/api/geo/reverse?lat=abc&lng=10")).status).toBe(422);
	});

	test("answers are cached: the same CEP asks the provider once", async () => {
		const before = stub.requests.length;
		await api.get("/api/geo/cep/01310100");
		const after = stub.requests.length;
		expect(after).toBeGreaterThan(before);
		expect((await api.get("/api/geo/cep/01310-100")).body.street).toBe("Avenida Paulista");
		expect(stub.requests.length).toBe(after);
	});

	test("a failing provider is a clear 503, not a 500", async () => {
		stub.failWith(500);
		const res = await api.get("/api/geo/search?q=Rua%20Augusta%20500", { headers: { "Accept-Language": "en" } });
		expect(res.status).toBe(503);
		expect(res.body.type).toBe("GEOCODER_UNAVAILABLE");
		expect(res.body.message).toContain("answered 500");
		const inPortuguese = await api.get("/api/geo/search?q=Rua%20Augusta%20500");
		expect(inPortuguese.body.message).toBe(
			"O serviço de endereços está indisponível no momento; tente de novo em instantes",
		);
		// The failure was not cached: once the provider is back the same question is answered.
		stub.failWith(null);
		expect((await api.get("/api/geo/search?q=Rua%20Augusta%20500")).status).toBe(200);
	});

	test("map tiles URL and Leaflet come from the gateway, no CDN", async () => {
		expect((await api.get("/api/geo/config")).body).toEqual({
			tileUrl: "http://tiles.test/{z}/{x}/{y}.png",
			attribution: expect.any(String),
		});
		const css = await api.get("/api/vendor/leaflet/leaflet.css");
		expect(css.status).toBe(200);
		expect(css.headers.get("content-type")).toContain("text/css");
		const js = await api.get("/api/vendor/leaflet/leaflet-src.esm.js");
		expect(js.headers.get("content-type")).toContain("javascript");
		expect(js.text).toContain("export");
		const icon = await api.get("/api/vendor/leaflet/images/marker-icon.png");
		expect(icon.status).toBe(200);
		expect(icon.headers.get("content-type")).toBe("image/png");
		expect((await api.get("/api/vendor/leaflet/package.json")).status).toBe(422);
		expect((await api.get("/api/vendor/leaflet/images/..%2F..%2Fpackage.json")).status).toBe(422);
	});
});

describe("geo routes without a CEP service, and with the geocoder unreachable", () => {
	test("CEP_URL=none looks the CEP up by the geocoder's postalcode search", async () => {
		const stub = await startGeoStub();
		const broker = await startBroker({
			services: ["api", "users"],
			env: { GEOCODER_URL: stub.url, CEP_URL: "none" },
		});
		try {
			const res = await client(gatewayUrl(broker)).get("/api/geo/cep/01310100");
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ street: "Avenida Paulista", postcode: "01310-100", lat: -23.5614 });
			expect(stub.requests.every((r) => !r.startsWith("/ws/"))).toBe(true);
			expect(stub.requests.some((r) => r.includes("postalcode=01310-100"))).toBe(true);
		} finally {
			await broker.stop();
			await stub.close();
		}
	});

	test("a geocoder that cannot be reached is 503", async () => {
		const stub = await startGeoStub();
		const url = stub.url;
		await stub.close();
		const broker = await startBroker({
			services: ["api", "users"],
			env: { GEOCODER_URL: url, CEP_URL: url, GEOCODER_TIMEOUT_MS: "500" },
		});
		try {
			const res = await client(gatewayUrl(broker)).get("/api/geo/cep/01001000", {
				headers: { "Accept-Language": "en" },
			});
			expect(res.status).toBe(503);
			expect(res.body.type).toBe("GEOCODER_UNAVAILABLE");
			expect(res.body.message).toContain("could not be reached");
		} finally {
			await broker.stop();
		}
	});
});
