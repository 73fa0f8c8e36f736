/**
 * The event contract cannot drift: docs/EVENTS.md lists exactly the types of the EventMap
 * (lib/contracts/events.ts), each on the topic lib/domain/events.ts routes it to.
 */
import fs from "fs";
import path from "path";
import { EVENT_NAMES, EventMap, EventName } from "../../lib/contracts/events";
import { topicOf } from "../../lib/domain/events";

// Compile-time: EVENT_NAMES names every key of the EventMap and nothing else.
const everyName: Record<EventName, true> = Object.fromEntries(EVENT_NAMES.map((n) => [n, true])) as Record<
	keyof EventMap,
	true
>;

function documentedEvents(): Map<string, string> {
	const doc = fs.readFileSync(path.resolve(__dirname, "../../docs/EVENTS.md"), "utf8");
	const rows = new Map<string, string>();
	for (const line of doc.split("\n")) {
		const cells = line.split("|").map((c) => c.trim());
		if (cells.length < 4 || !/^[a-z_]+\.[a-z_]/.test(cells[1])) continue;
		for (const type of cells[1].split("/").map((t) => t.trim())) rows.set(type, cells[2]);
	}
	return rows;
}

test("docs/EVENTS.md lists exactly the EventMap's event types", () => {
	const documented = [...documentedEvents().keys()].sort();
	expect(documented).toEqual([...EVENT_NAMES].sort());
	expect(Object.keys(everyName).sort()).toEqual([...EVENT_NAMES].sort());
});

test("each documented event travels on the topic it is routed to", () => {
	for (const [type, topic] of documentedEvents()) expect(`${type} → ${topic}`).toBe(`${type} → ${topicOf(type)}`);
});

test("EVENT_NAMES has no duplicates", () => {
	expect(new Set(EVENT_NAMES).size).toBe(EVENT_NAMES.length);
});

/** Property names of each EventMap entry's payload type, read from the contract's source. */
function contractFields(): Map<string, string[]> {
	// The compiler is a dev tool, loaded only here.
	const ts: typeof import("typescript") = require("typescript");
	const file = path.resolve(__dirname, "../../lib/contracts/events.ts");
	const program = ts.createProgram([file], { strict: true });
	const checker = program.getTypeChecker();
	const source = program.getSourceFile(file)!;
	const fields = new Map<string, string[]>();
	ts.forEachChild(source, (node) => {
		if (!ts.isInterfaceDeclaration(node) || node.name.text !== "EventMap") return;
		for (const member of node.members) {
			if (!ts.isPropertySignature(member) || !member.type) continue;
			const name = (member.name as import("typescript").StringLiteral).text;
			const payload = checker.getTypeAtLocation(member.type);
			fields.set(
				name,
				payload.getProperties().map((p) => p.getName()),
			);
		}
	});
	return fields;
}

/** Field names a doc row lists: "a, b[], c {lat,lng}, d (note)" → a, b, c, d. */
function documentedFields(cell: string): string[] {
	const flat = cell.replace(/\([^)]*\)/g, "").replace(/\{[^}]*\}/g, "");
	return flat
		.split(",")
		.map((f) => f.replace(/\[\]/g, "").trim())
		.filter(Boolean);
}

test("each documented event lists exactly the fields of its payload type", () => {
	const doc = fs.readFileSync(path.resolve(__dirname, "../../docs/EVENTS.md"), "utf8");
	const fields = contractFields();
	for (const line of doc.split("\n")) {
		const cells = line.split("|").map((c) => c.trim());
		if (cells.length < 4 || !/^[a-z_]+\.[a-z_]/.test(cells[1])) continue;
		for (const type of cells[1].split("/").map((t) => t.trim()))
			expect(`${type}: ${documentedFields(cells[3]).sort().join(", ")}`).toBe(
				`${type}: ${[...(fields.get(type) || [])].sort().join(", ")}`,
			);
	}
});
