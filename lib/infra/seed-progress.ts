/**
 * The seed's output: on a terminal a progress bar (cli-progress) over SEED_STEPS units of work, with
 * the step being done; elsewhere (a pipe, CI, tests) one line per step as before.
 */
import { SEED_STEPS, SeedOptions } from "./seed";

/** The part of cli-progress's SingleBar used here (the package has no typings). */
interface Bar {
	start(total: number, value: number, payload?: Record<string, unknown>): void;
	increment(delta?: number, payload?: Record<string, unknown>): void;
	update(value: number, payload?: Record<string, unknown>): void;
	stop(): void;
}
interface CliProgress {
	SingleBar: new (opts: Record<string, unknown>, preset?: unknown) => Bar;
	Presets: { shades_classic: unknown };
}

export interface SeedOutput extends Pick<SeedOptions, "log" | "step"> {
	/** Ends the bar (call before printing the summary). */
	done(): void;
}

export function seedOutput(stream: NodeJS.WriteStream = process.stdout): SeedOutput {
	const print = (line: string) => stream.write(line + "\n");
	if (!stream.isTTY) return { log: print, done: () => undefined };
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const { SingleBar, Presets } = require("cli-progress") as CliProgress;
	const bar = new SingleBar(
		{
			format: "Semeando / Seeding {bar} {percentage}% | {value}/{total} | {step}",
			stream,
			hideCursor: true,
			clearOnComplete: false,
		},
		Presets.shades_classic,
	);
	bar.start(SEED_STEPS, 0, { step: "" });
	return {
		// Step lines stay out of the bar's way; the bar shows the current step.
		log: () => undefined,
		step: (label) => bar.increment(1, { step: label.slice(0, 48) }),
		done: () => {
			bar.update(SEED_STEPS, { step: "ok" });
			bar.stop();
		},
	};
}
