// Where the players' name labels go on the canvas, so that no two overlap and none leaves
// the canvas. Greedy, in the order asked (your own label first): each label tries spots
// around its square (above, below, right, left, then the corners; the spot it had last frame
// first, so labels don't hop about), each pushed inside the canvas; it takes the first spot
// that overlaps no placed label and no obstacle (the minimap, panels), preferring spots that
// cover no player's square; a label that finds none tries its smaller variants (a smaller
// font, the name alone) and is left out if none fits. Pure: the caller measures the text.

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface LabelRequest {
  id: number;
  /** The player's square (with its hp bar) on the canvas: the label goes beside it. */
  anchor: Rect;
  /** The label's sizes (CSS px), best first: e.g. name and hp, the same smaller, the name alone. */
  variants: { w: number; h: number }[];
  /** The spot it had last frame, tried first if it is still free. */
  prefer?: number;
}

export interface PlacedLabel extends Rect {
  id: number;
  /** Which of the request's variants was placed. */
  variant: number;
  /** Which spot around the square it took (for `prefer` next frame). */
  spot: number;
}

/** Gap between a square and its label, and between a label and the canvas edge (CSS px). */
const GAP = 2;
/** Spots tried around the square, in order. */
export const SPOTS = ["above", "below", "right", "left", "above-right", "above-left", "below-right", "below-left"] as const;

export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Whether `r` lies within a canvas of `bounds` (CSS px). */
export function inside(r: Rect, bounds: { w: number; h: number }): boolean {
  return r.x >= 0 && r.y >= 0 && r.x + r.w <= bounds.w && r.y + r.h <= bounds.h;
}

/** A label of `w`×`h` at spot `spot` around `a`, before it is pushed inside the canvas. */
function spotRect(a: Rect, spot: number, w: number, h: number): Rect {
  const cx = a.x + a.w / 2 - w / 2;
  const cy = a.y + a.h / 2 - h / 2;
  const above = a.y - GAP - h;
  const below = a.y + a.h + GAP;
  const right = a.x + a.w + GAP;
  const left = a.x - GAP - w;
  switch (SPOTS[spot]) {
    case "above": return { x: cx, y: above, w, h };
    case "below": return { x: cx, y: below, w, h };
    case "right": return { x: right, y: cy, w, h };
    case "left": return { x: left, y: cy, w, h };
    case "above-right": return { x: right, y: above, w, h };
    case "above-left": return { x: left, y: above, w, h };
    case "below-right": return { x: right, y: below, w, h };
    default: return { x: left, y: below, w, h };
  }
}

/**
 * Places the labels on a canvas of `bounds` (CSS px), in the order given, around the squares
 * their requests name. `obstacles` are areas no label may cover. Every label returned lies
 * within the canvas, `GAP` from its edges, and overlaps no other and no obstacle; a request
 * with no room is left out.
 */
export function layoutLabels(requests: LabelRequest[], bounds: { w: number; h: number }, obstacles: Rect[] = []): PlacedLabel[] {
  const placed: PlacedLabel[] = [];
  const squares = requests.map((r) => r.anchor);
  const free = (r: Rect) => !placed.some((p) => overlaps(p, r)) && !obstacles.some((o) => overlaps(o, r));
  const clearOfSquares = (r: Rect) => !squares.some((s) => overlaps(s, r));
  for (const req of requests) {
    const order = [...SPOTS.keys()];
    if (req.prefer !== undefined && req.prefer >= 0 && req.prefer < SPOTS.length) {
      order.splice(order.indexOf(req.prefer), 1);
      order.unshift(req.prefer);
    }
    let found: PlacedLabel | null = null;
    // First where it covers no square, then anywhere free.
    for (const strict of [true, false]) {
      for (const [variant, { w, h }] of req.variants.entries()) {
        if (w + 2 * GAP > bounds.w || h + 2 * GAP > bounds.h) continue;
        for (const spot of order) {
          const r = spotRect(req.anchor, spot, w, h);
          r.x = Math.min(Math.max(r.x, GAP), bounds.w - GAP - w);
          r.y = Math.min(Math.max(r.y, GAP), bounds.h - GAP - h);
          if (free(r) && (!strict || clearOfSquares(r))) {
            found = { ...r, id: req.id, variant, spot };
            break;
          }
        }
        if (found) break;
      }
      if (found) break;
    }
    if (found) placed.push(found);
  }
  return placed;
}
