// The movement rule, bit for bit as shared/src/movement.rs: one input moves a player by one
// tick's step, rounded half up per axis, clamped to the map. Directions are single-precision
// (the server reads them as f32), so they go through Math.fround before use and on the wire.

import { type Rules, SUBUNITS } from "./protocol";

export interface TickRules {
  step: number;
  maxX: number;
  maxY: number;
}

export function perTick(rules: Rules, tickRate: number): TickRules {
  return {
    step: (Math.fround(rules.speed) * SUBUNITS) / Math.max(1, tickRate),
    maxX: rules.map_width * SUBUNITS,
    maxY: rules.map_height * SUBUNITS,
  };
}

/** A direction from held keys, as the f32 values the server will use (length <= 1). */
export function direction(left: boolean, right: boolean, up: boolean, down: boolean): [number, number] {
  const x = (right ? 1 : 0) - (left ? 1 : 0);
  const y = (down ? 1 : 0) - (up ? 1 : 0);
  if (x !== 0 && y !== 0) {
    // fround(SQRT1_2)^2 * 2 is just under 1 in single precision: no renormalising server-side.
    const d = Math.fround(Math.SQRT1_2);
    return [x * d, y * d];
  }
  return [x, y];
}

export function step(x: number, y: number, dx: number, dy: number, t: TickRules): [number, number] {
  const mx = Math.floor(Math.fround(dx) * t.step + 0.5);
  const my = Math.floor(Math.fround(dy) * t.step + 0.5);
  return [Math.min(Math.max(x + mx, 0), t.maxX), Math.min(Math.max(y + my, 0), t.maxY)];
}
