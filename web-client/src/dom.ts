// Finding the page's elements: each by id, of the type the code expects, or a clear error
// naming what index.html lacks.

/** The element with this id, which must be of type `type` (HTMLElement, HTMLInputElement, …). */
export function byId<T extends Element>(doc: Document, id: string, type: abstract new () => T): T {
  const el = doc.getElementById(id);
  if (!(el instanceof type)) throw new Error(`index.html lacks #${id} (a ${type.name})`);
  return el;
}
