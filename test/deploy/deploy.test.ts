/**
 * Deployment files: the Kubernetes overlays (k8s/overlays/dev and prod, rendered with
 * `kubectl kustomize`) against the Kubernetes schema and against each other,
 * docker-compose.yml, and the Dockerfile (stages, user, health check, and the way
 * its CMD + ENV make moleculer-runner load the services named in SERVICES).
 * Needs no Docker engine; `docker-compose config -q` runs when docker-compose is
 * on PATH (required when REQUIRE_INFRA=1).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { parse, parseAllDocuments } from "yaml";

import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";

const ROOT = path.resolve(__dirname, "../..");
const NAMESPACE = "gasrapido";

/** The contract: one Deployment / compose service per group, 15 services in all. */
const GROUPS: Record<string, string[]> = {
	gateway: ["api"],
	onboarding: ["users", "invitations", "verification", "proofs"],
	orders: ["orders", "payments", "vouchers"],
	products: ["products"],
	couriers: ["couriers"],
	watch: ["notifications", "analytics", "alerts", "reviews", "receipts"],
};
const ALL_SERVICES = Object.values(GROUPS).flat().sort();
const HEALTH_PORT = 3001;
const METRICS_PORT = 3030;

// Parsed Kubernetes manifests: untyped YAML, read field by field (tests may use `any`).
type Obj = any;
const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
	"v1/Namespace": Namespace,
	"v1/ConfigMap": ConfigMap,
	"v1/Secret": Secret,
	"v1/Service": Service,
	"apps/v1/Deployment": Deployment,
	"apps/v1/StatefulSet": StatefulSet,
	"autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
	"networking.k8s.io/v1/Ingress": Ingress,
	"networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
	"v1/PersistentVolumeClaim": PersistentVolumeClaim,
	"policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

const servicesList = (v: unknown) =>
	String(v ?? "")
		.split(",")
		.map((s) => s.trim())
		.filter(Boolean);
const isSubset = (sel: Record<string, string>, labels: Record<string, string> = {}) =>
	Object.entries(sel).every(([k, v]) => labels[k] === v);

// ---------------------------------------------------------------------------
function onPath(bin: string): string | undefined {
	for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
		const full = path.join(dir, bin);
		try {
			fs.accessSync(full, fs.constants.X_OK);
			return full;
		} catch {
			/* next */
		}
	}
	return undefined;
}

const KUBECTL = onPath("kubectl");
if (!KUBECTL && process.env.REQUIRE_INFRA !== "1")
	console.warn("\n!!! kubectl is not on PATH: SKIPPING the Kubernetes manifests (kubectl kustomize renders them).\n");

/** `kubectl kustomize k8s/overlays/<env>`: the objects that would be applied. */
function render(overlay: string): Obj[] {
	if (!KUBECTL) throw new Error("kubectl is not on PATH and REQUIRE_INFRA=1");
	const r = spawnSync(KUBECTL, ["kustomize", path.join(ROOT, "k8s", "overlays", overlay)], { encoding: "utf8" });
	if (r.status !== 0) throw new Error(`kubectl kustomize k8s/overlays/${overlay} failed:\n${r.stderr}`);
	return parseAllDocuments(r.stdout)
		.map((d) => d.toJS())
		.filter((o) => o != null);
}

const APP_GROUPS = Object.keys(GROUPS);

(KUBECTL || process.env.REQUIRE_INFRA === "1" ? describe.each(["dev", "prod"]) : describe.skip.each(["dev", "prod"]))(
	"k8s/overlays/%s rendered by kubectl kustomize",
	(overlay) => {
		const docs: { file: string; obj: Obj }[] = [];
		beforeAll(() => {
			for (const obj of render(overlay)) docs.push({ file: overlay, obj });
		});
		const objs = () => docs.map((d) => d.obj);
		const ofKind = (kind: string) => objs().filter((o) => o.kind === kind);
		const deployments = () => ofKind("Deployment");
		const statefulSets = () => ofKind("StatefulSet");
		const services = () => ofKind("Service");
		const workloads = () => [...deployments(), ...statefulSets()];
		const configMap = () => ofKind("ConfigMap").find((c) => c.metadata.name === "gasrapido-config");
		const secret = () => ofKind("Secret").find((s) => s.metadata.name === "gasrapido-secrets");
		const appContainer = (d: Obj) => d.spec.template.spec.containers[0];
		const envOf = (d: Obj, name: string) => appContainer(d).env?.find((e: Obj) => e.name === name)?.value;

		it("has the expected objects", () => {
			expect(ofKind("Namespace").map((n) => n.metadata.name)).toEqual([NAMESPACE]);
			expect(configMap()).toBeDefined();
			expect(secret()).toBeDefined();
			expect(
				deployments()
					.map((d) => d.metadata.name)
					.sort(),
			).toEqual([...APP_GROUPS].sort());
			expect(
				statefulSets()
					.map((s) => s.metadata.name)
					.sort(),
			).toEqual(["nats", "postgres", "redis"]);
			expect(
				ofKind("PodDisruptionBudget")
					.map((p) => p.metadata.name)
					.sort(),
			).toEqual([...APP_GROUPS].sort());
			expect(ofKind("PodMonitor").length).toBe(overlay === "prod" ? 1 : 0);
		});

		it("every object is valid against the Kubernetes schema (kubernetes-models)", () => {
			for (const { obj } of docs) {
				if (obj.apiVersion === "monitoring.coreos.com/v1") continue; // a CRD: checked below
				const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
				if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
				try {
					new Model(obj).validate();
				} catch (e) {
					throw new Error(`${obj.kind}/${obj.metadata?.name}: ${(e as Error).message}`);
				}
			}
		});

		it("every object is in the namespace and carries the app labels", () => {
			for (const obj of objs()) {
				const where = `${obj.kind}/${obj.metadata.name}`;
				if (obj.kind !== "Namespace") expect([where, obj.metadata.namespace]).toEqual([where, NAMESPACE]);
				expect([where, obj.metadata.labels?.["app.kubernetes.io/name"]]).toEqual([where, "gasrapido"]);
			}
			for (const w of workloads()) {
				const labels = w.spec.template.metadata.labels;
				expect(labels["app.kubernetes.io/name"]).toBe("gasrapido");
				expect(labels["app.kubernetes.io/component"]).toBe(w.metadata.name);
			}
		});

		it("SERVICES across the Deployments cover the 11 services, each exactly once, by group", () => {
			const all = deployments().flatMap((d) => servicesList(envOf(d, "SERVICES")));
			expect([...all].sort()).toEqual(ALL_SERVICES);
			for (const d of deployments())
				expect([d.metadata.name, servicesList(envOf(d, "SERVICES"))]).toEqual([
					d.metadata.name,
					GROUPS[d.metadata.name],
				]);
		});

		it("the gateway is ready only when every other service is in the registry (REQUIRED_SERVICES)", () => {
			const gateway = deployments().find((d) => d.metadata.name === "gateway");
			expect(servicesList(envOf(gateway, "REQUIRED_SERVICES")).sort()).toEqual(ALL_SERVICES.filter((s) => s !== "api"));
		});

		it("Deployments run one image with config and secrets, and use the pod name as NODE_ID", () => {
			expect(new Set(deployments().map((d) => appContainer(d).image)).size).toBe(1);
			for (const d of deployments()) {
				const c = appContainer(d);
				const refs = (c.envFrom ?? []).map((e: Obj) => e.configMapRef?.name ?? e.secretRef?.name);
				expect(refs).toEqual(expect.arrayContaining(["gasrapido-config", "gasrapido-secrets"]));
				expect(c.env.find((e: Obj) => e.name === "NODE_ID")?.valueFrom?.fieldRef?.fieldPath).toBe("metadata.name");
			}
			expect(Object.keys(secret().stringData ?? secret().data ?? {})).toEqual(
				expect.arrayContaining([
					"JWT_SECRET",
					"DOCUMENTS_KEY",
					"ADMIN_PASSWORD",
					"NATS_USER",
					"NATS_PASSWORD",
					"POSTGRES_USER",
					"POSTGRES_PASSWORD",
				]),
			);
		});

		it("every node shares the PostgreSQL StatefulSet as its store, with the credentials from the Secret", () => {
			const pg = statefulSets().find((s) => s.metadata.name === "postgres").spec.template.spec.containers[0];
			for (const name of ["POSTGRES_USER", "POSTGRES_PASSWORD"])
				expect(pg.env.find((e: Obj) => e.name === name)?.valueFrom?.secretKeyRef).toEqual({
					name: "gasrapido-secrets",
					key: name,
				});
			const db = pg.env.find((e: Obj) => e.name === "POSTGRES_DB")?.value;
			expect(configMap().data.DATABASE_URL).toBeUndefined();
			expect(configMap().data.MONGO_URI).toBeUndefined();
			const pgService = services().find((s) => s.metadata.name === "postgres");
			for (const d of deployments()) {
				const url = envOf(d, "DATABASE_URL");
				expect([d.metadata.name, url]).toEqual([
					d.metadata.name,
					`postgres://$(POSTGRES_USER):$(POSTGRES_PASSWORD)@postgres:5432/${db}`,
				]);
				expect(pgService.spec.ports.map((p: Obj) => p.port)).toContain(5432);
			}
		});

		it("NATS requires a user and password from the Secret, and every node connects with them", () => {
			const nats = statefulSets().find((s) => s.metadata.name === "nats").spec.template.spec.containers[0];
			const args: string[] = [...(nats.command ?? []), ...(nats.args ?? [])];
			expect(args).toContain("-js");
			expect(args.slice(args.indexOf("--user"), args.indexOf("--user") + 2)).toEqual(["--user", "$(NATS_USER)"]);
			expect(args.slice(args.indexOf("--pass"), args.indexOf("--pass") + 2)).toEqual(["--pass", "$(NATS_PASSWORD)"]);
			for (const name of ["NATS_USER", "NATS_PASSWORD"])
				expect(nats.env.find((e: Obj) => e.name === name)?.valueFrom?.secretKeyRef).toEqual({
					name: "gasrapido-secrets",
					key: name,
				});
			expect(configMap().data.TRANSPORTER).toBeUndefined();
			for (const d of deployments()) {
				const url = envOf(d, "TRANSPORTER");
				expect([d.metadata.name, url]).toEqual([d.metadata.name, "nats://$(NATS_USER):$(NATS_PASSWORD)@nats:4222"]);
				// $(VAR) is expanded only from variables defined before: envFrom the Secret
				expect(appContainer(d).envFrom.some((e: Obj) => e.secretRef?.name === "gasrapido-secrets")).toBe(true);
			}
		});

		it("probes: startupProbe, then /live and /ready on the health port 3001", () => {
			for (const d of deployments()) {
				const c = appContainer(d);
				expect(c.ports.find((p: Obj) => p.name === "health")?.containerPort).toBe(HEALTH_PORT);
				for (const [probe, p] of [
					["startupProbe", "/live"],
					["livenessProbe", "/live"],
					["readinessProbe", "/ready"],
				]) {
					const get = c[probe]?.httpGet;
					expect([d.metadata.name, probe, get?.path]).toEqual([d.metadata.name, probe, p]);
					expect(["health", HEALTH_PORT]).toContain(get.port);
				}
				expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBeGreaterThanOrEqual(30);
			}
		});

		it("graceful shutdown fits in terminationGracePeriodSeconds", () => {
			const shutdownSeconds = Number(configMap()?.data?.SHUTDOWN_TIMEOUT_MS ?? 10000) / 1000;
			for (const d of deployments()) {
				const spec = d.spec.template.spec;
				const sleep = spec.containers[0].lifecycle?.preStop?.exec?.command;
				const preStop = sleep?.[0] === "sleep" ? Number(sleep[1]) : 0;
				expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(shutdownSeconds + preStop);
			}
		});

		it("pods are hardened: non-root, seccomp RuntimeDefault, read-only root with /tmp and DATA_DIR writable", () => {
			for (const w of workloads()) {
				const spec = w.spec.template.spec;
				expect([w.metadata.name, spec.securityContext?.seccompProfile?.type]).toEqual([
					w.metadata.name,
					"RuntimeDefault",
				]);
				expect(spec.automountServiceAccountToken).toBe(false);
			}
			for (const d of deployments()) {
				const spec = d.spec.template.spec;
				const c = appContainer(d);
				const sc = { ...spec.securityContext, ...c.securityContext };
				expect([
					d.metadata.name,
					sc.runAsNonRoot,
					sc.runAsUser > 0,
					sc.readOnlyRootFilesystem,
					sc.allowPrivilegeEscalation,
				]).toEqual([d.metadata.name, true, true, true, false]);
				expect(c.securityContext.capabilities.drop).toEqual(["ALL"]);
				const mounts = Object.fromEntries(c.volumeMounts.map((m: Obj) => [m.mountPath, m.name]));
				const volumes = Object.fromEntries(spec.volumes.map((v: Obj) => [v.name, v]));
				expect(volumes[mounts["/tmp"]]?.emptyDir).toBeDefined();
				expect(volumes[mounts["/app/data"]]).toBeDefined(); // DATA_DIR of the image
				for (const k of ["requests", "limits"])
					expect(Object.keys(c.resources?.[k] ?? {}).sort()).toEqual(["cpu", "memory"]);
			}
		});

		it("verification documents are on a ReadWriteMany volume at DOCUMENTS_DIR", () => {
			const onboarding = deployments().find((d) => d.metadata.name === "onboarding");
			const dir = envOf(onboarding, "DOCUMENTS_DIR");
			const mount = appContainer(onboarding).volumeMounts.find((m: Obj) => m.mountPath === dir);
			const volume = onboarding.spec.template.spec.volumes.find((v: Obj) => v.name === mount?.name);
			const pvc = ofKind("PersistentVolumeClaim").find(
				(p) => p.metadata.name === volume?.persistentVolumeClaim?.claimName,
			);
			expect(pvc?.spec.accessModes).toEqual(["ReadWriteMany"]);
		});

		it("a PodDisruptionBudget per group selects exactly that group's pods", () => {
			for (const pdb of ofKind("PodDisruptionBudget")) {
				const selected = deployments().filter((d) =>
					isSubset(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels),
				);
				expect([pdb.metadata.name, selected.map((d) => d.metadata.name)]).toEqual([
					pdb.metadata.name,
					[pdb.metadata.name],
				]);
				expect(pdb.spec.maxUnavailable ?? 0).toBeGreaterThan(0);
			}
		});

		it("network policies: default deny; NATS only from app pods; the gateway only from the ingress namespace", () => {
			const policies = ofKind("NetworkPolicy");
			const deny = policies.find(
				(p) => Object.keys(p.spec.podSelector).length === 0 && !p.spec.ingress && !p.spec.egress,
			);
			expect(deny?.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
			const matches = (selector: Obj, labels: Obj) =>
				isSubset(selector.matchLabels ?? {}, labels) &&
				(selector.matchExpressions ?? []).every((e: Obj) => e.operator === "In" && e.values.includes(labels[e.key]));
			const podLabels = (name: string) =>
				workloads().find((w) => w.metadata.name === name).spec.template.metadata.labels;
			const ingressTo = (name: string) =>
				policies.filter(
					(p) =>
						p.spec.policyTypes.includes("Ingress") && p.spec.ingress && matches(p.spec.podSelector, podLabels(name)),
				);
			const natsRules = ingressTo("nats").flatMap((p) => p.spec.ingress);
			expect(natsRules.length).toBeGreaterThan(0);
			for (const rule of natsRules)
				for (const from of rule.from) {
					expect(from.namespaceSelector).toBeUndefined();
					const allowed = workloads()
						.filter((w) => matches(from.podSelector, w.spec.template.metadata.labels))
						.map((w) => w.metadata.name);
					expect(allowed.sort()).toEqual([...APP_GROUPS].sort());
				}
			const gatewayFrom = ingressTo("gateway")
				.filter((p) => p.metadata.name !== "metrics-from-monitoring")
				.flatMap((p) => p.spec.ingress.flatMap((r: Obj) => r.from));
			expect(gatewayFrom).toEqual([
				{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
			]);
		});

		it("Deployments roll, and Prometheus scrapes them (annotations; PodMonitor in prod)", () => {
			for (const d of deployments()) {
				expect(d.spec.strategy.type).toBe("RollingUpdate");
				const a = d.spec.template.metadata.annotations ?? {};
				expect([a["prometheus.io/scrape"], a["prometheus.io/port"], a["prometheus.io/path"]]).toEqual([
					"true",
					String(METRICS_PORT),
					"/metrics",
				]);
				expect(appContainer(d).ports.find((p: Obj) => p.name === "metrics")?.containerPort).toBe(METRICS_PORT);
			}
			for (const pm of ofKind("PodMonitor")) {
				expect(pm.spec.podMetricsEndpoints).toEqual([expect.objectContaining({ port: "metrics", path: "/metrics" })]);
				const scraped = deployments().filter((d) => {
					const labels = d.spec.template.metadata.labels;
					return (
						isSubset(pm.spec.selector.matchLabels ?? {}, labels) &&
						(pm.spec.selector.matchExpressions ?? []).every((e: Obj) => e.values.includes(labels[e.key]))
					);
				});
				expect(scraped.map((d) => d.metadata.name).sort()).toEqual([...APP_GROUPS].sort());
			}
		});

		it("selectors match pod labels and each workload has exactly one Service", () => {
			for (const w of workloads())
				expect(isSubset(w.spec.selector.matchLabels, w.spec.template.metadata.labels)).toBe(true);
			for (const s of services()) {
				const selected = workloads().filter((w) => isSubset(s.spec.selector ?? {}, w.spec.template.metadata.labels));
				expect([s.metadata.name, selected.map((w) => w.metadata.name)]).toEqual([s.metadata.name, [s.metadata.name]]);
				const portNames = selected[0].spec.template.spec.containers.flatMap((c: Obj) =>
					c.ports.map((p: Obj) => p.name),
				);
				for (const p of s.spec.ports) if (typeof p.targetPort === "string") expect(portNames).toContain(p.targetPort);
			}
			for (const ss of statefulSets())
				expect(services().find((s) => s.metadata.name === ss.spec.serviceName)?.spec.clusterIP).toBe("None");
		});

		it("the ConfigMap's URLs point at Services that exist", () => {
			expect(configMap().data.HEALTH_PORT).toBe(String(HEALTH_PORT));
			for (const key of ["CACHER", "RATE_LIMIT_REDIS"]) {
				const url = new URL(configMap().data[key]);
				const svc = services().find((s) => s.metadata.name === url.hostname);
				expect([key, svc?.spec.ports.map((p: Obj) => p.port)]).toEqual([
					key,
					expect.arrayContaining([Number(url.port)]),
				]);
			}
		});

		it("HPAs (autoscaling/v2) scale the gateway and orders; the Ingress routes to the gateway", () => {
			const hpas = ofKind("HorizontalPodAutoscaler");
			expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(["gateway", "orders"]);
			for (const h of hpas) expect(h.spec.minReplicas).toBeLessThanOrEqual(h.spec.maxReplicas);
			const [ingress] = ofKind("Ingress");
			const backend = ingress.spec.rules[0].http.paths[0].backend.service;
			expect(backend.name).toBe("gateway");
			expect(
				services()
					.find((s) => s.metadata.name === "gateway")
					.spec.ports.map((p: Obj) => p.name),
			).toContain(backend.port.name);
		});

		it(`${overlay}: its own image and sizes`, () => {
			const image = appContainer(deployments()[0]).image;
			if (overlay === "prod") {
				expect(image).toMatch(/^[\w.-]+\/[\w./-]+:\d+\.\d+\.\d+$/);
				expect(deployments().every((d) => d.spec.replicas >= 2)).toBe(true);
			} else {
				expect(image).toBe("gasrapido:dev");
				expect(deployments().every((d) => d.spec.replicas === 1)).toBe(true);
			}
		});
	},
);

describe("docker-compose.yml", () => {
	const file = path.join(ROOT, "docker-compose.yml");
	const compose = parse(fs.readFileSync(file, "utf8"), { merge: true });
	const groups = Object.keys(GROUPS);

	it("runs every service group of the one image, covering the 11 services once", () => {
		const all = groups.flatMap((g) => servicesList(compose.services[g]?.environment?.SERVICES));
		expect(all.sort()).toEqual(ALL_SERVICES);
		for (const g of groups) {
			const s = compose.services[g];
			expect([g, servicesList(s.environment.SERVICES)]).toEqual([g, GROUPS[g]]);
			expect([g, s.build]).toEqual([g, "."]);
			expect(s.image).toBe(compose.services.gateway.image);
			expect(parseInt(s.stop_grace_period, 10)).toBeGreaterThan(Number(s.environment.SHUTDOWN_TIMEOUT_MS) / 1000);
			for (const key of ["TRANSPORTER", "CACHER", "DATABASE_URL"]) {
				const host = new URL(s.environment[key]).hostname;
				expect(Object.keys(compose.services)).toContain(host);
				expect(s.depends_on).toContain(host);
			}
		}
		expect(compose.services.gateway.ports).toContain("3000:3000");
		expect(compose.services.gateway.environment.HEALTH_PORT).toBe(String(HEALTH_PORT));
	});

	it("NATS runs with JetStream", () => {
		expect(compose.services.nats.command).toContain("-js");
	});

	const bin = onPath("docker-compose");
	const required = process.env.REQUIRE_INFRA === "1";
	if (!bin && !required) {
		console.warn(
			"\n!!! docker-compose is not on PATH: SKIPPING `docker-compose config -q`.\n" +
				"!!! Install it (apt-get install -y docker-compose) or set REQUIRE_INFRA=1 to make this a failure.\n",
		);
	}
	(bin || required ? it : it.skip)("docker-compose config -q accepts it", () => {
		if (!bin) throw new Error("docker-compose is not on PATH and REQUIRE_INFRA=1");
		const r = spawnSync(bin, ["-f", file, "config", "-q"], { cwd: ROOT, encoding: "utf8" });
		expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 0, stderr: "" });
	});
});

// ---------------------------------------------------------------------------
type Instruction = { op: string; args: string };
/** Dockerfile instructions with comments dropped and `\` continuations joined, split by stage. */
function dockerfileStages(text: string): Instruction[][] {
	const logical = text
		.split("\n")
		.filter((l) => !/^\s*#/.test(l))
		.join("\n")
		.replace(/\\\n/g, " ")
		.split("\n")
		.filter((l) => l.trim());
	const stages: Instruction[][] = [[]];
	for (const line of logical) {
		const m = /^\s*(\w+)\s+(.*)$/.exec(line);
		if (!m) throw new Error(`bad Dockerfile line: ${line}`);
		const ins = { op: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, " ") };
		if (ins.op === "FROM") stages.push([]);
		stages[stages.length - 1].push(ins);
	}
	return stages; // stages[0] holds the global ARGs before the first FROM
}
function envOfStage(stage: Instruction[]): Record<string, string> {
	const env: Record<string, string> = {};
	for (const { args } of stage.filter((i) => i.op === "ENV")) {
		for (const m of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, "");
	}
	return env;
}

describe("Dockerfile", () => {
	const [globals, ...stages] = dockerfileStages(fs.readFileSync(path.join(ROOT, "Dockerfile"), "utf8"));
	const final = stages[stages.length - 1];
	const find = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op);
	const cmdOf = (args: string): string[] => JSON.parse(args);
	const finalEnv = envOfStage(final);

	it("builds in stages on Node 20 slim", () => {
		const froms = stages.map((s) => s[0].args);
		expect(froms.length).toBeGreaterThanOrEqual(2);
		const argDefaults = Object.fromEntries(find(globals, "ARG").map((a) => a.args.split("=") as [string, string]));
		for (const f of froms) {
			const m = /^(\S+) AS (\w+)$/i.exec(f);
			expect([f, m]).toEqual([f, expect.anything()]);
			const image = m![1].replace(/^\$\{?(\w+)\}?$/, (_, v) => argDefaults[v]);
			expect(image).toBe("node:20-bookworm-slim");
		}
		const build = stages[0].map((i) => i.args).join("\n");
		expect(build).toMatch(/npm ci/);
		expect(build).toMatch(/npm run build/);
	});

	it("the final stage installs production dependencies only and copies the build output", () => {
		const runs = find(final, "RUN").map((i) => i.args);
		expect(runs.some((r) => /npm ci\b.*(--omit=dev|--only=prod|--production)/.test(r))).toBe(true);
		expect(runs.some((r) => /npm (ci|install)\b(?!.*(--omit=dev|--only=prod|--production))/.test(r))).toBe(false);
		const buildName = /AS (\w+)$/i.exec(stages[0][0].args)![1];
		const copies = find(final, "COPY").map((i) => i.args);
		expect(copies).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`--from=${buildName} \\S*dist`))]));
		expect(copies).toEqual(expect.arrayContaining([expect.stringMatching(/^public /)]));
	});

	it("runs as a non-root user and exposes the HTTP, health and metrics ports", () => {
		expect(finalEnv.HEALTH_PORT).toBe(String(HEALTH_PORT)); // the app's default is 0 (off)
		const users = find(final, "USER");
		expect(users.length).toBeGreaterThan(0);
		expect(["root", "0"]).not.toContain(users[users.length - 1].args.split(":")[0]);
		expect(
			find(final, "EXPOSE")
				.flatMap((e) => e.args.split(" "))
				.sort(),
		).toEqual(["3000", "3001", "3030"]);
	});

	it("starts the node with scripts/start.js (moleculer-runner with the compiled config)", () => {
		const [cmd] = find(final, "CMD");
		expect(cmdOf(cmd.args)).toEqual(["node", "scripts/start.js"]);
		expect(find(final, "COPY").some((c) => /^scripts\s/.test(c.args))).toBe(true);
	});

	describe("HEALTHCHECK", () => {
		let server: http.Server;
		let status = 200;
		beforeAll(async () => {
			server = http.createServer((req, res) => {
				res.statusCode = req.url === "/live" ? status : 404;
				res.end();
			});
			await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
		});
		afterAll(() => server.listening && new Promise((r) => server.close(r)));

		const healthcheck = () => {
			const [hc] = find(final, "HEALTHCHECK");
			const m = /^(?:--\S+ )*CMD (\[.*\])$/.exec(hc?.args ?? "");
			if (!m) throw new Error(`HEALTHCHECK must use the exec form CMD [...]: ${hc?.args}`);
			const [exe, ...args] = cmdOf(m[1]);
			expect(exe).toBe("node");
			// async: the server answering it lives in this process
			return (port: number) =>
				new Promise<number | null>((resolve) => {
					const child = spawn(process.execPath, args, { env: { ...process.env, HEALTH_PORT: String(port) } });
					const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
					child.on("exit", (code) => (clearTimeout(timer), resolve(code)));
				});
		};

		it("passes when GET /live on HEALTH_PORT answers 200 and fails otherwise", async () => {
			const run = healthcheck();
			const port = (server.address() as AddressInfo).port;
			status = 200;
			expect(await run(port)).toBe(0);
			status = 503;
			expect(await run(port)).toBe(1);
			await new Promise((r) => server.close(r));
			expect(await run(port)).toBe(1); // nothing listening
		});
	});

	it("with the image's CMD and ENV, moleculer-runner loads exactly the services in SERVICES", async () => {
		// A stand-in for /app: dist/services/<name>.service.js for the 11 names and a config that
		// prints what the broker loaded, run the way the image runs it.
		const app = fs.mkdtempSync(path.join(os.tmpdir(), "gasrapido-image-"));
		try {
			fs.mkdirSync(path.join(app, "dist/services"), { recursive: true });
			// start.js checks the settings with the compiled checker before starting the runner
			fs.mkdirSync(path.join(app, "dist/lib/infra"), { recursive: true });
			for (const f of ["config-check.js", "config.js"])
				fs.copyFileSync(path.join(ROOT, "dist/lib/infra", f), path.join(app, "dist/lib/infra", f));
			fs.cpSync(path.join(ROOT, "scripts"), path.join(app, "scripts"), { recursive: true });
			fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(app, "node_modules"), "dir");
			for (const s of ALL_SERVICES) {
				fs.writeFileSync(
					path.join(app, `dist/services/${s}.service.js`),
					`module.exports = { name: ${JSON.stringify(s)} };`,
				);
			}
			fs.writeFileSync(
				path.join(app, "dist/moleculer.config.js"),
				`module.exports = { logger: false, transporter: null, metrics: false,
           started(broker) { console.log("LOADED " + JSON.stringify(broker.services.map(s => s.name).filter(n => n[0] !== "$").sort())); setImmediate(() => process.exit(0)); } };`,
			);
			const [exe, ...args] = cmdOf(find(final, "CMD")[0].args);
			expect(exe).toBe("node");
			// NODE_ENV=production (the image's) requires the secrets a deployment sets
			const baseEnv = {
				PATH: process.env.PATH ?? "",
				...finalEnv,
				JWT_SECRET: "stand-in-jwt-secret",
				DOCUMENTS_KEY: "ab".repeat(32),
			};
			const run = (services?: string) =>
				new Promise<string[]>((resolve, reject) => {
					const env: NodeJS.ProcessEnv = services === undefined ? baseEnv : { ...baseEnv, SERVICES: services };
					const child = spawn(process.execPath, args, { cwd: app, env });
					let out = "";
					child.stdout.on("data", (b) => (out += b));
					child.stderr.on("data", (b) => (out += b));
					const timer = setTimeout(() => child.kill("SIGKILL"), 20000);
					child.on("exit", () => {
						clearTimeout(timer);
						const m = /LOADED (\[.*\])/.exec(out);
						if (m) resolve(JSON.parse(m[1]));
						else reject(new Error(`runner printed no LOADED line for SERVICES=${services}:\n${out}`));
					});
				});
			const groups = Object.values(GROUPS);
			const loaded = await Promise.all([...groups.map((g) => run(g.join(","))), run(undefined)]);
			expect(loaded).toEqual([...groups.map((g) => [...g].sort()), ALL_SERVICES]);
		} finally {
			fs.rmSync(app, { recursive: true, force: true });
		}
	});
});
