export { tf } from './tf.js';
export { selectBackend, currentBackend, BACKEND_CHOICES, BackendUnavailableError, type BackendChoice, type BackendInfo } from './backend.js';
export { conv2d, depthwiseConv2d, conv2dInputGrad, conv2dFilterGrad, setConvGradients, type ConvGeometry } from './conv.js';
export { defaultWasmThreads, enableWasmThreads, releaseWasmWorkers } from './wasm-threads.js';
export { maxPool2d } from './pool.js';
export { registerTorchBackend, torchInfo, setTorchThreads, torchKernelNames, loadTorchAddon, TorchBackend, TORCH_ADDON_PATH } from './torch.js';
export { batchNormTrain, relu as fusedRelu, FUSED } from './fused.js';
