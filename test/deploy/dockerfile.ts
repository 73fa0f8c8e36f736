/**
 * The Docker build, without a Docker engine: the build context assembled the way `docker build`
 * sends it (every file under the project root, minus what .dockerignore excludes, evaluated with
 * @balena/dockerignore, the same matcher Docker's CLI implements), and the Dockerfile's stages
 * executed in plain folders: COPY from the context or from an earlier stage, WORKDIR, ENV, and the
 * RUN steps this project uses. `npm ci` is stood in for by a link to this checkout's node_modules
 * (same lockfile); `npm run build` runs for real. A RUN step the runner does not know fails the
 * build, so the Dockerfile cannot gain a step this test silently skips.
 */
import { execFileSync } from "child_process";
import fs from "fs";
import path from "path";

export type Instruction = { op: string; args: string };

export interface Stage {
	name: string;
	from: string;
	instructions: Instruction[];
}

/** Dockerfile instructions with comments dropped and `\` continuations joined, split by stage. */
export function parseDockerfile(text: string): { globals: Instruction[]; stages: Stage[] } {
	const logical = text
		.split("\n")
		.filter((l) => !/^\s*#/.test(l))
		.join("\n")
		.replace(/\\\n/g, " ")
		.split("\n")
		.filter((l) => l.trim());
	const globals: Instruction[] = [];
	const stages: Stage[] = [];
	for (const line of logical) {
		const m = /^\s*(\w+)\s+(.*)$/.exec(line);
		if (!m) throw new Error(`bad Dockerfile line: ${line}`);
		const ins = { op: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, " ") };
		if (ins.op === "FROM") {
			const f = /^(\S+)(?: AS (\S+))?$/i.exec(ins.args);
			if (!f) throw new Error(`bad FROM: ${ins.args}`);
			stages.push({ name: f[2] ?? String(stages.length), from: f[1], instructions: [] });
		} else if (stages.length === 0) globals.push(ins);
		else stages[stages.length - 1].instructions.push(ins);
	}
	return { globals, stages };
}

/** The matcher @balena/dockerignore exports (typed here: the integrator adds the package). */
interface DockerIgnore {
	add(patterns: string | string[]): DockerIgnore;
	ignores(pathname: string): boolean;
}
type DockerIgnoreFactory = (opts?: { ignorecase?: boolean }) => DockerIgnore;

export function dockerignoreMatcher(root: string): DockerIgnore {
	const factory: DockerIgnoreFactory = require("@balena/dockerignore");
	const file = path.join(root, ".dockerignore");
	const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
	return factory({ ignorecase: false }).add(text.split(/\r?\n/));
}

/**
 * Copies the build context into `dest`: every entry under `root` (symlinks not followed, as the
 * Docker CLI sends them as links) that .dockerignore does not exclude. Returns the relative paths.
 */
export function assembleContext(root: string, dest: string): string[] {
	const ig = dockerignoreMatcher(root);
	const sent: string[] = [];
	const walk = (rel: string) => {
		for (const name of fs.readdirSync(path.join(root, rel))) {
			const relPath = rel ? `${rel}/${name}` : name;
			if (relPath === ".git") continue; // a worktree's .git file points outside the context
			const full = path.join(root, relPath);
			const stat = fs.lstatSync(full);
			if (stat.isDirectory()) {
				walk(relPath);
				continue;
			}
			if (ig.ignores(relPath)) continue;
			const target = path.join(dest, relPath);
			fs.mkdirSync(path.dirname(target), { recursive: true });
			if (stat.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(full), target);
			else fs.copyFileSync(full, target);
			sent.push(relPath);
		}
	};
	walk("");
	return sent;
}

export interface BuiltStage {
	name: string;
	/** The stage's filesystem root ("/" inside the image). */
	root: string;
	workdir: string;
	env: Record<string, string>;
	user: string | null;
	cmd: string[] | null;
	expose: string[];
}

/** Maps an absolute path inside the image to the stage's folder. */
export function inImage(stage: { root: string }, p: string): string {
	return path.join(stage.root, p);
}

function copyInto(src: string, dest: string, destIsDir: boolean) {
	if (!fs.existsSync(src)) throw new Error(`COPY failed: ${src} not found`);
	if (fs.statSync(src).isDirectory()) {
		fs.mkdirSync(dest, { recursive: true });
		fs.cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
	} else {
		const target = destIsDir ? path.join(dest, path.basename(src)) : dest;
		fs.mkdirSync(path.dirname(target), { recursive: true });
		fs.copyFileSync(src, target);
	}
}

/**
 * Runs one stage in `root`. `context` is the assembled build context, `built` the earlier stages,
 * `nodeModules` what `npm ci` is stood in for by.
 */
export function runStage(
	stage: Stage,
	root: string,
	context: string,
	built: Map<string, BuiltStage>,
	nodeModules: string,
	log: (line: string) => void = () => undefined,
): BuiltStage {
	fs.mkdirSync(root, { recursive: true });
	const out: BuiltStage = { name: stage.name, root, workdir: "/", env: {}, user: null, cmd: null, expose: [] };
	const cwd = () => inImage(out, out.workdir);
	for (const { op, args } of stage.instructions) {
		switch (op) {
			case "ARG":
			case "LABEL":
			case "STOPSIGNAL":
			case "HEALTHCHECK":
				break;
			case "ENV":
				for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out.env[m[1]] = m[2].replace(/^"|"$/g, "");
				break;
			case "WORKDIR":
				out.workdir = path.posix.resolve(out.workdir, args);
				fs.mkdirSync(cwd(), { recursive: true });
				break;
			case "USER":
				out.user = args;
				break;
			case "EXPOSE":
				out.expose.push(...args.split(" "));
				break;
			case "CMD":
				out.cmd = JSON.parse(args);
				break;
			case "COPY": {
				const words = args.split(" ");
				const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
				const [dest, ...srcsReversed] = words.filter((w) => !w.startsWith("--")).reverse();
				const srcs = srcsReversed.reverse();
				const destPath = path.posix.resolve(out.workdir, dest);
				const destIsDir = dest.endsWith("/") || srcs.length > 1;
				for (const src of srcs) {
					let full: string;
					if (from) {
						const source = built.get(from);
						if (!source) throw new Error(`COPY --from=${from}: no such stage`);
						full = inImage(source, path.posix.resolve(source.workdir, src));
					} else {
						full = path.join(context, src);
						if (!fs.existsSync(full))
							throw new Error(
								`COPY ${src}: not in the build context (excluded by .dockerignore?) — "${op} ${args}" in stage ${stage.name}`,
							);
					}
					copyInto(full, inImage(out, destPath), destIsDir);
				}
				break;
			}
			case "RUN":
				for (const command of args.split("&&").map((c) => c.trim())) {
					log(`[${stage.name}] RUN ${command}`);
					if (/^npm ci\b/.test(command)) {
						if (!fs.existsSync(path.join(cwd(), "package-lock.json")))
							throw new Error(`npm ci without package-lock.json in ${out.workdir}`);
						fs.symlinkSync(nodeModules, path.join(cwd(), "node_modules"), "dir");
					} else if (/^npm cache clean\b/.test(command) || /^chown\b/.test(command)) {
						// nothing to stand in for: no cache here, and the test does not run as root
					} else if (/^mkdir -p /.test(command)) {
						for (const dir of command.split(" ").slice(2))
							fs.mkdirSync(inImage(out, path.posix.resolve(out.workdir, dir)), { recursive: true });
					} else if (/^npm run \S+$/.test(command)) {
						execFileSync("npm", command.split(" ").slice(1), {
							cwd: cwd(),
							stdio: ["ignore", "pipe", "pipe"],
							env: { ...process.env, ...out.env },
						});
					} else {
						throw new Error(`The build test does not know how to run "${command}" (stage ${stage.name})`);
					}
				}
				break;
			default:
				throw new Error(`The build test does not know the instruction ${op} (stage ${stage.name})`);
		}
	}
	built.set(stage.name, out);
	return out;
}
