import { registerOp } from './registry.js';
import { reluOp } from './defs/relu.js';
import { x2actOp } from './defs/x2act.js';
import { poly1Op, poly2Op, poly3Op, poly4Op } from './defs/poly.js';
import { identityOp } from './defs/identity.js';
import { avgpoolOp, maxpoolOp } from './defs/pools.js';

/**
 * The one place where the built-in operators are registered (tfjs-free: importing it loads no
 * TensorFlow.js). Adding an operator: a definition file in `defs/`, its module class, one line here,
 * and an entry in each latency table.
 */
for (const def of [reluOp, x2actOp, poly1Op, poly2Op, poly3Op, poly4Op, identityOp, maxpoolOp, avgpoolOp]) registerOp(def);
