// The start screen, an HTML form over the canvas: a name, a room (empty for quick play, or a
// room name checked as the server checks it, with the rooms open now suggested) and Play; Enter
// submits. Play hands the choice to the page, which only then connects.

import { byId } from "./dom";
import { roomProblem } from "./launch";
import { fetchRooms } from "./rooms";

export interface Choice {
  /** As typed, trimmed ("" for none). */
  name: string;
  /** A valid room name, or "" for quick play. */
  room: string;
}

export class StartScreen {
  private form: HTMLFormElement;
  private nameInput: HTMLInputElement;
  private roomInput: HTMLInputElement;
  private error: HTMLElement;
  private roomList: HTMLDataListElement;

  /** `autofocus`: put the cursor in the form when it shows (not on touch screens, where that
   * pops up the on-screen keyboard over the form). */
  constructor(doc: Document, private onPlay: (choice: Choice) => void, private autofocus = true) {
    this.form = byId(doc, "start", HTMLFormElement);
    this.nameInput = byId(doc, "start-name", HTMLInputElement);
    this.roomInput = byId(doc, "start-room", HTMLInputElement);
    this.error = byId(doc, "start-error", HTMLElement);
    this.roomList = byId(doc, "room-list", HTMLDataListElement);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    // A fix clears the complaint at once; a new one waits for the next Play.
    this.roomInput.addEventListener("input", () => {
      if (roomProblem(this.roomInput.value.trim()) === null) this.complain(null);
    });
  }

  get visible(): boolean {
    return !this.form.hidden;
  }

  /** Shows the form filled in with `choice`, saying what is wrong with it if `error`. */
  show(choice: Choice, error: string | null = null): void {
    this.nameInput.value = choice.name;
    this.roomInput.value = choice.room;
    this.form.hidden = false;
    this.complain(error);
    if (error) this.roomInput.focus();
    else if (this.autofocus) this.nameInput.focus();
    void this.suggestRooms();
  }

  hide(): void {
    this.form.hidden = true;
  }

  private submit(): void {
    const room = this.roomInput.value.trim();
    const problem = roomProblem(room);
    if (problem) {
      this.complain(problem);
      this.roomInput.focus();
      return;
    }
    this.hide();
    this.onPlay({ name: this.nameInput.value.trim(), room });
  }

  private complain(problem: string | null): void {
    this.error.textContent = problem ?? "";
    this.roomInput.setAttribute("aria-invalid", String(problem !== null));
  }

  private async suggestRooms(): Promise<void> {
    const rooms = await fetchRooms();
    this.roomList.replaceChildren(
      ...rooms.map((r) => Object.assign(document.createElement("option"), { value: r.id, label: `${r.players} of ${r.cap} players` })),
    );
  }
}
