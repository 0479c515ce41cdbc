// Canvas drawing, scaled to the map: squares with name and hp bar, a colour per id, the
// player's own square outlined, attack range flashes, deaths and respawns, and the HUD.

import type { Drawable, Effect, Game } from "./game";
import { SUBUNITS } from "./protocol";

export function colourOf(id: number): string {
  const hue = (id * 137.508) % 360; // golden angle: neighbours get distant hues
  return `hsl(${hue.toFixed(0)} 70% 50%)`;
}

export function draw(ctx: CanvasRenderingContext2D, game: Game, now: number): void {
  const { canvas } = ctx;
  const rules = game.rules;
  ctx.fillStyle = "#10141a";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!rules) return;
  // A margin so players on the edge, their names and hp bars stay on screen.
  const margin = { x: 16, top: 30, bottom: 12 };
  const scale =
    Math.min((canvas.width - 2 * margin.x) / rules.map_width, (canvas.height - margin.top - margin.bottom) / rules.map_height) /
    SUBUNITS;
  const size = rules.player_size * SUBUNITS * scale;
  ctx.save();
  ctx.translate(margin.x, margin.top);
  ctx.strokeStyle = "#2a3340";
  ctx.strokeRect(0, 0, rules.map_width * SUBUNITS * scale, rules.map_height * SUBUNITS * scale);

  for (const e of game.effects) drawEffect(ctx, e, now, scale, rules.attack_range * SUBUNITS * scale);
  const players = game.view(now).sort((a, b) => Number(a.me) - Number(b.me));
  for (const p of players) drawPlayer(ctx, p, scale, size, rules.max_hp);
  const me = players.find((p) => p.me && p.hp > 0);
  const cooldown = game.cooldownLeft(now);
  if (me && cooldown > 0) {
    // The cooldown: an arc around your square that closes as it runs out.
    ctx.strokeStyle = "#fd4";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(me.x * scale, me.y * scale, size * 0.9, -Math.PI / 2, -Math.PI / 2 + cooldown * Math.PI * 2);
    ctx.stroke();
  }
  ctx.restore();
}

function drawPlayer(ctx: CanvasRenderingContext2D, p: Drawable, scale: number, size: number, maxHp: number): void {
  const x = p.x * scale - size / 2;
  const y = p.y * scale - size / 2;
  const dead = p.hp <= 0;
  ctx.globalAlpha = dead ? 0.35 : 1;
  ctx.fillStyle = dead ? "#666" : colourOf(p.id);
  ctx.fillRect(x, y, size, size);
  if (p.me) {
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 2, y - 2, size + 4, size + 4);
  }
  if (dead) {
    ctx.strokeStyle = "#e44";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + size, y + size);
    ctx.moveTo(x + size, y);
    ctx.lineTo(x, y + size);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  const barW = Math.max(size, 24);
  const bx = p.x * scale - barW / 2;
  ctx.fillStyle = "#400";
  ctx.fillRect(bx, y - 7, barW, 4);
  ctx.fillStyle = p.hp > maxHp * 0.3 ? "#4c4" : "#e83";
  ctx.fillRect(bx, y - 7, (barW * Math.max(0, p.hp)) / maxHp, 4);
  ctx.fillStyle = p.me ? "#fff" : "#bbb";
  ctx.font = "11px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.fillText(`${p.name} ${Math.max(0, p.hp)}`, p.x * scale, y - 10);
}

function drawEffect(ctx: CanvasRenderingContext2D, e: Effect, now: number, scale: number, range: number): void {
  const age = now - e.at;
  const life = e.kind === "attack" || e.kind === "swing" || e.kind === "hit" ? 0.3 : 1;
  const fade = Math.max(0, 1 - age / life);
  if (fade <= 0) return;
  ctx.globalAlpha = fade;
  if (e.kind === "hit") {
    // A confirmed hit: the target flashes.
    ctx.fillStyle = "#f55";
    const r = range * 0.35;
    ctx.fillRect(e.x * scale - r / 2, e.y * scale - r / 2, r, r);
    ctx.globalAlpha = 1;
    return;
  }
  ctx.lineWidth = e.kind === "swing" ? 3 : 2;
  ctx.strokeStyle = e.kind === "attack" ? "#fd4" : e.kind === "swing" ? "#fff" : e.kind === "death" ? "#e44" : "#4ce";
  if (e.kind === "swing") ctx.setLineDash([6, 4]);
  ctx.beginPath();
  const r = e.kind === "attack" || e.kind === "swing" ? range : range * (0.5 + age);
  ctx.arc(e.x * scale, e.y * scale, r, 0, Math.PI * 2);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;
}

/** A notice across the middle of the canvas (the connection is lost, reconnecting), over a
 * dimmed world, so a frozen picture is never mistaken for a live one. */
export function drawNotice(ctx: CanvasRenderingContext2D, text: string): void {
  const { canvas } = ctx;
  ctx.save();
  ctx.fillStyle = "rgba(16, 20, 26, 0.6)";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#f0f3f6";
  ctx.font = "bold 18px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, canvas.width / 2, canvas.height / 2);
  ctx.restore();
}
