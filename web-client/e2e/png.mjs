// A small PNG decoder for the end-to-end tests, so they can check what a screenshot shows:
// the signature, IHDR, the IDAT chunks concatenated and inflated (node's zlib), and the five
// scanline filters undone. 8-bit greyscale, grey+alpha, RGB and RGBA, not interlaced (what
// Chromium's screenshots are); anything else is refused with a clear error. Chunk CRCs are
// not checked (zlib checks the image data's Adler-32). Not a test file itself.
import { inflateSync } from "node:zlib";

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Channels per pixel by colour type (8-bit only). */
const CHANNELS = { 0: 1, 2: 3, 4: 2, 6: 4 };

/**
 * Decodes `bytes` (a Buffer or Uint8Array holding a PNG) to `{ width, height, data }`, where
 * `data` is RGBA, 4 bytes a pixel, rows top to bottom (alpha 255 where the PNG has none).
 */
export function decodePng(bytes) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG: bad signature");
  let header = null;
  const idat = [];
  let end = false;
  for (let at = 8; at < buf.length && !end;) {
    if (at + 12 > buf.length) throw new Error(`PNG truncated in a chunk header at byte ${at}`);
    const len = buf.readUInt32BE(at);
    const type = buf.toString("latin1", at + 4, at + 8);
    const body = buf.subarray(at + 8, at + 8 + len);
    if (body.length !== len) throw new Error(`PNG chunk ${type} truncated`);
    if (type === "IHDR") {
      header = {
        width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], colour: body[9],
        compression: body[10], filter: body[11], interlace: body[12],
      };
    } else if (type === "IDAT") {
      idat.push(body);
    } else if (type === "IEND") {
      end = true;
    }
    at += 12 + len;
  }
  if (!header) throw new Error("PNG has no IHDR");
  if (idat.length === 0) throw new Error("PNG has no IDAT");
  const { width, height, depth, colour, compression, filter, interlace } = header;
  const channels = CHANNELS[colour];
  if (depth !== 8 || channels === undefined) throw new Error(`PNG colour type ${colour} at bit depth ${depth} is not supported (8-bit grey, grey+alpha, RGB, RGBA only)`);
  if (compression !== 0 || filter !== 0) throw new Error(`PNG compression ${compression} / filter method ${filter} unknown`);
  if (interlace !== 0) throw new Error("interlaced PNGs are not supported");

  const raw = inflateSync(Buffer.concat(idat));
  const bpp = channels; // bytes per pixel, at 8 bits a channel
  const stride = width * bpp;
  if (raw.length < height * (stride + 1)) throw new Error(`PNG image data is ${raw.length} bytes, want ${height * (stride + 1)}`);
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = pixels.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : null;
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? row[i - bpp] : 0; // left
      const b = up ? up[i] : 0; // above
      const c = up && i >= bpp ? up[i - bpp] : 0; // above left
      let pred;
      switch (type) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new Error(`PNG row ${y} has unknown filter type ${type}`);
      }
      row[i] = (src[i] + pred) & 0xff;
    }
  }

  const data = new Uint8Array(width * height * 4);
  for (let p = 0, q = 0; p < width * height; p++, q += channels) {
    const o = p * 4;
    if (channels >= 3) {
      data[o] = pixels[q];
      data[o + 1] = pixels[q + 1];
      data[o + 2] = pixels[q + 2];
      data[o + 3] = channels === 4 ? pixels[q + 3] : 255;
    } else {
      data[o] = data[o + 1] = data[o + 2] = pixels[q];
      data[o + 3] = channels === 2 ? pixels[q + 1] : 255;
    }
  }
  return { width, height, data };
}

/** The Paeth predictor of the PNG spec: whichever of left, above, above-left is nearest a + b - c. */
export function paeth(a, b, c) {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  if (pb <= pc) return b;
  return c;
}

/** The pixel at (x, y) of a decoded image as [r, g, b, a]. */
export function pixelAt(img, x, y) {
  const o = (y * img.width + x) * 4;
  return [img.data[o], img.data[o + 1], img.data[o + 2], img.data[o + 3]];
}
