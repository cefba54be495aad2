import './register-all.js';

export {
  registerOp,
  unregisterOp,
  getOp,
  hasOp,
  opIds,
  opDefs,
  opRegistryVersion,
  buildOp,
  costOpOf,
  reluIndex,
  UnknownOpError,
  OP_KINDS,
  type OpDef,
  type OpKind,
  type OpSite,
} from './registry.js';
export { X2actOptionsSchema, type X2actParams, type X2actSpaceOptions } from './defs/x2act.js';
export { PolyOptionsSchema, type PolySpaceOptions } from './defs/poly.js';
