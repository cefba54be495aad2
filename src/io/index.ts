export { writeFileAtomic, writeJsonAtomic } from './atomic.js';
export { ValidationError, parseWith, readJsonFile, readJsonAs, describeIssues, type ValidationIssue } from './json.js';
export { encodeCheckpoint, decodeCheckpoint, saveCheckpoint, loadCheckpoint, type Checkpoint } from './checkpoint.js';
export { POLYNAS_VERSION } from './version.js';
export { EnvError, cacheDir, envInt, envPath, type Env } from './env.js';
export { ensureWritableDir, makeDir, OutputFolderError } from './dirs.js';
export { isRetryable, type NotRetryable } from './errors.js';
