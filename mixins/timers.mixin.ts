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
 * with its name, and is stopped when the service stops. `runAtStart` runs it once right after the
 * service started (not awaited: start-up is not held up by a repair job).
 */
import { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";

export interface TimerJob<S = Service> {
	/** Interval in ms, or a function read when the service starts (settings from config). 0 = off. */
	everyMs: number | ((this: S) => number);
	/** Random extra delay per tick, as a fraction of everyMs (default 0.1). */
	jitter?: number;
	runAtStart?: boolean;
	run(this: S): Promise<unknown> | unknown;
}

export type TimerJobs<S = Service> = Record<string, TimerJob<S>>;

/** What TimersMixin gives a service: run a job now (tests, the REPL), as the timer would. */
export interface TimersMethods {
	runTimer(name: string): Promise<void>;
}

interface RunningTimer {
	handle?: NodeJS.Timeout;
	running: boolean;
	stopped: boolean;
}

type TimersService = Service &
	TimersMethods & {
		schema: ServiceSchema & { timers?: TimerJobs };
		runningTimers: Map<string, RunningTimer>;
	};

const errorMessage = (err: unknown) => String((err as Error)?.message ?? err);

function intervalOf(service: TimersService, job: TimerJob): number {
	return typeof job.everyMs === "function" ? job.everyMs.call(service) : job.everyMs;
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
			if (!job || !state || state.running) return;
			state.running = true;
			const started = Date.now();
			try {
				await job.run.call(this);
				this.logger.debug({ timer: name, ms: Date.now() - started }, "timer ran");
			} catch (err) {
				this.logger.error({ timer: name }, `Timer '${name}' failed: ${errorMessage(err)}`);
			} finally {
				state.running = false;
			}
		},
	},

	created(this: TimersService) {
		this.runningTimers = new Map();
	},

	started(this: TimersService) {
		for (const [name, job] of Object.entries(this.schema.timers || {})) {
			const everyMs = intervalOf(this, job);
			this.runningTimers.set(name, { running: false, stopped: false });
			if (job.runAtStart) void this.runTimer(name);
			if (everyMs > 0) schedule(this, name, job, everyMs);
		}
	},

	async stopped(this: TimersService) {
		for (const state of this.runningTimers.values()) {
			state.stopped = true;
			if (state.handle) clearTimeout(state.handle);
		}
	},
};

// Moleculer types a mixin's lifecycle `this` as a plain Service; ours has the methods above.
export const TimersMixin = schema as unknown as Partial<ServiceSchema>;
