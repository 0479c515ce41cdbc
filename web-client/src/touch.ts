// Touch controls, HTML elements over the canvas: a virtual stick bottom-left (#stick: a drag
// from its centre gives the direction, through stick.ts) and an attack button bottom-right
// (#attack-button: pressed attacks, held keeps attacking as the cooldown allows). Both use
// pointer events, so a finger, a pen or a mouse drives them, each tracking its own pointer
// (move and attack at once with two thumbs). They feed the same Controls as the keyboard.

import type { Controls } from "./controls";
import { byId } from "./dom";
import { knobOffset, stickDirection } from "./stick";

/** Whether this looks like a touch device: a coarse pointer, touch events or touch points. */
export function isTouchDevice(): boolean {
  return (
    (typeof matchMedia === "function" && matchMedia("(pointer: coarse)").matches) ||
    "ontouchstart" in window ||
    navigator.maxTouchPoints > 0
  );
}

export class TouchControls {
  private root: HTMLElement;
  private stick: HTMLElement;
  private knob: HTMLElement;
  private button: HTMLElement;
  /** The pointer dragging the stick, and the stick's centre and radius when it went down. */
  private drag: { id: number; x: number; y: number; radius: number } | null = null;
  private press: number | null = null;

  constructor(doc: Document, private controls: Controls) {
    this.root = byId(doc, "touch", HTMLElement);
    this.stick = byId(doc, "stick", HTMLElement);
    this.knob = byId(doc, "knob", HTMLElement);
    this.button = byId(doc, "attack-button", HTMLElement);

    this.stick.addEventListener("pointerdown", (e) => {
      e.preventDefault(); // no focus, no emulated mouse events, no text selection
      if (this.drag) return;
      const r = this.stick.getBoundingClientRect();
      this.drag = { id: e.pointerId, x: r.left + r.width / 2, y: r.top + r.height / 2, radius: r.width / 2 };
      capture(this.stick, e.pointerId);
      this.moveTo(e.clientX, e.clientY);
    });
    this.stick.addEventListener("pointermove", (e) => {
      if (this.drag?.id === e.pointerId) this.moveTo(e.clientX, e.clientY);
    });
    for (const end of ["pointerup", "pointercancel", "lostpointercapture"] as const) {
      this.stick.addEventListener(end, (e) => {
        if (this.drag?.id === e.pointerId) this.letGoStick();
      });
    }

    this.button.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      if (this.press !== null) return;
      this.press = e.pointerId;
      capture(this.button, e.pointerId);
      this.button.classList.add("down");
      this.controls.setAttack(true);
    });
    for (const end of ["pointerup", "pointercancel", "lostpointercapture"] as const) {
      this.button.addEventListener(end, (e) => {
        if (this.press === e.pointerId) this.letGoButton();
      });
    }
    // A long press would open the context menu (or select) instead of attacking.
    this.root.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** Shows or hides the controls (hiding lets go of them). */
  show(on: boolean): void {
    this.root.hidden = !on;
    if (!on) this.reset();
  }

  /** Lets go of the stick and the button (the page lost focus or was hidden). */
  reset(): void {
    if (this.drag) this.letGoStick();
    if (this.press !== null) this.letGoButton();
  }

  private moveTo(x: number, y: number): void {
    if (!this.drag) return;
    const dx = x - this.drag.x;
    const dy = y - this.drag.y;
    const [kx, ky] = knobOffset(dx, dy, this.drag.radius);
    this.knob.style.transform = `translate(${kx.toFixed(1)}px, ${ky.toFixed(1)}px)`;
    const [sx, sy] = stickDirection(dx, dy, this.drag.radius);
    this.controls.setStick(sx, sy);
    this.stick.classList.toggle("active", sx !== 0 || sy !== 0);
  }

  private letGoStick(): void {
    this.drag = null;
    this.knob.style.transform = "";
    this.stick.classList.remove("active");
    this.controls.setStick(0, 0);
  }

  private letGoButton(): void {
    this.press = null;
    this.button.classList.remove("down");
    this.controls.setAttack(false);
  }
}

/** Keeps a pointer's events coming to `el` after it leaves it (a thumb sliding off the stick). */
function capture(el: HTMLElement, pointerId: number): void {
  try {
    el.setPointerCapture(pointerId);
  } catch {
    // The pointer is already gone: its up/cancel event follows.
  }
}
