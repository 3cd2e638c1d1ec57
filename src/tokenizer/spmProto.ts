import protobuf from 'protobufjs';
import { fail } from '../errors.js';

/**
 * The fields of SentencePiece's ModelProto (sentencepiece_model.proto, proto2) that tokenization needs.
 * Hand-written so no generated code or .proto file ships; unknown fields are skipped by protobufjs.
 */
const SCHEMA = {
  nested: {
    ModelProto: {
      fields: {
        pieces: { rule: 'repeated', type: 'SentencePiece', id: 1 },
        trainerSpec: { type: 'TrainerSpec', id: 2 },
        normalizerSpec: { type: 'NormalizerSpec', id: 3 },
      },
    },
    SentencePiece: {
      fields: {
        piece: { type: 'string', id: 1 },
        score: { type: 'float', id: 2 },
        type: { type: 'int32', id: 3, options: { default: 1 } },
      },
    },
    TrainerSpec: {
      fields: {
        modelType: { type: 'int32', id: 3, options: { default: 1 } },
        vocabSize: { type: 'int32', id: 4 },
        treatWhitespaceAsSuffix: { type: 'bool', id: 24 },
        byteFallback: { type: 'bool', id: 35 },
        unkId: { type: 'int32', id: 40, options: { default: 0 } },
        bosId: { type: 'int32', id: 41, options: { default: 1 } },
        eosId: { type: 'int32', id: 42, options: { default: 2 } },
        padId: { type: 'int32', id: 43, options: { default: -1 } },
      },
    },
    NormalizerSpec: {
      fields: {
        name: { type: 'string', id: 1 },
        precompiledCharsmap: { type: 'bytes', id: 2 },
        addDummyPrefix: { type: 'bool', id: 3, options: { default: true } },
        removeExtraWhitespaces: { type: 'bool', id: 4, options: { default: true } },
        escapeWhitespaces: { type: 'bool', id: 5, options: { default: true } },
      },
    },
  },
};

/** SentencePiece piece types (ModelProto.SentencePiece.Type). */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmPiece {
  piece: string;
  score: number; // a float32 value
  type: number;
}

export interface SpmNormalizerSpec {
  name: string;
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SpmModel {
  pieces: SpmPiece[];
  modelType: number; // 1 = unigram
  unkId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  normalizer: SpmNormalizerSpec;
}

let modelType: protobuf.Type | undefined;
function modelProto(): protobuf.Type {
  modelType ??= protobuf.Root.fromJSON(SCHEMA).lookupType('ModelProto');
  return modelType;
}

/** Decode a `spiece.model` file's bytes; `file` names it in errors. */
export function decodeSentencePieceModel(bytes: Uint8Array, file: string): SpmModel {
  let msg: Record<string, any>;
  try {
    const decoded = modelProto().decode(bytes);
    msg = modelProto().toObject(decoded, { defaults: true, bytes: Uint8Array as any }) as Record<string, any>;
  } catch (err) {
    fail(file, `not a SentencePiece model, or a truncated one (${bytes.length} bytes; protobuf decode failed: ${(err as Error).message})`);
  }
  const pieces = (msg.pieces ?? []) as SpmPiece[];
  if (pieces.length === 0) fail(file, 'not a SentencePiece model (no pieces)');
  // pieces come first in the file, the specs after them: a cut-off file decodes to pieces without specs.
  for (const [field, name] of [['trainerSpec', 'trainer_spec'], ['normalizerSpec', 'normalizer_spec']] as const) {
    if (msg[field] === null || msg[field] === undefined) fail(file, `no ${name}: the file is truncated or not a SentencePiece model (${bytes.length} bytes)`);
  }
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (typeof p.piece !== 'string' || p.piece.length === 0) fail(file, `piece ${i} has an empty string`);
    if (!(p.type >= 1 && p.type <= 6)) fail(file, `piece ${i} ("${p.piece}") has unknown type ${p.type}`);
  }
  const t = (msg.trainerSpec ?? {}) as Record<string, any>;
  const n = (msg.normalizerSpec ?? {}) as Record<string, any>;
  return {
    pieces,
    modelType: t.modelType ?? 1,
    unkId: t.unkId ?? 0,
    eosId: t.eosId ?? 2,
    padId: t.padId ?? -1,
    byteFallback: Boolean(t.byteFallback),
    treatWhitespaceAsSuffix: Boolean(t.treatWhitespaceAsSuffix),
    normalizer: {
      name: n.name ?? '',
      precompiledCharsmap: n.precompiledCharsmap instanceof Uint8Array ? n.precompiledCharsmap : new Uint8Array(0),
      addDummyPrefix: n.addDummyPrefix ?? true,
      removeExtraWhitespaces: n.removeExtraWhitespaces ?? true,
      escapeWhitespaces: n.escapeWhitespaces ?? true,
    },
  };
}
