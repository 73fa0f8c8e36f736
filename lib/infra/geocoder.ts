/**
 * Geocoding: addresses in words ↔ points on the map, and Brazilian postcodes (CEP).
 *
 * `Geocoder` is the interface the gateway's /api/geo routes use (mixins/geo.mixin.ts). The built-in
 * implementation speaks two public HTTP APIs by base URL, both self-hostable:
 *
 *   GEOCODER_URL  a Nominatim-compatible API: GET /search?q=…|street=…&city=…|postalcode=…,
 *                 GET /reverse?lat=…&lon=…, both with format=jsonv2&addressdetails=1
 *   CEP_URL       a ViaCEP-compatible API: GET /ws/<8 digits>/json/ → { logradouro, bairro,
 *                 localidade, uf } or { erro: true }; empty → Nominatim's postalcode search
 *
 * Any failure to reach a provider (refused, timeout, 5xx, a body that is not JSON) is a
 * `GeocoderUnavailableError`, which the gateway answers with 503; "no such place" is null / [].
 */

export interface GeoPlace {
	/** The address in one line, as people read it. */
	label: string;
	street: string | null;
	number: string | null;
	district: string | null;
	city: string | null;
	state: string | null;
	/** CEP as 00000-000 when known. */
	postcode: string | null;
	lat: number;
	lng: number;
}

/** A CEP's address; its point is null when the geocoder could not place it (the map then asks for the pin). */
export type CepPlace = Omit<GeoPlace, "lat" | "lng"> & { lat: number | null; lng: number | null };

export interface Geocoder {
	search(query: string, limit: number): Promise<GeoPlace[]>;
	reverse(lat: number, lng: number): Promise<GeoPlace | null>;
	/** The address of a CEP (8 digits), or null when there is no such CEP. */
	cep(cep: string): Promise<CepPlace | null>;
}

export class GeocoderUnavailableError extends Error {
	constructor(message: string) {
		super(message);
		this.name = "GeocoderUnavailableError";
	}
}

export interface HttpGeocoderOptions {
	geocoderUrl: string;
	/** ViaCEP-compatible base URL; empty: the geocoder's postalcode search. */
	cepUrl: string;
	timeoutMs: number;
	/** Nominatim's usage policy asks for an identifying User-Agent. */
	userAgent: string;
	/** Results limited to these countries (ISO 3166-1 alpha-2, comma-separated); empty: anywhere. */
	countryCodes: string;
	fetch?: typeof fetch;
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);

/** "01310100" → "01310-100". */
export function formatCep(digits: string): string {
	return `${digits.slice(0, 5)}-${digits.slice(5)}`;
}

/** A Nominatim jsonv2 result → GeoPlace (null when it has no usable point). */
export function placeFromNominatim(row: unknown): GeoPlace | null {
	if (!isRecord(row)) return null;
	const lat = Number(row.lat);
	const lng = Number(row.lon);
	if (!Number.isFinite(lat) || !Number.isFinite(lng)) return null;
	const a = isRecord(row.address) ? row.address : {};
	const street = str(a.road) ?? str(a.pedestrian) ?? str(a.street);
	const number = str(a.house_number);
	const district = str(a.suburb) ?? str(a.neighbourhood) ?? str(a.city_district);
	const city = str(a.city) ?? str(a.town) ?? str(a.village) ?? str(a.municipality);
	const state = str(a.state);
	const postcodeDigits = (str(a.postcode) ?? "").replace(/\D/g, "");
	const postcode = postcodeDigits.length === 8 ? formatCep(postcodeDigits) : null;
	const composed = [[street, number].filter(Boolean).join(", "), district, [city, state].filter(Boolean).join(" - ")]
		.filter(Boolean)
		.join(" · ");
	return {
		label: composed || str(row.display_name) || `${lat.toFixed(5)}, ${lng.toFixed(5)}`,
		street,
		number,
		district,
		city,
		state,
		postcode,
		lat,
		lng,
	};
}

/** Brazilian state names by their two-letter code (ViaCEP answers with the code). */
const STATES: Record<string, string> = {
	AC: "Acre",
	AL: "Alagoas",
	AP: "Amapá",
	AM: "Amazonas",
	BA: "Bahia",
	CE: "Ceará",
	DF: "Distrito Federal",
	ES: "Espírito Santo",
	GO: "Goiás",
	MA: "Maranhão",
	MT: "Mato Grosso",
	MS: "Mato Grosso do Sul",
	MG: "Minas Gerais",
	PA: "Pará",
	PB: "Paraíba",
	PR: "Paraná",
	PE: "Pernambuco",
	PI: "Piauí",
	RJ: "Rio de Janeiro",
	RN: "Rio Grande do Norte",
	RS: "Rio Grande do Sul",
	RO: "Rondônia",
	RR: "Roraima",
	SC: "Santa Catarina",
	SP: "São Paulo",
	SE: "Sergipe",
	TO: "Tocantins",
};

export class HttpGeocoder implements Geocoder {
	private readonly fetchImpl: typeof fetch;

	constructor(private readonly opts: HttpGeocoderOptions) {
		this.fetchImpl = opts.fetch ?? fetch;
	}

	async search(query: string, limit: number): Promise<GeoPlace[]> {
		const rows = await this.nominatim("search", { q: query, limit: String(limit) });
		return (Array.isArray(rows) ? rows : []).map(placeFromNominatim).filter((p): p is GeoPlace => p !== null);
	}

	async reverse(lat: number, lng: number): Promise<GeoPlace | null> {
		const row = await this.nominatim("reverse", { lat: String(lat), lon: String(lng), zoom: "18" });
		// Nominatim answers 200 { error: "Unable to geocode" } where nothing is.
		return isRecord(row) && !row.error ? placeFromNominatim(row) : null;
	}

	async cep(cep: string): Promise<CepPlace | null> {
		const postcode = formatCep(cep);
		if (!this.opts.cepUrl) {
			const rows = await this.nominatim("search", { postalcode: postcode, limit: "1" });
			const place = Array.isArray(rows) ? placeFromNominatim(rows[0]) : null;
			return place && { ...place, postcode };
		}
		const body = await this.getJson(`${this.opts.cepUrl.replace(/\/+$/, "")}/ws/${cep}/json/`);
		if (!isRecord(body) || body.erro) return null;
		const street = str(body.logradouro);
		const district = str(body.bairro);
		const city = str(body.localidade);
		const uf = str(body.uf);
		const state = uf ? (STATES[uf.toUpperCase()] ?? uf) : null;
		const label = [street, district, [city, uf].filter(Boolean).join(" - ")].filter(Boolean).join(" · ") || postcode;
		// Where the street is: structured search first, the postcode's area when the street is unknown.
		const query: Record<string, string> = { limit: "1" };
		if (street && city) Object.assign(query, { street, city, ...(state ? { state } : {}) });
		else query.postalcode = postcode;
		const rows = await this.nominatim("search", query);
		const point = Array.isArray(rows) ? placeFromNominatim(rows[0]) : null;
		return {
			label,
			street,
			number: null,
			district,
			city,
			state,
			postcode,
			lat: point ? point.lat : null,
			lng: point ? point.lng : null,
		};
	}

	private nominatim(endpoint: "search" | "reverse", query: Record<string, string>): Promise<unknown> {
		const params = new URLSearchParams({ ...query, format: "jsonv2", addressdetails: "1" });
		if (this.opts.countryCodes && endpoint === "search") params.set("countrycodes", this.opts.countryCodes);
		return this.getJson(`${this.opts.geocoderUrl.replace(/\/+$/, "")}/${endpoint}?${params}`);
	}

	private async getJson(url: string): Promise<unknown> {
		const host = new URL(url).host;
		let res: Response;
		try {
			res = await this.fetchImpl(url, {
				headers: { Accept: "application/json", "User-Agent": this.opts.userAgent },
				signal: AbortSignal.timeout(this.opts.timeoutMs),
			});
		} catch (err) {
			const timedOut = (err as Error).name === "TimeoutError" || (err as Error).name === "AbortError";
			throw new GeocoderUnavailableError(
				timedOut ? `${host} did not answer within ${this.opts.timeoutMs} ms` : `${host} could not be reached`,
			);
		}
		if (res.status === 404 || res.status === 400) return null;
		if (!res.ok) throw new GeocoderUnavailableError(`${host} answered ${res.status}`);
		try {
			return await res.json();
		} catch {
			throw new GeocoderUnavailableError(`${host} answered something that is not JSON`);
		}
	}
}
