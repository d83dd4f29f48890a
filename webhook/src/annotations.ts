// The pod annotations chaperone reads and writes; keys are constants, each with its meaning and format.

/** `"true"` opts the pod in to injection; anything else (or absent) leaves it untouched. */
export const INJECT = 'chaperone.dev/inject';
/** `injected`, written by the webhook; a pod that carries it is never injected again. */
export const STATUS = 'chaperone.dev/status';
export const STATUS_INJECTED = 'injected';
/** Comma-separated Connection names to expose, e.g. `orders-db,bastion`; default: all granted. */
export const CONNECTIONS = 'chaperone.dev/connections';
/** Sidecar log level: fatal|error|warn|info|debug|trace. */
export const LOG_LEVEL = 'chaperone.dev/log-level';
/** Sidecar resources, Kubernetes quantities: e.g. `50m`, `64Mi`. */
export const CPU_REQUEST = 'chaperone.dev/sidecar-cpu-request';
export const CPU_LIMIT = 'chaperone.dev/sidecar-cpu-limit';
export const MEMORY_REQUEST = 'chaperone.dev/sidecar-memory-request';
export const MEMORY_LIMIT = 'chaperone.dev/sidecar-memory-limit';
