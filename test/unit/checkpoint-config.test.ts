import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  PRESETS, type P5Config, parameterCount, parseHfConfig, resolveConfig, toHfConfig,
} from '../../src/checkpoint/config.js';
import { readSafetensorsHeader } from '../../src/checkpoint/safetensors.js';
import { tiedNames } from '../../src/checkpoint/names.js';
import { modelCard } from '../../src/checkpoint/modelCard.js';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const FIXTURE_NAMES = ['t5-tiny', 'p5-tiny', 'p5-eos', 't5v11-tiny', 't5v11-tied'] as const;
const fixtureJson = (name: string) => JSON.parse(readFileSync(`${FIXTURES}${name}/config.json`, 'utf8')) as Record<string, unknown>;

describe('presets', () => {
  it('P5-small has 60,754,432 parameters (REFERENCE.md §1)', () => {
    expect(parameterCount(PRESETS['p5-small']!)).toBe(60_754_432);
  });

  it('without whole-word embeddings and with T5 vocab 32,128 the counts are those of t5-small / t5-base', () => {
    // t5-small: 60,506,624 and t5-base: 222,903,552 parameters (tied embeddings counted once).
    const t5 = (name: string) => resolveConfig(name, { vocabSize: 32128, wholeWordEmbeddings: false });
    expect(parameterCount(t5('p5-small'))).toBe(60_506_624);
    expect(parameterCount(t5('p5-base'))).toBe(222_903_552);
  });

  it('t5-v1_1-small / flan-t5-small without whole-word embeddings have the HF models\' 76,961,152 parameters (untied head counted)', () => {
    for (const name of ['t5-v1_1-small', 'flan-t5-small']) {
      expect(parameterCount(resolveConfig(name, { wholeWordEmbeddings: false }))).toBe(76_961_152);
    }
    // Tying the head removes exactly one vocab x d_model matrix.
    expect(parameterCount(resolveConfig('t5-v1_1-small', { wholeWordEmbeddings: false, tieWordEmbeddings: true }))).toBe(76_961_152 - 32128 * 512);
  });

  it('T5 v1.1 preset dimensions: gated-GELU, untied, 32,128 rows, num_heads * d_kv != d_model in the tiny one', () => {
    const dims = (c: P5Config) => [c.vocabSize, c.dModel, c.dKv, c.dFf, c.numHeads, c.numLayers, c.numDecoderLayers, c.feedForwardProj, c.tieWordEmbeddings];
    expect(dims(PRESETS['t5-v1_1-small']!)).toEqual([32128, 512, 64, 1024, 6, 8, 8, 'gated-gelu', false]);
    expect(dims(PRESETS['flan-t5-small']!)).toEqual([32128, 512, 64, 1024, 6, 8, 8, 'gated-gelu', false]);
    const tiny = PRESETS['t5-v1_1-tiny']!;
    expect(dims(tiny)).toEqual([32128, 128, 24, 256, 4, 2, 2, 'gated-gelu', false]);
    expect(tiny.numHeads * tiny.dKv).not.toBe(tiny.dModel);
    expect(PRESETS['flan-t5-small']).toEqual(PRESETS['t5-v1_1-small']);
    for (const p of ['p5-small', 'p5-base', 'p5-mini', 'p5-tiny']) expect([PRESETS[p]!.feedForwardProj, PRESETS[p]!.tieWordEmbeddings]).toEqual(['relu', true]);
  });

  it('configs shaped like google/t5-v1_1-small\'s and google/flan-t5-small\'s config.json parse to the presets (less whole-word embeddings)', () => {
    // The keys those HF files write (ones paprec does not use, such as n_positions and task_specific_params, are ignored).
    const t5v11Small = {
      architectures: ['T5ForConditionalGeneration'], d_ff: 1024, d_kv: 64, d_model: 512, decoder_start_token_id: 0, dropout_rate: 0.1,
      eos_token_id: 1, feed_forward_proj: 'gated-gelu', initializer_factor: 1.0, is_encoder_decoder: true, layer_norm_epsilon: 1e-6,
      model_type: 't5', num_decoder_layers: 8, num_heads: 6, num_layers: 8, output_past: true, pad_token_id: 0,
      relative_attention_num_buckets: 32, tie_word_embeddings: false, vocab_size: 32128,
    };
    const flanSmall = {
      ...t5v11Small, dense_act_fn: 'gelu_new', is_gated_act: true, n_positions: 512, relative_attention_max_distance: 128,
      task_specific_params: { summarization: { prefix: 'summarize: ' } }, torch_dtype: 'float32', transformers_version: '4.23.1', use_cache: true,
    };
    for (const [json, preset] of [[t5v11Small, 't5-v1_1-small'], [flanSmall, 'flan-t5-small']] as const) {
      expect(parseHfConfig(json, preset)).toEqual(resolveConfig(preset, { wholeWordEmbeddings: false }));
    }
  });

  it('the model card names the family', () => {
    expect(modelCard(PRESETS['p5-small']!)).toContain('P5 on T5 v1.0 (ReLU feed-forward, tied head) with whole-word embeddings');
    const flan = modelCard(resolveConfig('flan-t5-small', { wholeWordEmbeddings: false }));
    expect(flan).toContain('T5 v1.1 / Flan-T5 style (gated-gelu feed-forward, untied lm_head)');
    expect(flan).toContain('| parameters | 76,961,152 |');
    expect(modelCard(parseHfConfig(fixtureJson('t5v11-tied'), 'x'))).toContain('(gated-gelu feed-forward, tied head rescaled by d_model^-0.5)');
  });

  it('preset dimensions', () => {
    const dims = (c: P5Config) => [c.vocabSize, c.dModel, c.dKv, c.dFf, c.numHeads, c.numLayers, c.numDecoderLayers, c.wholeWordEmbeddings];
    expect(dims(PRESETS['p5-small']!)).toEqual([32100, 512, 64, 2048, 8, 6, 6, true]);
    expect(dims(PRESETS['p5-base']!)).toEqual([32100, 768, 64, 3072, 12, 12, 12, true]);
    expect(dims(PRESETS['p5-mini']!)).toEqual([32100, 256, 32, 1024, 8, 4, 4, true]);
    expect(dims(PRESETS['p5-tiny']!)).toEqual([32100, 128, 32, 512, 4, 2, 2, true]);
    const s = PRESETS['p5-small']!;
    expect([s.relativeAttentionNumBuckets, s.relativeAttentionMaxDistance, s.layerNormEpsilon, s.dropoutRate]).toEqual([32, 128, 1e-6, 0.1]);
    expect([s.padTokenId, s.eosTokenId, s.decoderStartTokenId, s.wholeWordSize, s.feedForwardProj]).toEqual([0, 1, 0, 512, 'relu']);
  });

  it('parameterCount equals the elements stored in each fixture, tied copies counted once', async () => {
    for (const name of FIXTURE_NAMES) {
      const header = await readSafetensorsHeader(`${FIXTURES}${name}/model.safetensors`);
      const stored = header.entries
        .filter((e) => !tiedNames(resolveConfig(`${FIXTURES}${name}`)).slice(1).includes(e.name))
        .reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
      expect(parameterCount(resolveConfig(`${FIXTURES}${name}`))).toBe(stored);
    }
  });
});

describe('parseHfConfig', () => {
  it('reads the fixture configs', () => {
    const t5 = parseHfConfig(fixtureJson('t5-tiny'), 't5-tiny/config.json');
    expect(t5).toMatchObject({ vocabSize: 300, dModel: 32, dKv: 8, dFf: 64, numHeads: 2, numLayers: 2, numDecoderLayers: 2, wholeWordEmbeddings: false });
    for (const name of ['p5-tiny', 'p5-eos']) {
      const p5 = parseHfConfig(fixtureJson(name), `${name}/config.json`);
      expect(p5).toEqual({
        vocabSize: 500, dModel: 64, dKv: 16, dFf: 128, numHeads: 4, numLayers: 3, numDecoderLayers: 2,
        relativeAttentionNumBuckets: 32, relativeAttentionMaxDistance: 128, layerNormEpsilon: 1e-6, dropoutRate: 0.1,
        wholeWordEmbeddings: true, wholeWordSize: 512, padTokenId: 0, eosTokenId: 1, decoderStartTokenId: 0, feedForwardProj: 'relu',
        tieWordEmbeddings: true,
      });
    }
    expect(parseHfConfig(fixtureJson('t5v11-tiny'), 'x')).toMatchObject({
      vocabSize: 320, dModel: 32, dKv: 8, dFf: 48, numHeads: 3, numLayers: 2, numDecoderLayers: 3, wholeWordEmbeddings: false,
      feedForwardProj: 'gated-gelu', tieWordEmbeddings: false,
    });
    // tie_word_embeddings is omitted (HF's default, true) in the tied fixture.
    expect(fixtureJson('t5v11-tied').tie_word_embeddings).toBeUndefined();
    expect(parseHfConfig(fixtureJson('t5v11-tied'), 'x')).toMatchObject({ dModel: 40, dKv: 10, numHeads: 4, feedForwardProj: 'gated-gelu', tieWordEmbeddings: true });
  });

  it('feed-forward: feed_forward_proj, or dense_act_fn + is_gated_act (newer HF), which must agree when both are written', () => {
    const ff = (j: Record<string, unknown>) => parseHfConfig(j, 'c.json').feedForwardProj;
    expect(ff({})).toBe('relu');
    expect(ff({ feed_forward_proj: 'gated-gelu' })).toBe('gated-gelu');
    expect(ff({ feed_forward_proj: 'gated-relu' })).toBe('gated-relu');
    expect(ff({ feed_forward_proj: 'gated-gelu_new' })).toBe('gated-gelu');
    expect(ff({ feed_forward_proj: 'gelu_new' })).toBe('gelu_new');
    // flan-t5-small's config.json writes all three keys
    expect(ff({ feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new', is_gated_act: true })).toBe('gated-gelu');
    expect(ff({ dense_act_fn: 'gelu_new', is_gated_act: true })).toBe('gated-gelu');
    expect(ff({ dense_act_fn: 'gelu_pytorch_tanh', is_gated_act: true })).toBe('gated-gelu');
    expect(ff({ dense_act_fn: 'relu', is_gated_act: true })).toBe('gated-relu');
    expect(ff({ dense_act_fn: 'relu' })).toBe('relu');
    expect(ff({ is_gated_act: false })).toBe('relu');
    // one member of the pair given: the other follows feed_forward_proj
    expect(ff({ feed_forward_proj: 'gated-gelu', is_gated_act: true })).toBe('gated-gelu');
    expect(ff({ feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new' })).toBe('gated-gelu');
  });

  it('refuses activations paprec does not implement, by name, and inconsistent or ill-typed feed-forward keys', () => {
    const parse = (j: Record<string, unknown>) => () => parseHfConfig(j, 'flan/config.json');
    expect(parse({ feed_forward_proj: 'gelu' })).toThrow(/flan\/config\.json: feed_forward_proj "gelu": activation "gelu" is not implemented \(exact erf GELU/);
    expect(parse({ feed_forward_proj: 'gated-silu' })).toThrow(/feed_forward_proj "gated-silu": activation "silu" is not implemented; paprec implements relu and gelu_new/);
    expect(parse({ dense_act_fn: 'silu', is_gated_act: true })).toThrow(/dense_act_fn "silu" with is_gated_act true: activation "silu" is not implemented/);
    expect(parse({ feed_forward_proj: 'relu-gated' })).toThrow(/feed_forward_proj "relu-gated" is not "<activation>" or "gated-<activation>"/);
    expect(parse({ feed_forward_proj: 'gated-gelu', dense_act_fn: 'relu', is_gated_act: true }))
      .toThrow(/feed_forward_proj "gated-gelu" \(gated-gelu\) disagrees with dense_act_fn "relu" with is_gated_act true \(gated-relu\)/);
    expect(parse({ feed_forward_proj: 3 })).toThrow(/feed_forward_proj must be a string, got 3/);
    expect(parse({ is_gated_act: 'yes' })).toThrow(/is_gated_act must be true or false, got "yes"/);
    expect(parse({ tie_word_embeddings: 'no' })).toThrow(/tie_word_embeddings must be true or false, got "no"/);
    expect(() => resolveConfig('p5-tiny', { feedForwardProj: 'swiglu' as never })).toThrow(/feedForwardProj is "swiglu"; paprec implements "relu", "gated-gelu", "gated-relu", "gelu_new"/);
  });

  it('omitted keys take T5Config defaults; num_decoder_layers follows num_layers', () => {
    const c = parseHfConfig({ model_type: 't5' }, 'c.json');
    expect([c.vocabSize, c.dModel, c.dKv, c.dFf, c.numHeads, c.numLayers, c.numDecoderLayers]).toEqual([32128, 512, 64, 2048, 8, 6, 6]);
    expect(parseHfConfig({ num_layers: 3 }, 'c.json').numDecoderLayers).toBe(3);
    expect(parseHfConfig({ num_layers: 3, num_decoder_layers: 1 }, 'c.json').numDecoderLayers).toBe(1);
  });

  it('architectures ["P5"] implies whole-word embeddings unless the flag says otherwise', () => {
    const j = { ...fixtureJson('p5-tiny') };
    delete j.whole_word_embeddings;
    delete j.whole_word_size;
    expect(parseHfConfig(j, 'x').wholeWordEmbeddings).toBe(true);
    expect(parseHfConfig({ ...j, whole_word_embeddings: false }, 'x').wholeWordEmbeddings).toBe(false);
    expect(parseHfConfig({ ...j, architectures: ['T5ForConditionalGeneration'] }, 'x').wholeWordEmbeddings).toBe(false);
    expect(parseHfConfig({ ...j, whole_word_size: 64 }, 'x').wholeWordSize).toBe(64);
  });

  it('accepts untied heads; refuses other model types with the reason', () => {
    expect(parseHfConfig({ tie_word_embeddings: false }, 'c.json').tieWordEmbeddings).toBe(false);
    expect(() => parseHfConfig({ model_type: 'bart' }, 'c.json')).toThrow(/model_type is "bart", expected "t5"/);
    expect(() => parseHfConfig([1, 2], 'c.json')).toThrow(/c\.json: config must be a JSON object/);
  });

  it('validates dimensions, naming the HF key', () => {
    const base = fixtureJson('p5-tiny');
    for (const bad of [0, -1, 1.5, '64']) {
      expect(() => parseHfConfig({ ...base, d_model: bad }, 'c.json')).toThrow(`c.json: d_model must be a positive integer, got ${JSON.stringify(bad)}`);
    }
    expect(() => parseHfConfig({ ...base, num_heads: 0 }, 'c.json')).toThrow(/num_heads must be a positive integer/);
    expect(() => parseHfConfig({ ...base, vocab_size: 1 }, 'c.json')).toThrow(/eos_token_id must be an integer in \[0, vocab_size = 1\)/);
    expect(() => parseHfConfig({ ...base, layer_norm_epsilon: 0 }, 'c.json')).toThrow(/layer_norm_epsilon must be a number in \(0, 1\)/);
    expect(() => parseHfConfig({ ...base, dropout_rate: 1 }, 'c.json')).toThrow(/dropout_rate must be a number in \[0, 1\)/);
    expect(() => parseHfConfig({ ...base, whole_word_embeddings: 'yes' }, 'c.json')).toThrow(/whole_word_embeddings must be true or false/);
  });
});

describe('toHfConfig / resolveConfig', () => {
  it('toHfConfig -> parseHfConfig is the identity for presets and fixtures', () => {
    const configs = [...Object.values(PRESETS), ...FIXTURE_NAMES.map((n) => parseHfConfig(fixtureJson(n), n))];
    for (const c of configs) {
      const json = JSON.parse(JSON.stringify(toHfConfig(c)));
      expect(parseHfConfig(json, 'round trip')).toEqual(c);
      expect(json.model_type).toBe('t5');
      expect(json.architectures).toEqual([c.wholeWordEmbeddings ? 'P5' : 'T5ForConditionalGeneration']);
      expect([json.feed_forward_proj, json.tie_word_embeddings]).toEqual([c.feedForwardProj, c.tieWordEmbeddings]);
    }
    // newer HF's pair is written consistently with feed_forward_proj
    expect(toHfConfig(PRESETS['flan-t5-small']!)).toMatchObject({ feed_forward_proj: 'gated-gelu', dense_act_fn: 'gelu_new', is_gated_act: true, tie_word_embeddings: false });
    expect(toHfConfig(PRESETS['p5-small']!)).toMatchObject({ feed_forward_proj: 'relu', dense_act_fn: 'relu', is_gated_act: false, tie_word_embeddings: true });
  });

  it('resolves preset names, overrides, config.json paths, folders and objects', () => {
    expect(resolveConfig('p5-small')).toEqual(PRESETS['p5-small']);
    const small500 = resolveConfig('p5-small', { vocabSize: 500 });
    expect(small500.vocabSize).toBe(500);
    expect(small500.dModel).toBe(512);
    expect(resolveConfig('p5-tiny', { numLayers: 3 }).numDecoderLayers).toBe(3);
    expect(resolveConfig(`${FIXTURES}p5-tiny/config.json`)).toEqual(parseHfConfig(fixtureJson('p5-tiny'), 'x'));
    expect(resolveConfig(`${FIXTURES}t5-tiny`).vocabSize).toBe(300);
    expect(resolveConfig(fixtureJson('p5-eos')).numLayers).toBe(3);
    const obj = resolveConfig({ vocabSize: 100, dModel: 16, dKv: 4, dFf: 32, numHeads: 4, numLayers: 2 });
    expect(obj).toMatchObject({ numDecoderLayers: 2, relativeAttentionNumBuckets: 32, wholeWordEmbeddings: true });
  });

  it('resolveConfig errors name the problem', () => {
    expect(() => resolveConfig('/nonexistent/p5')).toThrow(/\/nonexistent\/p5: model config not found \(give a preset name: p5-small/);
    expect(() => resolveConfig({ vocabSize: 100, dModel: 16 })).toThrow(/config object: dKv is required/);
    expect(() => resolveConfig('p5-small', { dModel: 0 })).toThrow(/preset p5-small \(with overrides\): dModel must be a positive integer, got 0/);
    expect(() => resolveConfig('p5-small', { vocab: 5 } as unknown as Partial<P5Config>)).toThrow(/unknown config override\(s\): vocab/);
    expect(() => resolveConfig(`${FIXTURES}p5-tiny/README.md`)).toThrow(/README\.md: model config is not valid JSON/);
  });
});
