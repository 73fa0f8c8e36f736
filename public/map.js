/**
 * Addresses and maps for the views: an address picker (CEP and number fill the street and city,
 * "usar minha localização", a Leaflet map where the pin is dragged to the door) and a live map for
 * tracking. Leaflet is loaded from the gateway (/api/vendor/leaflet, the installed package, no CDN);
 * tiles from the configured URL (/api/geo/config). Nobody types coordinates. When Leaflet or the
 * tiles cannot load, the address still works: the CEP or the device's position gives the point.
 */
import { get } from "./http.js";
import { currentPosition, field, h, input, replace, t } from "./ui.js";

const LEAFLET = "/api/vendor/leaflet/leaflet-src.esm.js";
let leafletPromise = null;
let tilesPromise = null;

/** Leaflet's module and its stylesheet, once per page; null when it cannot be loaded. */
export function loadLeaflet() {
	if (!leafletPromise) {
		if (!document.querySelector("link[data-leaflet]"))
			document.head.append(
				h("link", { rel: "stylesheet", href: "/api/vendor/leaflet/leaflet.css", dataset: { leaflet: "1" } }),
			);
		leafletPromise = import(LEAFLET).catch(() => null);
	}
	return leafletPromise;
}

function tileConfig() {
	if (!tilesPromise) tilesPromise = get("/api/geo/config").catch(() => null);
	return tilesPromise;
}

/** A Leaflet map in `el` around `center`; null when Leaflet is unavailable. */
export async function createMap(el, center, zoom = 16) {
	const L = await loadLeaflet();
	if (!L) return null;
	const map = L.map(el, { zoomControl: true, attributionControl: true }).setView([center.lat, center.lng], zoom);
	const tiles = await tileConfig();
	if (tiles && tiles.tileUrl && tiles.tileUrl !== "none") {
		const layer = L.tileLayer(tiles.tileUrl, { maxZoom: 19, attribution: tiles.attribution || "" });
		let failed = 0;
		layer.on("tileerror", () => {
			if (++failed === 1) el.classList.add("tiles-failed");
		});
		layer.addTo(map);
	} else el.classList.add("tiles-failed");
	return { L, map };
}

/** One line of an address: "Praça da Sé, 1 · Sé · São Paulo - SP". */
export function addressLine(a) {
	if (!a) return "";
	return [
		[a.street, a.number].filter(Boolean).join(", "),
		a.complement,
		a.district,
		[a.city, a.state].filter(Boolean).join(" - "),
	]
		.filter(Boolean)
		.join(" · ");
}

/**
 * The address picker. `saved` is a previous address ({ cep, street, number, district, city, state,
 * lat, lng }); `onChange(address)` runs whenever the point or the words change. Returns { element,
 * value() } where value() is the address with its point, or null while there is no point yet.
 */
export function addressPicker({ saved = {}, idPrefix = "addr", onChange = () => undefined } = {}) {
	const state = {
		lat: Number.isFinite(saved.lat) ? saved.lat : null,
		lng: Number.isFinite(saved.lng) ? saved.lng : null,
	};
	const id = (name) => `${idPrefix}-${name}`;
	const cep = input("cep", {
		id: id("cep"),
		inputmode: "numeric",
		autocomplete: "postal-code",
		placeholder: "00000-000",
		maxlength: 9,
		value: saved.cep || "",
	});
	const number = input("number", { id: id("number"), inputmode: "numeric", value: saved.number || "" });
	const street = input("street", { id: id("street"), autocomplete: "address-line1", value: saved.street || "" });
	const district = input("district", { id: id("district"), value: saved.district || "" });
	const city = input("city", { id: id("city"), autocomplete: "address-level2", value: saved.city || "" });
	const stateInput = input("state", { id: id("state"), type: "hidden", value: saved.state || "" });
	const status = h("p", { class: "geo-status muted", role: "status", "aria-live": "polite" });
	const pinLine = h("p", { class: "pin-line", id: id("pin") });
	const mapBox = h("div", {
		class: "map",
		id: id("map"),
		role: "application",
		"aria-label": t("Mapa: arraste o pino até o local de entrega", "Map: drag the pin to the delivery spot"),
	});
	const fallback = h(
		"p",
		{ class: "map-fallback muted", hidden: true },
		t(
			"O mapa não carregou; usamos o ponto do CEP ou da sua localização.",
			"The map did not load; the point of the CEP or your location is used.",
		),
	);
	let view = null;
	let marker = null;
	let reverseSeq = 0;

	const say = (text, isError = false) => {
		status.textContent = text || "";
		status.classList.toggle("form-error", !!isError);
	};
	const value = () =>
		state.lat === null
			? null
			: {
					lat: state.lat,
					lng: state.lng,
					cep: cep.value.trim(),
					street: street.value.trim(),
					number: number.value.trim(),
					district: district.value.trim(),
					city: city.value.trim(),
					state: stateInput.value.trim(),
				};
	const changed = () => {
		pinLine.textContent =
			state.lat === null
				? t("Informe o CEP e o número, ou use sua localização.", "Enter the CEP and number, or use your location.")
				: t("Entregar em: ", "Deliver to: ") +
					(addressLine(value()) || t("ponto marcado no mapa", "the pin on the map"));
		onChange(value());
	};

	// The map being made: a second showMap meanwhile (a CEP answer and the saved point) waits for it
	// instead of making another map in the same element (Leaflet: "Map container is already initialized").
	let opening = null;
	async function showMap() {
		if (state.lat === null) return;
		if (opening) await opening;
		if (view) {
			marker.setLatLng([state.lat, state.lng]);
			view.map.setView([state.lat, state.lng], Math.max(view.map.getZoom(), 16));
			return;
		}
		if (opening) return; // Leaflet could not be loaded: the fallback is shown
		mapBox.hidden = false;
		opening = createMap(mapBox, state);
		view = await opening;
		if (!view) {
			mapBox.hidden = true;
			fallback.hidden = false;
			return;
		}
		marker = view.L.marker([state.lat, state.lng], {
			draggable: true,
			autoPan: true,
			title: t("Local de entrega", "Delivery spot"),
			alt: t("Pino do local de entrega", "Delivery spot pin"),
		}).addTo(view.map);
		marker.on("dragend", () => {
			const p = marker.getLatLng();
			setPoint({ lat: p.lat, lng: p.lng }, { reverse: true, moveMap: false });
		});
		view.map.on("click", (e) => {
			marker.setLatLng(e.latlng);
			setPoint({ lat: e.latlng.lat, lng: e.latlng.lng }, { reverse: true, moveMap: false });
		});
	}

	function setPoint(p, { reverse = false, moveMap = true } = {}) {
		state.lat = Math.round(p.lat * 1e6) / 1e6;
		state.lng = Math.round(p.lng * 1e6) / 1e6;
		changed();
		if (moveMap) showMap();
		if (reverse) fillFromPoint();
	}

	/** The words for the pin: fills what is still empty, says what the pin points at. */
	async function fillFromPoint() {
		const seq = ++reverseSeq;
		try {
			const place = await get("/api/geo/reverse", { lat: state.lat, lng: state.lng });
			if (seq !== reverseSeq) return;
			if (!street.value || !cep.value) street.value = place.street || street.value;
			if (!number.value && place.number) number.value = place.number;
			district.value = place.district || district.value;
			city.value = place.city || city.value;
			stateInput.value = place.state || stateInput.value;
			if (!cep.value && place.postcode) cep.value = place.postcode;
			say("");
			changed();
		} catch (err) {
			if (seq === reverseSeq)
				say(
					err.status === 404
						? t(
								"Não achamos o endereço desse ponto; preencha a rua.",
								"No address found at this point; fill in the street.",
							)
						: t(
								"Busca de endereço indisponível agora; preencha a rua.",
								"Address search is unavailable now; fill in the street.",
							),
				);
		}
	}

	async function lookupCep() {
		const digits = cep.value.replace(/\D/g, "");
		if (digits.length !== 8) return say(t("O CEP tem 8 dígitos.", "A CEP has 8 digits."), true);
		cep.value = `${digits.slice(0, 5)}-${digits.slice(5)}`;
		say(t("Buscando o CEP…", "Looking the CEP up…"));
		try {
			const place = await get(`/api/geo/cep/${digits}`);
			street.value = place.street || "";
			district.value = place.district || "";
			city.value = place.city || "";
			stateInput.value = place.state || "";
			say("");
			if (number.value) await locateNumber(place);
			else if (Number.isFinite(place.lat)) setPoint(place);
			else changed();
			if (!number.value) number.focus();
		} catch (err) {
			say(
				err.status === 404
					? t("CEP não encontrado. Confira os números.", "CEP not found. Check the digits.")
					: err.status === 503
						? t("A busca de CEP está fora do ar; use sua localização.", "CEP search is down; use your location.")
						: err.message,
				true,
			);
		}
	}

	/** The street and number to a point (the door, not the CEP's centre); the CEP's point otherwise. */
	async function locateNumber(cepPlace) {
		if (!street.value || !number.value) return;
		try {
			const res = await get("/api/geo/search", {
				q: [`${street.value}, ${number.value}`, district.value, city.value, stateInput.value]
					.filter(Boolean)
					.join(", "),
				limit: 1,
			});
			const found = res.rows[0];
			if (found) return setPoint(found);
		} catch {
			// the CEP's point below
		}
		if (cepPlace && Number.isFinite(cepPlace.lat)) setPoint(cepPlace);
		else if (state.lat !== null) changed();
	}

	const cepButton = h(
		"button",
		{ type: "button", class: "secondary", id: id("cep-search") },
		t("Buscar CEP", "Find CEP"),
	);
	cepButton.addEventListener("click", lookupCep);
	cep.addEventListener("input", () => {
		if (cep.value.replace(/\D/g, "").length === 8 && document.activeElement === cep) lookupCep();
	});
	cep.addEventListener("keydown", (e) => {
		if (e.key === "Enter") {
			e.preventDefault();
			lookupCep();
		}
	});
	number.addEventListener("change", () => locateNumber(null));
	for (const el of [street, district, city]) el.addEventListener("change", changed);

	const locate = h(
		"button",
		{ type: "button", class: "secondary", id: id("locate") },
		t("Usar minha localização", "Use my location"),
	);
	locate.addEventListener("click", async () => {
		locate.disabled = true;
		say(t("Obtendo sua localização…", "Getting your location…"));
		try {
			const pos = await currentPosition();
			say("");
			setPoint(pos, { reverse: true });
		} catch (err) {
			say(err.message, true);
		} finally {
			locate.disabled = false;
		}
	});

	mapBox.hidden = state.lat === null;
	const element = h(
		"fieldset",
		{ class: "address-picker" },
		h("legend", {}, t("Endereço de entrega", "Delivery address")),
		h("div", { class: "row" }, field("CEP", cep), h("div", { class: "cep-actions" }, cepButton)),
		h("div", { class: "row" }, field(t("Rua", "Street"), street), field(t("Número", "Number"), number)),
		h("div", { class: "row" }, field(t("Bairro", "District"), district), field(t("Cidade", "City"), city)),
		stateInput,
		locate,
		status,
		mapBox,
		fallback,
		pinLine,
		h(
			"p",
			{ class: "hint muted" },
			t("Arraste o pino até a sua porta, se precisar.", "Drag the pin to your door if needed."),
		),
	);
	changed();
	if (state.lat !== null) queueMicrotask(showMap);
	return { element, value, setPoint };
}

/**
 * A map for following a delivery: the destination and the courier's position, updated in place.
 * Returns { element, update(position) } (position { lat, lng } or null).
 */
export function trackingMap(destination) {
	const el = h("div", {
		class: "map map-tracking",
		id: "tracking-map",
		// A region, not an img: Leaflet puts focusable controls (zoom, attribution links) inside the
		// map, and an img's children are presentational (axe nested-interactive).
		role: "region",
		"aria-label": t("Mapa da entrega", "Delivery map"),
	});
	let view = null;
	let courier = null;
	let pending = null;
	const ready = createMap(el, destination, 15).then((v) => {
		view = v;
		if (!v) {
			el.hidden = true;
			return;
		}
		// Markers that only show where things are: no tab stop, no click target.
		v.L.marker([destination.lat, destination.lng], {
			title: t("Entrega", "Delivery"),
			alt: t("Entrega", "Delivery"),
			keyboard: false,
			interactive: false,
		}).addTo(v.map);
		if (pending) update(pending);
	});
	function update(p) {
		if (!p || !Number.isFinite(p.lat)) return;
		if (!view) {
			pending = p;
			return;
		}
		if (!courier)
			courier = view.L.circleMarker([p.lat, p.lng], {
				radius: 9,
				color: "#f26b1d",
				fillOpacity: 0.9,
				interactive: false,
			}).addTo(view.map);
		else courier.setLatLng([p.lat, p.lng]);
		el.dataset.courier = `${p.lat.toFixed(5)},${p.lng.toFixed(5)}`;
		view.map.fitBounds(
			[
				[destination.lat, destination.lng],
				[p.lat, p.lng],
			],
			{ padding: [30, 30], maxZoom: 16 },
		);
	}
	return { element: el, update, ready };
}

/** Makes a container hold `el` (kept across repaints so the map is not rebuilt). */
export function keep(container, el) {
	if (el.parentNode !== container) replace(container, el);
}

const COURIER_COLOURS = { available: "#1f8a4c", busy: "#f26b1d", offline: "#7a8696" };
// São Paulo's centre: where the map opens before any courier has a position.
const DEFAULT_CENTER = { lat: -23.5505, lng: -46.6333 };

/**
 * The admin's map of couriers: one dot per courier with a known position, coloured by status,
 * labelled with its `label` (name · plate). Returns { element, update(couriers) }; the map is made
 * once and its dots replaced on each update.
 */
export function couriersMap() {
	const el = h("div", {
		class: "map map-couriers",
		id: "couriers-map",
		role: "region",
		"aria-label": t("Mapa dos entregadores", "Couriers map"),
	});
	let view = null;
	let layer = null;
	let pending = [];
	const located = (list) => list.filter((c) => c.position && Number.isFinite(c.position.lat));
	function update(list) {
		pending = list;
		if (!view) return;
		const points = located(list);
		if (layer) layer.remove();
		layer = view.L.layerGroup(
			points.map((c) =>
				view.L.circleMarker([c.position.lat, c.position.lng], {
					radius: 8,
					color: COURIER_COLOURS[c.status] || COURIER_COLOURS.offline,
					fillOpacity: 0.85,
					interactive: false,
				}).bindTooltip(c.label || c.id, { permanent: points.length <= 20, direction: "top" }),
			),
		).addTo(view.map);
		el.dataset.couriers = String(points.length);
		if (points.length)
			view.map.fitBounds(
				points.map((c) => [c.position.lat, c.position.lng]),
				{ padding: [30, 30], maxZoom: 15 },
			);
	}
	const ready = createMap(el, DEFAULT_CENTER, 11).then((v) => {
		view = v;
		if (!v) el.hidden = true;
		else update(pending);
	});
	return { element: el, update, ready };
}
