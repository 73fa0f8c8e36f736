/**
 * Delivery of one topic to one consumer group in this process, from the SQLite event store.
 *
 * Messages are pulled in seq order, at most `maxInFlight` per member at a time; the rest wait on
 * disk. A success acknowledges the message; a failure parks it in `retries` with exponential
 * backoff, and after the last retry it is given up (dead-lettered or dropped by the adapter).
 *
 * Durable state (see sqlite-store.ts): the floor (every message at or below it is done), the
 * messages acknowledged above the floor, and the parked retries. In memory: the cursor (last
 * message fetched) and the fresh messages in flight; floor = cursor when nothing is in flight,
 * else just below the oldest message in flight.
 */
import type { Channel } from "@moleculer/channels/types/src/index";
import type { LoggerInstance } from "moleculer";
import { EventStore, RetryState, StoredMessage } from "./sqlite-store";

export interface Member {
	chan: Channel;
	active: number;
}

export interface ConsumerDeps {
	store: EventStore;
	logger: LoggerInstance;
	pollIntervalMs: number;
	backoffMs(failedAttempts: number): number;
	/** Runs the member's handler for a message (attempt 1 = first delivery). */
	invoke(member: Member, message: StoredMessage, attempt: number): Promise<void>;
	/** Called inside the transaction that settles a message that failed its last retry. */
	giveUp(member: Member, message: StoredMessage, error: unknown): void;
	onHandled(): void;
	onRetried(): void;
	onBacklog(backlog: number): void;
}

interface ParkedRetry extends RetryState {
	running: boolean;
}

export class GroupConsumer {
	private readonly members: Member[] = [];
	private floor: number;
	private cursor: number;
	private backlog: number;
	private readonly inFlight = new Set<number>();
	private readonly ackedAbove: Set<number>;
	/** Seqs above the cursor that must not be delivered fresh (already acknowledged, or parked). */
	private readonly skip: Set<number>;
	private readonly retries = new Map<number, ParkedRetry>();
	private wakeScheduled = false;
	private retryTimer: NodeJS.Timeout | null = null;
	private readonly pollTimer: NodeJS.Timeout;
	private closed = false;

	constructor(
		readonly topic: string,
		readonly group: string,
		private readonly deps: ConsumerDeps,
	) {
		const state = deps.store.openGroup(topic, group);
		this.floor = this.cursor = state.floor;
		this.backlog = state.backlog;
		this.ackedAbove = new Set(state.ackedAbove);
		this.skip = new Set(state.ackedAbove);
		for (const retry of state.retries) {
			this.retries.set(retry.seq, { ...retry, running: false });
			this.skip.add(retry.seq);
		}
		// Catches messages another process appended to the same file; wake() covers this process.
		this.pollTimer = setInterval(() => this.wake(), deps.pollIntervalMs);
		this.pollTimer.unref();
		deps.onBacklog(this.backlog);
	}

	addMember(chan: Channel): void {
		this.members.push({ chan, active: 0 });
		this.wake();
	}

	/** Stops new deliveries to the member; its messages in flight still settle. */
	removeMember(chan: Channel): void {
		const index = this.members.findIndex((m) => m.chan === chan);
		if (index >= 0) this.members.splice(index, 1);
	}

	get memberCount(): number {
		return this.members.length;
	}

	get pendingCount(): number {
		return this.backlog;
	}

	/** A message was appended to the topic. */
	published(): void {
		this.changeBacklog(+1);
		this.wake();
	}

	close(): void {
		this.closed = true;
		clearInterval(this.pollTimer);
		if (this.retryTimer) clearTimeout(this.retryTimer);
	}

	/** Pulls on the next turn of the event loop, so that a burst of publishes becomes one read. */
	wake(): void {
		if (this.wakeScheduled || this.closed) return;
		this.wakeScheduled = true;
		setImmediate(() => {
			this.wakeScheduled = false;
			this.pull();
		});
	}

	private pull(): void {
		if (this.closed || !this.deps.store.isOpen) return;
		for (;;) {
			const capacity = this.freeCapacity();
			if (capacity === 0) break;
			const retry = this.dueRetry(Date.now());
			if (retry) {
				this.deliverRetry(retry);
				continue;
			}
			const batch = this.nextFresh(capacity);
			if (batch.length === 0) break;
			for (const message of batch) this.deliverFresh(message);
		}
		this.armRetryTimer();
	}

	private freeCapacity(): number {
		let free = 0;
		for (const m of this.members) if (!m.chan.unsubscribing) free += Math.max(0, maxInFlight(m.chan) - m.active);
		return free;
	}

	/** The member with a free slot and the fewest messages in flight. */
	private pickMember(): Member {
		let best: Member | null = null;
		for (const m of this.members) {
			if (m.chan.unsubscribing || m.active >= maxInFlight(m.chan)) continue;
			if (!best || m.active < best.active) best = m;
		}
		if (!best) throw new Error(`No free consumer for ${this.topic}/${this.group}`);
		return best;
	}

	private nextFresh(limit: number): StoredMessage[] {
		const batch: StoredMessage[] = [];
		while (batch.length < limit) {
			const rows = this.deps.store.readAfter(this.topic, this.cursor, limit - batch.length);
			if (rows.length === 0) break;
			for (const row of rows) {
				this.cursor = row.seq;
				if (this.skip.delete(row.seq)) continue;
				batch.push(row);
			}
		}
		return batch;
	}

	private dueRetry(now: number): ParkedRetry | null {
		let due: ParkedRetry | null = null;
		for (const r of this.retries.values())
			if (!r.running && r.nextAttemptAt <= now && (!due || r.nextAttemptAt < due.nextAttemptAt)) due = r;
		return due;
	}

	private armRetryTimer(): void {
		if (this.retryTimer) clearTimeout(this.retryTimer);
		this.retryTimer = null;
		let next = Infinity;
		for (const r of this.retries.values()) if (!r.running) next = Math.min(next, r.nextAttemptAt);
		if (next === Infinity || this.closed) return;
		this.retryTimer = setTimeout(() => this.wake(), Math.max(0, next - Date.now()));
		this.retryTimer.unref();
	}

	private deliverFresh(message: StoredMessage): void {
		this.inFlight.add(message.seq);
		this.run(this.pickMember(), message, 1, null);
	}

	private deliverRetry(retry: ParkedRetry): void {
		const message = this.deps.store.readOne(retry.seq);
		if (!message) {
			// Cannot happen while the retry row pins the message; forget the retry rather than loop.
			this.deps.logger.error(`Message ${retry.seq} of ${this.topic} vanished before its retry.`);
			this.retries.delete(retry.seq);
			this.deps.store.deleteRetry(this.topic, this.group, retry.seq);
			this.changeBacklog(-1);
			return;
		}
		retry.running = true;
		this.run(this.pickMember(), message, retry.attempts + 1, retry);
	}

	private run(member: Member, message: StoredMessage, attempt: number, retry: ParkedRetry | null): void {
		member.active++;
		this.deps
			.invoke(member, message, attempt)
			.then(
				() => this.settleSuccess(message, retry),
				(err: unknown) => this.settleFailure(member, message, retry, err),
			)
			.catch((err: unknown) => this.deps.logger.error(`Could not settle message ${message.seq}:`, err))
			.finally(() => {
				member.active--;
				this.wake();
			});
	}

	/** False once closed: a handler that outlived its consumer leaves the message for the next start. */
	private get settling(): boolean {
		return !this.closed && this.deps.store.isOpen;
	}

	private settleSuccess(message: StoredMessage, retry: ParkedRetry | null): void {
		if (!this.settling) return;
		this.deps.store.transaction(() => (retry ? this.forgetRetry(retry) : this.completeFresh(message.seq)));
		this.changeBacklog(-1);
		this.deps.onHandled();
	}

	private settleFailure(member: Member, message: StoredMessage, retry: ParkedRetry | null, error: unknown): void {
		if (!this.settling) return;
		const failed = retry ? retry.attempts + 1 : 1;
		this.deps.logger.warn(
			`Handler of ${this.topic} (group ${this.group}) failed on message ${message.seq}, attempt ${failed}: ${errorMessage(error)}`,
		);
		if (failed > maxRetries(member.chan)) {
			this.deps.store.transaction(() => {
				if (retry) this.forgetRetry(retry);
				else this.completeFresh(message.seq);
				this.deps.giveUp(member, message, error);
			});
			this.changeBacklog(-1);
			return;
		}
		const parked: ParkedRetry = {
			seq: message.seq,
			attempts: failed,
			nextAttemptAt: Date.now() + this.deps.backoffMs(failed),
			running: false,
		};
		this.deps.store.transaction(() => {
			this.deps.store.saveRetry(this.topic, this.group, parked);
			if (!retry) this.completeFresh(message.seq);
		});
		this.retries.set(parked.seq, parked);
		this.deps.onRetried();
	}

	private forgetRetry(retry: ParkedRetry): void {
		this.deps.store.deleteRetry(this.topic, this.group, retry.seq);
		this.retries.delete(retry.seq);
	}

	/** A fresh message is done for now (acknowledged, parked or given up): move the floor. */
	private completeFresh(seq: number): void {
		this.inFlight.delete(seq);
		const floor = this.inFlight.size === 0 ? this.cursor : Math.min(...this.inFlight) - 1;
		if (seq > floor) {
			this.ackedAbove.add(seq);
			this.deps.store.addAckedAbove(this.topic, this.group, seq);
		}
		if (floor === this.floor) return;
		this.floor = floor;
		this.deps.store.setFloor(this.topic, this.group, floor);
		for (const s of this.ackedAbove) if (s <= floor) this.ackedAbove.delete(s);
	}

	private changeBacklog(delta: number): void {
		this.backlog += delta;
		this.deps.onBacklog(this.backlog);
	}
}

export function errorMessage(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

function maxInFlight(chan: Channel): number {
	return Math.max(1, chan.maxInFlight ?? 1);
}

function maxRetries(chan: Channel): number {
	return Math.max(0, chan.maxRetries ?? 0);
}
