// Tries the map page as a coordinator would, in Debian's headless Chromium: hovers and
// clicks with the mouse, and prints what the page showed as JSON. Used by tests/map.rs.
// Usage: node web/interact.mjs URL SCENARIO [LOADS]
//   labels     the place and district labels drawn (text, kind, box)
//   districts  hovers a point of each district no other shape covers; the tooltip shown
//   grip       on each of LOADS fresh loads, clicks every Grip place; the popup it opened
//   legend     the legend's rows and the layers on the map
//   link       copies the view's link, opens it, and reads the view back
//   phone      at 390 × 844: panels collapsed, then a Grip place's popup and its box
import { chromium } from "playwright-core";

const [url, scenario, loadsArg] = process.argv.slice(2);
if (!url || !scenario) {
  console.error("usage: node web/interact.mjs URL SCENARIO [LOADS]");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
async function open(target, viewport = { width: 1000, height: 800 }) {
  const page = await browser.newPage({ viewport });
  page.on("pageerror", (e) => errors.push("page error: " + e));
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  await page.goto(target);
  await page.waitForSelector("body[data-ready='yes']", { state: "attached", timeout: 60000 });
  return page;
}
// Screen points of each shape of a layer where that shape is the top-most element.
const SHAPE_POINTS = (arg) => {
  const [layerName, only] = Array.isArray(arg) ? arg : [arg, null];
  const m = window.hotspotMap;
  const layer = layerName === "districts" ? m.districts : m.layers[layerName];
  const out = [];
  const box = m.map.getContainer().getBoundingClientRect();
  layer.getLayers().forEach((l, k) => {
    if (only != null && k !== only) return;
    const b = l.getBounds();
    const p = l.feature.properties;
    let found = null;
    // The centre first, then a spread of points over the shape's box.
    const tries = [[6, 6]];
    for (let i = 1; i < 12; i++) for (let j = 1; j < 12; j++) tries.push([(i * 7) % 12, (j * 5) % 12]);
    for (const [i, j] of tries) {
      if (found) break;
      {
        const ll = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 12,
          b.getWest() + (b.getEast() - b.getWest()) * j / 12);
        const pt = m.map.latLngToContainerPoint(ll);
        const x = box.left + pt.x, y = box.top + pt.y;
        if (x < 5 || y < 5 || x > innerWidth - 5 || y > innerHeight - 5) continue;
        const el = document.elementFromPoint(x, y);
        if (el === l._path) found = { x, y };
      }
    }
    out.push({ name: p.name, rank: p.rank, point: found });
  });
  return out;
};
let result;
try {
  if (scenario === "labels") {
    const page = await open(url);
    result = await page.evaluate(() => [...document.querySelectorAll(".place-label")].map((e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent, cls: e.className, box: [r.left, r.top, r.right, r.bottom] };
    }));
  } else if (scenario === "districts") {
    const page = await open(url);
    const pts = await page.evaluate(SHAPE_POINTS, "districts");
    result = [];
    for (const d of pts) {
      if (!d.point) { result.push({ name: d.name, tooltip: null }); continue; }
      await page.mouse.move(d.point.x - 3, d.point.y - 3);
      await page.mouse.move(d.point.x, d.point.y);
      let tip = null;
      try {
        await page.waitForFunction((n) => [...document.querySelectorAll(".leaflet-tooltip")].some((t) => t.textContent.includes(n)), d.name, { timeout: 3000 });
        tip = d.name;
      } catch (e) {
        tip = await page.evaluate(() => [...document.querySelectorAll(".leaflet-tooltip")].map((t) => t.textContent).join(" | "));
      }
      result.push({ name: d.name, tooltip: tip });
    }
  } else if (scenario === "grip") {
    const loads = Number(loadsArg || 1);
    result = [];
    for (let k = 0; k < loads; k++) {
      const page = await open(url);
      const n = await page.evaluate(() => window.hotspotMap.layers.grip.getLayers().length);
      const clicks = [];
      for (let i = 0; i < n; i++) {
        // Zoomed to the place as a coordinator would (a 150 m square is a pixel at county
        // zoom), then where it is now.
        await page.evaluate((i) => {
          const ls = window.hotspotMap.layers.grip.getLayers();
          window.hotspotMap.map.setView(ls[i].getBounds().getCenter(), 14, { animate: false });
        }, i);
        const g = (await page.evaluate(SHAPE_POINTS, ["grip", i]))[0];
        if (!g.point) { clicks.push({ rank: g.rank, popup: null }); continue; }
          await page.mouse.click(g.point.x, g.point.y);
        await page.waitForSelector(".leaflet-popup-content", { timeout: 5000 });
        const text = await page.evaluate(() => document.querySelector(".leaflet-popup-content").textContent);
        clicks.push({ rank: g.rank, popup: text });
        await page.evaluate(() => { window.hotspotMap.map.closePopup(); });
        // A closed popup fades out before it leaves the page: wait till it has.
        await page.waitForSelector(".leaflet-popup", { state: "detached", timeout: 5000 });
      }
      result.push(clicks);
      await page.close();
    }
  } else if (scenario === "legend") {
    const page = await open(url);
    result = await page.evaluate(() => {
      const m = window.hotspotMap;
      const on = { density: m.heat, hotspots: m.layers.hotspots, grip: m.layers.grip, diversion: m.layers.diversion, districts: m.districts, places: m.places };
      return {
        rows: [...document.querySelectorAll("#legend tr")].map((r) => r.dataset.layer),
        visible: Object.entries(on).filter(([, l]) => m.map.hasLayer(l)).map(([id]) => id),
        note: (document.getElementById("disclosure-note") || {}).textContent || null,
      };
    });
  } else if (scenario === "link") {
    const page = await open(url);
    await page.click("#copy");
    const link = await page.inputValue("#link");
    const view = (p) => p.evaluate(() => {
      const m = window.hotspotMap;
      const on = { density: m.heat, hotspots: m.layers.hotspots, grip: m.layers.grip, diversion: m.layers.diversion, districts: m.districts, places: m.places };
      const c = m.map.getCenter();
      return { lat: c.lat, lng: c.lng, zoom: m.map.getZoom(), layers: Object.entries(on).filter(([, l]) => m.map.hasLayer(l)).map(([id]) => id),
        group: document.getElementById("group").value, period: document.getElementById("period").value };
    });
    const before = await view(page);
    const again = await open(link);
    result = { link, before, after: await view(again) };
  } else if (scenario === "phone") {
    const page = await open(url, { width: 390, height: 844 });
    const panels = await page.evaluate(() => ({
      filtersOpen: document.querySelector(".panel details").open,
      layersCollapsed: !document.querySelector(".leaflet-control-layers").classList.contains("leaflet-control-layers-expanded"),
    }));
    const pts = await page.evaluate(SHAPE_POINTS, "grip");
    const g = pts.find((p) => p.point);
    let popup = null;
    if (g) {
      await page.mouse.click(g.point.x, g.point.y);
      // On a phone the details open in the sheet along the bottom.
      await page.waitForSelector("#sheet:not([hidden])", { timeout: 5000 });
      popup = await page.evaluate(() => {
        const r = document.getElementById("sheet").getBoundingClientRect();
        return { text: document.getElementById("sheet-body").textContent, box: [r.left, r.top, r.right, r.bottom] };
      });
    }
    result = { panels, popup };
  } else {
    throw new Error("unknown scenario " + scenario);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
if (errors.length) {
  console.error(errors.join("\n"));
  process.exit(1);
}
