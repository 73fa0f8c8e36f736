/**
 * A local stand-in for the geocoding providers, speaking their APIs (no network in tests):
 *
 *   Nominatim   GET /search?q=…  |  ?street=…&city=…  |  ?postalcode=…   (format=jsonv2)
 *               GET /reverse?lat=…&lon=…   ({ error } where nothing is near)
 *   ViaCEP      GET /ws/<cep>/json/        ({ erro: true } for an unknown CEP)
 *
 * A few streets of São Paulo are known. `failWith(status)` makes every answer fail (500, 503…) and
 * `requests` lists what was asked, so tests can check that answers are cached.
 */
import http from "http";
import type { AddressInfo } from "net";

export interface StubPlace {
	cep: string;
	street: string;
	district: string;
	city: string;
	uf: string;
	state: string;
	lat: number;
	lng: number;
}

export const STUB_PLACES: StubPlace[] = [
	{
		cep: "01001000",
		street: "Praça da Sé",
		district: "Sé",
		city: "São Paulo",
		uf: "SP",
		state: "São Paulo",
		lat: -23.5505,
		lng: -46.6333,
	},
	{
		cep: "01310100",
		street: "Avenida Paulista",
		district: "Bela Vista",
		city: "São Paulo",
		uf: "SP",
		state: "São Paulo",
		lat: -23.5614,
		lng: -46.6559,
	},
];

export interface GeoStub {
	url: string;
	requests: string[];
	failWith(status: number | null): void;
	close(): Promise<void>;
}

const norm = (s: string) =>
	s
		.normalize("NFD")
		.replace(/[\u0300-\u036f]/g, "")
		.toLowerCase();

function nominatimRow(p: StubPlace, houseNumber?: string) {
	return {
		lat: String(p.lat),
		lon: String(p.lng),
		display_name: `${p.street}, ${p.district}, ${p.city}, ${p.state}, ${p.cep.slice(0, 5)}-${p.cep.slice(5)}, Brasil`,
		address: {
			road: p.street,
			...(houseNumber ? { house_number: houseNumber } : {}),
			suburb: p.district,
			city: p.city,
			state: p.state,
			postcode: `${p.cep.slice(0, 5)}-${p.cep.slice(5)}`,
			country: "Brasil",
			country_code: "br",
		},
	};
}

function kmBetween(a: { lat: number; lng: number }, b: { lat: number; lng: number }) {
	const rad = (d: number) => (d * Math.PI) / 180;
	const s =
		Math.sin(rad(b.lat - a.lat) / 2) ** 2 +
		Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(rad(b.lng - a.lng) / 2) ** 2;
	return 2 * 6371 * Math.asin(Math.sqrt(s));
}

export async function startGeoStub(): Promise<GeoStub> {
	const requests: string[] = [];
	let failure: number | null = null;
	const server = http.createServer((req, res) => {
		const url = new URL(req.url || "/", "http://stub");
		requests.push(`${url.pathname}${url.search}`);
		const send = (status: number, body: unknown) => {
			res.writeHead(status, { "Content-Type": "application/json" });
			res.end(JSON.stringify(body));
		};
		if (failure) return send(failure, { error: "stub failure" });
		const q = url.searchParams;
		const cepMatch = /^\/ws\/(\d{8})\/json\/?$/.exec(url.pathname);
		if (cepMatch) {
			const p = STUB_PLACES.find((x) => x.cep === cepMatch[1]);
			return send(
				200,
				p
					? {
							cep: `${p.cep.slice(0, 5)}-${p.cep.slice(5)}`,
							logradouro: p.street,
							bairro: p.district,
							localidade: p.city,
							uf: p.uf,
						}
					: { erro: true },
			);
		}
		if (url.pathname === "/search") {
			const limit = Number(q.get("limit") || 10);
			let found: StubPlace[] = [];
			let houseNumber: string | undefined;
			if (q.get("postalcode")) {
				const digits = q.get("postalcode")!.replace(/\D/g, "");
				found = STUB_PLACES.filter((p) => p.cep === digits);
			} else if (q.get("street")) {
				const street = norm(q.get("street")!);
				found = STUB_PLACES.filter(
					(p) => street.includes(norm(p.street)) && norm(q.get("city") || "") === norm(p.city),
				);
			} else if (q.get("q")) {
				const text = norm(q.get("q")!);
				found = STUB_PLACES.filter((p) => text.includes(norm(p.street)));
				houseNumber = /\b(\d{1,5})\b/.exec(text)?.[1];
			}
			return send(
				200,
				found.slice(0, limit).map((p) => nominatimRow(p, houseNumber)),
			);
		}
		if (url.pathname === "/reverse") {
			const at = { lat: Number(q.get("lat")), lng: Number(q.get("lon")) };
			const near = STUB_PLACES.map((p) => ({ p, km: kmBetween(p, at) }))
				.filter((x) => x.km < 2)
				.sort((a, b) => a.km - b.km)[0];
			return send(
				200,
				near ? { ...nominatimRow(near.p), lat: String(at.lat), lon: String(at.lng) } : { error: "Unable to geocode" },
			);
		}
		send(404, { error: "not found" });
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		requests,
		failWith(status) {
			failure = status;
		},
		close: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
