/**
 * Secrets come from the environment. The embedded default (no secret set) generates dev secrets
 * once, keeps them in DATA_DIR/dev-secrets.json so that tokens and encrypted documents survive a
 * restart, and says so in the log. With DATA_DIR=":memory:" they live for the process only.
 */
import crypto from "crypto";
import fs from "fs";
import path from "path";
import { config } from "./config";
import { privateDir } from "./private-files";

type SecretName = "JWT_SECRET" | "DOCUMENTS_KEY";
const processSecrets = new Map<SecretName, string>();

function generate(_name: SecretName): string {
	return crypto.randomBytes(32).toString("hex");
}

function fromDevFile(name: SecretName, log: (msg: string) => void): string {
	const file = path.resolve(config().dataDir, "dev-secrets.json");
	let stored: Partial<Record<SecretName, string>> = {};
	if (fs.existsSync(file)) stored = JSON.parse(fs.readFileSync(file, "utf8"));
	if (!stored[name]) {
		stored[name] = generate(name);
		privateDir(path.dirname(file));
		fs.writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
		fs.chmodSync(file, 0o600);
		log(`${name} is not set: generated a development secret in ${file}. Set ${name} in production.`);
	}
	return stored[name] as string;
}

/** The secret's value: the environment's, else a dev secret (persisted under DATA_DIR when on disk). */
export function secret(name: SecretName, log: (msg: string) => void = () => undefined): string {
	const fromEnv = process.env[name];
	if (fromEnv) return fromEnv;
	const cached = processSecrets.get(name);
	if (cached) return cached;
	const value = config().inMemoryStore ? generate(name) : fromDevFile(name, log);
	if (config().inMemoryStore) log(`${name} is not set: generated a development secret for this process only.`);
	processSecrets.set(name, value);
	return value;
}
