// How the page starts (start screen or straight in) and what it remembers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { launchOf, roomProblem } from "../src/launch";
import { hexOf, type KeyValue, Memory, tokenOfHex } from "../src/storage";

const nothing = { name: null, room: null, token: false };

test("no URL parameters and nothing remembered: the start screen, empty", () => {
  assert.deepEqual(launchOf("", nothing), { name: "", room: "", autoplay: false });
});

test("?name= goes straight in (links and the end-to-end tests), with ?room= if given", () => {
  assert.deepEqual(launchOf("?name=one", nothing), { name: "one", room: "", autoplay: true });
  assert.deepEqual(launchOf("?name=a1&room=alpha&transport=polling", nothing), { name: "a1", room: "alpha", autoplay: true });
});

test("?autoplay=1 goes straight in without a name; ?autoplay=0 always shows the start screen", () => {
  assert.deepEqual(launchOf("?autoplay=1", nothing), { name: "", room: "", autoplay: true });
  assert.deepEqual(launchOf("?autoplay", nothing).autoplay, true);
  assert.deepEqual(launchOf("?name=one&room=alpha&autoplay=0", nothing), { name: "one", room: "alpha", autoplay: false });
  assert.equal(launchOf("?autoplay=false", { ...nothing, token: true }).autoplay, false);
});

test("?room= alone fills in the room and waits for Play", () => {
  assert.deepEqual(launchOf("?room=alpha", nothing), { name: "", room: "alpha", autoplay: false });
});

test("a remembered name fills in the form; the URL's wins", () => {
  const remembered = { name: "zed", room: null, token: false };
  assert.deepEqual(launchOf("", remembered), { name: "zed", room: "", autoplay: false });
  assert.equal(launchOf("?name=one", remembered).name, "one");
});

test("a tab holding a resume token (a reload) goes straight back in, to its room", () => {
  const reload = { name: "zed", room: "alpha", token: true };
  assert.deepEqual(launchOf("", reload), { name: "zed", room: "alpha", autoplay: true });
  assert.equal(launchOf("?room=beta", reload).room, "beta");
});

test("room names are checked as the server checks them; empty is quick play", () => {
  assert.equal(roomProblem(""), null);
  assert.equal(roomProblem("alpha"), null);
  assert.equal(roomProblem("A-b_9"), null);
  assert.equal(roomProblem("x".repeat(32)), null);
  assert.match(roomProblem("x".repeat(33)) ?? "", /^invalid room name "x{33}": use 1–32 of A–Z a–z 0–9 - _ \(or leave it empty for quick play\)$/);
  assert.equal(
    roomProblem("no spaces!", "no ?room="),
    'invalid room name "no spaces!": use 1–32 of A–Z a–z 0–9 - _ (or no ?room= for quick play)',
  );
  assert.notEqual(roomProblem("é"), null);
});

/** A Storage stand-in; `broken` throws on every call, as a blocked one does. */
function fakeStorage(broken = false): KeyValue & { data: Map<string, string> } {
  const data = new Map<string, string>();
  const check = () => {
    if (broken) throw new Error("SecurityError");
  };
  return {
    data,
    getItem: (k) => (check(), data.get(k) ?? null),
    setItem: (k, v) => (check(), void data.set(k, v)),
    removeItem: (k) => (check(), void data.delete(k)),
  };
}

test("the token round-trips as hex in sessionStorage; anything else there is no token", () => {
  const token = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  assert.equal(hexOf(token), "00112233445566778899aabbccddeeff");
  assert.deepEqual(tokenOfHex(hexOf(token)), token);
  for (const bad of [null, "", "00", "zz112233445566778899aabbccddeeff", `${hexOf(token)}00`, "00112233445566778899AABBCCDDEEFF"]) {
    assert.equal(tokenOfHex(bad), null, String(bad));
  }
  const local = fakeStorage();
  const session = fakeStorage();
  const memory = new Memory(local, session);
  assert.equal(memory.token, null);
  memory.token = token;
  assert.deepEqual(new Memory(local, session).token, token, "a new page of the tab finds it");
  assert.equal(local.data.size, 0, "the token is the tab's alone");
  memory.token = null;
  assert.equal(session.data.size, 0);
});

test("the name is remembered for every tab, the room for this tab; empty forgets", () => {
  const local = fakeStorage();
  const session = fakeStorage();
  const memory = new Memory(local, session);
  memory.name = "zed";
  memory.room = "alpha";
  assert.deepEqual([local.data.get("skirmish.name"), session.data.get("skirmish.room")], ["zed", "alpha"]);
  assert.equal(new Memory(local, fakeStorage()).name, "zed");
  memory.name = "";
  memory.room = null;
  assert.deepEqual([memory.name, memory.room], [null, null]);
});

test("storage that is missing or refuses remembers nothing, and throws nothing", () => {
  for (const memory of [new Memory(null, null), new Memory(fakeStorage(true), fakeStorage(true))]) {
    memory.name = "zed";
    memory.token = new Uint8Array(16);
    assert.equal(memory.name, null);
    assert.equal(memory.token, null);
  }
});
