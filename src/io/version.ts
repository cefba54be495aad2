import { createRequire } from 'node:module';

/** Version of this library (from its package.json). */
export const POLYNAS_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
