import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, selectBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';

describe('selectBackend', () => {
  it('auto falls back to WebAssembly when neither tfjs-node package is installed, recording why', async () => {
    const info = await selectBackend('auto');
    expect(info.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.package).toBe('@tensorflow/tfjs-backend-wasm');
    expect(info.tried.map((t) => t.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    for (const t of info.tried) expect(t.error).toMatch(/MODULE_NOT_FOUND/);
  });

  it('a named native backend that is missing throws with install instructions', async () => {
    const err = await selectBackend('tensorflow').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect((err as Error).message).toMatch(/npm install @tensorflow\/tfjs-node-gpu@4\.22\.0/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown choice and lists the known ones', async () => {
    await expect(selectBackend('cuda' as never)).rejects.toThrow("backend: unknown choice 'cuda'; known: auto, tensorflow, wasm, cpu");
  });

  it('can switch to the cpu backend and back', async () => {
    expect((await selectBackend('cpu')).backend).toBe('cpu');
    expect((await selectBackend('wasm')).backend).toBe('wasm');
  });
});
