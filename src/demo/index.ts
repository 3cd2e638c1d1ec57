/**
 * The embedded default of `paprec demo`: a synthetic P5 data folder and a tokenizer built for it.
 * (The tiny backbone config and the demo command itself live beside this, written by the demo's owner.)
 */
import * as path from 'node:path';
import { MANUAL_PROMPTS } from '../prompts/manual.js';
import { writeFileAtomic } from '../util/fs.js';
import { buildDemoTokenizer } from './tokenizerBuilder.js';
import { generateWorld, worldTexts, writeWorld, type World, type WorldOptions } from './world.js';

export { generateWorld, worldFiles, worldTexts, writeWorld, pyStr, verbFor } from './world.js';
export type {
  ResolvedWorldOptions,
  ReviewRecord,
  World,
  WorldCategory,
  WorldInteraction,
  WorldItem,
  WorldOptions,
  WorldUser,
} from './world.js';
export { buildDemoTokenizer, normalizeDemoText, DEMO_SPECIALS } from './tokenizerBuilder.js';
export type { DemoTokenizerOptions } from './tokenizerBuilder.js';

/**
 * Everyday words of recommendation prompts beyond P5's templates: the demo vocabulary is small, and these give the
 * trigger-token search (whole-word pieces only) a choice of meaningful words, as T5's 32k vocabulary does.
 */
const PROMPT_WORDS = `
a an the this that these those it its he she they them his her their user users customer customers person people
buy bought buys buying purchase purchased purchases purchasing order ordered shop store item items product products
goods next previous last first second new similar related popular favorite favourite best better good great nice
bad worst likely possible probable probably maybe will would should could can may might must shall
recommend recommended recommendation recommendations suggest suggestion predict prediction guess choose choice
select selection pick find give show list history sequence candidates candidate following below above from to for of
in on at by with without about after before then now soon later again also only just more most less least many
much some any all each every one two three what which who whom whose why how when where is are was were be been being
have has had do does did want wants like likes love loves need needs prefer prefers enjoy enjoys review reviews
rating ratings star stars explanation explain describe opinion feel feels think thinks thought quality price
and or but not no yes so because if than very really quite too please here there
`;

/** The demo tokenizer's corpus: the world's texts, every manual prompt (placeholders removed), everyday words. */
export function demoCorpus(world: World): string[] {
  const templates = MANUAL_PROMPTS.map((p) => p.template.replace(/\{[A-Za-z_]+\}/g, ''));
  return [...worldTexts(world), ...templates, PROMPT_WORDS];
}

export interface DemoFiles {
  world: World;
  /** The P5 data folder (`sequential_data.txt`, `datamaps.json`, ...). */
  dataDir: string;
  tokenizerPath: string;
}

/** Generate the world and write `<outDir>/data/` (a P5 folder) and `<outDir>/tokenizer.json`. */
export async function writeDemoData(outDir: string, opts: WorldOptions): Promise<DemoFiles> {
  const world = generateWorld(opts);
  const dataDir = path.join(outDir, 'data');
  await writeWorld(world, dataDir);
  const tokenizerPath = path.join(outDir, 'tokenizer.json');
  await writeFileAtomic(tokenizerPath, buildDemoTokenizer(demoCorpus(world)));
  return { world, dataDir, tokenizerPath };
}

export { runDemo, DEFAULT_DEMO_DIR, DEFAULT_DEMO_SEED } from './pipeline.js';
export type { DemoOptions, DemoEvent, DemoStage, DemoResult, DemoTaskResult } from './pipeline.js';
export { demoPlan } from './plan.js';
export type { DemoPlan } from './plan.js';
export { popularRow, withPopularRow, POPULAR_KIND } from './popular.js';
