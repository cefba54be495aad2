/**
 * AutoReP at several ReLU budgets from one all-ReLU teacher: search (annealed target, adaptive λ),
 * exact projection, finetune with distillation, export; prints one row per budget.
 *
 *   npx tsx bench/autorep-budgets.ts --teacher runs/r20 --data-dir ../shared/datasets/cifar10-subset \
 *     --out runs/autorep --budgets 0.01,0.05,0.2 --search-epochs 2 --finetune-epochs 2
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  autorepSearch, buildMaskSupernet, exportArchitecture, fit, loadDataset, loadLatencyTable, loadTrainedModel,
  parseSearchSpace, resolveBudget, selectBackend, evaluate,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    teacher: { type: 'string' },
    'data-dir': { type: 'string' },
    out: { type: 'string', default: 'runs/autorep-budgets' },
    budgets: { type: 'string', default: '0.01,0.05,0.2' },
    'search-epochs': { type: 'string', default: '2' },
    'finetune-epochs': { type: 'string', default: '2' },
    granularity: { type: 'string', default: 'pixel' },
    op: { type: 'string', default: 'poly2' },
    lr: { type: 'string', default: '3e-4' },
    'alpha-lr': { type: 'string' },
    damping: { type: 'string', default: '0.2,1,0.1' },
  },
});
if (!values.teacher) throw new Error('--teacher <run folder with model.weights.bin> is required');
const backend = await selectBackend('auto');
const { meta } = loadTrainedModel(values.teacher);
const splits = await loadDataset({ name: 'cifar10', ...(values['data-dir'] ? { dir: values['data-dir'] } : {}), download: false });
const data = { ...splits, norm: meta.normalization };
const teacher = loadTrainedModel(values.teacher).model.eval();
const teacherAcc = evaluate(teacher, data.test, { norm: data.norm }).top1;
console.log(`backend ${backend.backend}; teacher ${meta.backbone} top-1 ${(teacherAcc * 100).toFixed(2)} %`);
const space = parseSearchSpace({ name: `${meta.backbone}-${values.granularity}`, backbone: meta.backbone, activation: { candidates: ['relu', values.op], granularity: values.granularity } });
const table = loadLatencyTable('crypten-2pc-dealer');
console.log('budget,relus_before_projection,relus_exported,search_top1,projected_top1,finetuned_top1,crypten_wan_ms,comm_MB,search_s,finetune_s');
for (const b of values.budgets!.split(',').map(Number)) {
  const { model: net } = loadTrainedModel(values.teacher);
  const { gates } = buildMaskSupernet(net, space, { seed: 0 });
  const total = gates.reduce((a, g) => a + g.gate.siteSize(), 0);
  const B = resolveBudget(b, total);
  const t0 = performance.now();
  const r = await autorepSearch(net, gates, data, { epochs: Number(values['search-epochs']), batchSize: 64, budget: B, seed: 0, lr: Number(values.lr), dapaDamping: values.damping!.split(',').map(Number), ...(values['alpha-lr'] ? { alphaLr: Number(values['alpha-lr']) } : {}) }, {
    teacher,
    hooks: { onEpoch: (e) => console.error(`  [B=${B}] search epoch ${e.epoch + 1}: count ${e.count}, target ${e.target.toFixed(0)}, λ ${e.lambda.toFixed(1)}, top-1 ${(e.test.top1 * 100).toFixed(2)} %`) },
  });
  const searchS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const ft = await fit(net, data, {
    epochs: Number(values['finetune-epochs']), batchSize: 64, seed: 0, clipNorm: 5, augment: { cropPad: 4, flip: true },
    optimizer: { type: 'adam' }, schedule: { type: 'cosine', lr: 1e-3, minLr: 1e-5 },
  }, { distill: { teacher }, hooks: { onEpoch: (e) => console.error(`  [B=${B}] finetune epoch ${e.epoch + 1}: top-1 ${(e.test.top1 * 100).toFixed(2)} %`) } });
  const ftS = (performance.now() - t1) / 1000;
  const arch = exportArchitecture(net, gates, join(values.out!, `budget-${B}`, 'architecture'), {
    space, strategy: 'autorep', budget: B, seed: 0, table, network: 'WAN',
    metrics: { teacherTop1: teacherAcc, projectedTop1: r.projectedTest.top1, finetunedTop1: ft.final?.top1, countBeforeProjection: r.countBeforeProjection },
  }) as { relus: { total: number }; latency: { totalMs: number; commBytes: number } };
  const last = r.history[r.history.length - 1]!;
  console.log([b, r.countBeforeProjection, arch.relus.total, last.test.top1.toFixed(4), r.projectedTest.top1.toFixed(4), ft.final!.top1.toFixed(4), arch.latency.totalMs.toFixed(1), (arch.latency.commBytes / 1e6).toFixed(2), searchS.toFixed(0), ftS.toFixed(0)].join(','));
  net.dispose();
}
