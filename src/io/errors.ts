/**
 * Errors that running the same work again cannot cure: bad input, a recipe that fails its checks,
 * settings that changed under a finished run, a missing dependency. Their classes say so with
 * `readonly retryable = false`; a queue gives up on a cell that raised one instead of retrying it.
 *
 * @example
 * ```ts
 * class BadPlanError extends Error { readonly retryable = false; }
 * isRetryable(new BadPlanError('x')); // false
 * ```
 */
export interface NotRetryable {
  readonly retryable: false;
}

/** Whether trying again could help: every error but one whose class marks it {@link NotRetryable}. */
export function isRetryable(e: unknown): boolean {
  return (e as Partial<NotRetryable> | undefined)?.retryable !== false;
}
