#!/usr/bin/env node
// Compiles TypeScript to dist/ when dist/ is missing or older than any source file, so that
// `npm start` works on a fresh clone and stays fast on the next start.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const marker = path.join(root, "dist", "moleculer.config.js");
const sources = ["moleculer.config.ts", "services", "mixins", "middlewares", "lib"];

function newestMtime(p) {
	const stat = fs.statSync(p);
	if (!stat.isDirectory()) return p.endsWith(".ts") ? stat.mtimeMs : 0;
	return Math.max(0, ...fs.readdirSync(p).map((name) => newestMtime(path.join(p, name))));
}

function needsBuild() {
	if (!fs.existsSync(marker)) return true;
	const built = fs.statSync(marker).mtimeMs;
	return sources.some((s) => fs.existsSync(path.join(root, s)) && newestMtime(path.join(root, s)) > built);
}

if (needsBuild()) {
	process.stdout.write("Building TypeScript into dist/ ...\n");
	execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
		cwd: root,
		stdio: "inherit",
	});
	fs.utimesSync(marker, new Date(), new Date());
}
