import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Backbone } from '../backbones/backbone.js';
import { createBackbone } from '../backbones/registry.js';
import type { BackendChoice } from '../engine/backend.js';
import type { DownloadOptions } from '../data/download.js';
import type { TrainHooks } from '../train/trainer.js';
import type { SearchRecipe } from '../search/recipe.js';
import { loadTrainedModel, runTraining, trainIdentity, trainRecipeOf, type WeightsMeta } from './train.js';
import { claimRunDir } from './identity.js';
import { selectBackend } from '../engine/backend.js';
import { RunStoppedError } from './run-dir.js';

/** The all-ReLU teacher of a search: its network (eval mode), weights metadata and folder. */
export interface Teacher {
  model: Backbone;
  meta: WeightsMeta;
  dir: string;
}

/** Options of {@link teacherPhase}. */
export interface TeacherOptions {
  /** Where a teacher trained here goes (`<run>/teacher`). */
  dir: string;
  backend?: BackendChoice;
  hooks?: TrainHooks;
  download?: DownloadOptions;
  phase?: (name: string) => void;
  fresh?: boolean;
  notice?: (text: string) => void;
}

/**
 * The teacher a search or sweep starts from: the recipe's `teacher.weights`, or trained here from
 * `teacher.train` (resumable; a finished teacher is loaded, not retrained). Read from disk once.
 *
 * @example
 * ```ts
 * const teacher = await teacherPhase(recipe, { dir: 'runs/s/teacher' });
 * teacher.model.reluCount().total;
 * ```
 */
export async function teacherPhase(recipe: SearchRecipe, opts: TeacherOptions): Promise<Teacher> {
  const phase = opts.phase ?? (() => {});
  let dir: string;
  if ('weights' in recipe.teacher) {
    dir = recipe.teacher.weights;
    phase(`teacher (loaded from ${dir})`);
  } else {
    dir = opts.dir;
    phase('teacher');
    const train = trainRecipeOf(recipe, recipe.teacher.train, `${recipe.name}-teacher`);
    if (existsSync(join(dir, 'model.weights.bin'))) {
      // A finished teacher is reused only if it was trained with these settings.
      const { backend } = await selectBackend(opts.backend ?? recipe.backend);
      claimRunDir(dir, trainIdentity(train, backend), { ...(opts.fresh ? { fresh: true } : {}), phaseFiles: ['model.weights.bin', 'checkpoint.bin', 'result.json'], ...(opts.notice ? { notice: opts.notice } : {}) });
    }
    if (!existsSync(join(dir, 'model.weights.bin'))) {
      const trained = await runTraining(train, {
        outDir: dir, resume: true, ...(opts.fresh ? { fresh: true } : {}), ...(opts.notice ? { notice: opts.notice } : {}),
        ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.hooks ? { hooks: opts.hooks } : {}), ...(opts.download ? { download: opts.download } : {}),
      });
      // The weights are read back from the file below, as a run that resumes after this phase reads them.
      trained.model.dispose();
      if (!trained.completed) throw new RunStoppedError('teacher training', dir);
    }
  }
  const { model, meta } = loadTrainedModel(dir);
  model.eval();
  return { model, meta, dir };
}

/**
 * A copy of the teacher's network (same architecture and weights) for the student, made in memory.
 *
 * @example
 * ```ts
 * const student = cloneTeacher(teacher);
 * ```
 */
export function cloneTeacher(t: Teacher): Backbone {
  const m = t.meta;
  const net = createBackbone(m.backbone, { numClasses: m.numClasses, inputShape: m.inputShape, seed: m.seed });
  net.loadStateDict(t.model.stateDict());
  return net;
}
