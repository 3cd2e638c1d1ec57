/**
 * The prompts paprec renders: P5's hand-written templates (the baselines) and PAP-REC's automated prompt,
 * `{task arg}[T_r1]..[T_rl][T_u]`, whose trigger tokens are ids that the search replaces.
 */
import type { Task } from '../types.js';

/** Whether P5 saw the template in pretraining ('seen') or only at test time ('unseen'). */
export type PromptKind = 'seen' | 'unseen';

/**
 * A P5 template. Placeholders: `{user}` (user id digits), `{history}` (joined history items), `{candidates}`
 * (joined candidate items), `{item}`, `{title}`, `{rating}`. `\n` is a literal newline, as in P5.
 */
export interface ManualPrompt {
  readonly type: 'manual';
  readonly id: string;
  readonly task: Task;
  readonly kind: PromptKind;
  readonly template: string;
  /** True for P5's own wording; false for templates paprec adds for pretraining. */
  readonly fromP5: boolean;
}

/** Where the trigger block sits relative to the task argument (PAP-REC Table 12: suffix wins). */
export type Placement = 'suffix' | 'prefix';
/** Where [T_u] sits inside the trigger block (PAP-REC Table 13: end wins). */
export type UserTokenPosition = 'end' | 'start';

export interface AutomatedPrompt {
  readonly type: 'automated';
  readonly task: Task;
  readonly placement: Placement;
  readonly userPosition: UserTokenPosition;
  /** Ids of [T_r1..T_rl], length l >= 1; each a word-start piece. */
  readonly taskTokens: Int32Array;
  /** Personalized prompts: [T_u] per user (index = user id - 1). Absent for non-personalized prompts. */
  readonly userTokens?: Int32Array;
  /** The id a user without a searched token gets (`?` as a word start, see defaultUserToken). */
  readonly defaultUserToken: number;
  /**
   * A soft prompt (`paprec soft-prompt`): [l * d_model] input embeddings of the task slots, which replace the
   * embeddings of `taskTokens` (then its nearest-token projection, rendered for the whole-word ids) in the encoder.
   */
  readonly slotEmbeddings?: Float32Array;
}

export type Prompt = ManualPrompt | AutomatedPrompt;

/** The fields of one example a prompt can refer to (what src/data's split builders provide, per task). */
export interface PromptExample {
  readonly task: Task;
  readonly user: number; // 1-based
  readonly history?: readonly number[];
  readonly candidates?: readonly number[];
  readonly item?: number;
  readonly rating?: number;
  readonly title?: string;
  /** The target text: the item id digits, or the explanation. */
  readonly target: string;
  /** The history joiner of this example (` , ` or ` -> `), fixed when the example is built. */
  readonly joiner: string;
}
