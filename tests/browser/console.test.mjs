// The operator console in headless Chromium, against the real server on
// the example support day (started by scripts/browser-test, which sets the
// environment below). Steps run in order: each builds on the one before.
//
//   ESCALIER_URL            the server's base URL
//   ESCALIER_ADMIN_TOKEN    a token with every scope
//   ESCALIER_READ_TOKEN     a token with the read scope only
//   ESCALIER_POLICIES_DIR   the server's policies directory (a copy)
//   SCREENSHOT_DIR          when set, a PNG of each page is written there

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const URL = process.env.ESCALIER_URL;
const ADMIN = process.env.ESCALIER_ADMIN_TOKEN;
const READER = process.env.ESCALIER_READ_TOKEN;
const POLICIES = process.env.ESCALIER_POLICIES_DIR;
const SHOTS = process.env.SCREENSHOT_DIR;
assert.ok(URL && ADMIN && READER && POLICIES, "run through scripts/browser-test");

let browser;
let admin; // the admin's browser context (its session cookie)
let page;

before(async () => {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  admin = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await admin.newPage();
  // No request may leave for another site.
  page.on("request", (r) => {
    assert.ok(r.url().startsWith(URL), `request to ${r.url()}`);
  });
});

after(async () => {
  await browser?.close();
});

async function shot(p, name) {
  if (SHOTS) {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  }
}

async function signIn(p, token) {
  await p.goto(`${URL}/`);
  await p.getByLabel("API token").fill(token);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByRole("heading", { name: "Queue", level: 1 }).waitFor();
}

async function rowIds(p) {
  return p.locator("#queue tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.ticket));
}

async function csrfOf(p) {
  return p.locator('meta[name="csrf-token"]').getAttribute("content");
}

async function api(method, path, body) {
  const r = await fetch(`${URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

test("without a session the console shows the sign-in form", async () => {
  await page.goto(`${URL}/`);
  await page.getByLabel("API token").waitFor();
  assert.equal(await page.locator("nav").count(), 0);
  await shot(page, "signin");
  await page.getByLabel("API token").fill("esk_not_a_token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "not known" }).waitFor();
});

test("sign in and see the support day's open tickets, soonest breach first", async () => {
  await signIn(page, ADMIN);
  const ids = await rowIds(page);
  assert.ok(ids.length >= 20, `rows: ${ids}`);
  for (const id of ["ZD-2004", "ZD-2006", "ZD-2009"]) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
  // Countdowns are live text built from data-deadline.
  const first = page.locator("#queue tbody tr").first().locator("time[data-deadline]");
  await first.waitFor();
  assert.match(await first.textContent(), /^(in |breached )/);
  await shot(page, "queue");
});

test("the queue refreshes without moving the keyboard focus", async () => {
  const link = page.getByRole("link", { name: "ZD-2004", exact: true });
  await link.focus();
  // Wait for the next poll of the table to finish, whatever it answered.
  const status = await page.evaluate(
    () =>
      new Promise((resolve) => {
        document.body.addEventListener(
          "htmx:afterRequest",
          (e) => resolve(e.detail.xhr.status),
          { once: true },
        );
      }),
  );
  assert.equal(status, 204, "an unchanged table is not sent again");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "ZD-2004");
});

test("filter the queue by priority and SLA state", async () => {
  await page.getByLabel("Priority").selectOption("urgent");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/priority=urgent/);
  const ids = await rowIds(page);
  assert.ok(ids.includes("ZD-2006") && !ids.includes("ZD-2004"), `urgent: ${ids}`);
  const prios = await page.locator("#queue tbody tr td:nth-child(3)").allTextContents();
  assert.ok(prios.every((p) => p.trim() === "urgent"), prios.join(","));
  // Back to everything with the browser's back button.
  await page.goBack();
  await page.waitForURL(`${URL}/`);
  assert.ok((await rowIds(page)).includes("ZD-2004"));
  await page.goto(`${URL}/?sla=breaching&within=10080`);
  const soon = await rowIds(page);
  assert.ok(soon.length > 0, "some ticket breaches within a week");
  const bad = await page.goto(`${URL}/?tier=9`);
  assert.equal(bad.status(), 400);
  await page.getByRole("alert").filter({ hasText: "not a tier" }).waitFor();
});

test("the matrix links each cell to the filtered queue; reports draw charts with CSV tables", async () => {
  await page.getByRole("link", { name: "Matrix", exact: true }).click();
  await page.getByRole("heading", { name: "Escalation matrix", level: 1 }).waitFor();
  await shot(page, "matrix");
  // A count in the tier x team table opens the queue with those filters.
  const cells = page.locator('main td a[href^="/?tier="][aria-label$="open tickets"]');
  const counts = (await cells.allTextContents()).map((t) => Number(t.trim()));
  const i = counts.findIndex((n) => n > 0);
  assert.ok(i >= 0, `a non-empty cell among ${counts}`);
  const cell = cells.nth(i);
  const href = await cell.getAttribute("href");
  const count = counts[i];
  await cell.click();
  await page.getByRole("heading", { name: "Queue", level: 1 }).waitFor();
  assert.ok(page.url().endsWith(href), `${page.url()} opened from ${href}`);
  assert.equal((await rowIds(page)).length, Math.min(count, 50), `${href}: ${count}`);

  await page.getByRole("link", { name: "Reports", exact: true }).click();
  await page.getByRole("heading", { name: "Reports", level: 1 }).waitFor();
  assert.ok((await page.locator("main svg").count()) > 0, "charts are drawn");
  const csv = page.locator('main a[download]').first();
  const r = await page.request.get(`${URL}${await csv.getAttribute("href")}`);
  assert.equal(r.status(), 200);
  assert.match(r.headers()["content-type"], /text\/csv/);
  await shot(page, "reports");
  await page.goto(`${URL}/`);
});

test("open a ticket, approve its approval, see the ticket change", async () => {
  await page.goto(`${URL}/`);
  await page.getByRole("link", { name: "ZD-2004", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: /ZD-2004/ }).waitFor();
  const card = page.locator('[data-approval="apr-15.1"]');
  assert.match(await card.textContent(), /State: pending/);
  // The decision trace: policy file:line and version hash.
  const timeline = await page.locator("ol.timeline").textContent();
  assert.match(timeline, /approvals\/refund-limit\.rhai:\d+/);
  assert.match(timeline, /version sha256:/);
  await shot(page, "ticket");
  await card.getByLabel("Reason").fill("Refund agreed with the customer");
  await card.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("status").filter({ hasText: "Approval approved." }).waitFor();
  const after = await page.locator('[data-approval="apr-15.1"]').textContent();
  assert.match(after, /State: approved by lead/);
  assert.match(after, /Refund agreed with the customer/);
  assert.equal(await page.getByRole("button", { name: "Approve" }).count(), 0);
  // And the API agrees.
  const t = await api("GET", "/v1/tickets/ZD-2004");
  assert.equal(t.body.ticket.approvals[0].state, "approved");
});

test("tick a checklist item", async () => {
  await page.goto(`${URL}/tickets/ZD-2009`);
  const item = page.locator('[data-checklist="engineering-handoff"] li').first();
  const label = await item.textContent();
  assert.match(label, /☐/);
  await item.getByRole("button", { name: /^Tick / }).click();
  await page.getByRole("status").filter({ hasText: "Checklist item ticked." }).waitFor();
  const now = await page.locator('[data-checklist="engineering-handoff"] li').first().textContent();
  assert.match(now, /☑/);
  assert.match(now, /lead/);
});

test("acknowledge a running ladder", async () => {
  await page.goto(`${URL}/tickets/ZD-2006`);
  const ladder = page.locator('[data-ladder="major-incident"]');
  assert.match(await ladder.textContent(), /State: running/);
  await ladder.getByRole("button", { name: "Acknowledge" }).click();
  await page.getByRole("status").filter({ hasText: "Ladder acknowledged." }).waitFor();
  assert.match(
    await page.locator('[data-ladder="major-incident"]').textContent(),
    /State: acknowledged/,
  );
  assert.equal(await page.getByRole("button", { name: "Acknowledge" }).count(), 0);
});

test("a read-only token sees no buttons and its POST is refused", async () => {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await signIn(p, READER);
  await p.goto(`${URL}/tickets/ZD-2010`);
  await p.getByText("read scope only").waitFor();
  for (const name of ["Approve", "Reject", "Acknowledge", /^Tick /]) {
    assert.equal(await p.getByRole("button", { name }).count(), 0, `${name} shown`);
  }
  const approval = await api("GET", "/v1/tickets/ZD-2010");
  const apr = approval.body.ticket.approvals.find((a) => a.state === "pending");
  assert.ok(apr, "ZD-2010 has a pending approval");
  const r = await ctx.request.post(`${URL}/tickets/ZD-2010/approvals/${apr.id}`, {
    form: { csrf: await csrfOf(p), decision: "approved" },
    maxRedirects: 0,
  });
  assert.equal(r.status(), 403);
  assert.match(await r.text(), /ingest scope/);
  const still = await api("GET", "/v1/tickets/ZD-2010");
  assert.equal(still.body.ticket.approvals.find((a) => a.id === apr.id).state, "pending");
  await ctx.close();
});

test("the policy tests of the set in force are shown on the policies page", async () => {
  // The server runs them in the background after start.
  const tests = page.locator("#policy-tests");
  let state = "";
  for (let i = 0; i < 150; i++) {
    await page.goto(`${URL}/policies`);
    state = await tests.getAttribute("data-state");
    if (state !== "pending") break;
    await page.waitForTimeout(200);
  }
  assert.equal(state, "passed", await tests.textContent());
  assert.match(await tests.textContent(), /All \d+ tests passed in \d+ files/);
  const api_ = await api("GET", "/v1/policies");
  assert.equal(api_.body.tests.state, "passed");
  assert.equal(api_.body.tests.version, api_.body.version);
  assert.ok(api_.body.tests.passed > 0);
  assert.match(await tests.textContent(), new RegExp(`${api_.body.tests.passed} tests passed`));
});

test("an admin moves the open tickets to the set in force; a read token cannot", async () => {
  const ctx = await browser.newContext();
  const p = await ctx.newPage();
  await signIn(p, READER);
  await p.goto(`${URL}/policies`);
  await p.getByText("reload by themselves").waitFor();
  assert.equal(await p.getByRole("button", { name: "Move open tickets" }).count(), 0);
  const refused = await ctx.request.post(`${URL}/policies/migrate`, {
    form: { csrf: await csrfOf(p), confirm: "yes" },
    maxRedirects: 0,
  });
  assert.equal(refused.status(), 403);
  assert.match(await refused.text(), /admin scope/);
  await ctx.close();

  await page.goto(`${URL}/policies`);
  await page.getByText("reload by themselves").waitFor();
  await page.getByLabel("Move every open ticket to this version").check();
  await page.getByRole("button", { name: "Move open tickets" }).click();
  const outcome = page.locator("#migrated");
  await outcome.waitFor();
  // The example server follows the set in force (pinning off): nothing moves.
  assert.match(
    await outcome.textContent(),
    /nothing moved|\d+ tickets moved, \d+ refused/,
  );
});

test("keyboard and phone: a skip link first, no sideways scrolling at 390 px", async () => {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
  });
  const p = await ctx.newPage();
  await signIn(p, READER);
  await p.keyboard.press("Tab");
  assert.equal(await p.evaluate(() => document.activeElement.textContent), "Skip to content");
  for (const path of ["/", "/tickets/ZD-2004", "/policies"]) {
    await p.goto(`${URL}${path}`);
    const [scroll, width] = await p.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    assert.ok(scroll <= width + 1, `${path}: ${scroll} px wide in a ${width} px screen`);
    if (path === "/") {
      await shot(p, "queue-phone");
    }
  }
  await ctx.close();
});

test("POSTs without the CSRF token or without a session are refused", async () => {
  const r = await admin.request.post(`${URL}/tickets/ZD-2025/ack`, {
    form: {},
    maxRedirects: 0,
  });
  assert.equal(r.status(), 403);
  const wrong = await admin.request.post(`${URL}/tickets/ZD-2025/ack`, {
    form: { csrf: "0".repeat(64) },
    maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
  const anonymous = await fetch(`${URL}/tickets/ZD-2025/ack`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `csrf=${await csrfOf(page)}`,
    redirect: "manual",
  });
  assert.equal(anonymous.status, 403);
  const t = await api("GET", "/v1/tickets/ZD-2025");
  assert.equal(t.body.ticket.ladders.runs[0].state, "running", "nothing was acknowledged");
});

test("a countdown reaches breach when the simulated clock moves", async () => {
  await page.goto(`${URL}/`);
  const row = page.locator("#queue tbody tr").first();
  const id = await row.getAttribute("data-ticket");
  const before = await row.locator("time[data-deadline]").textContent();
  assert.match(before, /^in /, `${id} is not breached yet: ${before}`);
  const t = await api("GET", "/v1/admin/clock");
  assert.equal(t.status, 200);
  const moved = await api("POST", "/v1/admin/clock", { advance: "7d" });
  assert.equal(moved.status, 200, JSON.stringify(moved.body));
  // The queue refreshes itself (htmx polling); no reload.
  await page
    .locator(`#queue tr[data-ticket="${id}"] time[data-deadline]`)
    .filter({ hasText: /^breached / })
    .waitFor({ timeout: 15000 });
});

test("a broken policy's error is shown with file:line:col", async () => {
  writeFileSync(join(POLICIES, "broken.rhai"), 'const ON = ["ticket.created"];\nlet x = (1 + ;\n');
  let text = "";
  for (let i = 0; i < 50; i++) {
    await page.goto(`${URL}/policies`);
    text = await page.locator("main").textContent();
    if (text.includes("reload was rejected")) break;
    await page.waitForTimeout(200);
  }
  assert.match(text, /broken\.rhai:2:\d+/);
  assert.match(text, /let x = \(1 \+ ;/, "the offending line is shown");
  await shot(page, "policies");
});

test("run a backtest of the candidate policies and see its diff", async () => {
  await page.goto(`${URL}/backtest`);
  await page.getByLabel("From (UTC day)").fill("2026-03-01");
  await page.getByLabel("To (UTC day, included)").fill("2026-03-09");
  await page.getByRole("button", { name: "Run backtest" }).click();
  // The run's part of the page polls itself until the run is done.
  const totals = page.locator("#backtest-totals");
  await totals.waitFor({ timeout: 60000 });
  const differ = Number(/(\d+) tickets differ/.exec(await totals.textContent())[1]);
  assert.ok(differ > 0, await totals.textContent());
  assert.match(await page.locator("main").textContent(), /action\.escalate/);
  await shot(page, "backtest");
  const link = page.locator(".ticket-diff h4 a").first();
  const href = await link.getAttribute("href");
  assert.match(href, /^\/tickets\//);
  await link.click();
  await page.waitForURL(`${URL}${href}`);
});

test("sign out", async () => {
  await page.goto(`${URL}/`);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API token").waitFor();
  await page.goto(`${URL}/tickets/ZD-2004`);
  await page.getByLabel("API token").waitFor();
  const cookies = await admin.cookies();
  assert.equal(cookies.filter((c) => c.name.includes("escalier_session")).length, 0);
});
