// The virtual stick's maths: a finger's offset from the stick's centre becomes a direction
// (full speed, normalised, none inside a dead zone), and the knob drawn under the finger stays
// on the stick. Directions are single-precision values whose length is at most 1 in single
// precision too, as the server checks them (shared Direction::new renormalises anything
// longer, which would put prediction out of step). No DOM here.

/** Offsets within this fraction of the radius from the centre move nowhere. */
export const DEAD_ZONE = 0.25;

/** The direction for an offset (`dx`, `dy`; y down) from the centre of a stick of `radius`. */
export function stickDirection(dx: number, dy: number, radius: number, deadZone = DEAD_ZONE): [number, number] {
  const len = Math.hypot(dx, dy);
  if (!Number.isFinite(len) || !(radius > 0) || len <= deadZone * radius) return [0, 0];
  return unitF32(dx / len, dy / len);
}

/** Where to draw the knob: the offset, pulled back onto the stick's rim if beyond it. */
export function knobOffset(dx: number, dy: number, radius: number): [number, number] {
  const len = Math.hypot(dx, dy);
  if (!Number.isFinite(len) || !(radius > 0)) return [0, 0];
  if (len <= radius) return [dx, dy];
  return [(dx * radius) / len, (dy * radius) / len];
}

/** (x, y) of length about 1 as single-precision values whose single-precision length² <= 1. */
export function unitF32(x: number, y: number): [number, number] {
  let fx = Math.fround(x);
  let fy = Math.fround(y);
  // Rounding to f32 can leave the length a hair over 1: shrink by an ulp or so until it isn't.
  for (let i = 0; i < 8 && lengthSqF32(fx, fy) > 1; i++) {
    fx = Math.fround(fx * (1 - 2 ** -23));
    fy = Math.fround(fy * (1 - 2 ** -23));
  }
  return [fx, fy];
}

/** x² + y² as the server's f32 arithmetic computes it. */
export function lengthSqF32(x: number, y: number): number {
  return Math.fround(Math.fround(x * x) + Math.fround(y * y));
}
