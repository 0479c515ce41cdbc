// The minimap in the canvas's top-right corner: the whole map, every player as a dot (yours
// bigger, ringed in white; the dead faded), and the rectangle the camera shows; faint while
// your square is under it, so it never hides you. Where it goes and how big (`minimapRect`,
// pure) and its drawing.

import { type Camera, type Size, visibleRect } from "./camera";
import { overlaps, type Rect } from "./labels";

export interface Dot {
  x: number; // map units
  y: number;
  colour: string;
  me: boolean;
  dead: boolean;
}

/** Distance from the canvas's edges (CSS px). */
export const MINIMAP_MARGIN = 8;

/** Where the minimap goes on a canvas of `view` (CSS px) for a map of `map` (units): in the
 * top-right corner, its longer side a fifth of the canvas's shorter side (72 to 160 px), the
 * map's proportions kept. */
export function minimapRect(view: Size, map: Size): Rect {
  const side = Math.round(Math.min(160, Math.max(72, Math.min(view.width, view.height) * 0.2)));
  const k = side / Math.max(map.width, map.height, 1);
  const w = Math.max(8, Math.round(map.width * k));
  const h = Math.max(8, Math.round(map.height * k));
  return { x: view.width - MINIMAP_MARGIN - w, y: MINIMAP_MARGIN, w, h };
}

/** Draws the minimap at `r`; `under`: your square, if drawn (the minimap fades over it). */
export function drawMinimap(ctx: CanvasRenderingContext2D, r: Rect, map: Size, cam: Camera, dots: Dot[], under: Rect | null): void {
  const kx = r.w / map.width;
  const ky = r.h / map.height;
  ctx.save();
  if (under && overlaps(r, under)) ctx.globalAlpha = 0.2;
  ctx.fillStyle = "rgba(8, 10, 14, 0.82)";
  ctx.fillRect(r.x, r.y, r.w, r.h);
  ctx.strokeStyle = "#3a4656";
  ctx.lineWidth = 1;
  ctx.strokeRect(r.x - 0.5, r.y - 0.5, r.w + 1, r.h + 1);
  ctx.beginPath();
  ctx.rect(r.x, r.y, r.w, r.h);
  ctx.clip();
  // The camera's view.
  const v = visibleRect(cam);
  ctx.strokeStyle = "rgba(240, 243, 246, 0.55)";
  ctx.strokeRect(r.x + v.x * kx, r.y + v.y * ky, v.w * kx, v.h * ky);
  const base = ctx.globalAlpha;
  // Others first, you on top.
  for (const d of [...dots].sort((a, b) => Number(a.me) - Number(b.me))) {
    const x = r.x + d.x * kx;
    const y = r.y + d.y * ky;
    ctx.globalAlpha = base * (d.dead ? 0.35 : 1);
    ctx.fillStyle = d.dead ? "#888" : d.colour;
    ctx.beginPath();
    ctx.arc(x, y, d.me ? 3.5 : 2.2, 0, Math.PI * 2);
    ctx.fill();
    if (d.me) {
      ctx.globalAlpha = base;
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(x, y, 5.5, 0, Math.PI * 2);
      ctx.stroke();
    }
  }
  ctx.restore();
}
