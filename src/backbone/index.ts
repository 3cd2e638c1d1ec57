export { Backbone, resolveDtype, type BackboneOptions, type Device, type Dtype, type ForwardResult, type InputGradientsResult } from './backbone.js';
export { toNativeBatch, type TokenBatch, type Rows } from './batch.js';
