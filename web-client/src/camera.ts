// The camera: which part of the map the canvas shows, and how big. Pure maths, no DOM: the
// zoom rule (a player's square 24 to 40 CSS px, bigger on bigger screens), map ↔ screen,
// clamping the view at the map's edges (a little of the outside may show, never more), the
// spacing of the background grid, and a follower that glides after your player.
//
// Units: the camera works in map units (positions / SUBUNITS) and CSS pixels; the page scales
// the drawing by devicePixelRatio on top.

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface Camera {
  /** The map point (units) at the middle of the canvas. */
  x: number;
  y: number;
  /** CSS px per map unit. */
  scale: number;
  /** The canvas, CSS px. */
  width: number;
  height: number;
}

/** A player's square on screen is never smaller than this (CSS px)… */
export const MIN_SQUARE_PX = 24;
/** …nor larger than this. */
export const MAX_SQUARE_PX = 40;
/** Between those, the square is this share of the canvas's shorter side. */
const SQUARE_SHARE = 0.05;
/** Past a map edge, the view shows at most this share of the canvas of the outside. */
export const EDGE_SLACK = 0.15;

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

/** How big a player's square is drawn on a canvas of this size (CSS px). */
export function squarePx(view: Size): number {
  return clamp(Math.min(view.width, view.height) * SQUARE_SHARE, MIN_SQUARE_PX, MAX_SQUARE_PX);
}

/** With a view radius, the canvas spans at most this share of it each way from its centre;
 * the follower keeps its centre within the rest of the radius from your player. */
export const VIEW_SHARE = 0.8;

/** The zoom (CSS px per map unit) for a canvas of this size and the rules' player size (units).
 * With a view radius (units; 0: the whole map is sent), never less than what keeps the canvas
 * within VIEW_SHARE of that radius of its centre on both axes: the server sends everything
 * within the radius of your player and may leave the rest empty, so the camera (kept near the
 * player, see Follower) never shows a part of the map the page may not hold. */
export function zoomFor(view: Size, playerSize: number, viewRadius = 0): number {
  const zoom = squarePx(view) / (playerSize > 0 ? playerSize : 10);
  if (!(viewRadius > 0)) return zoom;
  return Math.max(zoom, Math.max(view.width, view.height) / (2 * VIEW_SHARE * viewRadius));
}

/** One axis of `clampCentre`. */
function clampAxis(centre: number, viewPx: number, mapUnits: number, scale: number): number {
  const half = viewPx / 2 / scale;
  const slack = (viewPx * EDGE_SLACK) / scale;
  const lo = half - slack;
  const hi = mapUnits + slack - half;
  // The view is wider than the map and its slack on both sides: the map in the middle.
  if (lo > hi) return mapUnits / 2;
  return clamp(centre, lo, hi);
}

/** The nearest centre to `want` whose view shows at most EDGE_SLACK of the canvas past any
 * map edge (a map smaller than that is centred). */
export function clampCentre(want: Point, view: Size, map: Size, scale: number): Point {
  return { x: clampAxis(want.x, view.width, map.width, scale), y: clampAxis(want.y, view.height, map.height, scale) };
}

/** Where map point (x, y) (units) is on the canvas (CSS px from its top-left). */
export function toScreen(cam: Camera, x: number, y: number): Point {
  return { x: (x - cam.x) * cam.scale + cam.width / 2, y: (y - cam.y) * cam.scale + cam.height / 2 };
}

/** The map point (units) under canvas point (sx, sy) (CSS px). */
export function toMap(cam: Camera, sx: number, sy: number): Point {
  return { x: (sx - cam.width / 2) / cam.scale + cam.x, y: (sy - cam.height / 2) / cam.scale + cam.y };
}

/** The part of the map the canvas shows, in units (it may reach past the map's edges). */
export function visibleRect(cam: Camera): { x: number; y: number; w: number; h: number } {
  const w = cam.width / cam.scale;
  const h = cam.height / cam.scale;
  return { x: cam.x - w / 2, y: cam.y - h / 2, w, h };
}

/** The background grid's spacing (units): the finest of 5, 10, 25, 50, 100, 250 whose lines
 * are at least `minPx` CSS px apart. */
export function gridStep(scale: number, minPx = 48): number {
  for (const step of [5, 10, 25, 50, 100, 250]) if (step * scale >= minPx) return step;
  return 500;
}

/**
 * Follows a point (your player) smoothly: each frame the camera closes a share of the gap
 * that depends on the time since the last frame (exponential, `rate` per second), so it
 * trails a moving player a little and glides to a new spot (a respawn) instead of jumping.
 * The first update (and the first after `reset`) puts it on the target at once.
 */
export class Follower {
  private at: Point | null = null;
  private last = 0;

  constructor(private rate = 8) {}

  /** The next update snaps to its target (a new player, a new room). */
  reset(): void {
    this.at = null;
  }

  /** The camera at `now` (seconds) for a canvas of `view` (CSS px) on a map of `map` (units),
   * following `target` (units), zoomed in as far as the rules' view radius needs. */
  update(target: Point, now: number, view: Size, map: Size, playerSize: number, viewRadius = 0): Camera {
    const scale = zoomFor(view, playerSize, viewRadius);
    const goal = clampCentre(target, view, map, scale);
    if (this.at === null) {
      this.at = goal;
    } else {
      const k = 1 - Math.exp(-this.rate * Math.max(0, now - this.last));
      this.at = { x: this.at.x + (goal.x - this.at.x) * k, y: this.at.y + (goal.y - this.at.y) * k };
    }
    if (viewRadius > 0) {
      // Never trail the player by more than the radius leaves beyond the canvas's half: what
      // the canvas shows stays within the radius of the player (or past the map's edge).
      const lagX = Math.max(0, viewRadius - view.width / scale / 2);
      const lagY = Math.max(0, viewRadius - view.height / scale / 2);
      this.at = { x: clamp(this.at.x, target.x - lagX, target.x + lagX), y: clamp(this.at.y, target.y - lagY, target.y + lagY) };
    }
    this.at = clampCentre(this.at, view, map, scale); // the canvas may have changed size
    this.last = now;
    return { x: this.at.x, y: this.at.y, scale, width: view.width, height: view.height };
  }
}
