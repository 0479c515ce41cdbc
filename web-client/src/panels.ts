// The HTML panels over the canvas: the scoreboard (bottom left, or top left on a touch screen
// where the controls take the bottom; Tab or a tap on its title folds it; it fades while your
// square is under it), the kill feed (top right, under the minimap; your kills and deaths
// highlighted) and the banner about your death and respawn (above your square, or below it
// when it is high on the screen). Each is rebuilt only when what it shows changes.

import type { Banner } from "./banner";
import { byId } from "./dom";
import type { ShownEntry } from "./feed";
import { overlaps, type Rect } from "./labels";
import type { ScoreRow, Scoreboard } from "./scoreboard";

export class Panels {
  private scoresEl: HTMLElement;
  private scoresBody: HTMLElement;
  private feedEl: HTMLElement;
  private bannerEl: HTMLElement;
  private bannerTitle: HTMLElement;
  private bannerDetail: HTMLElement;
  private scoresKey = "";
  private feedKey = "";
  private bannerKey = "";

  constructor(private doc: Document) {
    this.scoresEl = byId(doc, "scores", HTMLElement);
    this.scoresBody = byId(doc, "scores-body", HTMLElement);
    this.feedEl = byId(doc, "feed", HTMLElement);
    this.bannerEl = byId(doc, "banner", HTMLElement);
    this.bannerTitle = byId(doc, "banner-title", HTMLElement);
    this.bannerDetail = byId(doc, "banner-detail", HTMLElement);
    byId(doc, "scores-title", HTMLElement).addEventListener("click", () => this.toggleScores());
  }

  /** Folds the scoreboard to its title, or unfolds it. */
  toggleScores(): void {
    this.scoresEl.classList.toggle("folded");
  }

  /** Shows `board` (null: no scoreboard, e.g. on the start screen). */
  scores(board: Scoreboard | null): void {
    this.scoresEl.hidden = board === null;
    if (!board) return;
    const rows = board.you ? [...board.top, null, board.you] : board.top;
    const key = JSON.stringify(rows);
    if (key === this.scoresKey) return;
    this.scoresKey = key;
    this.scoresBody.replaceChildren(...rows.map((r) => (r ? this.scoreRow(r) : this.gapRow())));
  }

  private scoreRow(r: ScoreRow): HTMLTableRowElement {
    const tr = this.doc.createElement("tr");
    if (r.me) tr.className = "me";
    for (const [text, cls] of [[`${r.rank}`, "rank"], [r.name, "name"], [`${r.kills}`, "n"], [`${r.deaths}`, "n"], [r.streak > 0 ? `${r.streak}` : "", "n streak"]]) {
      const td = this.doc.createElement("td");
      td.textContent = text;
      td.className = cls;
      if (cls === "name") td.title = r.name;
      tr.append(td);
    }
    return tr;
  }

  private gapRow(): HTMLTableRowElement {
    const tr = this.doc.createElement("tr");
    tr.className = "gap";
    const td = this.doc.createElement("td");
    td.colSpan = 5;
    td.textContent = "⋯";
    tr.append(td);
    return tr;
  }

  /** Shows the feed's entries, at `top` CSS px from the canvas's top (under the minimap). */
  feed(shown: ShownEntry[], top: number): void {
    this.feedEl.style.top = `${top}px`;
    const key = shown.map((s) => `${s.entry.at}|${s.entry.text}`).join("\n");
    if (key !== this.feedKey) {
      this.feedKey = key;
      this.feedEl.replaceChildren(...shown.map((s) => {
        const li = this.doc.createElement("li");
        li.textContent = s.entry.text;
        li.className = [s.entry.kind, s.entry.mine ? "mine" : ""].filter(Boolean).join(" ");
        return li;
      }));
    }
    shown.forEach((s, i) => {
      const li = this.feedEl.children[i];
      if (li instanceof HTMLElement) li.style.opacity = s.opacity < 1 ? s.opacity.toFixed(2) : "";
    });
  }

  /** Shows the banner (null: none): high on the canvas, or low when `low` (your square is
   * in the upper half: the banner must not hide where you died). */
  banner(b: Banner | null, low: boolean): void {
    const key = b ? `${b.kind}|${b.title}|${b.detail}|${low}` : "";
    if (key === this.bannerKey) return;
    this.bannerKey = key;
    this.bannerEl.hidden = b === null;
    if (!b) return;
    this.bannerEl.className = low ? `${b.kind} low` : b.kind;
    this.bannerTitle.textContent = b.title;
    this.bannerDetail.textContent = b.detail;
    this.bannerDetail.hidden = b.detail === "";
  }

  /** The scoreboard fades while `me` (your square, CSS px from the canvas's top-left) is under
   * it, so it never hides you. */
  fadeOver(me: Rect | null, canvas: HTMLElement): void {
    const r = this.scoresEl.hidden ? null : relative(this.scoresEl, canvas);
    this.scoresEl.classList.toggle("faded", !!(me && r && overlaps(me, r)));
  }

  /** The parts of the canvas under the scoreboard (unless faded) and the feed (CSS px from
   * its top-left). */
  covered(canvas: HTMLElement): Rect[] {
    const out: Rect[] = [];
    if (!this.scoresEl.hidden && !this.scoresEl.classList.contains("faded")) out.push(relative(this.scoresEl, canvas));
    if (this.feedEl.childElementCount > 0) out.push(relative(this.feedEl, canvas));
    return out;
  }
}

/** `el`'s box relative to `canvas`'s top-left (CSS px). */
function relative(el: HTMLElement, canvas: HTMLElement): Rect {
  const a = el.getBoundingClientRect();
  const c = canvas.getBoundingClientRect();
  return { x: a.left - c.left, y: a.top - c.top, w: a.width, h: a.height };
}
