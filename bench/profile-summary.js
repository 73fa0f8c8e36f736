#!/usr/bin/env node
/**
 * Where the CPU goes, from a V8 CPU profile (`node --cpu-prof`): self time grouped by where the code
 * lives (a package in node_modules, a project folder, Node's internals, GC, idle), then the top
 * functions by self time.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/orders.js --orders 2000
 *   node bench/profile-summary.js /tmp/prof/*.cpuprofile [--top 25]
 */
"use strict";
const fs = require("fs");
const path = require("path");
const { option } = require("./common");

const TOP = Number(option("top", 25));
const ROOT = path.resolve(__dirname, "..");

/** A readable owner for a script URL: the npm package, the project folder, or Node itself. */
function ownerOf(url, functionName) {
	if (!url) {
		if (functionName === "(garbage collector)") return "(gc)";
		if (functionName === "(idle)" || functionName === "(program)") return functionName;
		return "(native)";
	}
	const file = url.replace(/^file:\/\//, "");
	const nm = file.lastIndexOf("node_modules/");
	if (nm >= 0) {
		const parts = file.slice(nm + "node_modules/".length).split("/");
		return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
	}
	if (file.startsWith("node:")) return "node (internals)";
	if (file.startsWith(ROOT)) {
		const rel = path.relative(ROOT, file).split(path.sep);
		return `project: ${rel[0] === "dist" ? rel.slice(1, 3).join("/") : rel.slice(0, 2).join("/")}`;
	}
	return "other";
}

function summarize(profile) {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const selfUs = new Map();
	// samples[i] was taken timeDeltas[i] µs after the previous one: attribute that time to the sample's node
	profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) || 0) + (profile.timeDeltas[i] || 0)));
	const owners = new Map();
	const functions = new Map();
	let total = 0;
	for (const [id, us] of selfUs) {
		const { callFrame } = byId.get(id);
		const owner = ownerOf(callFrame.url, callFrame.functionName);
		owners.set(owner, (owners.get(owner) || 0) + us);
		const name = `${callFrame.functionName || "(anonymous)"}  ${owner}${callFrame.url ? `:${callFrame.lineNumber + 1}` : ""}`;
		functions.set(name, (functions.get(name) || 0) + us);
		total += us;
	}
	return { owners, functions, total };
}

function print(title, map, total, top) {
	console.log(`\n${title}`);
	for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
		console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1e6).toFixed(2).padStart(7)} s  ${name}`);
}

const files = process.argv.slice(2).filter((a) => a.endsWith(".cpuprofile"));
if (files.length === 0) {
	console.error("usage: node bench/profile-summary.js <file.cpuprofile>... [--top 25]");
	process.exit(2);
}
for (const file of files) {
	const { owners, functions, total } = summarize(JSON.parse(fs.readFileSync(file, "utf8")));
	console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled`);
	print("self time by owner", owners, total, TOP);
	print("top functions by self time", functions, total, TOP);
}
