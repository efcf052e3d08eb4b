// Tries the map page as a coordinator would, in Debian's headless Chromium: hovers and
// clicks with the mouse, and prints what the page showed as JSON. Used by tests/map.rs.
// Usage: node web/interact.mjs URL SCENARIO [LOADS]
//   labels     the place and district labels drawn (text, kind, box)
//   districts  hovers a point of each district no other shape covers; the tooltip shown
//   grip       on each of LOADS fresh loads, clicks every Grip place; the popup it opened
//   legend     the legend's rows and the layers on the map
//   link       copies the view's link, opens it, and reads the view back
//   phone      at 390 × 844: panels collapsed, then a Grip place's popup and its box
//   basemap    whether the configured basemap's tiles loaded, the attribution and status
//   print      clicks "Export A4 PNG", saves the download to LOADS (a path); the layout
//   print-phone the same at 390 × 844 (the share panel unfolded first)
//   keyboard   Tab from the top of the page: each stop; Enter on a Grip place's popup
//   contrast   WCAG 2 contrast of every piece of text shown (a popup open), failures listed
//   months     steps the month slider with the keyboard; what each month shows
import { launch } from "./browser.mjs";

const [url, scenario, loadsArg] = process.argv.slice(2);
if (!url || !scenario) {
  console.error("usage: node web/interact.mjs URL SCENARIO [LOADS]");
  process.exit(2);
}
const browser = await launch();
const errors = [];
async function open(target, viewport = { width: 1000, height: 800 }) {
  const page = await browser.newPage({ viewport, acceptDownloads: true });
  page.on("pageerror", (e) => errors.push("page error: " + e));
  page.on("response", (r) => { if (r.status() >= 400 && !(scenario === "basemap")) errors.push("HTTP " + r.status() + " " + r.url()); });
  page.on("console", (m) => {
    // An unreachable basemap is expected to fail its tile loads there.
    if (m.type() === "error" && !(scenario === "basemap" && /Failed to load resource/.test(m.text()))) errors.push("console: " + m.text());
  });
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
  } else if (scenario === "basemap") {
    const page = await open(url);
    result = await page.evaluate(() => {
      const m = window.hotspotMap;
      const imgs = [...m.map.getPane("basemap").querySelectorAll("img")];
      const d = m.districts.getLayers()[0];
      return {
        configured: !!m.basemap,
        on_map: !!m.basemap && m.map.hasLayer(m.basemap),
        tiles_loaded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
        attribution: document.querySelector(".leaflet-control-attribution").textContent,
        status: document.getElementById("status").textContent,
        district_fill: d ? d.options.fillOpacity : null,
        places_on: m.map.hasLayer(m.places),
        labels: document.querySelectorAll(".place-label").length,
        legend: [...document.querySelectorAll("#legend tr")].map((r) => r.dataset.layer),
      };
    });
  } else if (scenario === "print" || scenario === "print-phone") {
    const page = await open(url, scenario === "print" ? undefined : { width: 390, height: 844 });
    await page.evaluate(() => document.querySelectorAll(".panel details").forEach((d) => { d.open = true; }));
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60000 }), page.click("#print")]);
    await download.saveAs(loadsArg);
    result = await page.evaluate(() => Object.assign({}, window.hotspotMap.lastExport, { status: document.getElementById("status").textContent,
      basemap_on: !!window.hotspotMap.basemap && window.hotspotMap.map.hasLayer(window.hotspotMap.basemap) }));
    result.file = download.suggestedFilename();
  } else if (scenario === "keyboard") {
    const page = await open(url);
    const stops = [];
    let gripPopup = null;
    let popupCovered = null;
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    for (let i = 0; i < 200 && !gripPopup; i++) {
      await page.keyboard.press("Tab");
      const s = await page.evaluate(() => {
        const e = document.activeElement;
        if (!e || e === document.body) return null;
        return { tag: e.tagName.toLowerCase(), id: e.id || null, type: e.type || null, role: e.getAttribute("role"),
          label: e.getAttribute("aria-label") || (e.labels && e.labels[0] && e.labels[0].textContent) || e.title || e.textContent.trim().slice(0, 40),
          visible: e.matches(":focus-visible") && getComputedStyle(e).outlineStyle !== "none" || e.tagName.toLowerCase() === "path",
          in_view: (() => { const r = e.getBoundingClientRect(); return r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight; })() };
      });
      if (!s) continue;
      stops.push(s);
      if (!gripPopup && s.tag === "path" && /^Grip place/.test(s.label || "")) {
        await page.keyboard.press("Enter");
        await page.waitForSelector(".leaflet-popup-content", { timeout: 5000 });
        gripPopup = await page.evaluate(() => document.querySelector(".leaflet-popup-content").textContent);
        // Give autopan its moment, then: is any panel over the popup?
        await page.waitForTimeout(600);
        popupCovered = await page.evaluate(() => {
          const p = document.querySelector(".leaflet-popup-content-wrapper").getBoundingClientRect();
          return [...document.querySelectorAll(".leaflet-control")].filter((c) => {
            const r = c.getBoundingClientRect();
            return r.width > 0 && r.left < p.right && p.left < r.right && r.top < p.bottom && p.top < r.bottom;
          }).map((c) => c.className);
        });
        await page.evaluate(() => window.hotspotMap.map.closePopup());
        await page.waitForSelector(".leaflet-popup", { state: "detached", timeout: 5000 });
        // Back to where the Tab order was.
        await page.evaluate((label) => [...document.querySelectorAll("path[aria-label]")].find((p) => p.getAttribute("aria-label") === label).focus(), s.label);
      }
    }
    result = { stops, gripPopup, popupCovered };
  } else if (scenario === "contrast") {
    const page = await open(url);
    await page.evaluate(() => {
      const l = window.hotspotMap.layers.grip.getLayers()[0];
      if (l) l.openPopup();
    });
    result = await page.evaluate(() => {
      const rgb = (s) => { const m = /rgba?\(([^)]+)\)/.exec(s); if (!m) return null; const v = m[1].split(",").map(Number); return { r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1 }; };
      const lum = (c) => { const f = (x) => { x /= 255; return x <= 0.04045 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
      const over = (top, under) => ({ r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a), b: top.b * top.a + under.b * (1 - top.a), a: 1 });
      // The colour behind an element: its own and its ancestors' backgrounds, over the
      // map's land colour (text over the map itself has a white halo: white).
      const land = { r: 243, g: 239, b: 230, a: 1 };
      // What is drawn under the text's centre, top-most first, until something opaque
      // (map imagery and shapes: the land colour).
      const behind = (e) => {
        if (e.closest(".place-label")) return { r: 255, g: 255, b: 255, a: 1 };
        const r = e.getBoundingClientRect();
        // The text's own boxes first (labels take no pointer events, so the point test
        // would miss them), then whatever is drawn under it.
        const own = [];
        for (let x = e; x && x.id !== "map" && x !== document.body; x = x.parentElement) own.push(x);
        const stack = [...own, ...document.elementsFromPoint(r.left + r.width / 2, r.top + r.height / 2).filter((x) => !own.includes(x))];
        const layers = [];
        for (const x of stack) {
          if (["img", "canvas", "svg", "path"].includes(x.tagName.toLowerCase()) || x.id === "map") break;
          const c = rgb(getComputedStyle(x).backgroundColor);
          if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
        }
        let c = land;
        for (const l of layers.reverse()) c = over(l, c);
        return c;
      };
      const checked = [], failures = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const t = n.textContent.trim();
        const e = n.parentElement;
        if (!t || !e || e.closest("script,style,[hidden]")) continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden") continue;
        const fg = rgb(getComputedStyle(e).color), bg = behind(e);
        const [a, b] = [lum(over(fg, bg)), lum(bg)];
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        const px = parseFloat(getComputedStyle(e).fontSize), bold = Number(getComputedStyle(e).fontWeight) >= 700;
        const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
        const item = { text: t.slice(0, 40), ratio: Math.round(ratio * 100) / 100, need };
        checked.push(item);
        if (ratio < need) failures.push(item);
      }
      return { checked: checked.length, failures, popup: !!document.querySelector(".leaflet-popup-content") };
    });
  } else if (scenario === "months") {
    const page = await open(url);
    const read = () => page.evaluate(() => {
      const m = window.hotspotMap;
      const fills = {};
      m.emerging.getLayers().forEach((l) => { const c = l.options.fillColor + (l.options.fillOpacity < 0.1 ? " faint" : ""); fills[c] = (fills[c] || 0) + 1; });
      return {
        slider: document.getElementById("month").value, name: document.getElementById("month-name").textContent,
        period: document.getElementById("period").value, status: document.getElementById("status").textContent,
        heat: m.heat._url, fills, legend: (document.querySelector("#legend tr[data-layer='emerging']") || {}).textContent || null,
        max: document.getElementById("month").max,
      };
    });
    const seen = [await read()];
    await page.focus("#month");
    const max = Number(seen[0].max);
    for (let k = 1; k <= max; k++) {
      await page.keyboard.press("ArrowRight");
      await page.waitForFunction((k) => document.getElementById("month").value === String(k) && document.body.dataset.ready === "yes", k, { timeout: 60000 });
      seen.push(await read());
    }
    await page.keyboard.press("Home");
    await page.waitForFunction(() => document.getElementById("month").value === "0" && document.body.dataset.ready === "yes", null, { timeout: 60000 });
    seen.push(await read());
    result = seen;
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
