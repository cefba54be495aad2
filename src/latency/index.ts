export {
  LatencyTableSchema,
  latencyTableJsonSchema,
  SIZE_VARS,
  TIME_UNITS,
  type LatencyTable,
  type OpCostModel,
  type NetworkSetting,
  type SizeVar,
} from './schema.js';
export { loadLatencyTable, parseLatencyTable, shippedTableIds, SHIPPED_TABLES_DIR } from './tables.js';
export { costLayers, type CostLayer, type SiteChoice } from './network.js';
export { costCaveats, layerCost, networkCost, resolveNetwork, NetworkSettingError, type LayerCost, type NetworkCost } from './cost.js';
export { candidateCosts, costPerElement, expectedCost, type CandidateCostOptions, type GateCost } from './expected.js';
