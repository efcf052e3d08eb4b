// Screenshot of a page in Debian's headless Chromium, taken once the page says it is
// ready (body[data-ready=yes]). Used by tests/map.rs.
// Usage: node web/screenshot.mjs URL OUT.png [EXPRESSION]
// With EXPRESSION, it is evaluated in the page after the screenshot and its value is
// printed as JSON on stdout.
import { launch } from "./browser.mjs";

const [url, out, expression] = process.argv.slice(2);
if (!url || !out) {
  console.error("usage: node web/screenshot.mjs URL OUT.png");
  process.exit(2);
}
const browser = await launch();
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.on("pageerror", (e) => errors.push("page error: " + e));
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  await page.goto(url);
  await page.waitForSelector("body[data-ready='yes']", { state: "attached", timeout: 60000 });
  await page.screenshot({ path: out });
  if (expression) console.log(JSON.stringify(await page.evaluate(expression)));
} finally {
  await browser.close();
}
if (errors.length) {
  console.error(errors.join("\n"));
  process.exit(1);
}
