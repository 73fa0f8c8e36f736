// Tests run every broker in memory, quietly, with metrics and the per-node health port off
// unless a test turns them on.
process.env.NODE_ENV = process.env.NODE_ENV || "test";
process.env.LOG_LEVEL = process.env.LOG_LEVEL || "warn";
process.env.METRICS_PORT = process.env.METRICS_PORT || "0";
process.env.DATA_DIR = process.env.DATA_DIR || ":memory:";
// A declined payment cancels the order at once unless a test opens the retry window (production: 10 min).
process.env.PAYMENT_RETRY_GRACE_MS = process.env.PAYMENT_RETRY_GRACE_MS || "0";
// The nearest courier with room is assigned at once unless a test turns job offers on (production: 45 s offers).
process.env.DISPATCH_OFFER_MS = process.env.DISPATCH_OFFER_MS || "0";
