/**
 * Named periodic jobs of a service (until a timers mixin takes them over): each job runs every
 * `everyMs`, never overlapping itself (a run still going skips the tick), logs with its name, and
 * stops with `stopAll()` (call it in the service's stopped()).
 */
import type { LoggerInstance } from "moleculer";

/** One run of a job; resolves to how many things it handled (logged when not 0). */
export type JobWork = () => Promise<number>;

export class Jobs {
	private readonly timers = new Map<string, NodeJS.Timeout>();
	private readonly running = new Set<string>();
	private stopped = false;

	constructor(private readonly logger: LoggerInstance) {}

	/** Runs `work` every `everyMs` under `name`. */
	start(name: string, everyMs: number, work: JobWork): void {
		const timer = setInterval(() => void this.run(name, work), everyMs);
		timer.unref?.();
		this.timers.set(name, timer);
	}

	/** Runs the job now unless it is running or the jobs are stopped; errors are logged, not thrown. */
	async run(name: string, work: JobWork): Promise<void> {
		if (this.running.has(name) || this.stopped) return;
		this.running.add(name);
		try {
			const handled = await work();
			if (handled) this.logger.info(`[${name}] handled ${handled}`);
		} catch (err) {
			this.logger.warn(`[${name}] failed: ${(err as Error).message}`);
		} finally {
			this.running.delete(name);
		}
	}

	stopAll(): void {
		this.stopped = true;
		for (const timer of this.timers.values()) clearInterval(timer);
		this.timers.clear();
	}
}
