// The wire protocol (docs/protocol.md), decoded and encoded with @msgpack/msgpack.
// Mirrors shared/src/codec.rs; web-client/test/vectors.json (written by the Rust side)
// keeps the two in step.

import { decode, encode } from "@msgpack/msgpack";

export const PROTOCOL_VERSION = 5;
/** Subunits per map unit: positions are integers of 1/8 unit. */
export const SUBUNITS = 8;

/** 1 to 32 (shared::MAX_ROOM_CHARS) ASCII letters, digits, `-` or `_`. */
const ROOM_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Whether `name` may name a room (shared::valid_room_name; vectors.json checks the two agree).
 * The server closes a join that names any other room (1008), so the client checks first.
 */
export function validRoomName(name: string): boolean {
  return ROOM_NAME.test(name);
}

export interface Rules {
  map_width: number;
  map_height: number;
  spawn_min: number;
  spawn_max: number;
  speed: number;
  attack_range: number;
  attack_damage: number;
  max_hp: number;
  attack_cooldown_ms: number;
  respawn_delay_ms: number;
  player_size: number;
  /** How far around its player a client is sent the world, in units; 0: the whole map
   * (absent from an older server: the whole map). */
  view_radius?: number;
}

export interface EntityState {
  id: number;
  name: string;
  x: number;
  y: number;
  hp: number;
  /** Scoreboard: players killed, times died, kills since the last death. */
  kills: number;
  deaths: number;
  streak: number;
}

export interface Change {
  id: number;
  dx: number | null;
  dy: number | null;
  hp: number | null;
}

export type GameEvent =
  | { kind: "joined"; id: number }
  | { kind: "left"; id: number }
  | { kind: "attacked"; attacker: number; target: number; hp: number }
  | { kind: "killed"; victim: number; killer: number }
  | { kind: "respawned"; id: number };

export interface Frame {
  type: "frame";
  tick: number;
  ack: number;
  spawned: EntityState[];
  changed: Change[];
  removed: number[];
  events: GameEvent[];
  /** Players still in the game that left this client's view (a server with a view radius). */
  outOfView: number[];
}

export interface Keyframe {
  tick: number;
  ack: number;
  entities: EntityState[];
}

export interface Welcome {
  type: "welcome";
  playerId: number;
  protocolVersion: number;
  tickRate: number;
  rules: Rules;
  /** 16 bytes; presented in a later join (within the grace window) to get this player back. */
  token: Uint8Array;
  /** Whether a presented token got the old player back (false: a new player). */
  resumed: boolean;
  /** The room the player is in: the one the join named, quick play's pick, or its own on a resume. */
  room: string;
  keyframe: Keyframe;
}

export type ServerMsg =
  | Welcome
  | Frame
  | ({ type: "keyframe" } & Keyframe)
  | { type: "pong"; clientTime: number; timing: InputTiming | null };

/** How this client's inputs arrive at the server (see docs/protocol.md, pong). */
export interface InputTiming {
  /** How long before the tick that used it an input arrived, µs (negative: late). */
  leadUs: number;
  /** How much the time between inputs varies, µs. */
  jitterUs: number;
}

/** Bytes that are not a valid server message. */
export class ProtocolError extends Error {}

function fail(what: string): never {
  throw new ProtocolError(what);
}

function int(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint") return Number(v);
  return fail(`${what}: expected an integer`);
}

function arr(v: unknown, what: string): unknown[] {
  return Array.isArray(v) ? v : fail(`${what}: expected an array`);
}

function entityOf(v: unknown): EntityState {
  const a = arr(v, "entity");
  if (a.length !== 8) fail(`entity has ${a.length} fields`);
  if (typeof a[1] !== "string") fail("entity name: expected a string");
  return {
    id: int(a[0], "id"),
    name: a[1],
    x: int(a[2], "x"),
    y: int(a[3], "y"),
    hp: int(a[4], "hp"),
    kills: int(a[5], "kills"),
    deaths: int(a[6], "deaths"),
    streak: int(a[7], "streak"),
  };
}

const CHANGED_X = 1;
const CHANGED_Y = 2;
const CHANGED_HP = 4;

function changesOf(v: unknown): Change[] {
  const ints = arr(v, "changed").map((x) => int(x, "changed"));
  const out: Change[] = [];
  let id = 0;
  let i = 0;
  const next = () => (i < ints.length ? ints[i++] : fail("changed: truncated"));
  while (i < ints.length) {
    const head = next();
    if (head === 0) {
      id = 0; // a run ends: the next id is gap-coded from 0 again (protocol.md, frame)
      continue;
    }
    id += Math.floor(head / 8);
    const mask = head % 8;
    const dx = mask & CHANGED_X ? next() : null;
    const dy = mask & CHANGED_Y ? next() : null;
    const hp = mask & CHANGED_HP ? next() : null;
    out.push({ id, dx, dy, hp });
  }
  return out;
}

function eventsOf(v: unknown): GameEvent[] {
  const ints = arr(v, "events").map((x) => int(x, "event"));
  const out: GameEvent[] = [];
  let i = 0;
  const next = () => (i < ints.length ? ints[i++] : fail("events: truncated"));
  while (i < ints.length) {
    const kind = next();
    switch (kind) {
      case 0: out.push({ kind: "joined", id: next() }); break;
      case 1: out.push({ kind: "left", id: next() }); break;
      case 2: out.push({ kind: "attacked", attacker: next(), target: next(), hp: next() }); break;
      case 3: out.push({ kind: "killed", victim: next(), killer: next() }); break;
      case 4: out.push({ kind: "respawned", id: next() }); break;
      default: fail(`unknown event kind ${kind}`);
    }
  }
  return out;
}

function rulesOf(v: unknown): Rules {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail("rules: expected a map");
  return v as Rules;
}

/** Decodes one server message; throws ProtocolError on anything malformed. */
export function decodeServer(bytes: Uint8Array): ServerMsg {
  let v: unknown;
  try {
    v = decode(bytes);
  } catch (e) {
    throw new ProtocolError(`not MessagePack: ${String(e)}`);
  }
  const a = arr(v, "message");
  const tag = int(a[0], "tag");
  const arity = (n: number) => a.length === n || fail(`message ${tag} has ${a.length} fields`);
  switch (tag) {
    case 0:
      arity(10);
      if (!(a[5] instanceof Uint8Array) || a[5].length !== 16) fail("token: expected 16 bytes");
      if (typeof a[6] !== "boolean") fail("resumed: expected a boolean");
      if (typeof a[7] !== "string") fail("room: expected a string");
      return {
        type: "welcome",
        playerId: int(a[1], "player id"),
        protocolVersion: int(a[2], "protocol version"),
        tickRate: int(a[3], "tick rate"),
        rules: rulesOf(a[4]),
        token: a[5],
        resumed: a[6],
        room: a[7],
        keyframe: { tick: int(a[8], "tick"), ack: 0, entities: arr(a[9], "entities").map(entityOf) },
      };
    case 1:
      if (a.length !== 8) arity(7);
      return {
        type: "frame",
        tick: int(a[1], "tick"),
        ack: int(a[2], "ack"),
        spawned: arr(a[3], "spawned").map(entityOf),
        changed: changesOf(a[4]),
        removed: arr(a[5], "removed").map((x) => int(x, "removed")),
        events: eventsOf(a[6]),
        outOfView: a.length === 8 ? arr(a[7], "out of view").map((x) => int(x, "out of view")) : [],
      };
    case 2:
      arity(4);
      return {
        type: "keyframe",
        tick: int(a[1], "tick"),
        ack: int(a[2], "ack"),
        entities: arr(a[3], "entities").map(entityOf),
      };
    case 3: {
      if (a.length !== 4) arity(2);
      const timing = a.length === 4 ? { leadUs: int(a[2], "lead"), jitterUs: int(a[3], "jitter") } : null;
      return { type: "pong", clientTime: int(a[1], "client time"), timing };
    }
    default:
      return fail(`unknown message tag ${tag}`);
  }
}

/**
 * A join. `resume` is the token of an earlier welcome, to get that player back (then the
 * player returns to its own room, whatever `room` says); `room` names the room to play in,
 * or is null for quick play (the server picks one). `seat`: a matchmaker's seat ticket (the
 * page's `?seat=`), which a server run with a join secret requires; left out when null.
 */
export function encodeJoin(
  name: string | null,
  resume: Uint8Array | null,
  room: string | null,
  seat: string | null = null,
): Uint8Array {
  const fields: unknown[] = [0, PROTOCOL_VERSION, name, resume, room];
  if (seat !== null) fields.push(seat);
  return encode(fields);
}

/** `dx`, `dy` must already be single-precision values of length <= 1 (see movement.ts). */
/**
 * One tick of intent. `seen` is the newest tick received (0: not said, left out): the server
 * uses it to keep this client's stream fresh when it reads slower than the server sends.
 */
/**
 * An input. `seen`: the newest tick received (0: not said); `shown`: the tick the page was
 * showing the other players at (its interpolation's tick; 0: not said), which the server
 * judges an attack against (lag compensation). Trailing zeros are left out; `shown` needs
 * `seen` before it.
 */
export function encodeInput(seq: number, dx: number, dy: number, attack: boolean, seen = 0, shown = 0): Uint8Array {
  const fields: unknown[] = [1, seq, dx, dy, attack];
  if (seen > 0 || shown > 0) fields.push(seen);
  if (shown > 0) fields.push(shown);
  return encode(fields, { forceFloat32: true });
}

export function encodePing(clientTime: number): Uint8Array {
  return encode([2, clientTime >>> 0]);
}

/**
 * "I am leaving for good": the server removes the player at once (no resume grace window)
 * and its token stops working. Sent only when the user goes away, never on a lost connection.
 */
export function encodeLeave(): Uint8Array {
  return encode([3]);
}
