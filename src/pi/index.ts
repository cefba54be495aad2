export { lowerNetwork, registerLowering, programHash, unpackKeep, PiUnsupportedError, DEFAULT_FIXED_POINT, MAX_PI_DEGREE, type PiProgram, type PiSecrets, type PiNode, type FixedPoint } from '../export/program.js';
export { runLocalSession, type PiSession } from './launch.js';
export { runDealer, runParty, type RoleConfig, type RoleReport, type Endpoint } from './roles.js';
export { referenceLogits } from './reference.js';
export { PiPeerError, type Traffic } from './channel.js';
export { ring, encode, decode, RING_ADDON_PATH, type Ring } from './ring.js';
