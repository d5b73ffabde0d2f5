export type QuotaErrorCode =
  | "INVALID_CONFIG"
  | "INVALID_ARGUMENT"
  | "UNKNOWN_FEATURE"
  | "STORE_ERROR"
  | "STORE_TIMEOUT"
  | "CORRUPT_COUNTER"
  | "IDEMPOTENCY_KEY_EXHAUSTED"
  /** Any call on an engine after its `free()`. */
  | "ENGINE_FREED";

/** Every error the engine throws (sync path) or rejects with (async path). */
export class QuotaError extends Error {
  readonly name: "QuotaError";
  readonly code: QuotaErrorCode;
  /** The store's own exception, for STORE_ERROR (none for STORE_TIMEOUT). */
  readonly cause?: unknown;
  constructor(code: QuotaErrorCode, message: string, options?: { cause?: unknown });
}
