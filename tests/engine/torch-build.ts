import { existsSync } from 'node:fs';
import { TORCH_ADDON_PATH } from '../../src/engine/torch.js';

/**
 * The LibTorch engine is optional: its tests run where `npm run build:torch` has built it. CI
 * installs LibTorch and sets POLYNAS_REQUIRE_TORCH=1 (`.ci/run`), so there a missing build fails
 * those tests (loading the addon throws with build instructions) instead of skipping them.
 */
export const torchBuilt = existsSync(TORCH_ADDON_PATH);
export const torchRequired = process.env.POLYNAS_REQUIRE_TORCH === '1';
export const skipTorch = !torchBuilt && !torchRequired;
