// End to end over TLS, in real headless Chromium: the browser e2e runs over https with a test
// CA. The test makes the CA and a server certificate it signs (localhost and 127.0.0.1, EC
// P-256) with the openssl CLI in a temporary folder, and starts the real server with
// --tls-cert/--tls-key, so its one port speaks https and wss only. Chromium trusts that
// server certificate's key and nothing more (--ignore-certificate-errors-spki-list, the hash
// of the leaf's SubjectPublicKeyInfo; certificate checks stay on for everything else, which a
// second browser without the flag shows by refusing the page). Two pages at
// https://localhost:PORT/ connect over wss:// and see each other. Node, trusting the CA
// itself, fetches the page from both names the certificate covers; a plain http:// request to
// the same port gets a 400 that says to use https. Every wait is bounded and says what it
// waited for.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { after, before, test } from "node:test";
import { promisify } from "node:util";

import { artifacts, hudSays, launchBrowser, startServer, stopServer, WAIT_MS, waitFor } from "./helpers.mjs";

const CA_NAME = "Skirmish e2e test CA";

let dir;
let server;
let browser;
let port;
let caPem;

/**
 * Makes, in `dir`, a test CA (ca.key, ca.pem: self-signed, CA:TRUE) and a server certificate
 * it signs (leaf.key, leaf.pem: localhost and 127.0.0.1, serverAuth), all EC P-256, with the
 * openssl CLI (`OPENSSL` names another binary). The configs are written here, so the host's
 * openssl.cnf plays no part.
 */
async function makeCertificates(dir) {
  const run = promisify(execFile);
  const openssl = async (...args) => {
    try {
      await run(process.env.OPENSSL ?? "/usr/bin/openssl", args, { cwd: dir, timeout: 20_000 });
    } catch (e) {
      throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr || e.message}`, { cause: e });
    }
  };
  await writeFile(`${dir}/ca.cnf`, [
    "[req]", "prompt = no", "distinguished_name = dn", "x509_extensions = ca_ext",
    "[dn]", `CN = ${CA_NAME}`,
    "[ca_ext]", "basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign",
    "subjectKeyIdentifier = hash", "",
  ].join("\n"));
  await writeFile(`${dir}/leaf.cnf`, ["[req]", "prompt = no", "distinguished_name = dn", "[dn]", "CN = localhost", ""].join("\n"));
  await writeFile(`${dir}/leaf.ext`, [
    "basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature",
    "extendedKeyUsage = serverAuth", "subjectAltName = DNS:localhost, IP:127.0.0.1",
    "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid", "",
  ].join("\n"));
  const p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl("req", "-x509", "-new", "-config", "ca.cnf", ...p256, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-sha256");
  await openssl("req", "-new", "-config", "leaf.cnf", ...p256, "-keyout", "leaf.key", "-out", "leaf.csr");
  await openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-days", "2", "-sha256", "-extfile", "leaf.ext", "-out", "leaf.pem");
  await openssl("verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "leaf.pem");
}

/** The base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo (DER), as Chromium's SPKI lists take it. */
function spkiHash(pem) {
  const der = new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(der).digest("base64");
}

/** GETs `url` with node's http or https `client` (and its `options`); resolves to its status and body. */
function get(client, url, options = {}) {
  return new Promise((resolve, reject) => {
    const req = client.get(url, { ...options, timeout: WAIT_MS }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${WAIT_MS} ms`)));
    req.on("error", reject);
  });
}

before(async () => {
  dir = await mkdtemp(`${tmpdir()}/skirmish-tls-e2e-`);
  await makeCertificates(dir);
  caPem = await readFile(`${dir}/ca.pem`, "utf8");
  let base;
  ({ proc: server, base } = await startServer({
    extraArgs: ["--tls-cert", `${dir}/leaf.pem`, "--tls-key", `${dir}/leaf.key`],
    scheme: "https",
  }));
  port = new URL(base).port;
  browser = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${spkiHash(await readFile(`${dir}/leaf.pem`, "utf8"))}`] });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("two pages over https and wss, trusting the test CA's server certificate, see each other", async () => {
  const open = async (name) => {
    const page = await (await browser.newContext()).newPage();
    const sockets = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    const res = await page.goto(`https://localhost:${port}/?name=${name}`, { timeout: WAIT_MS });
    assert.equal(res.status(), 200, `${name}'s page`);
    const tls = await res.securityDetails();
    assert.equal(tls?.subjectName, "localhost", `${name}'s page's certificate: ${JSON.stringify(tls)}`);
    assert.equal(tls?.issuer, CA_NAME, `${name}'s page's certificate: ${JSON.stringify(tls)}`);
    assert.match(tls?.protocol ?? "", /^TLS 1\.[23]$/, `${name}'s page's TLS: ${JSON.stringify(tls)}`);
    await waitFor(page, `${name}'s welcome`, () => window.skirmish.playerId > 0);
    return { page, sockets, name };
  };
  const alice = await open("alice");
  const bob = await open("bob");
  for (const { page, sockets, name } of [alice, bob]) {
    assert.ok(page.url().startsWith(`https://localhost:${port}/`), `${name}'s page is at ${page.url()}`);
    assert.deepEqual(await page.evaluate(() => [location.protocol, window.isSecureContext]), ["https:", true], `${name}'s page`);
    assert.equal(await page.evaluate(() => window.skirmish.transport), "websocket", `${name}'s transport`);
    assert.deepEqual(sockets, [`wss://localhost:${port}/ws`], `${name}'s WebSockets`);
    await waitFor(page, `${name}'s page to see alice and bob`, (want) => window.skirmish.entities().map((e) => e.name).sort().join(",") === want, "alice,bob");
    await page.bringToFront(); // the HUD is painted on animation frames
    await waitFor(page, `${name}'s HUD to say websocket`, hudSays, " · websocket · ");
    await waitFor(page, `${name}'s HUD to count 2 players`, hudSays, "2 players");
  }
  mkdirSync(artifacts, { recursive: true });
  await alice.page.screenshot({ path: `${artifacts}/e2e-tls-alice.png` });
  for (const { page } of [alice, bob]) await page.context().close();
});

test("node, trusting only the test CA, fetches the page from both names on the certificate", async () => {
  for (const host of ["localhost", "127.0.0.1"]) {
    const { status, body } = await get(https, `https://${host}:${port}/`, { ca: caPem });
    assert.equal(status, 200, `https://${host}:${port}/`);
    assert.match(body, /<html/i, `https://${host}:${port}/ served no page`);
  }
  // Without the CA, node refuses the certificate: it is the test CA that makes it good.
  await assert.rejects(get(https, `https://localhost:${port}/`), (e) => e.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "an untrusted certificate was accepted");
});

test("a plain http:// request to the TLS port is refused with a 400 that says to use https", async () => {
  const { status, body } = await get(http, `http://127.0.0.1:${port}/`);
  assert.equal(status, 400);
  assert.match(body, /https/, `body: ${body}`);
});

test("a browser without the server certificate's key on its list refuses the page: checks stay on", async () => {
  const strict = await launchBrowser();
  try {
    const page = await strict.newPage();
    await assert.rejects(page.goto(`https://localhost:${port}/?name=eve`, { timeout: WAIT_MS }), /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await strict.close();
  }
});
