/**
 * The demo's synthetic recommendation world: a small beauty shop whose customers behave in ways a P5 model can learn.
 *
 * Signal, by task:
 * - sequential: every item has a few "successor" items (mostly in its own category, one in a complementary category);
 *   the next purchase is often a re-buy of a recent item (`repeatProb`) or a successor of the last one, otherwise a
 *   pick from the user's drifting category taste.
 *   A first-order transition model therefore beats most-popular by a wide margin, and so can a trained backbone.
 * - explanation: a review sentence names two of the item's feature words, in the order of the user's own aspect
 *   priorities, with the item's fixed adjectives whose polarity follows the rating.
 * - matching: the same sequential structure, scored against 99 never-touched negatives.
 *
 * Everything is a pure function of the seed (src/data/rng.ts keyed streams), and the written folder is byte-identical
 * for the same seed and options.
 */
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng, rngFor } from '../data/rng.js';
import { PyFloat, picklePlain } from '../data/pickleWriter.js';
import { fail } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';

export interface WorldOptions {
  seed: number;
  /** Number of users (default 640). */
  users?: number;
  /** Number of items (default 220). Must leave room for 99 negatives per user: items >= maxLength + 99. */
  items?: number;
  /** Number of categories, 2..12 (default 10). */
  categories?: number;
  /** Sequence length range, inclusive (default 5..20; P5 needs at least 3: train, val, test targets). */
  minLength?: number;
  maxLength?: number;
  /** Probability that the next purchase is a successor of the last one (default 0.6). */
  successorProb?: number;
  /** Probability that a purchase repeats one of the user's last three (a re-buy of a consumable; default 0). */
  repeatProb?: number;
  /** Probability per step that the user's taste drifts toward a new category (default 0.12). */
  driftProb?: number;
  /**
   * Taste weight of the user's sign-up campaign (default 0: none). Users arrive through one campaign per category in
   * rotation, user u through category u mod categories (with 10 categories: the id's last digit), and start with this
   * much extra taste for it (a favourite weighs 0.5-1.5). It gives the id itself something to say about the user,
   * which is all P5's matching prompts hold besides the candidates. Off in the demo: it did not make the demo backbone
   * learn its users on matching (README "Matching on the demo backbone", scripts/matching-probe.mjs).
   */
  campaignTaste?: number;
}

export type ResolvedWorldOptions = Required<WorldOptions>;

export interface WorldItem {
  /** P5 item id, 1-based, numbered by first appearance in the sequences (as P5's datamaps are). */
  id: number;
  asin: string; // "I0001"
  category: number; // index into World.categories
  title: string; // "Velvet Rose Face Cream"
  /** 2-4 aspect words ("scent", "texture", ...). */
  features: string[];
  /** The item's fixed positive / negative adjective for each feature (same order as `features`). */
  positive: string[];
  negative: string[];
  /** Successor item ids, most likely first. */
  successors: number[];
}

export interface WorldInteraction {
  item: number;
  rating: number; // 1..5
  /** Days since the shop opened; strictly increasing per user. */
  time: number;
  explanation: string;
  feature: string;
}

export interface WorldUser {
  id: number; // P5 user id, 1-based
  reviewerID: string; // "U0001"
  /** Time-ordered purchases. */
  interactions: WorldInteraction[];
}

export interface WorldCategory {
  name: string;
  /** P5 meta `categories` path, e.g. ['Beauty', 'Skin Care', 'Face']. */
  path: string[];
}

export interface World {
  options: ResolvedWorldOptions;
  categories: WorldCategory[];
  items: WorldItem[]; // items[id - 1]
  users: WorldUser[]; // users[id - 1]
  /** 99 never-touched item ids per user (index = user id - 1). */
  negatives: number[][];
  /** Explanation records split 80/10/10 (shuffled with the seed). */
  reviewSplits: Record<'train' | 'val' | 'test', ReviewRecord[]>;
}

/** One exp_splits.pkl entry, with P5's key names. */
export interface ReviewRecord {
  reviewerID: string;
  asin: string;
  overall: number;
  explanation: string;
  feature: string;
}

// ---------------------------------------------------------------------------------------------------------------
// The shop's vocabulary. Aspects carry the adjectives used in explanations.

const ASPECTS: Record<string, { pos: string[]; neg: string[] }> = {
  scent: { pos: ['lovely', 'fresh', 'delicate', 'pleasant'], neg: ['overpowering', 'artificial', 'faint'] },
  texture: { pos: ['smooth', 'silky', 'light', 'creamy'], neg: ['greasy', 'sticky', 'gritty'] },
  color: { pos: ['beautiful', 'vibrant', 'rich', 'natural'], neg: ['dull', 'patchy', 'off'] },
  finish: { pos: ['flawless', 'soft', 'radiant', 'even'], neg: ['cakey', 'shiny', 'uneven'] },
  packaging: { pos: ['elegant', 'sturdy', 'cute', 'compact'], neg: ['flimsy', 'leaky', 'cheap'] },
  price: { pos: ['fair', 'reasonable', 'great'], neg: ['steep', 'high', 'unfair'] },
  size: { pos: ['generous', 'perfect', 'handy'], neg: ['tiny', 'awkward', 'small'] },
  lather: { pos: ['rich', 'thick', 'gentle'], neg: ['thin', 'weak', 'harsh'] },
  moisture: { pos: ['lasting', 'deep', 'balanced'], neg: ['drying', 'lacking', 'poor'] },
  coverage: { pos: ['full', 'buildable', 'even'], neg: ['sheer', 'streaky', 'spotty'] },
  wear: { pos: ['long', 'durable', 'reliable'], neg: ['short', 'fleeting', 'weak'] },
  bristles: { pos: ['soft', 'dense', 'firm'], neg: ['scratchy', 'loose', 'stiff'] },
  hold: { pos: ['strong', 'flexible', 'firm'], neg: ['weak', 'crunchy', 'stiff'] },
  formula: { pos: ['gentle', 'clean', 'effective'], neg: ['harsh', 'irritating', 'useless'] },
  shine: { pos: ['glossy', 'brilliant', 'healthy'], neg: ['greasy', 'flat', 'dull'] },
};

/** A global priority order over aspects is drawn per user; explanations mention the item's top two. */
const ASPECT_NAMES = Object.keys(ASPECTS);

interface CategorySpec {
  path: string[];
  nouns: string[];
  aspects: string[];
}

const CATEGORY_SPECS: CategorySpec[] = [
  { path: ['Beauty', 'Skin Care', 'Face'], nouns: ['Face Cream', 'Serum', 'Cleanser'], aspects: ['texture', 'scent', 'moisture', 'formula', 'packaging', 'price'] },
  { path: ['Beauty', 'Fragrance'], nouns: ['Perfume', 'Body Mist', 'Cologne'], aspects: ['scent', 'wear', 'packaging', 'price', 'size'] },
  { path: ['Beauty', 'Hair Care', 'Shampoo'], nouns: ['Shampoo', 'Conditioner', 'Hair Mask'], aspects: ['lather', 'scent', 'moisture', 'shine', 'formula', 'size'] },
  { path: ['Beauty', 'Makeup', 'Lips'], nouns: ['Lipstick', 'Lip Gloss', 'Lip Balm'], aspects: ['color', 'wear', 'texture', 'finish', 'moisture', 'packaging'] },
  { path: ['Beauty', 'Makeup', 'Eyes'], nouns: ['Mascara', 'Eyeliner', 'Eye Shadow'], aspects: ['color', 'wear', 'formula', 'finish', 'packaging'] },
  { path: ['Beauty', 'Makeup', 'Face'], nouns: ['Foundation', 'Concealer', 'Powder'], aspects: ['coverage', 'finish', 'color', 'texture', 'wear', 'price'] },
  { path: ['Beauty', 'Nail Care'], nouns: ['Nail Polish', 'Top Coat', 'Nail Oil'], aspects: ['color', 'wear', 'shine', 'formula', 'size'] },
  { path: ['Beauty', 'Bath & Body'], nouns: ['Body Wash', 'Bath Bomb', 'Body Lotion'], aspects: ['scent', 'lather', 'moisture', 'texture', 'price', 'size'] },
  { path: ['Beauty', 'Tools & Accessories'], nouns: ['Makeup Brush', 'Hair Brush', 'Sponge'], aspects: ['bristles', 'packaging', 'price', 'size', 'texture'] },
  { path: ['Beauty', 'Hair Care', 'Styling'], nouns: ['Hair Spray', 'Styling Gel', 'Hair Wax'], aspects: ['hold', 'shine', 'scent', 'formula', 'price'] },
  { path: ['Beauty', 'Skin Care', 'Sun'], nouns: ['Sunscreen', 'After Sun Gel', 'Tinted Lotion'], aspects: ['texture', 'formula', 'finish', 'scent', 'size'] },
  { path: ['Beauty', 'Men', 'Shaving'], nouns: ['Shaving Cream', 'Aftershave', 'Beard Oil'], aspects: ['lather', 'scent', 'moisture', 'formula', 'packaging'] },
];

const BRANDS = ['Velvet', 'Lumen', 'Aurora', 'Silk', 'Nova', 'Petal', 'Coral', 'Ivory', 'Juniper', 'Maple', 'Opal', 'Sage',
  'Willow', 'Amber', 'Cedar', 'Dew', 'Fern', 'Halo', 'Iris', 'Jade', 'Luna', 'Meadow', 'Pearl', 'Rosewood'];
const DESCRIPTORS = ['Rose', 'Lavender', 'Citrus', 'Vanilla', 'Ocean', 'Honey', 'Mint', 'Coconut', 'Almond', 'Jasmine',
  'Matte', 'Glow', 'Hydrating', 'Gentle', 'Daily', 'Night', 'Repair', 'Fresh', 'Pure', 'Radiant', 'Cherry', 'Peony'];

/** "is" or "are": the only plural aspect word is "bristles". */
export function verbFor(aspect: string): string {
  return aspect.endsWith('s') ? 'are' : 'is';
}

/** Sentence templates by rating: `a` and `b` are the two aspects mentioned, `p*`/`n*` their adjectives. */
function explain(rating: number, a: string, pa: string, na: string, b: string, pb: string, nb: string): string {
  const the = (x: string, adj: string) => `the ${x} ${verbFor(x)} ${adj}`;
  switch (rating) {
    case 5: return `${the(a, pa)} and ${the(b, pb)}`;
    case 4: return `${the(a, pa)} and ${the(b, 'fine')}`;
    case 3: return `${the(a, pa)} but ${the(b, nb)}`;
    case 2: return `${the(a, na)} and ${the(b, 'not great')}`;
    default: return `${the(a, na)} and ${the(b, nb)}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------

const DEFAULTS: Omit<ResolvedWorldOptions, 'seed'> = {
  users: 640,
  items: 220,
  categories: 10,
  minLength: 5,
  maxLength: 20,
  successorProb: 0.6,
  driftProb: 0.12,
  repeatProb: 0,
  campaignTaste: 0,
};

const NEGATIVES = 99;
const SUCCESSOR_WEIGHTS = [0.5, 0.3, 0.2];

function resolve(opts: WorldOptions): ResolvedWorldOptions {
  const o: ResolvedWorldOptions = { ...DEFAULTS, ...stripUndefined(opts) } as ResolvedWorldOptions;
  const where = 'demo world options';
  if (!Number.isInteger(o.seed)) fail(where, `seed must be an integer, got ${o.seed}`);
  if (!Number.isInteger(o.users) || o.users < 1) fail(where, `users must be a positive integer, got ${o.users}`);
  if (!Number.isInteger(o.categories) || o.categories < 2 || o.categories > CATEGORY_SPECS.length)
    fail(where, `categories must be an integer in 2..${CATEGORY_SPECS.length}, got ${o.categories}`);
  if (!Number.isInteger(o.minLength) || o.minLength < 3) fail(where, `minLength must be an integer >= 3, got ${o.minLength}`);
  if (!Number.isInteger(o.maxLength) || o.maxLength < o.minLength)
    fail(where, `maxLength must be an integer >= minLength (${o.minLength}), got ${o.maxLength}`);
  if (!Number.isInteger(o.items) || o.items < o.maxLength + NEGATIVES || o.items < o.categories * 4)
    fail(where, `items must be an integer >= maxLength + ${NEGATIVES} (${o.maxLength + NEGATIVES}) and >= 4 per category, got ${o.items}`);
  if (!(o.successorProb >= 0 && o.successorProb <= 1)) fail(where, `successorProb must be in [0, 1], got ${o.successorProb}`);
  if (!(o.driftProb >= 0 && o.driftProb <= 1)) fail(where, `driftProb must be in [0, 1], got ${o.driftProb}`);
  if (!(o.repeatProb >= 0 && o.repeatProb <= 1)) fail(where, `repeatProb must be in [0, 1], got ${o.repeatProb}`);
  if (!(o.campaignTaste >= 0 && Number.isFinite(o.campaignTaste))) fail(where, `campaignTaste must be a finite number >= 0, got ${o.campaignTaste}`);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function weightedIndex(rng: Rng, weights: readonly number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let x = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i] as number;
    if (x < 0) return i;
  }
  return weights.length - 1;
}

function gaussian(rng: Rng): number {
  const u = 1 - rng.next(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Draft item (internal index, before P5 renumbering). */
interface DraftItem {
  category: number;
  title: string;
  noun: string;
  features: string[];
  positive: string[];
  negative: string[];
  popularity: number;
  quality: number;
  successors: number[]; // internal indexes
}

function draftItems(o: ResolvedWorldOptions): { items: DraftItem[]; byCategory: number[][] } {
  const rng = rngFor(o.seed, 'demo-items');
  const items: DraftItem[] = [];
  const byCategory: number[][] = Array.from({ length: o.categories }, () => []);
  const titles = new Set<string>();
  for (let i = 0; i < o.items; i++) {
    const category = i % o.categories; // balanced categories
    const spec = CATEGORY_SPECS[category] as CategorySpec;
    let title = '';
    let noun = '';
    for (let attempt = 0; ; attempt++) {
      noun = rng.pick(spec.nouns);
      title = `${rng.pick(BRANDS)} ${rng.pick(DESCRIPTORS)} ${noun}`;
      if (!titles.has(title)) break;
      if (attempt > 50) { title = `${title} ${i + 1}`; break; } // only with absurd item counts
    }
    titles.add(title);
    const nFeatures = rng.intBetween(2, Math.min(4, spec.aspects.length));
    const features = rng.shuffle([...spec.aspects]).slice(0, nFeatures);
    const positive = features.map((f) => rng.pick((ASPECTS[f] as { pos: string[] }).pos));
    const negative = features.map((f) => rng.pick((ASPECTS[f] as { neg: string[] }).neg));
    // Zipf-like popularity (rank within category drawn at random) so most-popular is a real, beatable baseline.
    const popularity = 1 / Math.pow(1 + rng.int(o.items / o.categories + 1), 0.8);
    const quality = 0.6 * gaussian(rng);
    items.push({ category, title, noun, features, positive, negative, popularity, quality, successors: [] });
    (byCategory[category] as number[]).push(i);
  }
  // Successors: two in the same category, one in the "complementary" category (c + 1), none the item itself.
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as DraftItem;
    const same = (byCategory[it.category] as number[]).filter((j) => j !== i);
    const comp = byCategory[(it.category + 1) % o.categories] as number[];
    const chosen: number[] = [];
    while (chosen.length < 2) {
      const j = same[weightedIndex(rng, same.map((k) => (items[k] as DraftItem).popularity + 0.2))] as number;
      if (!chosen.includes(j)) chosen.push(j);
    }
    chosen.push(rng.pick(comp));
    it.successors = chosen;
  }
  return { items, byCategory };
}

interface DraftInteraction { item: number; rating: number; time: number }

function draftSequence(o: ResolvedWorldOptions, u: number, items: DraftItem[], byCategory: number[][]): {
  seq: DraftInteraction[];
  aspectOrder: string[];
} {
  const rng = rngFor(o.seed, 'demo-user', u);
  const length = rng.intBetween(o.minLength, o.maxLength);
  // Latent taste: 1-3 favourite categories over a small floor, so some exploration remains.
  const taste = new Array<number>(o.categories).fill(0.04);
  const nFav = rng.intBetween(1, 3);
  for (let k = 0; k < nFav; k++) taste[rng.int(o.categories)] += 0.5 + rng.next();
  taste[(u + 1) % o.categories] += o.campaignTaste; // u is 0-based: user id u + 1
  const bias = 0.4 * gaussian(rng);
  const aspectOrder = rng.shuffle([...ASPECT_NAMES]);
  const seen = new Set<number>();
  const seq: DraftInteraction[] = [];
  let time = rng.int(365);

  const tastePick = (): number => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const c = weightedIndex(rng, taste);
      const pool = byCategory[c] as number[];
      const j = pool[weightedIndex(rng, pool.map((k) => (items[k] as DraftItem).popularity))] as number;
      if (!seen.has(j)) return j;
    }
    const rest = items.map((_, k) => k).filter((k) => !seen.has(k));
    return rng.pick(rest);
  };

  for (let t = 0; t < length; t++) {
    // Taste drift: interest moves toward a new category and older interests fade a little.
    if (t > 0 && rng.next() < o.driftProb) {
      for (let c = 0; c < taste.length; c++) taste[c] = (taste[c] as number) * 0.7;
      taste[rng.int(o.categories)] += 0.8;
    }
    let next = -1;
    const last = seq[seq.length - 1];
    if (seq.length >= 2 && rng.next() < o.repeatProb) {
      // A re-buy: one of the three most recent purchases again.
      next = (seq[seq.length - 1 - rng.int(Math.min(3, seq.length))] as DraftInteraction).item;
    } else if (last && rng.next() < o.successorProb) {
      const succ = (items[last.item] as DraftItem).successors;
      const first = weightedIndex(rng, SUCCESSOR_WEIGHTS);
      for (let k = 0; k < succ.length; k++) {
        const j = succ[(first + k) % succ.length] as number;
        if (!seen.has(j)) { next = j; break; }
      }
    }
    if (next < 0) next = tastePick();
    seen.add(next);
    const it = items[next] as DraftItem;
    const maxTaste = Math.max(...taste);
    const affinity = (taste[it.category] as number) / maxTaste; // 0..1
    const score = 2.9 + 1.8 * affinity + it.quality + bias + 0.5 * gaussian(rng);
    const rating = Math.min(5, Math.max(1, Math.round(score)));
    time += 1 + rng.int(30);
    seq.push({ item: next, rating, time });
  }
  return { seq, aspectOrder };
}

/** Generate the world for `opts.seed`; pure and deterministic. */
export function generateWorld(opts: WorldOptions): World {
  const o = resolve(opts);
  const { items: drafts, byCategory } = draftItems(o);
  const sequences = Array.from({ length: o.users }, (_, u) => draftSequence(o, u, drafts, byCategory));

  // P5 numbers items by first appearance in the sequence file; items nobody bought come last.
  const idOf = new Array<number>(drafts.length).fill(0);
  let nextId = 1;
  for (const { seq } of sequences) for (const x of seq) if (idOf[x.item] === 0) idOf[x.item] = nextId++;
  for (let i = 0; i < drafts.length; i++) if (idOf[i] === 0) idOf[i] = nextId++;
  const width = Math.max(4, String(Math.max(o.users, o.items)).length);

  const items: WorldItem[] = new Array(drafts.length);
  drafts.forEach((d, i) => {
    const id = idOf[i] as number;
    items[id - 1] = {
      id,
      asin: `I${pad(id, width)}`,
      category: d.category,
      title: d.title,
      features: d.features,
      positive: d.positive,
      negative: d.negative,
      successors: d.successors.map((j) => idOf[j] as number),
    };
  });

  const users: WorldUser[] = sequences.map(({ seq, aspectOrder }, u) => ({
    id: u + 1,
    reviewerID: `U${pad(u + 1, width)}`,
    interactions: seq.map((x) => {
      const item = items[(idOf[x.item] as number) - 1] as WorldItem;
      // The user's two most important aspects among the item's features, in the user's order.
      const ranked = item.features
        .map((f, k) => ({ f, k, r: aspectOrder.indexOf(f) }))
        .sort((p, q) => p.r - q.r);
      const a = ranked[0] as { f: string; k: number };
      const b = ranked[1] as { f: string; k: number };
      const explanation = explain(x.rating, a.f, item.positive[a.k] as string, item.negative[a.k] as string,
        b.f, item.positive[b.k] as string, item.negative[b.k] as string);
      return { item: item.id, rating: x.rating, time: x.time, explanation, feature: a.f };
    }),
  }));

  const negatives = users.map((user) => {
    const rng = rngFor(o.seed, 'demo-negatives', user.id);
    const touched = new Set(user.interactions.map((x) => x.item));
    const pool: number[] = [];
    for (let id = 1; id <= items.length; id++) if (!touched.has(id)) pool.push(id);
    return rng.shuffle(pool).slice(0, NEGATIVES);
  });

  const all: ReviewRecord[] = [];
  for (const user of users) {
    for (const x of user.interactions) {
      all.push({
        reviewerID: user.reviewerID,
        asin: (items[x.item - 1] as WorldItem).asin,
        overall: x.rating,
        explanation: x.explanation,
        feature: x.feature,
      });
    }
  }
  rngFor(o.seed, 'demo-review-split').shuffle(all);
  const nTrain = Math.round(all.length * 0.8);
  const nVal = Math.round(all.length * 0.1);
  const reviewSplits = {
    train: all.slice(0, nTrain),
    val: all.slice(nTrain, nTrain + nVal),
    test: all.slice(nTrain + nVal),
  };

  return {
    options: o,
    categories: CATEGORY_SPECS.slice(0, o.categories).map((s) => ({ name: s.path[s.path.length - 1] as string, path: s.path })),
    items,
    users,
    negatives,
    reviewSplits,
  };
}

/** Every text of the world a prompt may contain (titles, explanations, feature words), for the demo tokenizer. */
export function worldTexts(world: World): string[] {
  const texts: string[] = [];
  for (const c of world.categories) texts.push(c.path.join(' '));
  for (const it of world.items) texts.push(it.title, it.features.join(' '), it.positive.join(' '), it.negative.join(' '));
  for (const u of world.users) for (const x of u.interactions) texts.push(x.explanation);
  return texts;
}

// ---------------------------------------------------------------------------------------------------------------
// Writing the P5 folder.

/** A Python str literal as `repr()` writes it for ASCII text (single quotes unless the text holds one). */
export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** The files of the P5 folder, as bytes, in a fixed order (also what `writeWorld` writes). */
export function worldFiles(world: World): Map<string, Uint8Array> {
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>();

  const seqLines = world.users.map((u) => [u.id, ...u.interactions.map((x) => x.item)].join(' '));
  files.set('sequential_data.txt', enc.encode(seqLines.join('\n') + '\n'));

  const user2id: Record<string, string> = {};
  const id2user: Record<string, string> = {};
  for (const u of world.users) { user2id[u.reviewerID] = String(u.id); id2user[String(u.id)] = u.reviewerID; }
  const item2id: Record<string, string> = {};
  const id2item: Record<string, string> = {};
  for (const it of world.items) { item2id[it.asin] = String(it.id); id2item[String(it.id)] = it.asin; }
  files.set('datamaps.json', enc.encode(JSON.stringify({ user2id, item2id, id2user, id2item })));

  const negLines = world.negatives.map((neg, i) => [i + 1, ...neg].join(' '));
  files.set('negative_samples.txt', enc.encode(negLines.join('\n') + '\n'));

  // `overall` is a float in P5's pickle (5.0), so it is wrapped to keep its Python type.
  const pyReviews = (list: ReviewRecord[]) => list.map((r) => ({ ...r, overall: new PyFloat(r.overall) }));
  const { train, val, test } = world.reviewSplits;
  files.set('exp_splits.pkl', picklePlain({ train: pyReviews(train), val: pyReviews(val), test: pyReviews(test) }));

  const metaLines = world.items.map((it) => {
    const cat = world.categories[it.category] as WorldCategory;
    return `{'asin': ${pyStr(it.asin)}, 'title': ${pyStr(it.title)}, 'categories': [[${cat.path.map(pyStr).join(', ')}]]}`;
  });
  files.set('meta.json.gz', gzipSync(enc.encode(metaLines.join('\n') + '\n'), { level: 9 }));
  return files;
}

/** Write the world as a P5 data folder under `dir` (created if needed); returns the written paths. */
export async function writeWorld(world: World, dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const [name, bytes] of worldFiles(world)) {
    const file = path.join(dir, name);
    await writeFileAtomic(file, bytes);
    written.push(file);
  }
  return written;
}
