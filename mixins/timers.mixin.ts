/**
 * Periodic jobs of a service, declared in its schema:
 *
 *   mixins: [TimersMixin],
 *   timers: {
 *     expireInvites: { everyMs: () => config().inviteExpirySweepMs, run() { return this.sweepExpired(); } },
 *   },
 *
 * Each job runs every `everyMs` (plus up to `jitter` of it at random, so replicas do not fire in
 * step), never overlaps itself (a run that is still going skips its next tick), logs its errors
 * with its name, and is stopped when the service stops: no run starts after that, and stopping waits
 * for a run still going (so it never meets a closed store). `runAtStart` runs it once when the
 * service has started (not awaited: start-up is not held up by a repair job), after `startDelay`
 * when given: a number of ms, or a promise to wait for (other services up, the broker started).
 * Timers start after every started() hook of the service (its own included, wherever TimersMixin is
 * listed), so a job finds what started() set up; they stop before any stopped() hook runs.
 */
import { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";

export interface TimerJob<S = Service> {
	/** Interval in ms, or a function read when the service starts (settings from config). 0 = off. */
	everyMs: number | ((this: S) => number);
	/** Random extra delay per tick, as a fraction of everyMs (default 0.1). */
	jitter?: number;
	runAtStart?: boolean;
	/** With runAtStart: wait this many ms, or for this promise (its failure is ignored), before that run. */
	startDelay?: number | ((this: S) => Promise<unknown>);
	run(this: S): Promise<unknown> | unknown;
}

export type TimerJobs<S = Service> = Record<string, TimerJob<S>>;

/** What TimersMixin gives a service: run a job now (tests, the REPL), as the timer would. */
export interface TimersMethods {
	runTimer(name: string): Promise<void>;
}

interface RunningTimer {
	handle?: NodeJS.Timeout;
	startHandle?: NodeJS.Timeout;
	/** The run going on, if any. */
	running: Promise<void> | null;
	stopped: boolean;
}

type TimersService = Service &
	TimersMethods & {
		schema: ServiceSchema & { timers?: TimerJobs };
		runningTimers: Map<string, RunningTimer>;
	};

/** Resolves once the broker has started every local service (a startDelay for jobs that need them all). */
export function whenBrokerStarted(broker: Service["broker"]): Promise<void> {
	if (broker.started) return Promise.resolve();
	return new Promise((resolve) => broker.localBus.once("$broker.started", () => resolve()));
}

const errorMessage = (err: unknown) => String((err as Error)?.message ?? err);

function intervalOf(service: TimersService, job: TimerJob): number {
	return typeof job.everyMs === "function" ? job.everyMs.call(service) : job.everyMs;
}

/** The start-up run of a job with runAtStart, after its startDelay. */
function startUpRun(service: TimersService, name: string, job: TimerJob): void {
	const state = service.runningTimers.get(name)!;
	const delay = job.startDelay;
	if (typeof delay === "function") {
		void Promise.resolve()
			.then(() => delay.call(service))
			.catch(() => undefined)
			.then(() => service.runTimer(name));
	} else if (delay && delay > 0) {
		state.startHandle = setTimeout(() => void service.runTimer(name), delay);
		state.startHandle.unref?.();
	} else void service.runTimer(name);
}

function schedule(service: TimersService, name: string, job: TimerJob, everyMs: number): void {
	const state = service.runningTimers.get(name)!;
	if (state.stopped) return;
	const delay = everyMs + Math.random() * everyMs * (job.jitter ?? 0.1);
	state.handle = setTimeout(async () => {
		await service.runTimer(name);
		schedule(service, name, job, everyMs);
	}, delay);
	state.handle.unref?.();
}

const schema: Partial<ServiceSchema<ServiceSettingSchema, TimersService>> = {
	methods: {
		async runTimer(this: TimersService, name: string): Promise<void> {
			const job = this.schema.timers?.[name];
			const state = this.runningTimers.get(name);
			if (!job || !state || state.running || state.stopped) return;
			const started = Date.now();
			// Settled asynchronously even when run() throws at once, so `running` is cleared after it is set.
			state.running = Promise.resolve()
				.then(() => job.run.call(this))
				.then(
					() => this.logger.debug({ timer: name, ms: Date.now() - started }, "timer ran"),
					(err: unknown) => this.logger.error({ timer: name }, `Timer '${name}' failed: ${errorMessage(err)}`),
				)
				.finally(() => (state.running = null));
			await state.running;
		},
	},

	created(this: TimersService) {
		this.runningTimers = new Map();
	},

	// The lifecycle hooks go last into the merged service (see the top of this file): Moleculer runs
	// the merged started() hooks in order and the stopped() hooks in reverse order.
	merged(merged: ServiceSchema) {
		const hooks = (h: unknown, own: unknown) => (Array.isArray(h) ? h : h ? [h] : []).filter((f) => f !== own);
		merged.started = [...hooks(merged.started, startTimers), startTimers];
		merged.stopped = [...hooks(merged.stopped, stopTimers), stopTimers];
	},
};

function startTimers(this: TimersService): void {
	for (const [name, job] of Object.entries(this.schema.timers || {})) {
		const everyMs = intervalOf(this, job);
		this.runningTimers.set(name, { running: null, stopped: false });
		if (job.runAtStart) startUpRun(this, name, job);
		if (everyMs > 0) schedule(this, name, job, everyMs);
	}
}

async function stopTimers(this: TimersService): Promise<void> {
	for (const state of this.runningTimers.values()) {
		state.stopped = true;
		if (state.handle) clearTimeout(state.handle);
		if (state.startHandle) clearTimeout(state.startHandle);
	}
	await Promise.all([...this.runningTimers.values()].map((state) => state.running));
}

// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
export const TimersMixin = schema as unknown as Partial<ServiceSchema>;
