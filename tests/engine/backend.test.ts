import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { existsSync } from 'node:fs';
import { TORCH_ADDON_PATH } from '../../src/engine/torch.js';

// The LibTorch engine is optional; where it is built, auto picks it before WebAssembly.
const torchBuilt = existsSync(TORCH_ADDON_PATH);

describe('selectBackend', () => {
  it('auto falls back to the torch engine (where built) or WebAssembly when neither tfjs-node package is installed, recording why', async () => {
    const info = await selectBackend('auto');
    expect(info.backend).toBe(torchBuilt ? 'torch' : 'wasm');
    expect(tf.getBackend()).toBe(info.backend);
    expect(info.package).toBe(torchBuilt ? 'polynas native/torch (LibTorch)' : '@tensorflow/tfjs-backend-wasm');
    expect(info.tried.map((t) => t.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node', ...(torchBuilt ? [] : ['polynas native/torch (LibTorch)'])]);
    for (const t of info.tried.slice(0, 2)) expect(t.error).toMatch(/MODULE_NOT_FOUND/);
    if (!torchBuilt) expect(info.tried[2]!.error).toMatch(/npm run build:torch/);
    await selectBackend('wasm');
  });

  it('a named native backend that is missing throws with install instructions', async () => {
    const err = await selectBackend('tensorflow').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown choice and lists the known ones', async () => {
    await expect(selectBackend('cuda' as never)).rejects.toThrow("backend: unknown choice 'cuda'; known: auto, tensorflow, torch, wasm, cpu");
  });

  it('can switch to the cpu backend and back', async () => {
    expect((await selectBackend('cpu')).backend).toBe('cpu');
    expect((await selectBackend('wasm')).backend).toBe('wasm');
  });
});
